/**
 * Small statistics helpers: percentiles of latency samples and medians of
 * figures over repeated runs.
 *
 * @module
 */

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Summarizes latency samples (ms). Percentiles use the nearest-rank method:
 * p99 is the smallest sample at or above 99 % of all samples.
 */
export function summarizeLatency(samples: Float64Array): LatencySummary {
  if (samples.length === 0) return { samples: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN };
  const sorted = samples.slice().sort();
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1]!,
  };
}

/** The nearest-rank `p`th percentile of ascending `sorted`. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const middle = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

/** Concatenates sample arrays. */
export function concatSamples(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * A bounded buffer of latency samples: it keeps the first `capacity`
 * samples and counts the ones it had no room for.
 */
export class SampleBuffer {
  readonly values: Float64Array;
  length = 0;
  dropped = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  add(value: number): void {
    if (this.length < this.values.length) this.values[this.length++] = value;
    else this.dropped++;
  }

  /** The samples kept, as a copy. */
  toArray(): Float64Array {
    return this.values.slice(0, this.length);
  }
}
