/**
 * API keys of the REST API. A key is `chat_<id>_<secret>`: the id finds
 * the record, and only the SHA-256 of the whole key is stored, compared in
 * constant time. The secret is 256 random bits, so a fast hash is enough:
 * there is nothing to guess that a slow one would protect.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ChatError } from "../../shared/errors.ts";
import { lookalikeKey, nameKey, validateNick } from "../../shared/validation.ts";
import type { ApiKeyRecord, Store } from "../store/store.ts";

const KEY_PATTERN = /^chat_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/** A key just made: `key` is shown once and never stored. */
export interface NewApiKey {
  key: string;
  record: ApiKeyRecord;
}

function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function randomBytes(count: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(count));
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Makes, checks, lists and deletes API keys in a {@linkcode Store}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ApiKeyService } from "./api_key_service.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * const store = SqliteStore.memory();
 * const keys = new ApiKeyService(store);
 * const { key } = await keys.create("deploybot");
 * assert.equal((await keys.verify(key))?.name, "deploybot");
 * await store.close();
 * ```
 */
export class ApiKeyService {
  #store: Store;
  #now: () => number;

  constructor(store: Store, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Makes a key named `name` (a valid nickname: its bot posts under it).
   * Throws `name_taken` when a key of that name exists.
   */
  async create(name: string, options: { admin?: boolean } = {}): Promise<NewApiKey> {
    const nick = validateNick(name);
    const keys = await this.#store.listApiKeys();
    if (keys.some((other) => nameKey(other.name) === nameKey(nick))) {
      throw new ChatError("name_taken", `An API key named ${nick} already exists`);
    }
    // Bots post under their key's name: two must not look alike (UTS #39) either.
    const like = keys.find((other) => lookalikeKey(other.name) === lookalikeKey(nick));
    if (like !== undefined) {
      throw new ChatError(
        "name_taken",
        `API key name ${nick} looks like the existing key ${like.name}; choose another`,
      );
    }
    const id = [...randomBytes(8)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    const key = `chat_${id}_${base64url(randomBytes(32))}`;
    const record: ApiKeyRecord = {
      id,
      name: nick,
      hash: hashKey(key),
      admin: options.admin ?? false,
      createdAt: this.#now(),
    };
    await this.#store.putApiKey(record);
    return { key, record };
  }

  /** The record of `key`, or undefined when it is malformed, unknown or wrong. */
  async verify(key: string): Promise<ApiKeyRecord | undefined> {
    const match = KEY_PATTERN.exec(key);
    if (match === null) return undefined;
    const record = await this.#store.getApiKey(match[1]!);
    if (record === undefined) return undefined;
    const expected = new TextEncoder().encode(record.hash);
    const actual = new TextEncoder().encode(hashKey(key));
    return expected.length === actual.length && timingSafeEqual(expected, actual)
      ? record
      : undefined;
  }

  /** Every key, by name (hashes included: callers show names only). */
  list(): Promise<ApiKeyRecord[]> {
    return this.#store.listApiKeys();
  }

  /** Deletes the key named `name`; false when there was none. */
  remove(name: string): Promise<boolean> {
    return this.#store.deleteApiKey(name);
  }
}
