/**
 * Token bucket rate limiting.
 *
 * @module
 */

/**
 * A token bucket holding at most `burst` tokens, refilled at `ratePerSecond`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./token_bucket.ts";
 * const bucket = new TokenBucket({ burst: 1, ratePerSecond: 1 });
 * assert.equal(bucket.take(0), 0); // allowed
 * assert.equal(bucket.take(0), 1000); // retry after 1000 ms
 * ```
 */
export class TokenBucket {
  #burst: number;
  #ratePerMs: number;
  #tokens: number;
  #updatedAt: number | undefined;

  constructor(options: { burst: number; ratePerSecond: number }) {
    if (!(options.burst >= 1)) {
      throw new RangeError(`Cannot create bucket: burst ${options.burst} < 1`);
    }
    if (!(options.ratePerSecond > 0)) {
      throw new RangeError(`Cannot create bucket: rate ${options.ratePerSecond} must be positive`);
    }
    this.#burst = options.burst;
    this.#ratePerMs = options.ratePerSecond / 1000;
    this.#tokens = options.burst;
  }

  /**
   * Takes one token (or `count`, at most the burst) at time `now` (ms).
   * Returns 0 when allowed, otherwise the milliseconds until they will be
   * available (nothing is taken).
   */
  take(now: number = performance.now(), count = 1): number {
    const wanted = Math.min(count, this.#burst);
    if (this.#updatedAt !== undefined) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + (now - this.#updatedAt) * this.#ratePerMs,
      );
    }
    this.#updatedAt = now;
    if (this.#tokens >= wanted) {
      this.#tokens -= wanted;
      return 0;
    }
    return Math.ceil((wanted - this.#tokens) / this.#ratePerMs);
  }
}
