/**
 * A fixed-bucket latency histogram cheap enough for the delivery hot path:
 * one comparison loop and two additions per observation.
 *
 * @module
 */

/** Default bucket bounds, in seconds (Prometheus style `le`). */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/**
 * Counts observations per bucket (not cumulative; cumulate when exporting).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LatencyHistogram } from "./latency_histogram.ts";
 * const histogram = new LatencyHistogram();
 * histogram.observeMs(3);
 * assert.deepEqual([histogram.count, histogram.sumSeconds], [1, 0.003]);
 * ```
 */
export class LatencyHistogram {
  /** Upper bounds in seconds; observations above the last go to `+Inf`. */
  readonly bounds: readonly number[];
  /** Observations per bucket; the last entry is `+Inf`. */
  readonly counts: number[];
  count = 0;
  sumSeconds = 0;

  constructor(bounds: readonly number[] = DEFAULT_LATENCY_BUCKETS) {
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /** Records one observation given in milliseconds. */
  observeMs(ms: number): void {
    const seconds = ms / 1000;
    let index = 0;
    while (index < this.bounds.length && seconds > this.bounds[index]!) index++;
    this.counts[index]!++;
    this.count++;
    this.sumSeconds += seconds;
  }

  /** Cumulative counts per bound (`le`), ending with `+Inf`, as Prometheus exports them. */
  cumulative(): Array<{ le: string; count: number }> {
    let running = 0;
    return this.counts.map((count, index) => {
      running += count;
      return {
        le: index < this.bounds.length ? String(this.bounds[index]) : "+Inf",
        count: running,
      };
    });
  }
}
