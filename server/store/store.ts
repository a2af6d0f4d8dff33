/**
 * The store interface the broker talks to: rooms and their settings,
 * message history, direct messages, accounts and the audit log. The
 * embedded implementation is SQLite; a Redis one can replace it.
 *
 * @module
 */
import { utf8ByteLength } from "../../shared/bytes.ts";

/** A message in a room, as stored. Ids are monotonic per room. */
export interface MessageRecord {
  room: string;
  id: number;
  from: string;
  body: string;
  ts: number;
  action: boolean;
}

/** A direct message, as stored. Ids are monotonic across the server. */
export interface DmRecord {
  id: number;
  from: string;
  to: string;
  body: string;
  ts: number;
  action: boolean;
}

/** A room's persistent settings. `key` is the room's identity (see nameKey). */
export interface RoomRecord {
  key: string;
  name: string;
  /** Name key of the owner (the creator), or null for rooms made before accounts. */
  owner: string | null;
  topic: string;
  inviteOnly: boolean;
  /** A key (password) needed to join, or null. */
  passphrase: string | null;
  createdAt: number;
  /** Id of the last message committed in the room. */
  lastId: number;
}

/** Per-user rights and restrictions in a room. */
export type GrantKind = "op" | "ban" | "mute" | "invite";

/** One grant or restriction on a user in a room. */
export interface GrantRecord {
  room: string;
  /** The user's name key. */
  user: string;
  kind: GrantKind;
  /** When it ends (ms since epoch), or null for never. */
  until: number | null;
  by: string;
  reason: string;
}

/** A registered account. */
export interface AccountRecord {
  /** The account's name key (identity). */
  key: string;
  name: string;
  /** Self-describing password hash (algorithm and parameters included). */
  passwordHash: string;
  admin: boolean;
  createdAt: number;
}

/** An API key of the REST API, as stored: never the key itself, only its hash. */
export interface ApiKeyRecord {
  /** Public id, the part of the key before its secret. */
  id: string;
  /** The key's name: also the nickname its bot posts as. */
  name: string;
  /** Lower-case hex SHA-256 of the whole key. */
  hash: string;
  /** Whether the key may act as a server admin (broadcast, kick, sessions). */
  admin: boolean;
  createdAt: number;
}

/** One moderation action, for the audit log. */
export interface AuditRecord {
  ts: number;
  actor: string;
  action: string;
  room: string | null;
  target: string | null;
  detail: string;
}

/** Which page of history to read: the latest, before an id, or after an id. */
export interface HistoryQuery {
  /** Only ids strictly below this. */
  before?: number;
  /** Only ids strictly above this (oldest first from there). */
  after?: number;
  /** Only ids at or below this (used on join: what was committed before joining). */
  upTo?: number;
  limit: number;
  /**
   * Stop reading once the records read add up to more than this many bytes
   * (as {@linkcode recordBytes} counts them). The record that goes over is
   * the last one returned, so the caller can tell the page was cut short,
   * and nothing after it is read. Without it only `limit` bounds the page.
   */
  maxBytes?: number;
}

/** Which stored DMs to read for delivery: oldest first, after an id. */
export interface PendingQuery {
  /** Only ids strictly above this. */
  after?: number;
  limit: number;
  /** As in {@linkcode HistoryQuery.maxBytes}. */
  maxBytes?: number;
}

/** What a stored record costs besides its sender and body: ids, time, field names. */
export const RECORD_OVERHEAD_BYTES = 64;

/**
 * The bytes a stored message or DM counts for against a read's byte budget:
 * its sender and body in UTF-8, plus {@linkcode RECORD_OVERHEAD_BYTES}.
 *
 * @example
 * ```ts
 * import { recordBytes } from "./store.ts";
 * console.log(recordBytes({ from: "alice", body: "hi" })); // 71
 * ```
 */
export function recordBytes(record: { from: string; body: string }): number {
  return utf8ByteLength(record.from) + utf8ByteLength(record.body) + RECORD_OVERHEAD_BYTES;
}

/** Unread direct messages from one peer. */
export interface UnreadCount {
  peer: string;
  count: number;
}

/** Retention applied to room history. */
export interface RetentionPolicy {
  /** Keep at most this many messages per room (0: no limit). */
  maxMessages: number;
  /** Delete messages older than this, in ms (0: no limit). */
  maxAgeMs: number;
}

/** One change to persist; the broker sends them in batches through {@linkcode Store.write}. */
export type StoreWrite =
  | { kind: "message"; record: MessageRecord }
  | { kind: "dm"; record: DmRecord; delivered: boolean }
  | { kind: "room"; record: RoomRecord }
  | { kind: "deleteRoom"; room: string }
  | { kind: "grant"; grant: GrantRecord }
  | { kind: "ungrant"; room: string; user: string; grant: GrantKind }
  | { kind: "audit"; entry: AuditRecord }
  | { kind: "delivered"; user: string; upTo: number }
  | { kind: "read"; user: string; peer: string; upTo: number };

/**
 * Everything the server persists. Methods are async so a networked store
 * fits; writes resolve once committed.
 */
export interface Store {
  /**
   * Applies `batch` in order as one atomic unit: all of it is committed, or
   * none of it and the promise rejects.
   */
  write(batch: readonly StoreWrite[]): Promise<void>;

  // Rooms and their grants.
  loadRooms(): Promise<RoomRecord[]>;
  loadGrants(): Promise<GrantRecord[]>;

  // Room history.
  /** A page of a room's messages, oldest first, bounded by `limit` and `maxBytes`. */
  history(room: string, query: HistoryQuery): Promise<MessageRecord[]>;
  /** The oldest id still stored for a room, or undefined when none is. */
  oldestId(room: string): Promise<number | undefined>;
  /** Deletes at most `batchSize` messages beyond the policy; resolves to how many went. */
  prune(policy: RetentionPolicy, batchSize: number): Promise<number>;

  // Direct messages.
  lastDmId(): Promise<number>;
  /** A page of the DMs between two users, oldest first, bounded as {@linkcode history} is. */
  dmHistory(user: string, peer: string, query: HistoryQuery): Promise<DmRecord[]>;
  /** A page of the DMs to `user` not yet delivered, oldest first, bounded by `limit` and `maxBytes`. */
  pendingDms(user: string, query: PendingQuery): Promise<DmRecord[]>;
  unreadCounts(user: string): Promise<UnreadCount[]>;

  // Accounts.
  getAccount(key: string): Promise<AccountRecord | undefined>;
  putAccount(account: AccountRecord): Promise<void>;
  deleteAccount(key: string): Promise<boolean>;
  listAccounts(): Promise<AccountRecord[]>;

  // API keys.
  /** Adds a key; throws if its id or name (by name key) is taken. */
  putApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, by name. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Deletes the key named `name` (any case or width); false when there was none. */
  deleteApiKey(name: string): Promise<boolean>;

  // Audit log.
  auditLog(limit: number): Promise<AuditRecord[]>;

  /** Whether the store answers (for readiness checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
