/**
 * The store interface the broker talks to: rooms and their settings,
 * message history, direct messages, accounts and the audit log. The
 * embedded implementation is SQLite; a Redis one can replace it.
 *
 * @module
 */
import { utf8ByteLength } from "../../shared/bytes.ts";
import type { FileInfo } from "../../shared/protocol.ts";

/** A message in a room, as stored. Ids are monotonic per room. */
export interface MessageRecord {
  room: string;
  id: number;
  from: string;
  body: string;
  ts: number;
  action: boolean;
  /** The sender's id for the message (`say.clientMsgId`), kept to recognise a retry. */
  clientMsgId?: string;
  /** The file the message shares (docs/protocol.md section 23). */
  file?: FileInfo;
  // Message changes (docs/protocol.md section 21): the reply, and the current state.
  /** The id of the message of the room this one answers. */
  replyTo?: number;
  /** When it was last edited (its body is the edited text); read back only. */
  edited?: number;
  /** Who deleted it and when (its body is ""); read back only. */
  deleted?: { by: string; ts: number };
  /** Its reactions, in the order each emoji was first given; read back only. */
  reactions?: ReactionRecord[];
}

/** One emoji of a message's reactions: who gave it (the first listed), and how many in all. */
export interface ReactionRecord {
  emoji: string;
  count: number;
  /** Nicknames, as they were when they reacted, earliest first; at most `MAX_REACTION_USERS_LISTED`. */
  users: string[];
}

/** What a message change does (docs/protocol.md section 21). */
export type ChangeKind = "edit" | "delete" | "react" | "unreact";

/**
 * A change to a room message, as stored: an entry of the room's timeline
 * with its own id (from the room's message ids), after its target's.
 */
export interface ChangeRecord {
  room: string;
  id: number;
  change: ChangeKind;
  /** The id of the message changed. */
  target: number;
  /** Who made the change: the editor, the deleter, the one who reacted (nickname). */
  from: string;
  /** The key the reaction is recorded under (the account, or a guest's name key); reactions only. */
  user?: string;
  /** The new text (edit), or the emoji (react, unreact); "" for a delete. */
  text: string;
  ts: number;
}

/** An entry of a room's timeline: a message, or a change to one. */
export type TimelineRecord = MessageRecord | ChangeRecord;

/** Whether a timeline entry is a change rather than a message. */
export function isChangeRecord(record: TimelineRecord): record is ChangeRecord {
  return "change" in record;
}

/**
 * What a message change is checked against: the target as it is now. Its
 * author never changes; `deleted` and the reactions do.
 */
export interface MessageState {
  id: number;
  /** The sender's nickname as sent. */
  from: string;
  deleted: boolean;
  /** Per emoji, in the order first given, the user keys that reacted so. */
  reactions: Map<string, Set<string>>;
}

/** A direct message, as stored. Ids are monotonic across the server. */
export interface DmRecord {
  id: number;
  from: string;
  to: string;
  body: string;
  ts: number;
  action: boolean;
  /** The sender's id for the message (`dm.clientMsgId`), kept to recognise a retry. */
  clientMsgId?: string;
  /** The file the message shares (docs/protocol.md section 23). */
  file?: FileInfo;
}

/**
 * A shared file's metadata, as stored; its bytes are kept by content hash
 * (server/files/blob_store.ts). A file no message or DM refers to any more
 * is deleted by {@linkcode Store.pruneFiles}; a room's files are deleted
 * with the room (the `deleteRoom` write), their contents left to pruneFiles.
 */
export interface FileRecord {
  /** Random id (base64url): the handle of downloads. */
  id: string;
  name: string;
  /** Media type, `type/subtype`. */
  type: string;
  size: number;
  /** SHA-256 of the bytes, lower-case hex: where they are kept. */
  sha256: string;
  /** Name key of the uploader (the account's, the guest's or the API key's). */
  uploader: string;
  /** Key of the room it was shared in, or null for a DM. */
  room: string | null;
  /** Name key of the DM's recipient, or null for a room. */
  to: string | null;
  ts: number;
}

/** How long a client message id is remembered by default, in ms. */
export const DEFAULT_MSG_ID_WINDOW_MS = 60 * 60_000;
/** How many of a sender's latest client message ids are remembered by default. */
export const DEFAULT_MSG_IDS_PER_USER = 1000;

/** How long, and how many per sender, client message ids are remembered. */
export interface MsgIdWindow {
  /** How long, in ms (0: ids are ignored). */
  ms: number;
  /** How many of a sender's latest, rooms and DMs together (0: ids are ignored). */
  perUser: number;
}

/**
 * Which earlier message a retry names: the sender's message with this
 * client message id, if the server still remembers it. It does while the
 * message is younger than the window and among the sender's latest
 * `perUser` messages that carried an id (rooms and DMs together).
 */
export interface ClientMsgQuery {
  /** The sender's name key (the account's, or the guest nickname's). */
  sender: string;
  clientMsgId: string;
  /** Only messages sent at or after this time (ms since epoch). */
  since: number;
  /** How many of the sender's latest messages with an id are remembered. */
  perUser: number;
}

/** A room's persistent settings. `key` is the room's identity (see nameKey). */
export interface RoomRecord {
  key: string;
  name: string;
  /** Name key of the owner (the creator), or null for rooms made before accounts. */
  owner: string | null;
  topic: string;
  inviteOnly: boolean;
  /** The passphrase needed to join (the wire calls it the room's `key`), or null. */
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

/** An address an account logged in from (for the login throttle: its tries outlast a lock). */
export interface LoginAddressRecord {
  /** The address key: IPv4 as is, IPv6 by its /64 (see ip_key.ts). */
  ip: string;
  /** When the account last logged in from it (ms since epoch). */
  lastLoginAt: number;
}

/** How many login addresses an account keeps, and for how long. */
export interface LoginAddressLimits {
  /** Most addresses kept per account: the most recently used win. */
  keep: number;
  /** Addresses last used before this (ms since epoch) are forgotten. */
  notBefore: number;
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

/** An outgoing webhook (docs/webhooks.md), as stored: its secret too, which signs deliveries. */
export interface WebhookRecord {
  /** Public id: 16 lower-case hex digits. */
  id: string;
  /** Where events are POSTed: an http or https URL. */
  url: string;
  /** The nickname its replies are posted under. */
  name: string;
  /** Rooms it hears, by name as given. */
  rooms: string[];
  /** Event types it hears (message, join, leave, topic). */
  events: string[];
  /** The HMAC-SHA256 key of its signatures (`whsec_...`). */
  secret: string;
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

/** Which timeline entries to read: after an id, up to an id. */
export interface TimelineQuery {
  after: number;
  upTo?: number;
  limit: number;
  /** As in {@linkcode HistoryQuery.maxBytes}. */
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
 * import assert from "node:assert/strict";
 * import { recordBytes } from "./store.ts";
 * assert.equal(recordBytes({ from: "alice", body: "hi" }), 71);
 * ```
 */
export function recordBytes(
  record: { from: string; body?: string; text?: string; reactions?: ReactionRecord[] },
): number {
  let bytes = utf8ByteLength(record.from) + utf8ByteLength(record.body ?? record.text ?? "") +
    RECORD_OVERHEAD_BYTES;
  // Section 21: a message's reactions travel with it in history.
  for (const reaction of record.reactions ?? []) {
    bytes += utf8ByteLength(reaction.emoji) + 32;
    for (const user of reaction.users) bytes += utf8ByteLength(user) + 3;
  }
  return bytes;
}

/**
 * Which messages a search reads (server/search/): those whose bodies hold
 * every term, in the rooms and the account's direct messages given, newest
 * first, after the cursor of an earlier page.
 */
export interface SearchQuery {
  /** Each term: words that must follow one another (see server/search/search_text.ts). */
  terms: readonly (readonly string[])[];
  /** The rooms searched, by key. */
  rooms: readonly string[];
  /** The account (name key) whose direct messages are searched too. */
  dmsOf?: string;
  /** The cursor of the last match of an earlier page: only older ones. */
  cursor?: string;
  limit: number;
  /** As in {@linkcode HistoryQuery.maxBytes}. */
  maxBytes?: number;
  /**
   * For a store without a search index (Redis): how many of each room's
   * latest messages are read and matched; older ones are not searched.
   */
  scan: number;
}

/** A match of a search, with the cursor a page ending at it gives. */
export type SearchHit =
  | { kind: "message"; record: MessageRecord; cursor: string }
  | { kind: "dm"; record: DmRecord; cursor: string };

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
  /**
   * A message change (section 21): the entry is kept, and the message
   * updated in place (an edit's body, a deletion's tombstone, a reaction).
   * Checked before it is written: the store applies it as given.
   */
  | { kind: "change"; record: ChangeRecord }
  | { kind: "dm"; record: DmRecord; delivered: boolean }
  | { kind: "room"; record: RoomRecord }
  /** Deletes a room with its grants, history and files (docs/protocol.md section 23). */
  | { kind: "deleteRoom"; room: string }
  | { kind: "grant"; grant: GrantRecord }
  | { kind: "ungrant"; room: string; user: string; grant: GrantKind }
  | { kind: "audit"; entry: AuditRecord }
  | { kind: "delivered"; user: string; upTo: number }
  | { kind: "read"; user: string; peer: string; upTo: number }
  /** A shared file's metadata, written once its bytes are stored, before its message. */
  | { kind: "file"; record: FileRecord };

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
  /**
   * Every timeline entry of a room after `query.after` up to `query.upTo`,
   * oldest first: messages (in their current state) and change entries
   * (section 21), bounded by `limit` (entries) and `maxBytes`.
   */
  timeline(room: string, query: TimelineQuery): Promise<TimelineRecord[]>;
  /** The message `id` of a room as a change is checked against; undefined if no such message. */
  messageState(room: string, id: number): Promise<MessageState | undefined>;
  /** The oldest id still stored for a room, or undefined when none is. */
  oldestId(room: string): Promise<number | undefined>;
  /**
   * A page of matches of `query`, newest first, bounded by `limit` and
   * `maxBytes`; `bad_request` for a cursor it did not make.
   */
  search(query: SearchQuery): Promise<SearchHit[]>;
  /** Deletes at most `batchSize` messages beyond the policy; resolves to how many went. */
  prune(policy: RetentionPolicy, batchSize: number): Promise<number>;

  /** The message in `room` that `query` names, if remembered (see {@linkcode ClientMsgQuery}). */
  messageByClientMsgId(room: string, query: ClientMsgQuery): Promise<MessageRecord | undefined>;

  // Direct messages.
  lastDmId(): Promise<number>;
  /** The DM to `to` (name key) that `query` names, if remembered. */
  dmByClientMsgId(to: string, query: ClientMsgQuery): Promise<DmRecord | undefined>;
  /** A page of the DMs between two users, oldest first, bounded as {@linkcode history} is. */
  dmHistory(user: string, peer: string, query: HistoryQuery): Promise<DmRecord[]>;
  /** A page of the DMs to `user` not yet delivered, oldest first, bounded by `limit` and `maxBytes`. */
  pendingDms(user: string, query: PendingQuery): Promise<DmRecord[]>;
  unreadCounts(user: string): Promise<UnreadCount[]>;
  /** The id of the last DM from `peer` to `user` (0 when none). */
  lastDmFrom(user: string, peer: string): Promise<number>;
  /** The id `user` has marked the DMs from `peer` read up to (0 when never). */
  readMarker(user: string, peer: string): Promise<number>;

  // Accounts.
  getAccount(key: string): Promise<AccountRecord | undefined>;
  putAccount(account: AccountRecord): Promise<void>;
  deleteAccount(key: string): Promise<boolean>;
  listAccounts(): Promise<AccountRecord[]>;
  /**
   * An account whose name has the lookalike key `lookalike` (see
   * `lookalikeKey` in shared/validation.ts), other than the account keyed
   * `except`: found through an index, never by reading every account.
   */
  findAccountLike(lookalike: string, except: string): Promise<AccountRecord | undefined>;

  // Login state of accounts (deleted with the account).
  /** Remembers a successful login of `account` from `address`, then trims its addresses to `limits`. */
  putLoginAddress(
    account: string,
    address: LoginAddressRecord,
    limits: LoginAddressLimits,
  ): Promise<void>;
  /** When `account` last logged in from address key `ip`; undefined if never (or forgotten). */
  lastLoginFrom(account: string, ip: string): Promise<number | undefined>;
  /** The addresses `account` logged in from, most recent first. */
  loginAddresses(account: string): Promise<LoginAddressRecord[]>;
  /** Records that `account` was unlocked at `at` (`chat user unlock`): earlier failed logins stop counting. */
  putLoginUnlock(account: string, at: number): Promise<void>;
  /** When `account` was last unlocked, or undefined. */
  loginUnlock(account: string): Promise<number | undefined>;

  // API keys.
  /** Adds a key; throws if its id or name (by name key) is taken. */
  putApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, by name. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Deletes the key named `name` (any case or width); false when there was none. */
  deleteApiKey(name: string): Promise<boolean>;

  // Outgoing webhooks (docs/webhooks.md).
  /** Adds a webhook; throws if its id is taken. */
  putWebhook(webhook: WebhookRecord): Promise<void>;
  /** Every webhook, oldest first. */
  listWebhooks(): Promise<WebhookRecord[]>;
  /** Deletes the webhook `id`; false when there was none. */
  deleteWebhook(id: string): Promise<boolean>;

  // Audit log.
  auditLog(limit: number): Promise<AuditRecord[]>;

  // Shared files (docs/protocol.md section 23).
  getFile(id: string): Promise<FileRecord | undefined>;
  /** Bytes `uploader` (a name key) uploaded at or after `since` (ms since epoch), files still kept. */
  uploadedBytes(uploader: string, since: number): Promise<number>;
  /**
   * Deletes the files written before `before` that no message or DM refers
   * to (their message was pruned, or it was never sent); resolves to the
   * content hashes no file refers to any more, those the files of deleted
   * rooms left included.
   */
  pruneFiles(before: number): Promise<string[]>;

  /** Whether the store answers (for readiness checks). */
  ping(): Promise<boolean>;
  /**
   * Makes a write that changes nothing; rejects when the store refuses
   * writes (full disk, I/O error, Redis down or out of memory). Readiness
   * checks call it while commits fail, to see them succeed again.
   */
  checkWrite(): Promise<void>;
  close(): Promise<void>;
}
