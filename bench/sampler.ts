/**
 * Which messages a receiver reads the send time of. Reading a body costs
 * more than counting a frame, so only every `sampleEvery`-th message is
 * sampled (with a per-receiver phase, to spread samples over receivers),
 * and none of the first `skipSamples` (the warm-up).
 *
 * @module
 */

/** Sampling options of a receiver's scanner. */
export interface ScannerOptions {
  /** Look at the body of every `sampleEvery`-th message (0: never). */
  sampleEvery?: number;
  /** Which residue modulo `sampleEvery` is sampled, to spread samples over clients. */
  samplePhase?: number;
  /** Messages not sampled at the start of the stream (a warm-up). */
  skipSamples?: number;
  /** Called with each sampled message's latency in ms. */
  onSample?: (latencyMs: number) => void;
}

/**
 * The sampling decision and where latencies go.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sampler } from "./sampler.ts";
 * const latencies: number[] = [];
 * const sampler = new Sampler({ sampleEvery: 2, skipSamples: 2, onSample: (ms) => latencies.push(ms) });
 * for (let index = 0; index < 6; index++) {
 *   if (sampler.wants(index)) sampler.record(100, 100 - index);
 * }
 * assert.deepEqual(latencies, [2, 4]);
 * ```
 */
export class Sampler {
  readonly #every: number;
  readonly #phase: number;
  readonly #skip: number;
  readonly #onSample: ((latencyMs: number) => void) | undefined;

  constructor(options: ScannerOptions = {}) {
    this.#every = options.sampleEvery ?? 0;
    this.#phase = options.samplePhase ?? 0;
    this.#skip = options.skipSamples ?? 0;
    this.#onSample = options.onSample;
  }

  /** Whether the message with this 0-based arrival index is sampled. */
  wants(index: number): boolean {
    return this.#every !== 0 && index >= this.#skip && (index + this.#phase) % this.#every === 0;
  }

  /** Reports one sample, unless the send time could not be read (NaN). */
  record(receivedAt: number, sentAt: number): void {
    if (!Number.isNaN(sentAt)) this.#onSample?.(receivedAt - sentAt);
  }
}
