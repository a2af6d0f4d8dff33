/**
 * Throttling of failed logins per account and per client address over a
 * sliding hour, so online password guessing is slow whichever way it is
 * spread. Checked before any hash is computed.
 *
 * An account over its limit is locked only for addresses it never logged
 * in from: an address it did (a "known address", told by the caller) keeps
 * its own, smaller budget for that account, so an attacker cannot lock the
 * owner out.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { ipKey } from "../net/ip_key.ts";
import { WindowedCounts } from "../limits/windowed_counts.ts";

/** Options for {@linkcode LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failures allowed per account in a window (default 100). */
  maxFailuresPerAccount?: number;
  /** Failures allowed per address (IPv6: per /64) in a window (default 300). */
  maxFailuresPerIp?: number;
  /** Failures allowed per account from one of its known addresses in a window (default 20). */
  maxFailuresPerKnownAddress?: number;
  /** The sliding window (default one hour). */
  windowMs?: number;
  /** Accounts, addresses, and account-address pairs tracked at most (default 10 000 each). */
  maxTrackedKeys?: number;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
}

/** Default {@linkcode LoginThrottleOptions.maxFailuresPerAccount}. */
export const DEFAULT_MAX_FAILURES_PER_ACCOUNT = 100;
/** Default {@linkcode LoginThrottleOptions.maxFailuresPerIp}. */
export const DEFAULT_MAX_FAILURES_PER_IP = 300;
/** Default {@linkcode LoginThrottleOptions.maxFailuresPerKnownAddress}. */
export const DEFAULT_MAX_FAILURES_PER_KNOWN_ADDRESS = 20;
/** Default {@linkcode LoginThrottleOptions.windowMs}. */
export const DEFAULT_THROTTLE_WINDOW_MS = 60 * 60 * 1000;
/** Default {@linkcode LoginThrottleOptions.maxTrackedKeys}. */
export const DEFAULT_MAX_TRACKED_KEYS = 10_000;

/** Which limits a failure brought its count up to: a lock starting now. */
export interface LockStart {
  /** The account reached its limit (addresses it never logged in from are refused). */
  account: boolean;
  /** The address reached its limit (refused for every account). */
  ip: boolean;
  /** The account reached its limit for this address as a known address. */
  knownAddress: boolean;
}

/** Options for {@linkcode LoginThrottle.check}. */
export interface ThrottleCheckOptions {
  /** The account logged in from this address before: its own budget applies past the account's. */
  knownAddress?: boolean;
}

/** The key of an account and an address together. */
function pairKey(account: string, ip: string): string {
  return `${account}\n${ipKey(ip)}`;
}

/**
 * Counts failed logins per account key, per address, and per account from
 * each address over a sliding window, and refuses further attempts once a
 * limit is reached.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LoginThrottle } from "./login_throttle.ts";
 * const throttle = new LoginThrottle({ maxFailuresPerAccount: 1 });
 * throttle.check("alice", "192.0.2.7"); // fine
 * assert.equal(throttle.recordFailure("alice", "192.0.2.7").account, true); // locked now
 * assert.throws(() => throttle.check("alice", "192.0.2.8"), {
 *   code: "rate_limited",
 *   message: /^Too many failed logins for this account/,
 * });
 * throttle.check("alice", "192.0.2.9", { knownAddress: true }); // fine: the owner's address
 * ```
 */
export class LoginThrottle {
  #accounts: WindowedCounts;
  #ips: WindowedCounts;
  #pairs: WindowedCounts;
  #now: () => number;
  /** The last unlock applied per account (only accounts ever unlocked). */
  #unlocks = new Map<string, number>();

  constructor(options: LoginThrottleOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_THROTTLE_WINDOW_MS;
    const maxKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
    const perAccount = options.maxFailuresPerAccount ?? DEFAULT_MAX_FAILURES_PER_ACCOUNT;
    const perIp = options.maxFailuresPerIp ?? DEFAULT_MAX_FAILURES_PER_IP;
    const perKnownAddress = options.maxFailuresPerKnownAddress ??
      DEFAULT_MAX_FAILURES_PER_KNOWN_ADDRESS;
    for (
      const [name, value] of Object.entries({
        windowMs,
        maxKeys,
        perAccount,
        perIp,
        perKnownAddress,
      })
    ) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`LoginThrottle: ${name} must be a whole number >= 1, got ${value}`);
      }
    }
    this.#accounts = new WindowedCounts({ limit: perAccount, maxKeys, windowMs });
    this.#ips = new WindowedCounts({ limit: perIp, maxKeys, windowMs });
    this.#pairs = new WindowedCounts({ limit: perKnownAddress, maxKeys, windowMs });
    this.#now = options.now ?? Date.now;
  }

  /** Whether `account` is over its limit now (for addresses it never logged in from). */
  accountLocked(account: string): boolean {
    return this.#accounts.retryAfterMs(account, this.#now()) > 0;
  }

  /**
   * Throws `ChatError("rate_limited")` with `retryAfterMs` when the account
   * (a name key, or undefined for a name that cannot exist) or the address
   * has too many recent failures. Past the account's limit, a known address
   * is held to its own count for the account instead.
   */
  check(account: string | undefined, ip: string, options: ThrottleCheckOptions = {}): void {
    const now = this.#now();
    if (account !== undefined) {
      const wait = this.#accounts.retryAfterMs(account, now);
      if (wait > 0 && !options.knownAddress) {
        throw new ChatError(
          "rate_limited",
          `Too many failed logins for this account; try again in ${Math.ceil(wait / 1000)} s`,
          { retryAfterMs: wait },
        );
      }
      const knownWait = wait > 0 ? this.#pairs.retryAfterMs(pairKey(account, ip), now) : 0;
      if (knownWait > 0) {
        throw new ChatError(
          "rate_limited",
          `Too many failed logins for this account from your address; try again in ${
            Math.ceil(knownWait / 1000)
          } s`,
          { retryAfterMs: knownWait },
        );
      }
    }
    const wait = this.#ips.retryAfterMs(ipKey(ip), now);
    if (wait > 0) {
      throw new ChatError(
        "rate_limited",
        `Too many failed logins from your address; try again in ${Math.ceil(wait / 1000)} s`,
        { retryAfterMs: wait },
      );
    }
  }

  /**
   * Counts one failed login against the account (if any), the address, and
   * the two together; says which limits it brought the count up to.
   */
  recordFailure(account: string | undefined, ip: string): LockStart {
    const now = this.#now();
    const started: LockStart = { account: false, ip: false, knownAddress: false };
    if (account !== undefined) {
      started.account = this.#accounts.add(account, now) === this.#accounts.limit;
      started.knownAddress = this.#pairs.add(pairKey(account, ip), now) === this.#pairs.limit;
    }
    started.ip = this.#ips.add(ipKey(ip), now) === this.#ips.limit;
    return started;
  }

  /**
   * Applies an unlock of `account` made at `at` (`chat user unlock`): its
   * failures counted until then, from every address, stop counting. An
   * unlock already applied is a no-op, so it can be applied at every check.
   * Returns whether it was new.
   */
  unlockAccount(account: string, at: number): boolean {
    if ((this.#unlocks.get(account) ?? -Infinity) >= at) return false;
    this.#unlocks.set(account, at);
    this.#accounts.forget(account, at);
    const prefix = `${account}\n`;
    for (const key of this.#pairs.keys()) {
      if (key.startsWith(prefix)) this.#pairs.forget(key, at);
    }
    return true;
  }

  /** Failures counted now against an account key. */
  accountFailures(account: string): number {
    return this.#accounts.count(account, this.#now());
  }

  /** Failures counted now against an address. */
  ipFailures(ip: string): number {
    return this.#ips.count(ipKey(ip), this.#now());
  }

  /** Failures counted now against an account from one address. */
  knownAddressFailures(account: string, ip: string): number {
    return this.#pairs.count(pairKey(account, ip), this.#now());
  }

  /** Keys tracked now: accounts, addresses, and account-address pairs. */
  get trackedKeys(): { accounts: number; ips: number; pairs: number } {
    return { accounts: this.#accounts.size, ips: this.#ips.size, pairs: this.#pairs.size };
  }
}
