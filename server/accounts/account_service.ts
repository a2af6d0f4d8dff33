/**
 * Accounts: creation, login with throttling and hash
 * upgrades, administration and bulk import. The store is the only state
 * (nothing is cached), so changes made by `chat user` on the same data
 * directory take effect at the next login — an unlock too: it is a time
 * in the store, read when a locked account is tried.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { lookalikeKey, nameKey, validateNick } from "../../shared/validation.ts";
import type { AccountRecord, Store } from "../store/store.ts";
import type { AddressQuota } from "../limits/address_quota.ts";
import { ipKey } from "../net/ip_key.ts";
import { HashLimiter } from "./hash_limiter.ts";
import {
  DEFAULT_MAX_FAILURES_PER_ACCOUNT,
  DEFAULT_MAX_FAILURES_PER_IP,
  DEFAULT_MAX_FAILURES_PER_KNOWN_ADDRESS,
  type LockStart,
  LoginThrottle,
} from "./login_throttle.ts";
import type { FailureCounts, SharedLoginFailures } from "./shared_login_failures.ts";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  type ScryptParams,
  verifyPassword,
} from "./password_hash.ts";
import { MAX_PASSWORD_LENGTH, validatePassword } from "./password_policy.ts";

const logger = getLogger(["chat", "accounts"]);

/** Options for {@linkcode AccountService}. */
export interface AccountServiceOptions {
  /** scrypt parameters for new hashes; weaker stored ones are upgraded at login. */
  kdf?: ScryptParams;
  /** Hashes computed at once (default 2). */
  maxConcurrentHashes?: number;
  /** Hashes waiting for a slot before logins are refused as `rate_limited` (default 64). */
  maxQueuedHashes?: number;
  /**
   * Password checks pending (running or waiting) per address (IPv6: per
   * /64); more are refused as `rate_limited` at once (default 4). Addresses
   * take turns for the hash slots, so one cannot starve another.
   */
  maxPasswordChecksPerIp?: number;
  /** Failed logins per account per hour before it is throttled (default 100). */
  maxFailuresPerAccountPerHour?: number;
  /** Failed logins per address (IPv6: per /64) per hour before it is throttled (default 300). */
  maxFailuresPerIpPerHour?: number;
  /**
   * Failed logins per hour for an account from one of its known addresses
   * (where it logged in before), which keep their tries past the account's
   * limit (default 20).
   */
  maxFailuresPerKnownAddressPerHour?: number;
  /** Addresses remembered per account, the most recently used (default 10). */
  knownLoginAddresses?: number;
  /** How long an address is remembered after its last login, in ms (default 30 days; 0: no limit). */
  knownLoginAddressMaxAgeMs?: number;
  /** Shortest password accepted for new passwords (default 8). */
  minPasswordLength?: number;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
  /**
   * Failed-login counts shared with other instances (`--redis`): the hourly
   * limits then hold across the cluster. Unreachable, it is skipped (the
   * local limits still apply).
   */
  sharedFailures?: SharedLoginFailures;
  /** Accounts a client address may register per hour (registrations from sessions only). */
  registrations?: AddressQuota;
}

/** Default {@linkcode AccountServiceOptions.knownLoginAddresses}. */
export const DEFAULT_KNOWN_LOGIN_ADDRESSES = 10;
/** Default {@linkcode AccountServiceOptions.knownLoginAddressMaxAgeMs}. */
export const DEFAULT_KNOWN_LOGIN_ADDRESS_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/** Options for {@linkcode AccountService.create}. */
export interface CreateAccountOptions {
  /** The address creating the account (a session's peer): its hash waits in that address's lane, and the address is known from then on. */
  ip?: string;
}

/** What {@linkcode AccountService.importLines} did. */
export interface ImportResult {
  /** Accounts created. */
  added: number;
  /** Lines not imported, with why (never the password). */
  skipped: Array<{ line: number; reason: string }>;
}

function authFailed(): ChatError {
  return new ChatError("auth_failed", "Wrong nickname or password");
}

function noSuchUser(name: string): ChatError {
  return new ChatError("no_such_user", `No account named ${name}`);
}

function nameTaken(name: string): ChatError {
  return new ChatError("name_taken", `Nickname ${name} is already registered`);
}

function looksTaken(name: string, registered: string): ChatError {
  return new ChatError(
    "name_taken",
    `Nickname ${name} looks like the registered name ${registered}; choose another`,
  );
}

/** The name key of `name`, or undefined when it is not a valid nickname. */
function keyOf(name: string): string | undefined {
  try {
    return nameKey(validateNick(name));
  } catch {
    return undefined;
  }
}

/**
 * Accounts on top of a {@linkcode Store}. Every hash goes through one
 * {@linkcode HashLimiter}, fair across addresses, and failed logins are
 * throttled per account and per address before any hashing. An account
 * over its limit is still open to the addresses it logged in from before
 * (remembered in the store), each with a budget of its own. Failed logins
 * and the start of each lock are logged as warnings, never the password.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AccountService } from "./account_service.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = SqliteStore.open(`${dir}/chat-data`);
 * const accounts = new AccountService(store);
 * await accounts.create("alice", "correct horse battery staple");
 * const account = await accounts.authenticate("Alice", "correct horse battery staple", "192.0.2.7");
 * assert.equal(account.name, "alice");
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class AccountService {
  /** The cap on concurrent hashes (exposed for metrics and tests). */
  readonly hashLimiter: HashLimiter;
  /** The failed-login throttle (exposed for metrics and tests). */
  readonly throttle: LoginThrottle;
  #store: Store;
  #kdf: ScryptParams;
  #minPasswordLength: number;
  #now: () => number;
  #dummyHash: Promise<string> | undefined;
  /** Name keys of accounts being created now, so two concurrent creations cannot both win. */
  #creating = new Set<string>();
  #shared: SharedLoginFailures | undefined;
  #registrations: AddressQuota | undefined;
  #maxFailuresPerAccount: number;
  #maxFailuresPerIp: number;
  #maxFailuresPerKnownAddress: number;
  #maxKnownAddresses: number;
  #knownAddressMaxAgeMs: number;

  constructor(store: Store, options: AccountServiceOptions = {}) {
    this.#store = store;
    this.#kdf = { ...(options.kdf ?? DEFAULT_SCRYPT_PARAMS) };
    this.#minPasswordLength = options.minPasswordLength ?? 8;
    this.#now = options.now ?? Date.now;
    this.#shared = options.sharedFailures;
    this.#registrations = options.registrations;
    this.#maxFailuresPerAccount = options.maxFailuresPerAccountPerHour ??
      DEFAULT_MAX_FAILURES_PER_ACCOUNT;
    this.#maxFailuresPerIp = options.maxFailuresPerIpPerHour ?? DEFAULT_MAX_FAILURES_PER_IP;
    this.#maxFailuresPerKnownAddress = options.maxFailuresPerKnownAddressPerHour ??
      DEFAULT_MAX_FAILURES_PER_KNOWN_ADDRESS;
    this.#maxKnownAddresses = options.knownLoginAddresses ?? DEFAULT_KNOWN_LOGIN_ADDRESSES;
    this.#knownAddressMaxAgeMs = options.knownLoginAddressMaxAgeMs ??
      DEFAULT_KNOWN_LOGIN_ADDRESS_MAX_AGE_MS;
    if (!Number.isSafeInteger(this.#maxKnownAddresses) || this.#maxKnownAddresses < 1) {
      throw new RangeError(
        `knownLoginAddresses must be a whole number >= 1, got ${this.#maxKnownAddresses}`,
      );
    }
    if (!Number.isSafeInteger(this.#knownAddressMaxAgeMs) || this.#knownAddressMaxAgeMs < 0) {
      throw new RangeError(
        `knownLoginAddressMaxAgeMs must be a whole number >= 0, got ${this.#knownAddressMaxAgeMs}`,
      );
    }
    this.hashLimiter = new HashLimiter({
      ...(options.maxConcurrentHashes === undefined
        ? {}
        : { maxConcurrent: options.maxConcurrentHashes }),
      ...(options.maxQueuedHashes === undefined ? {} : { maxQueued: options.maxQueuedHashes }),
      ...(options.maxPasswordChecksPerIp === undefined
        ? {}
        : { maxPendingPerLane: options.maxPasswordChecksPerIp }),
    });
    this.throttle = new LoginThrottle({
      ...(options.maxFailuresPerAccountPerHour === undefined
        ? {}
        : { maxFailuresPerAccount: options.maxFailuresPerAccountPerHour }),
      ...(options.maxFailuresPerIpPerHour === undefined
        ? {}
        : { maxFailuresPerIp: options.maxFailuresPerIpPerHour }),
      maxFailuresPerKnownAddress: this.#maxFailuresPerKnownAddress,
      now: this.#now,
    });
  }

  /**
   * Creates an account. Throws `ChatError` `invalid_name`,
   * `invalid_password` or `name_taken` (or `rate_limited` when the hash
   * slots are busy).
   */
  async create(
    name: string,
    password: string,
    options: CreateAccountOptions = {},
  ): Promise<AccountRecord> {
    const nick = validateNick(name);
    validatePassword(password, { minLength: this.#minPasswordLength });
    const key = nameKey(nick);
    if (this.#creating.has(key)) throw nameTaken(nick);
    this.#creating.add(key);
    try {
      if (await this.#store.getAccount(key)) throw nameTaken(nick);
      await this.refuseLookalike(nick);
      // Last of the checks: a refused name costs nothing of the allowance.
      if (options.ip !== undefined) {
        await this.#registrations?.take(options.ip, {
          refused: `Cannot register ${nick}`,
          counted: "accounts registered",
        });
      }
      const address = options.ip === undefined ? undefined : ipKey(options.ip);
      const passwordHash = await this.#hash(password, address);
      const record: AccountRecord = {
        key,
        name: nick,
        passwordHash,
        admin: false,
        createdAt: this.#now(),
      };
      await this.#store.putAccount(record);
      if (address !== undefined) await this.#rememberAddress(record, address);
      return record;
    } finally {
      this.#creating.delete(key);
    }
  }

  /**
   * Checks a login from address `ip` and returns the account. A wrong name
   * and a wrong password fail alike (`auth_failed`), in about the same
   * time; too many recent failures for the account or the address fail
   * with `rate_limited` before any hashing, even with the right password —
   * except that past the account's limit an address the account logged in
   * from before keeps a budget of its own. A hash weaker than the
   * configured parameters is upgraded on success, and the address is
   * remembered as known.
   */
  async authenticate(name: string, password: string, ip: string): Promise<AccountRecord> {
    const key = keyOf(name);
    const address = ipKey(ip);
    // The cheapest refusal first: a flood from one address costs no store read.
    this.hashLimiter.checkLane(address);
    let shared = await this.#sharedCounts(key, address);
    let known = false;
    if (key !== undefined && this.#accountOverLimit(key, shared)) {
      // Only a locked account costs these reads, so an unlock made by
      // `chat user` in another process is seen at the next try.
      if (await this.#applyUnlock(key)) shared = await this.#sharedCounts(key, address);
      if (this.#accountOverLimit(key, shared)) known = await this.#isKnownAddress(key, address);
    }
    this.throttle.check(key, ip, { knownAddress: known });
    this.#checkShared(key, shared, known);
    const record = key === undefined ? undefined : await this.#store.getAccount(key);
    const ok = await this.#verify(password, record, address);
    if (!ok || record === undefined) {
      this.#recordFailure(key, record, ip, known);
      throw authFailed();
    }
    await this.#rememberAddress(record, address);
    return await this.#upgrade(record, password, address);
  }

  /**
   * Lifts the login lock of `name`: failed logins counted so far stop
   * counting, here, in every server on the same store (at its next try of
   * the account), and in the cluster's shared counts. Throws
   * `ChatError("no_such_user")`.
   */
  async unlock(name: string): Promise<AccountRecord> {
    const record = await this.#require(name);
    const at = this.#now();
    await this.#store.putLoginUnlock(record.key, at);
    this.throttle.unlockAccount(record.key, at);
    await this.#shared?.clearAccount(record.key);
    return record;
  }

  /** The addresses `name` logged in from that still count as known, most recent first. */
  async knownAddresses(name: string): Promise<string[]> {
    const record = await this.#require(name);
    const notBefore = this.#knownNotBefore();
    return (await this.#store.loginAddresses(record.key))
      .filter((address) => address.lastLoginAt >= notBefore)
      .map((address) => address.ip);
  }

  /** The cluster's counts, or undefined without a cluster or when it does not answer. */
  async #sharedCounts(
    key: string | undefined,
    address: string,
  ): Promise<FailureCounts | undefined> {
    if (this.#shared === undefined) return undefined;
    try {
      return await this.#shared.count(key, address);
    } catch {
      return undefined; // The local limits still apply.
    }
  }

  #accountOverLimit(key: string, shared: FailureCounts | undefined): boolean {
    return this.throttle.accountLocked(key) ||
      (shared !== undefined && shared.account >= this.#maxFailuresPerAccount);
  }

  /** Applies an unlock recorded in the store since the last; whether there was one. */
  async #applyUnlock(key: string): Promise<boolean> {
    let at: number | undefined;
    try {
      at = await this.#store.loginUnlock(key);
    } catch {
      return false; // Storage trouble: the lock stands.
    }
    if (at === undefined || !this.throttle.unlockAccount(key, at)) return false;
    logger.info("The login lock of {account} was lifted (chat user unlock)", { account: key });
    return true;
  }

  /** The earliest last login that still makes an address known. */
  #knownNotBefore(): number {
    return this.#knownAddressMaxAgeMs === 0 ? 0 : this.#now() - this.#knownAddressMaxAgeMs;
  }

  async #isKnownAddress(key: string, address: string): Promise<boolean> {
    try {
      const last = await this.#store.lastLoginFrom(key, address);
      return last !== undefined && last >= this.#knownNotBefore();
    } catch {
      return false;
    }
  }

  /** Remembers where `record` logged in from; a storage failure only costs the memory. */
  async #rememberAddress(record: AccountRecord, address: string): Promise<void> {
    try {
      await this.#store.putLoginAddress(record.key, { ip: address, lastLoginAt: this.#now() }, {
        keep: this.#maxKnownAddresses,
        notBefore: this.#knownNotBefore(),
      });
    } catch (error) {
      logger.warn("Could not remember the login address of {account}: {error}", {
        account: record.key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Refuses, like the local throttle, when the cluster has seen too many failures. */
  #checkShared(key: string | undefined, counts: FailureCounts | undefined, known: boolean): void {
    if (counts === undefined) return;
    if (key !== undefined && counts.account >= this.#maxFailuresPerAccount) {
      if (!known) {
        throw new ChatError(
          "rate_limited",
          "Too many failed logins for this account; try again later",
          { retryAfterMs: 60_000 },
        );
      }
      if (counts.accountFromIp >= this.#maxFailuresPerKnownAddress) {
        throw new ChatError(
          "rate_limited",
          "Too many failed logins for this account from your address; try again later",
          { retryAfterMs: 60_000 },
        );
      }
    }
    if (counts.ip >= this.#maxFailuresPerIp) {
      throw new ChatError(
        "rate_limited",
        "Too many failed logins from your address; try again later",
        { retryAfterMs: 60_000 },
      );
    }
  }

  /** Counts a failed login here and in the cluster, and logs it (and any lock it starts). */
  #recordFailure(
    key: string | undefined,
    record: AccountRecord | undefined,
    ip: string,
    known: boolean,
  ): void {
    const local = this.throttle.recordFailure(key, ip);
    if (key === undefined) {
      logger.warn("Failed login with an invalid name from {ip}", { ip });
    } else {
      logger.warn(`Failed login for ${record ? "" : "unknown account "}{account} from {ip}`, {
        account: key,
        ip,
      });
    }
    if (this.#shared === undefined) {
      this.#logLocks(key, ip, local, known);
      return;
    }
    // With a cluster its counts say when a lock starts, so it is logged once.
    this.#shared.record(key, ipKey(ip)).then(
      (counts) =>
        this.#logLocks(key, ip, {
          account: counts.account === this.#maxFailuresPerAccount,
          ip: counts.ip === this.#maxFailuresPerIp,
          knownAddress: counts.accountFromIp === this.#maxFailuresPerKnownAddress,
        }, known),
      // The local count still holds; the cluster's misses one failure.
      () => this.#logLocks(key, ip, local, known),
    );
  }

  #logLocks(key: string | undefined, ip: string, started: LockStart, known: boolean): void {
    if (key !== undefined && started.account) {
      logger.warn(
        "Account {account} locked: {limit} failed logins within an hour, the last from {ip}; " +
          "only addresses it logged in from before may still try ('chat user unlock' lifts it)",
        { account: key, ip, limit: this.#maxFailuresPerAccount },
      );
    }
    if (key !== undefined && known && started.knownAddress) {
      logger.warn(
        "Account {account} locked for its known address {ip} too: {limit} failed logins from it within an hour",
        { account: key, ip, limit: this.#maxFailuresPerKnownAddress },
      );
    }
    if (started.ip) {
      logger.warn(
        "Address {ip} locked: {limit} failed logins within an hour, for any account",
        { ip, limit: this.#maxFailuresPerIp },
      );
    }
  }

  /**
   * Throws `name_taken` when another account's name looks like `name`
   * (same lookalike key, UTS #39): `аlice`, with a Cyrillic а, beside a
   * registered `alice`. The message names that account, which says no more
   * than the `auth_required` a password-less hello as `alice` gets.
   */
  async refuseLookalike(name: string): Promise<void> {
    const key = keyOf(name);
    if (key === undefined) return;
    const like = await this.#store.findAccountLike(lookalikeKey(name), key);
    if (like !== undefined) throw looksTaken(validateNick(name), like.name);
  }

  /** Whether an account named `name` exists (false for invalid nicknames). */
  async exists(name: string): Promise<boolean> {
    return (await this.get(name)) !== undefined;
  }

  /** The account registered as `name`, in any case or width. */
  async get(name: string): Promise<AccountRecord | undefined> {
    const key = keyOf(name);
    return key === undefined ? undefined : await this.#store.getAccount(key);
  }

  /**
   * Replaces an account's password. Throws `ChatError` `invalid_password`,
   * `invalid_name` or `no_such_user`.
   */
  async setPassword(name: string, password: string): Promise<AccountRecord> {
    validatePassword(password, { minLength: this.#minPasswordLength });
    const record = await this.#require(name);
    const passwordHash = await this.#hash(password);
    // Re-read so a concurrent setAdmin is not undone.
    const latest = await this.#store.getAccount(record.key) ?? record;
    const updated = { ...latest, passwordHash };
    await this.#store.putAccount(updated);
    return updated;
  }

  /** Deletes an account; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const key = keyOf(name);
    return key === undefined ? false : await this.#store.deleteAccount(key);
  }

  /** Every account, by name key. */
  async list(): Promise<AccountRecord[]> {
    return await this.#store.listAccounts();
  }

  /** Grants or revokes server admin rights. Throws `ChatError("no_such_user")`. */
  async setAdmin(name: string, admin: boolean): Promise<AccountRecord> {
    const record = await this.#require(name);
    const updated = { ...record, admin };
    await this.#store.putAccount(updated);
    return updated;
  }

  /**
   * Imports `username:password` lines, the format older chat servers kept:
   * blank lines and `#` comments are ignored, the first colon separates
   * name from password (passwords may contain colons). Invalid lines and
   * names already registered are skipped with a reason; the rest are added.
   */
  async importLines(text: string): Promise<ImportResult> {
    const skipped: ImportResult["skipped"] = [];
    const pending: Array<{ line: number; nick: string; key: string; password: string }> = [];
    const firstLine = new Map<string, number>();
    const firstLook = new Map<string, { line: number; nick: string }>();
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
    for (const [index, raw] of lines.entries()) {
      const line = index + 1;
      if (raw.trim() === "" || raw.trimStart().startsWith("#")) continue;
      const colon = raw.indexOf(":");
      if (colon === -1) {
        skipped.push({ line, reason: "no ':' between name and password" });
        continue;
      }
      try {
        const nick = validateNick(raw.slice(0, colon).trim());
        const password = validatePassword(raw.slice(colon + 1), {
          minLength: this.#minPasswordLength,
        });
        const key = nameKey(nick);
        const look = lookalikeKey(nick);
        const earlier = firstLine.get(key);
        const lookalike = firstLook.get(look);
        const registered = await this.#store.findAccountLike(look, key);
        if (earlier !== undefined) {
          skipped.push({ line, reason: `${nick} already appears on line ${earlier}` });
        } else if (await this.#store.getAccount(key)) {
          skipped.push({ line, reason: `${nick} is already registered` });
        } else if (lookalike !== undefined) {
          skipped.push({
            line,
            reason: `${nick} looks like ${lookalike.nick} on line ${lookalike.line}`,
          });
        } else if (registered !== undefined) {
          skipped.push({
            line,
            reason: `${nick} looks like the registered name ${registered.name}`,
          });
        } else {
          firstLine.set(key, line);
          firstLook.set(look, { line, nick });
          pending.push({ line, nick, key, password });
        }
      } catch (error) {
        skipped.push({ line, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    // As many workers as hash slots, so a big file neither overflows the
    // limiter's queue nor hashes one line at a time.
    let added = 0;
    let next = 0;
    const worker = async () => {
      for (let item = pending[next++]; item !== undefined; item = pending[next++]) {
        try {
          const passwordHash = await this.#hash(item.password);
          if (await this.#store.getAccount(item.key)) {
            skipped.push({ line: item.line, reason: `${item.nick} is already registered` });
            continue;
          }
          const registered = await this.#store.findAccountLike(lookalikeKey(item.nick), item.key);
          if (registered !== undefined) {
            skipped.push({
              line: item.line,
              reason: `${item.nick} looks like the registered name ${registered.name}`,
            });
            continue;
          }
          await this.#store.putAccount({
            key: item.key,
            name: item.nick,
            passwordHash,
            admin: false,
            createdAt: this.#now(),
          });
          added++;
        } catch (error) {
          skipped.push({
            line: item.line,
            reason: error instanceof Error ? error.message : String(error),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: this.hashLimiter.maxConcurrent }, worker));
    skipped.sort((a, b) => a.line - b.line);
    return { added, skipped };
  }

  async #require(name: string): Promise<AccountRecord> {
    const nick = validateNick(name);
    const record = await this.#store.getAccount(nameKey(nick));
    if (record === undefined) throw noSuchUser(nick);
    return record;
  }

  /** Hashes `password` in `lane` (an address key; none for local work). */
  #hash(password: string, lane?: string): Promise<string> {
    return this.hashLimiter.run(
      () => hashPassword(password, this.#kdf),
      lane === undefined ? {} : { lane },
    );
  }

  /** Whether `password` matches; hashes against a dummy when there is no record. */
  async #verify(
    password: string,
    record: AccountRecord | undefined,
    lane: string,
  ): Promise<boolean> {
    // Longer than any password we accept: refuse without the cost of hashing it.
    if (typeof password !== "string" || password.length > MAX_PASSWORD_LENGTH * 4) return false;
    return await this.hashLimiter.run(async () => {
      // An unknown name costs the same hash as a known one, so timing does
      // not tell which names are registered.
      const encoded = record?.passwordHash ?? await this.#dummy();
      try {
        return await verifyPassword(password, encoded);
      } catch (error) {
        logger.error("Stored password hash of {name} is unreadable: {error}", {
          name: record?.name,
          error: error instanceof Error ? error.message : String(error),
        });
        return false;
      }
    }, { lane });
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= hashPassword(crypto.randomUUID(), this.#kdf).catch((error) => {
      this.#dummyHash = undefined;
      throw error;
    });
    return this.#dummyHash;
  }

  /** Rehashes with the current parameters if the stored hash is weaker; best effort. */
  async #upgrade(record: AccountRecord, password: string, lane: string): Promise<AccountRecord> {
    if (!needsRehash(record.passwordHash, this.#kdf)) return record;
    try {
      const passwordHash = await this.#hash(password, lane);
      const latest = await this.#store.getAccount(record.key);
      // Changed or deleted meanwhile: the newer state wins.
      if (latest === undefined || latest.passwordHash !== record.passwordHash) return record;
      const upgraded = { ...latest, passwordHash };
      await this.#store.putAccount(upgraded);
      logger.info("Upgraded the password hash of {name}", { name: record.name });
      return upgraded;
    } catch (error) {
      // The login stands; the upgrade is tried again at the next one.
      logger.warn("Could not upgrade the password hash of {name}: {error}", {
        name: record.name,
        error: error instanceof Error ? error.message : String(error),
      });
      return record;
    }
  }
}
