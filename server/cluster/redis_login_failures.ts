/**
 * Failed-login counts in Redis, per account, per address, and per account
 * from each address, over a sliding hour approximated by two hourly
 * buckets: the current bucket plus the part of the previous one the hour
 * still covers.
 *
 * @module
 */
import type { FailureCounts, SharedLoginFailures } from "../accounts/shared_login_failures.ts";
import type { RedisConnection } from "./redis_connection.ts";
import type { RedisKeys } from "./redis_keys.ts";

const HOUR_MS = 3_600_000;

/**
 * The cluster's failed-login counter.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { RedisLoginFailures } from "./redis_login_failures.ts";
 * const failures = new RedisLoginFailures(store.redis, store.keys);
 * await failures.record("alice", "192.0.2.1");
 * assert.deepEqual(await failures.count("alice", "192.0.2.1"), {
 *   account: 1,
 *   ip: 1,
 *   accountFromIp: 1,
 * });
 * ```
 */
export class RedisLoginFailures implements SharedLoginFailures {
  #redis: RedisConnection;
  #prefix: string;
  #now: () => number;

  constructor(redis: RedisConnection, keys: RedisKeys, options: { now?: () => number } = {}) {
    this.#redis = redis;
    this.#prefix = `${keys.prefix}loginfail:`;
    this.#now = options.now ?? Date.now;
  }

  async count(account: string | undefined, ip: string): Promise<FailureCounts> {
    const hour = Math.floor(this.#now() / HOUR_MS);
    const [current, previous] = await Promise.all([
      this.#read(account, ip, hour),
      this.#read(account, ip, hour - 1),
    ]);
    return this.#slide(current, previous);
  }

  async record(account: string | undefined, ip: string): Promise<FailureCounts> {
    const hour = Math.floor(this.#now() / HOUR_MS);
    // Two hours: long enough to serve as the previous bucket.
    const expire = (key: string) => this.#redis.command(["PEXPIRE", key, 2 * HOUR_MS]);
    const ipKey = this.#key("i", ip, hour);
    const increments: Array<Promise<unknown>> = [
      this.#redis.command<number>(["INCR", ipKey]),
      expire(ipKey),
    ];
    if (account !== undefined) {
      const accountKey = this.#key("a", account, hour);
      const pairKey = this.#key("p", account, hour);
      increments.push(
        this.#redis.command<number>(["INCR", accountKey]),
        expire(accountKey),
        this.#redis.command<number>(["HINCRBY", pairKey, ip, 1]),
        expire(pairKey),
      );
    }
    const [[ipCount, , accountCount = 0, , pairCount = 0], previous] = await Promise.all([
      Promise.all(increments) as Promise<number[]>,
      this.#read(account, ip, hour - 1),
    ]);
    return this.#slide({ account: accountCount, ip: ipCount!, accountFromIp: pairCount }, previous);
  }

  async clearAccount(account: string): Promise<void> {
    const hour = Math.floor(this.#now() / HOUR_MS);
    await this.#redis.command([
      "DEL",
      this.#key("a", account, hour),
      this.#key("a", account, hour - 1),
      this.#key("p", account, hour),
      this.#key("p", account, hour - 1),
    ]);
  }

  /** The counts of one hourly bucket. */
  async #read(account: string | undefined, ip: string, hour: number): Promise<FailureCounts> {
    const [ipCount, accountCount, pairCount] = await Promise.all([
      this.#redis.command<string | null>(["GET", this.#key("i", ip, hour)]),
      account === undefined
        ? null
        : this.#redis.command<string | null>(["GET", this.#key("a", account, hour)]),
      account === undefined
        ? null
        : this.#redis.command<string | null>(["HGET", this.#key("p", account, hour), ip]),
    ]);
    return {
      account: Number(accountCount ?? 0),
      ip: Number(ipCount ?? 0),
      accountFromIp: Number(pairCount ?? 0),
    };
  }

  /** The sliding hour: the current bucket plus the share of the previous one it still covers. */
  #slide(current: FailureCounts, previous: FailureCounts): FailureCounts {
    const weight = 1 - (this.#now() % HOUR_MS) / HOUR_MS;
    const slide = (now: number, before: number) => now + Math.floor(before * weight);
    return {
      account: slide(current.account, previous.account),
      ip: slide(current.ip, previous.ip),
      accountFromIp: slide(current.accountFromIp, previous.accountFromIp),
    };
  }

  #key(kind: "a" | "i" | "p", name: string, hour: number): string {
    return `${this.#prefix}${kind}:${name}:${hour}`;
  }
}
