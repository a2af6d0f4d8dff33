/**
 * Failed-login counts in Redis, per account and per address, over a sliding
 * hour approximated by two hourly buckets: the current bucket plus the part
 * of the previous one the hour still covers.
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
 * import { RedisLoginFailures } from "./redis_login_failures.ts";
 * const failures = new RedisLoginFailures(store.redis, store.keys);
 * await failures.record("alice", "192.0.2.1");
 * console.log(await failures.count("alice", "192.0.2.1")); // { account: 1, ip: 1 }
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
    const now = this.#now();
    const hour = Math.floor(now / HOUR_MS);
    // The share of the previous hour still inside the sliding hour.
    const previousWeight = 1 - (now % HOUR_MS) / HOUR_MS;
    const keys = [
      this.#key("a", account ?? "", hour),
      this.#key("a", account ?? "", hour - 1),
      this.#key("i", ip, hour),
      this.#key("i", ip, hour - 1),
    ];
    const values = await this.#redis.command<Array<string | null>>(["MGET", ...keys]);
    const number = (index: number) => Number(values[index] ?? 0);
    return {
      account: account === undefined ? 0 : number(0) + Math.floor(number(1) * previousWeight),
      ip: number(2) + Math.floor(number(3) * previousWeight),
    };
  }

  async record(account: string | undefined, ip: string): Promise<void> {
    const hour = Math.floor(this.#now() / HOUR_MS);
    const keys = account === undefined ? [this.#key("i", ip, hour)] : [
      this.#key("a", account, hour),
      this.#key("i", ip, hour),
    ];
    for (const key of keys) {
      await this.#redis.command(["INCR", key]);
      // Two hours: long enough to serve as the previous bucket.
      await this.#redis.command(["PEXPIRE", key, 2 * HOUR_MS]);
    }
  }

  #key(kind: "a" | "i", name: string, hour: number): string {
    return `${this.#prefix}${kind}:${name}:${hour}`;
  }
}
