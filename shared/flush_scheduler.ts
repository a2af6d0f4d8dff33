/**
 * When outbound queues write: one scheduler per server decides it for all of
 * them, so that many recipients are written together instead of each on a
 * promise chain or a timer of its own. Queues handed to it are flushed at
 * the end of the event-loop turn (one `setImmediate` for all of them); with
 * a coalescing window, queues that wrote less than a window ago wait for
 * the next tick of one clock whose ticks keep a fixed phase, so busy
 * recipients are written once per window, in one burst.
 *
 * The scheduler is made by whoever owns the queues (the server) and handed
 * to them, with the timers it runs on: a test can drive it by hand.
 *
 * @module
 */

/** The clock and timers a {@linkcode FlushScheduler} runs on. */
export interface FlushTimers {
  /** Now, in ms (a monotonic clock). */
  now(): number;
  /** Calls `callback` after `ms`. */
  setTimeout(callback: () => void, ms: number): void;
  /** Calls `callback` once this event-loop turn's I/O callbacks have run. */
  endOfTurn(callback: () => void): void;
}

/** The system's timers: `performance.now`, `setTimeout` and `setImmediate`. */
export const SYSTEM_TIMERS: FlushTimers = Object.freeze({
  now: () => performance.now(),
  setTimeout: (callback: () => void, ms: number) => void setTimeout(callback, ms),
  endOfTurn: (callback: () => void) => setImmediate(callback),
});

/** What one queue wrote in a flush: its frames and the batch made of them. */
export interface FlushedBatch {
  chunks: Uint8Array[];
  batch: Uint8Array;
}

/** A queue a {@linkcode FlushScheduler} flushes. */
export interface Flushable {
  /** When the queue last wrote (the scheduler's clock); only kept with a coalescing window. */
  readonly lastWrite: number;
  /**
   * Hands what is queued to the transport. `previous` is the batch of the
   * queue flushed just before in the same round, to reuse when this queue
   * holds the very same frames; returns its own, or undefined.
   */
  flush(now: number, previous: FlushedBatch | undefined): FlushedBatch | undefined;
}

/** Options for {@linkcode FlushScheduler}. */
export interface FlushSchedulerOptions {
  /**
   * A queue that wrote less than this many ms ago waits for the next tick
   * of a clock with this period, so a busy recipient gets one larger write
   * per period (a quiet one still gets its bytes at the end of the turn).
   * 0 (default) never waits.
   */
  coalesceMs?: number;
  /**
   * With `coalesceMs`: coalesce only while the queues were handed at least
   * this many frames in the last window, all together, and stop again below
   * three quarters of it. A lightly loaded server then writes at the end of
   * each turn (lower latency) and a busy one saves writes, where they cost.
   * 0 (default) always coalesces.
   */
  coalesceFromFrames?: number;
  /** The clock and timers; the system's by default. */
  timers?: FlushTimers;
}

/**
 * Flushes outbound queues at the end of the turn or at the ticks of one
 * coalescing clock, and runs hooks just before a tick writes.
 *
 * @example
 * ```ts
 * import { FlushScheduler } from "./flush_scheduler.ts";
 * import { OutboundQueue } from "./outbound_queue.ts";
 * const written: number[] = [];
 * const scheduler = new FlushScheduler();
 * const queue = new OutboundQueue({
 *   write: (data) => {
 *     written.push(data.length);
 *     return Promise.resolve(data.length);
 *   },
 *   close: () => {},
 * }, { scheduler });
 * queue.push(new Uint8Array(2));
 * queue.push(new Uint8Array(3));
 * await queue.drained();
 * if (written.join() !== "5") throw new Error("one write at the end of the turn");
 * ```
 */
export class FlushScheduler {
  /** The coalescing window, in ms; 0 when queues never wait for a tick. */
  readonly periodMs: number;
  readonly #timers: FlushTimers;
  readonly #fromFrames: number;
  // Whether busy queues wait for ticks now (see coalesceFromFrames).
  #coalescing: boolean;
  // Frames pushed since #windowStart.
  #frames = 0;
  #windowStart = 0;
  // Queues flushed when this event-loop turn ends (one endOfTurn for all).
  #turnQueues: Flushable[] | undefined;
  // Queues to flush at the next tick.
  #tickQueues: Flushable[] = [];
  #armed = false;
  // Run at the next tick before anything is written (see beforeNextTick).
  #hooks: (() => void)[] = [];
  // Between a tick's hooks and its writes: queues join without a new timer.
  #collecting = false;
  // When the armed tick is due, and when the last one was (its phase).
  #due = 0;
  #last = 0;

  constructor(options: FlushSchedulerOptions = {}) {
    const periodMs = options.coalesceMs ?? 0;
    if (!(periodMs >= 0)) {
      throw new RangeError(`Cannot create flush scheduler: coalesceMs ${periodMs} < 0`);
    }
    this.periodMs = periodMs;
    this.#fromFrames = options.coalesceFromFrames ?? 0;
    this.#coalescing = this.#fromFrames === 0;
    this.#timers = options.timers ?? SYSTEM_TIMERS;
  }

  /** Whether queues may wait for a tick (a coalescing window is set). */
  get coalesces(): boolean {
    return this.periodMs > 0;
  }

  /** Now, on the scheduler's clock. */
  now(): number {
    return this.#timers.now();
  }

  /** Counts a frame handed to a queue (the load that turns coalescing on and off). */
  countFrame(): void {
    this.#frames++;
  }

  /** Arranges a flush of `queue`: at the next tick when it is busy and queues coalesce, else at the end of the turn. */
  schedule(queue: Flushable): void {
    if (this.periodMs > 0 && this.#coalescing && this.#busy(queue.lastWrite)) {
      this.#atTick(queue);
    } else {
      this.#atEndOfTurn(queue);
    }
  }

  /**
   * Runs `callback` at the next tick of the armed clock, before that tick
   * writes anything; what the callback and the promise reactions it causes
   * push still goes out in that tick. Returns false, doing nothing, when no
   * tick is armed. A server uses it to commit a batch of messages just
   * before the recipients, who are waiting for the tick anyway, are written.
   */
  beforeNextTick(callback: () => void): boolean {
    if (!this.#armed) return false;
    this.#hooks.push(callback);
    return true;
  }

  /** Runs `callback` just before the next tick when one is armed, else at the end of this turn. */
  beforeNextFlush(callback: () => void): void {
    if (!this.beforeNextTick(callback)) this.#timers.endOfTurn(callback);
  }

  /** Whether a queue last written at `lastWrite` wrote less than a period ago. */
  #busy(lastWrite: number): boolean {
    // While a tick is armed, now lies within a period after the last one, so
    // most queues (written at that tick) are told apart without reading the
    // clock: one clock read per write adds up at tens of thousands per second.
    if (this.#armed) {
      if (lastWrite >= this.#last) return true;
      if (lastWrite < this.#last - this.periodMs) return false;
    }
    return this.#timers.now() - lastWrite < this.periodMs;
  }

  #atEndOfTurn(queue: Flushable): void {
    if (this.#turnQueues === undefined) {
      this.#turnQueues = [];
      this.#timers.endOfTurn(this.#flushTurn);
    }
    this.#turnQueues.push(queue);
  }

  readonly #flushTurn = (): void => {
    const queues = this.#turnQueues ?? [];
    this.#turnQueues = undefined;
    this.#flushAll(queues, this.#timers.now());
  };

  #flushAll(queues: Flushable[], now: number): void {
    if (this.periodMs > 0) this.#measure(now);
    let previous: FlushedBatch | undefined;
    for (const queue of queues) previous = queue.flush(now, previous) ?? previous;
  }

  /** Once per window: whether the frames handed out call for coalescing. */
  #measure(now: number): void {
    const elapsed = now - this.#windowStart;
    if (elapsed < this.periodMs) return;
    const perWindow = this.#frames * this.periodMs / elapsed;
    if (perWindow >= this.#fromFrames) this.#coalescing = true;
    else if (perWindow < this.#fromFrames * 0.75) this.#coalescing = false;
    this.#frames = 0;
    this.#windowStart = now;
  }

  #atTick(queue: Flushable): void {
    this.#tickQueues.push(queue);
    if (this.#armed || this.#collecting) return;
    // Keep the phase of the last tick, so recipients written together stay
    // together; after a pause, count from this queue's last write. Either
    // way the next tick is one period after `last`, which #busy relies on.
    const now = this.#timers.now();
    if (this.#last + this.periodMs <= now) this.#last = queue.lastWrite;
    const due = this.#last + this.periodMs;
    this.#due = due;
    this.#armed = true;
    this.#timers.setTimeout(this.#tick, due - now);
  }

  readonly #tick = (): void => {
    this.#armed = false;
    const now = this.#timers.now();
    // A late tick moves the phase only when it is late by more than half a
    // period, so an overloaded loop gets no burst of back-to-back ticks.
    this.#last = Math.max(this.#due, now - this.periodMs / 2);
    const hooks = this.#hooks;
    if (hooks.length === 0) return this.#flushTick(now);
    // Hooks first; the writes wait until the reactions they cause have run.
    this.#hooks = [];
    this.#collecting = true;
    for (const hook of hooks) {
      try {
        hook();
      } catch (error) {
        reportError(error);
      }
    }
    this.#timers.endOfTurn(() => this.#flushTick(now));
  };

  #flushTick(now: number): void {
    this.#collecting = false;
    const queues = this.#tickQueues;
    this.#tickQueues = [];
    this.#flushAll(queues, now);
  }
}
