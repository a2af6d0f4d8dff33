/**
 * Reconnect delays: exponential backoff with full jitter, so clients cut off
 * together (a server restart) do not all come back at the same instant.
 *
 * @module
 */

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. Default 250. */
  initialDelayMs?: number;
  /** Largest upper bound, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Source of uniform numbers in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Default upper bound of the first reconnect delay, in ms. */
export const DEFAULT_INITIAL_DELAY_MS = 250;
/** Default largest reconnect delay, in ms. */
export const DEFAULT_MAX_DELAY_MS = 30_000;

/**
 * The delay before reconnect attempt `attempt` (1-based): uniform in
 * `[0, min(maxDelayMs, initialDelayMs * 2^(attempt-1))]` ("full jitter").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * assert.equal(backoffDelay(3, { random: () => 0.5 }), 500); // half of 1000
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const random = options.random ?? Math.random;
  // Capping the exponent first keeps 2 ** n finite for any attempt count.
  const exponent = Math.min(Math.max(attempt - 1, 0), 52);
  const ceiling = Math.min(max, initial * 2 ** exponent);
  return Math.round(random() * ceiling);
}
