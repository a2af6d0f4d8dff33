/**
 * The bench's clock: wall-clock milliseconds with sub-millisecond
 * resolution, consistent across the main thread and its Workers (each has
 * its own `performance.timeOrigin`, all taken from the same system clock).
 *
 * @module
 */

/** Milliseconds since the epoch, fractional (µs resolution). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
