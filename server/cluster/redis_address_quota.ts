/**
 * An {@linkcode AddressQuota} shared by every instance through Redis: a
 * counter per address per hour, and a sliding hour approximated by the
 * current hour plus the share of the previous one it still covers (as the
 * failed-login counts are).
 *
 * @module
 */
import { type AddressQuota, quotaRefusal, type QuotaWording } from "../limits/address_quota.ts";
import { ipKey } from "../net/ip_key.ts";
import type { RedisConnection } from "./redis_connection.ts";
import type { RedisKeys } from "./redis_keys.ts";

const HOUR_MS = 3_600_000;

/**
 * The cluster's allowance of one kind (`name`) per address per hour.
 *
 * @example
 * ```ts ignore
 * import { RedisAddressQuota } from "./redis_address_quota.ts";
 * const rooms = new RedisAddressQuota(store.redis, store.keys, { name: "rooms", limit: 20 });
 * await rooms.take("192.0.2.7", { refused: "Cannot create #dev", counted: "rooms created" });
 * ```
 */
export class RedisAddressQuota implements AddressQuota {
  readonly limit: number;
  #redis: RedisConnection;
  #prefix: string;
  #now: () => number;

  constructor(
    redis: RedisConnection,
    keys: RedisKeys,
    options: { name: string; limit: number; now?: () => number },
  ) {
    this.#redis = redis;
    this.#prefix = keys.quota(options.name);
    this.limit = options.limit;
    this.#now = options.now ?? Date.now;
  }

  async take(ip: string, wording: QuotaWording): Promise<void> {
    const now = this.#now();
    const hour = Math.floor(now / HOUR_MS);
    const key = (at: number) => `${this.#prefix}${ipKey(ip)}:${at}`;
    const [current, previous] = await this.#redis.command<Array<string | null>>(
      ["MGET", key(hour), key(hour - 1)],
    );
    const previousWeight = 1 - (now % HOUR_MS) / HOUR_MS;
    const used = Number(current ?? 0) + Math.floor(Number(previous ?? 0) * previousWeight);
    if (used >= this.limit) {
      // Certainly free once the previous hour's share has gone: the end of this hour at most.
      throw quotaRefusal(this.limit, (hour + 1) * HOUR_MS - now, wording);
    }
    await this.#redis.command(["INCR", key(hour)]);
    // Two hours: long enough to serve as the previous bucket.
    await this.#redis.command(["PEXPIRE", key(hour), 2 * HOUR_MS]);
  }
}
