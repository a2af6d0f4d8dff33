/**
 * Log lines an attacker can cause at will (a refused connection, say) are
 * sampled: the first of a kind per key is logged, the same kind again
 * within the interval is only counted, and the count goes out with the
 * next line logged for that key. The log says what happened without
 * letting one address fill the disk.
 *
 * @module
 */

/** Options for {@linkcode LogSampler}. */
export interface LogSamplerOptions {
  /** The interval in which a key is logged once, in ms (default one minute). */
  intervalMs?: number;
  /** Keys remembered at most (default 10,000); the oldest are forgotten first. */
  maxKeys?: number;
  /** The clock, in ms (default `performance.now`). */
  now?: () => number;
}

interface Sampled {
  loggedAt: number;
  suppressed: number;
}

/**
 * Decides which lines of one kind to log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogSampler } from "./log_sampler.ts";
 * let now = 0;
 * const sampler = new LogSampler({ intervalMs: 60_000, now: () => now });
 * assert.equal(sampler.sample("192.0.2.7"), 0); // log it (nothing suppressed before)
 * assert.equal(sampler.sample("192.0.2.7"), undefined); // counted, not logged
 * now = 61_000;
 * assert.equal(sampler.sample("192.0.2.7"), 1); // log it, saying 1 more was suppressed
 * ```
 */
export class LogSampler {
  #intervalMs: number;
  #maxKeys: number;
  #now: () => number;
  #keys = new Map<string, Sampled>();

  constructor(options: LogSamplerOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Whether to log a line for `key` now: undefined when it is only counted,
   * else how many lines of the key were suppressed since the last one logged.
   */
  sample(key: string): number | undefined {
    const now = this.#now();
    const seen = this.#keys.get(key);
    if (seen !== undefined && now - seen.loggedAt < this.#intervalMs) {
      seen.suppressed++;
      return undefined;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.#keys.delete(key);
    this.#keys.set(key, { loggedAt: now, suppressed: 0 });
    if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    return suppressed;
  }
}
