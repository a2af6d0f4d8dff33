/**
 * A cap on concurrent password-hash computations. Each scrypt hash takes a
 * core and 128 MiB for a third of a second, so a flood of logins left
 * unchecked would starve chat traffic and memory; excess work waits in a
 * bounded FIFO queue and beyond that is refused as `rate_limited`.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";

/** Options for {@linkcode HashLimiter}. */
export interface HashLimiterOptions {
  /** Tasks run at once (default 2, one per core of a small box). */
  maxConcurrent?: number;
  /** Tasks that may wait; more are refused (default 64). */
  maxQueued?: number;
}

/** Default {@linkcode HashLimiterOptions.maxConcurrent}. */
export const DEFAULT_MAX_CONCURRENT_HASHES = 2;
/** Default {@linkcode HashLimiterOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED_HASHES = 64;

// Starting guess of a task's duration, for retryAfterMs before any ran.
const INITIAL_ESTIMATE_MS = 400;

/**
 * Runs async tasks at most `maxConcurrent` at a time, first come first
 * served, with at most `maxQueued` waiting.
 *
 * @example
 * ```ts
 * import { HashLimiter } from "./hash_limiter.ts";
 * const limiter = new HashLimiter({ maxConcurrent: 1 });
 * const [a, b] = await Promise.all([limiter.run(async () => 1), limiter.run(async () => 2)]);
 * console.log(a + b, limiter.peakActive); // 3 1
 * ```
 */
export class HashLimiter {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  #active = 0;
  #peakActive = 0;
  #completed = 0;
  #queue: Array<() => void> = [];
  #averageMs = INITIAL_ESTIMATE_MS;

  constructor(options: HashLimiterOptions = {}) {
    this.maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_HASHES;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED_HASHES;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent must be a whole number >= 1, got ${this.maxConcurrent}`);
    }
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) {
      throw new RangeError(`maxQueued must be a whole number >= 0, got ${this.maxQueued}`);
    }
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting now. */
  get queued(): number {
    return this.#queue.length;
  }

  /** The most tasks that ever ran at once (instrumentation for tests and metrics). */
  get peakActive(): number {
    return this.#peakActive;
  }

  /** Tasks finished so far, successfully or not. */
  get completed(): number {
    return this.#completed;
  }

  /**
   * Runs `task` when a slot is free. Throws `ChatError("rate_limited")`
   * with a `retryAfterMs` estimate, without running it, when the queue is
   * full.
   */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.maxConcurrent) {
      if (this.#queue.length >= this.maxQueued) {
        // Time for the queue ahead (and this task) to drain, roughly.
        const retryAfterMs = Math.max(
          100,
          Math.ceil(this.#averageMs * (this.#queue.length + 1) / this.maxConcurrent),
        );
        throw new ChatError("rate_limited", "Server busy checking passwords; try again shortly", {
          retryAfterMs,
        });
      }
      // The slot is handed over by the finishing task, so #active already
      // counts this one when it wakes.
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#active++;
    }
    this.#peakActive = Math.max(this.#peakActive, this.#active);
    const started = performance.now();
    try {
      return await task();
    } finally {
      this.#completed++;
      this.#averageMs = 0.8 * this.#averageMs + 0.2 * (performance.now() - started);
      const next = this.#queue.shift();
      if (next === undefined) this.#active--;
      else next();
    }
  }
}
