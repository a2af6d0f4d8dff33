/**
 * How long a webhook delivery waits before its next attempt: exponential
 * backoff with jitter. Attempt n (1 after the first failure) waits between
 * half and all of `min(maxMs, baseMs * 2^(n-1))`, so a fleet of retries
 * spreads out yet never comes back at once.
 *
 * @module
 */

/** The settings of a {@linkcode retryDelay}. */
export interface RetrySettings {
  /** The wait after the first failure, before jitter, in ms. */
  baseMs: number;
  /** The longest wait, before jitter, in ms. */
  maxMs: number;
}

/**
 * The wait before retry `attempt` (1-based), given `random` in [0, 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryDelay } from "./retry_schedule.ts";
 * const settings = { baseMs: 100, maxMs: 1000 };
 * assert.equal(retryDelay(1, { ...settings, random: () => 0 }), 50);
 * assert.equal(retryDelay(3, { ...settings, random: () => 0.999999 }), 399);
 * assert.equal(retryDelay(9, { ...settings, random: () => 0 }), 500);
 * ```
 */
export function retryDelay(
  attempt: number,
  options: RetrySettings & { random: () => number },
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(ceiling / 2 + (ceiling / 2) * options.random());
}
