/**
 * A bounded outbound byte queue with one writer per connection. Frames are
 * queued without waiting; the writer joins everything queued into one write,
 * so a fast producer costs one syscall per batch and a slow consumer costs
 * at most `maxBytes` of memory before it is cut off.
 *
 * A queue given a {@linkcode FlushScheduler} writes when the scheduler says
 * (at the end of the turn, or at the tick of its coalescing clock), not on a
 * promise chain of its own; without one, it writes at the first push.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";
import type { FlushedBatch, FlushScheduler } from "./flush_scheduler.ts";
import type { Writer } from "./transport.ts";

/** Default bound on queued bytes per connection: 1 MiB. */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024;

/** Options for {@linkcode OutboundQueue}. */
export interface OutboundQueueOptions {
  /** Most bytes queued and not yet written before the peer counts as slow. */
  maxBytes?: number;
  /** Called once when a write fails (the peer is gone). */
  onError?: (error: unknown) => void;
  /**
   * Decides when an idle queue starts writing: at the end of the turn, once
   * the event loop has handled this turn's input (a server fanning out many
   * messages per turn then makes one write per recipient instead of one per
   * message), or at the next tick of its coalescing clock. None (default):
   * at the first push.
   */
  scheduler?: FlushScheduler;
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
 * ```ts
 * import { OutboundQueue } from "./outbound_queue.ts";
 * const written: Uint8Array[] = [];
 * const writer = {
 *   write: (data: Uint8Array) => {
 *     written.push(data);
 *     return Promise.resolve(data.length);
 *   },
 *   close: () => {},
 * };
 * const queue = new OutboundQueue(writer, { maxBytes: 4 });
 * if (!queue.push(new Uint8Array(3))) throw new Error("fits");
 * if (queue.push(new Uint8Array(2))) throw new Error("over the bound: a slow consumer");
 * await queue.drained();
 * if (written.length !== 1) throw new Error("written at the first push");
 * ```
 */
export class OutboundQueue {
  #writer: Writer;
  #maxBytes: number;
  #onError: ((error: unknown) => void) | undefined;
  #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  #state = IDLE;
  #failed = false;
  #scheduler: FlushScheduler | undefined;
  #lastWrite = -Infinity;
  #drainWaiters: (() => void)[] | undefined;

  constructor(writer: Writer, options: OutboundQueueOptions = {}) {
    this.#writer = writer;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.#onError = options.onError;
    this.#scheduler = options.scheduler;
  }

  /** Bytes queued and not yet handed to the transport. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Whether a write has failed; nothing more will be written. */
  get failed(): boolean {
    return this.#failed;
  }

  /** When the queue last wrote (its scheduler's clock); only kept when the scheduler coalesces. */
  get lastWrite(): number {
    return this.#lastWrite;
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
    const scheduler = this.#scheduler;
    if (scheduler !== undefined) scheduler.countFrame();
    if (this.#state === IDLE) {
      if (scheduler === undefined) this.flush(performance.now());
      else {
        this.#state = SCHEDULED;
        scheduler.schedule(this);
      }
    }
    return true;
  }

  /** Resolves once everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    if (this.#state === IDLE) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  /**
   * Hands everything queued to the transport as one write (its scheduler
   * calls this). `previous` is the batch of the queue flushed just before,
   * reused when this queue holds the very same frames (a room's members
   * usually do): one copy per room, not per member.
   */
  flush(now: number, previous?: FlushedBatch): FlushedBatch | undefined {
    if (this.#failed) return undefined;
    this.#state = WRITING;
    if (this.#scheduler?.coalesces) this.#lastWrite = now;
    const chunks = this.#chunks;
    const size = this.#queuedBytes;
    this.#chunks = [];
    let batch: Uint8Array;
    if (chunks.length === 1) {
      batch = chunks[0]!;
    } else if (previous !== undefined && sameFrames(previous.chunks, chunks)) {
      batch = previous.batch;
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
      written = this.#writer.write(data);
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
      // More came while writing: with a coalescing clock wait for its tick, else go on.
      const scheduler = this.#scheduler;
      if (scheduler?.coalesces) {
        this.#state = SCHEDULED;
        scheduler.schedule(this);
      } else {
        this.flush(scheduler === undefined ? performance.now() : scheduler.now());
      }
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
}
