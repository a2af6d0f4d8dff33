/**
 * Hourly allowances per client address, for things one address should not
 * do in bulk (creating rooms, creating accounts). Addresses are counted
 * by {@linkcode ipKey} (IPv6 per /64). With several instances the counts
 * live in Redis (server/cluster/redis_address_quota.ts), so the limits are
 * the cluster's.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { ipKey } from "../net/ip_key.ts";
import { WindowedCounts } from "./windowed_counts.ts";

/** An hour, the window of every {@linkcode AddressQuota}. */
export const QUOTA_WINDOW_MS = 60 * 60_000;

/** Addresses a local quota tracks at most (the least recently counted go first). */
const MAX_TRACKED_ADDRESSES = 10_000;

/** What a quota counts, for its refusal: "Cannot create #x: 20 rooms created from ...". */
export interface QuotaWording {
  /** The action refused, e.g. `Cannot create #dev`. */
  refused: string;
  /** The things counted, plural, e.g. `rooms created`. */
  counted: string;
}

/** An allowance per address per hour. */
export interface AddressQuota {
  /** The allowance per address per hour. */
  readonly limit: number;
  /**
   * Takes one from `ip`'s allowance, or throws `rate_limited` (with
   * `retryAfterMs`) when the last hour has used it up.
   */
  take(ip: string, wording: QuotaWording): void | Promise<void>;
}

/** The refusal of a spent allowance. */
export function quotaRefusal(
  limit: number,
  retryAfterMs: number,
  wording: QuotaWording,
): ChatError {
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  return new ChatError(
    "rate_limited",
    `${wording.refused}: ${limit} ${wording.counted} from your address in the last hour, ` +
      `the limit; try again in ${minutes} min`,
    { retryAfterMs },
  );
}

/**
 * An allowance counted in this process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalAddressQuota } from "./address_quota.ts";
 * const quota = new LocalAddressQuota({ limit: 1 });
 * const wording = { refused: "Cannot create #dev", counted: "rooms created" };
 * quota.take("192.0.2.7", wording);
 * assert.throws(() => quota.take("192.0.2.7", wording), {
 *   code: "rate_limited",
 *   message: /^Cannot create #dev: 1 rooms created from your address/,
 * });
 * ```
 */
export class LocalAddressQuota implements AddressQuota {
  readonly limit: number;
  #counts: WindowedCounts;
  #now: () => number;

  constructor(options: { limit: number; now?: () => number }) {
    this.limit = options.limit;
    this.#counts = new WindowedCounts({
      limit: options.limit,
      maxKeys: MAX_TRACKED_ADDRESSES,
      windowMs: QUOTA_WINDOW_MS,
    });
    this.#now = options.now ?? Date.now;
  }

  take(ip: string, wording: QuotaWording): void {
    const key = ipKey(ip);
    const now = this.#now();
    const wait = this.#counts.retryAfterMs(key, now);
    if (wait > 0) throw quotaRefusal(this.limit, wait, wording);
    this.#counts.add(key, now);
  }
}
