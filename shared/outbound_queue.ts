/**
 * A bounded outbound byte queue with one writer per connection. Frames are
 * queued without waiting; the writer joins everything queued into one write,
 * so a fast producer costs one syscall per batch and a slow consumer costs
 * at most `maxBytes` of memory before it is cut off.
 *
 * Queues that write at the end of the turn are flushed by shared schedulers,
 * not by a promise chain each: one `setImmediate` per event-loop turn, and
 * one clock per coalescing window whose ticks keep a fixed phase, so busy
 * recipients are written together, once per window, in one burst.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";
import type { Transport } from "./transport.ts";

/** Default bound on queued bytes per connection: 1 MiB. */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024;

/** Options for {@linkcode OutboundQueue}. */
export interface OutboundQueueOptions {
  /** Most bytes queued and not yet written before the peer counts as slow. */
  maxBytes?: number;
  /** Called once when a write fails (the peer is gone). */
  onError?: (error: unknown) => void;
  /**
   * When an idle queue starts writing: `now` (default) at the first push, or
   * at the `end-of-turn`, once the event loop has handled this turn's input —
   * a server fanning out many messages per turn then makes one write per
   * recipient instead of one per message.
   */
  start?: "now" | "end-of-turn";
  /**
   * With `end-of-turn`: a queue that wrote less than this many ms ago waits
   * for the next tick of a shared clock with this period, so a busy
   * recipient gets one larger write per period (a quiet one still gets its
   * bytes at the end of the turn). 0 (default) never waits.
   */
  coalesceMs?: number;
  /**
   * With `coalesceMs`: coalesce only while the queues sharing the window
   * were handed at least this many frames in the last window, all together,
   * and stop again below three quarters of it. A lightly loaded server then
   * writes at the end of each turn (lower latency) and a busy one saves
   * writes, where they cost. 0 (default) always coalesces.
   */
  coalesceFromFrames?: number;
}

// A clock shared by every queue with the same coalescing window.
interface FlushClock {
  periodMs: number;
  /** Frames per window from which queues coalesce (0: always). */
  fromFrames: number;
  /** Whether busy queues wait for ticks now (see coalesceFromFrames). */
  coalescing: boolean;
  /** Frames pushed to this clock's queues since `windowStart`. */
  frames: number;
  windowStart: number;
  /** Queues to flush at the next tick. */
  queues: OutboundQueue[];
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Run at the next tick before anything is written (see beforeNextTick). */
  hooks: (() => void)[];
  /** Between a tick's hooks and its writes: queues join without a new timer. */
  collecting: boolean;
  /** When the armed tick is due, and when the last one was (its phase). */
  due: number;
  last: number;
}

// What a flush wrote: the frames and the batch made of them.
interface Flushed {
  chunks: Uint8Array[];
  batch: Uint8Array;
}

function sameFrames(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const IDLE = 0;
const SCHEDULED = 1;
const WRITING = 2;

/**
 * Queue of bytes for one transport, drained by a single writer.
 *
 * @example
 * ```ts ignore
 * import { OutboundQueue } from "./outbound_queue.ts";
 * const queue = new OutboundQueue(conn, { maxBytes: 1 << 20 });
 * if (!queue.push(bytes)) conn.close(); // over the bound: slow consumer
 * await queue.drained();
 * ```
 */
export class OutboundQueue {
  // Queues flushed when this event-loop turn ends (one setImmediate for all).
  static #turnQueues: OutboundQueue[] | undefined;
  static #clocks = new Map<string, FlushClock>();

  #transport: Transport;
  #maxBytes: number;
  #onError: ((error: unknown) => void) | undefined;
  #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  #state = IDLE;
  #failed = false;
  #endOfTurn: boolean;
  #clock: FlushClock | undefined;
  #lastWrite = -Infinity;
  #drainWaiters: (() => void)[] | undefined;

  constructor(transport: Transport, options: OutboundQueueOptions = {}) {
    this.#transport = transport;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.#onError = options.onError;
    this.#endOfTurn = options.start === "end-of-turn";
    const coalesceMs = this.#endOfTurn ? options.coalesceMs ?? 0 : 0;
    if (coalesceMs > 0) {
      this.#clock = OutboundQueue.#clockFor(coalesceMs, options.coalesceFromFrames ?? 0);
    }
  }

  /** Bytes queued and not yet handed to the transport. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Whether a write has failed; nothing more will be written. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Queues `bytes` for writing. Returns false, queuing nothing, when that
   * would exceed the bound (or the transport failed): the caller decides
   * how to drop the peer.
   */
  push(bytes: Uint8Array): boolean {
    if (this.#failed) return false;
    if (this.#queuedBytes + bytes.length > this.#maxBytes) return false;
    this.#chunks.push(bytes);
    this.#queuedBytes += bytes.length;
    if (this.#clock !== undefined) this.#clock.frames++;
    if (this.#state === IDLE) this.#schedule();
    return true;
  }

  /** Resolves once everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    if (this.#state === IDLE) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  /** Arranges the next write of what is queued: now, at the end of the turn, or at the next tick. */
  #schedule(): void {
    if (!this.#endOfTurn) return void this.#flush(performance.now());
    this.#state = SCHEDULED;
    const clock = this.#clock;
    if (clock !== undefined && clock.coalescing && OutboundQueue.#busy(clock, this.#lastWrite)) {
      OutboundQueue.#atTick(clock, this);
    } else {
      OutboundQueue.#atEndOfTurn(this);
    }
  }

  /**
   * Hands everything queued to the transport as one write. `shared` is the
   * batch of the queue flushed just before, reused when this queue holds the
   * very same frames (a room's members usually do): one copy per room, not
   * per member.
   */
  #flush(now: number, shared?: Flushed): Flushed | undefined {
    if (this.#failed) return undefined;
    this.#state = WRITING;
    if (this.#clock !== undefined) this.#lastWrite = now;
    const chunks = this.#chunks;
    const size = this.#queuedBytes;
    this.#chunks = [];
    let batch: Uint8Array;
    if (chunks.length === 1) {
      batch = chunks[0]!;
    } else if (shared !== undefined && sameFrames(shared.chunks, chunks)) {
      batch = shared.batch;
    } else {
      batch = concatBytes(chunks, size);
    }
    this.#write(batch, size);
    return { chunks, batch };
  }

  // Bytes count against the bound until the transport has taken all of them.
  #write(data: Uint8Array, size: number): void {
    let written: Promise<number>;
    try {
      written = this.#transport.write(data);
    } catch (error) {
      return this.#fail(error);
    }
    written.then((count) => {
      if (this.#failed) return;
      if (count < data.length) return this.#write(data.subarray(count), size);
      this.#queuedBytes -= size;
      if (this.#chunks.length === 0) {
        this.#state = IDLE;
        return this.#wakeDrainWaiters();
      }
      // More came while writing: with a clock wait for its tick, else go on.
      if (this.#clock !== undefined) this.#schedule();
      else this.#flush(performance.now());
    }, (error) => this.#fail(error));
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#chunks = [];
    this.#queuedBytes = 0;
    this.#state = IDLE;
    this.#onError?.(error);
    this.#wakeDrainWaiters();
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters === undefined) return;
    this.#drainWaiters = undefined;
    for (const wake of waiters) wake();
  }

  /** Whether a queue last written at `lastWrite` wrote less than a period ago. */
  static #busy(clock: FlushClock, lastWrite: number): boolean {
    // While a tick is armed, now lies within a period after the last one, so
    // most queues (written at that tick) are told apart without reading the
    // clock: one clock read per write adds up at tens of thousands per second.
    if (clock.timer !== undefined) {
      if (lastWrite >= clock.last) return true;
      if (lastWrite < clock.last - clock.periodMs) return false;
    }
    return performance.now() - lastWrite < clock.periodMs;
  }

  static #atEndOfTurn(queue: OutboundQueue): void {
    if (OutboundQueue.#turnQueues === undefined) {
      OutboundQueue.#turnQueues = [];
      setImmediate(OutboundQueue.#flushTurn);
    }
    OutboundQueue.#turnQueues.push(queue);
  }

  static #flushTurn(this: void): void {
    const queues = OutboundQueue.#turnQueues ?? [];
    OutboundQueue.#turnQueues = undefined;
    OutboundQueue.#flushAll(queues, performance.now());
  }

  static #flushAll(queues: OutboundQueue[], now: number): void {
    for (const clock of OutboundQueue.#clocks.values()) OutboundQueue.#measure(clock, now);
    let shared: Flushed | undefined;
    for (const queue of queues) shared = queue.#flush(now, shared) ?? shared;
  }

  /** Once per window: whether the frames handed out call for coalescing. */
  static #measure(clock: FlushClock, now: number): void {
    const elapsed = now - clock.windowStart;
    if (elapsed < clock.periodMs) return;
    const perWindow = clock.frames * clock.periodMs / elapsed;
    if (perWindow >= clock.fromFrames) clock.coalescing = true;
    else if (perWindow < clock.fromFrames * 0.75) clock.coalescing = false;
    clock.frames = 0;
    clock.windowStart = now;
  }

  static #clockFor(periodMs: number, fromFrames: number): FlushClock {
    const key = `${periodMs}/${fromFrames}`;
    let clock = OutboundQueue.#clocks.get(key);
    if (clock === undefined) {
      clock = {
        periodMs,
        fromFrames,
        coalescing: fromFrames === 0,
        frames: 0,
        windowStart: 0,
        queues: [],
        timer: undefined,
        hooks: [],
        collecting: false,
        due: 0,
        last: 0,
      };
      OutboundQueue.#clocks.set(key, clock);
    }
    return clock;
  }

  /**
   * Runs `callback` at the next tick of an armed clock, before that tick
   * writes anything; what the callback and the promise reactions it causes
   * push still goes out in that tick. Returns false, doing nothing, when no
   * clock is armed. A server uses it to commit a batch of messages just
   * before the recipients, who are waiting for the tick anyway, are written.
   */
  static beforeNextTick(callback: () => void): boolean {
    let next: FlushClock | undefined;
    for (const clock of OutboundQueue.#clocks.values()) {
      if (clock.timer !== undefined && (next === undefined || clock.due < next.due)) next = clock;
    }
    if (next === undefined) return false;
    next.hooks.push(callback);
    return true;
  }

  static #atTick(clock: FlushClock, queue: OutboundQueue): void {
    clock.queues.push(queue);
    if (clock.timer !== undefined || clock.collecting) return;
    // Keep the phase of the last tick, so recipients written together stay
    // together; after a pause, count from this queue's last write. Either
    // way the next tick is one period after `last`, which #busy relies on.
    const now = performance.now();
    if (clock.last + clock.periodMs <= now) clock.last = queue.#lastWrite;
    const due = clock.last + clock.periodMs;
    clock.due = due;
    clock.timer = setTimeout(() => OutboundQueue.#tick(clock), due - now);
  }

  static #tick(clock: FlushClock): void {
    clock.timer = undefined;
    const now = performance.now();
    // A late tick moves the phase only when it is late by more than half a
    // period, so an overloaded loop gets no burst of back-to-back ticks.
    clock.last = Math.max(clock.due, now - clock.periodMs / 2);
    const hooks = clock.hooks;
    if (hooks.length === 0) return OutboundQueue.#flushClock(clock, now);
    // Hooks first; the writes wait until the reactions they cause have run.
    clock.hooks = [];
    clock.collecting = true;
    for (const hook of hooks) {
      try {
        hook();
      } catch (error) {
        reportError(error);
      }
    }
    setImmediate(() => OutboundQueue.#flushClock(clock, now));
  }

  static #flushClock(clock: FlushClock, now: number): void {
    clock.collecting = false;
    const queues = clock.queues;
    clock.queues = [];
    OutboundQueue.#flushAll(queues, now);
  }
}

/**
 * Runs `callback` just before the next flush tick when one is armed (see
 * {@linkcode OutboundQueue.beforeNextTick}), else after this turn's I/O
 * callbacks.
 *
 * @example
 * ```ts
 * import { beforeNextFlush } from "./outbound_queue.ts";
 * await new Promise<void>((resolve) => beforeNextFlush(resolve));
 * ```
 */
export function beforeNextFlush(callback: () => void): void {
  if (!OutboundQueue.beforeNextTick(callback)) setImmediate(callback);
}
