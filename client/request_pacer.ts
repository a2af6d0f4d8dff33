/**
 * Client-side pacing that keeps requests under the rate limit the server
 * announced, so a script piping many lines is slowed rather than refused.
 *
 * @module
 */

/** Options for {@linkcode RequestPacer}. */
export interface RequestPacerOptions {
  /** Requests allowed back to back. */
  burst: number;
  /** Sustained requests per second; 0 or less turns pacing off. */
  ratePerSecond: number;
}

/**
 * A token bucket on the client's side of the rate limit. It runs slightly
 * below the announced rate because the server's clock sees our requests
 * after network jitter has bunched them up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestPacer } from "./request_pacer.ts";
 * const pacer = new RequestPacer({ burst: 2, ratePerSecond: 1 });
 * assert.deepEqual([pacer.take(0), pacer.take(0), pacer.take(0) > 0], [0, 0, true]);
 * ```
 */
export class RequestPacer {
  #burst: number;
  #perMs: number;
  #tokens: number;
  #updatedAt: number | undefined;
  #blockedUntil = 0;

  /** Makes a pacer with a full bucket. */
  constructor(options: RequestPacerOptions) {
    this.#burst = Math.max(1, Math.floor(options.burst));
    this.#perMs = options.ratePerSecond > 0 ? options.ratePerSecond * 0.95 / 1000 : Infinity;
    this.#tokens = this.#burst;
  }

  /**
   * Takes a token at time `now` (ms) and returns 0, or takes nothing and
   * returns how many ms to wait before asking again.
   */
  take(now: number): number {
    if (this.#perMs === Infinity && now >= this.#blockedUntil) return 0;
    if (now < this.#blockedUntil) return Math.ceil(this.#blockedUntil - now);
    if (this.#updatedAt !== undefined) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) * this.#perMs);
    }
    this.#updatedAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }

  /** Holds every request until `ms` from `now`: the server said to retry later. */
  pause(ms: number, now: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, now + ms);
    this.#tokens = 0;
    this.#updatedAt = now + ms;
  }
}
