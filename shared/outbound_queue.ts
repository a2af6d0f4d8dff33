/**
 * A bounded outbound byte queue with one writer per connection. Frames are
 * queued without waiting; the writer joins everything queued into one write,
 * so a fast producer costs one syscall per batch and a slow consumer costs
 * at most `maxBytes` of memory before it is cut off.
 *
 * @module
 */
import { type Transport, writeAll } from "./transport.ts";

/** Default bound on queued bytes per connection: 1 MiB. */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024;

// One callback per event-loop turn for every end-of-turn queue.
let turn: Promise<void> | undefined;

function endOfTurn(): Promise<void> {
  return turn ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    })
  );
}

// Shared timers keyed by due time (whole ms): every queue due then wakes on one.
const timers = new Map<number, Promise<void>>();

function until(due: number): Promise<void> {
  const slot = Math.ceil(due);
  let timer = timers.get(slot);
  if (timer === undefined) {
    timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        timers.delete(slot);
        resolve();
      }, Math.max(0, slot - performance.now()))
    );
    timers.set(slot, timer);
  }
  return timer;
}

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
   * out the rest before writing again, so a busy recipient gets fewer,
   * larger writes (a quiet one still gets its bytes at the end of the turn).
   * 0 (default) never waits.
   */
  coalesceMs?: number;
}

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
  #transport: Transport;
  #maxBytes: number;
  #onError: ((error: unknown) => void) | undefined;
  #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing: Promise<void> | undefined;
  #failed = false;
  #endOfTurn: boolean;
  #coalesceMs: number;
  #lastWrite = -Infinity;

  constructor(transport: Transport, options: OutboundQueueOptions = {}) {
    this.#transport = transport;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.#onError = options.onError;
    this.#endOfTurn = options.start === "end-of-turn";
    this.#coalesceMs = this.#endOfTurn ? options.coalesceMs ?? 0 : 0;
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
    this.#writing ??= this.#endOfTurn ? this.#waitTurn().then(() => this.#drain()) : this.#drain();
    return true;
  }

  /** Resolves once everything queued so far is written (or writing failed). */
  async drained(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** The end of this turn, or of the coalescing window if the last write was recent. */
  #waitTurn(): Promise<void> {
    const due = this.#lastWrite + this.#coalesceMs;
    return due > performance.now() ? until(due) : endOfTurn();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#chunks.length > 0) {
        if (this.#coalesceMs > 0) {
          const due = this.#lastWrite + this.#coalesceMs;
          if (due > performance.now()) await until(due);
          this.#lastWrite = performance.now();
        }
        const chunks = this.#chunks;
        const size = this.#queuedBytes;
        this.#chunks = [];
        let batch: Uint8Array;
        if (chunks.length === 1) {
          batch = chunks[0]!;
        } else {
          batch = new Uint8Array(size);
          let offset = 0;
          for (const chunk of chunks) {
            batch.set(chunk, offset);
            offset += chunk.length;
          }
        }
        // Bytes count against the bound until the transport has taken them.
        await writeAll(this.#transport, batch);
        this.#queuedBytes -= size;
      }
    } catch (error) {
      this.#failed = true;
      this.#chunks = [];
      this.#queuedBytes = 0;
      this.#onError?.(error);
    } finally {
      this.#writing = undefined;
    }
  }
}
