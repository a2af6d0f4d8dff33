/**
 * Counting events per key over a sliding window in bounded memory.
 *
 * @module
 */

// The window is counted in this many buckets, so memory per key is bounded
// whatever the count; an event counts for between one and
// (1 + 1/BUCKETS) windows, erring on the strict side.
const BUCKETS = 60;

/** The events of one key, counted per bucket, oldest first. */
class BucketCounts {
  buckets: number[] = [];
  counts: number[] = [];
  total = 0;

  prune(current: number): void {
    let drop = 0;
    while (drop < this.buckets.length && this.buckets[drop]! < current - BUCKETS) {
      this.total -= this.counts[drop]!;
      drop++;
    }
    if (drop > 0) {
      this.buckets.splice(0, drop);
      this.counts.splice(0, drop);
    }
  }

  /** Drops the buckets up to and including `bucket`. */
  forget(bucket: number): void {
    let drop = 0;
    while (drop < this.buckets.length && this.buckets[drop]! <= bucket) {
      this.total -= this.counts[drop]!;
      drop++;
    }
    this.buckets.splice(0, drop);
    this.counts.splice(0, drop);
  }

  add(current: number): void {
    const last = this.buckets.length - 1;
    if (this.buckets[last] === current) this.counts[last]!++;
    else {
      this.buckets.push(current);
      this.counts.push(1);
    }
    this.total++;
  }

  /** The first bucket whose expiry brings the total below `limit`. */
  bucketFreeingBelow(limit: number): number {
    let remaining = this.total;
    for (let i = 0; i < this.buckets.length; i++) {
      remaining -= this.counts[i]!;
      if (remaining < limit) return this.buckets[i]!;
    }
    return this.buckets[this.buckets.length - 1] ?? 0;
  }
}

/** Options for {@linkcode WindowedCounts}. */
export interface WindowedCountsOptions {
  /** The count at which a key is over its limit. */
  limit: number;
  /** Keys tracked at most: beyond it the least recently counted are forgotten. */
  maxKeys: number;
  /** The sliding window, in ms. */
  windowMs: number;
}

/**
 * Events per key (failed logins, rooms created, accounts created) over a
 * sliding window, in bounded memory: a few buckets per key, and at most
 * `maxKeys` keys, the least recently counted forgotten first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WindowedCounts } from "./windowed_counts.ts";
 * const counts = new WindowedCounts({ limit: 2, maxKeys: 100, windowMs: 60_000 });
 * counts.add("192.0.2.7", 0);
 * counts.add("192.0.2.7", 1000);
 * assert.deepEqual([counts.count("192.0.2.7", 2000), counts.retryAfterMs("192.0.2.7", 2000) > 0], [2, true]);
 * assert.equal(counts.count("192.0.2.7", 70_000), 0); // both have left the window
 * ```
 */
export class WindowedCounts {
  readonly limit: number;
  #maxKeys: number;
  #bucketMs: number;
  #counts = new Map<string, BucketCounts>();
  #lastSweep = -Infinity;

  constructor(options: WindowedCountsOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!(value >= 1)) {
        throw new RangeError(`Cannot count in a window: ${name} ${value} must be at least 1`);
      }
    }
    this.limit = options.limit;
    this.#maxKeys = options.maxKeys;
    this.#bucketMs = options.windowMs / BUCKETS;
  }

  get size(): number {
    return this.#counts.size;
  }

  count(key: string, now: number): number {
    const count = this.#counts.get(key);
    if (count === undefined) return 0;
    count.prune(this.#bucket(now));
    if (count.total === 0) this.#counts.delete(key);
    return count.total;
  }

  /** Ms until `key` is under its limit again, or 0 when it is already. */
  retryAfterMs(key: string, now: number): number {
    const count = this.#counts.get(key);
    if (count === undefined || this.count(key, now) < this.limit) return 0;
    const expiresAt = (count.bucketFreeingBelow(this.limit) + BUCKETS + 1) * this.#bucketMs;
    return Math.max(1, Math.ceil(expiresAt - now));
  }

  /** Counts one event; returns the count in the window after it. */
  add(key: string, now: number): number {
    const current = this.#bucket(now);
    let count = this.#counts.get(key);
    if (count === undefined) count = new BucketCounts();
    else this.#counts.delete(key); // re-inserted below: most recent last
    count.prune(current);
    count.add(current);
    this.#counts.set(key, count);
    if (this.#counts.size > this.#maxKeys) this.#shrink(current);
    return count.total;
  }

  /** Forgets the events of `key` counted at or before `at` (the whole bucket `at` falls in). */
  forget(key: string, at: number): void {
    const count = this.#counts.get(key);
    if (count === undefined) return;
    count.forget(this.#bucket(at));
    if (count.total === 0) this.#counts.delete(key);
  }

  /** Every key tracked now (a snapshot: the caller may forget while iterating). */
  keys(): string[] {
    return [...this.#counts.keys()];
  }

  #shrink(current: number): void {
    // Sweeping is O(keys), so at most once a bucket; then drop the least
    // recently counted keys, which are the least interesting to an attacker.
    if (current > this.#lastSweep) {
      this.#lastSweep = current;
      for (const [key, count] of this.#counts) {
        count.prune(current);
        if (count.total === 0) this.#counts.delete(key);
      }
    }
    for (const key of this.#counts.keys()) {
      if (this.#counts.size <= this.#maxKeys) break;
      this.#counts.delete(key);
    }
  }

  #bucket(now: number): number {
    return Math.floor(now / this.#bucketMs);
  }
}
