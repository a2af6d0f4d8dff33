/**
 * Where the chat keeps things in Redis: every key and channel name, under
 * one prefix so several chats can share a Redis. Names and room keys never
 * contain `:`, so it separates the parts. The Lua scripts build the same
 * names from the prefix (see redis_scripts.ts); docs/scaling.md lists them.
 *
 * @module
 */

/** The default key prefix. */
export const DEFAULT_REDIS_PREFIX = "chat:";

/**
 * Key and channel names under a prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RedisKeys } from "./redis_keys.ts";
 * const keys = new RedisKeys("chat:");
 * assert.equal(keys.log("dev"), "chat:log:dev");
 * ```
 */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string = DEFAULT_REDIS_PREFIX) {
    this.prefix = prefix;
  }

  // Persistent: the store.

  /** Hash: room key → room settings (JSON, without lastId). */
  get rooms(): string {
    return `${this.prefix}rooms`;
  }

  /** Hash: room key → id of the last message (the room's sequence). */
  get seq(): string {
    return `${this.prefix}seq`;
  }

  /** Stream of a room's messages; entry ids are `<message id>-0`. */
  log(room: string): string {
    return `${this.prefix}log:${room}`;
  }

  /**
   * Stream of a room's message changes (section 21); entry ids are `<change id>-0`,
   * from the room's sequence like the messages'.
   */
  changes(room: string): string {
    return `${this.prefix}chg:${room}`;
  }

  /** Hash: message id → its current state (JSON: edit, deletion, reactions), for one room. */
  messageStates(room: string): string {
    return `${this.prefix}mst:${room}`;
  }

  /** Hash: `user:kind` → grant (JSON), for one room. */
  grants(room: string): string {
    return `${this.prefix}grants:${room}`;
  }

  /** Set of rooms that have grants. */
  get grantRooms(): string {
    return `${this.prefix}grantrooms`;
  }

  /** String: written by readiness checks while commits fail; expires after a minute. */
  get probe(): string {
    return `${this.prefix}probe`;
  }

  /** String: last direct-message id. */
  get dmSeq(): string {
    return `${this.prefix}dmseq`;
  }

  /** Hash: DM id → DM (JSON). */
  get dms(): string {
    return `${this.prefix}dm`;
  }

  /** Sorted set of DM ids between two users (keys in order). */
  dmPair(a: string, b: string): string {
    return a < b ? `${this.prefix}dmpair:${a}:${b}` : `${this.prefix}dmpair:${b}:${a}`;
  }

  /** Sorted set of DM ids to `user` not yet delivered. */
  dmPending(user: string): string {
    return `${this.prefix}dmpending:${user}`;
  }

  /** Sorted set of DM ids from `peer` to `user`. */
  dmIn(user: string, peer: string): string {
    return `${this.prefix}dmin:${user}:${peer}`;
  }

  /** Hash: peer key → peer name, for everyone who sent `user` a DM. */
  dmPeers(user: string): string {
    return `${this.prefix}dmpeers:${user}`;
  }

  /** Hash: peer key → id read up to, for `user`. */
  dmRead(user: string): string {
    return `${this.prefix}dmread:${user}`;
  }

  /**
   * Hash: `r:<room>:<clientMsgId>` or `d:<peer>:<clientMsgId>` → `<message
   * id> <ts>`, the client message ids `user` sent lately, and `#` → how many
   * it sent so far (expires with the window).
   */
  msgIds(user: string): string {
    return `${this.prefix}msgid:${user}`;
  }

  /** Sorted set: the same members as {@linkcode RedisKeys.msgIds}, in the order they came. */
  msgIdTimes(user: string): string {
    return `${this.prefix}msgidt:${user}`;
  }

  /** Hash: account key → account (JSON). */
  get accounts(): string {
    return `${this.prefix}accounts`;
  }

  /** Hash: lookalike key of an account's name → that account's key (see `lookalikeKey`). */
  get accountLooks(): string {
    return `${this.prefix}accountlooks`;
  }

  /** String: the `LOOKALIKE_KEY_VERSION` {@linkcode RedisKeys.accountLooks} was built with. */
  get accountLooksVersion(): string {
    return `${this.prefix}accountlooks:version`;
  }

  /** String: the `NAME_KEY_VERSION` the stored name keys were computed with (none: before it). */
  get nameKeyVersion(): string {
    return `${this.prefix}namekeys:version`;
  }

  /** Sorted set: room key → when the room became empty (ms), for rooms no account owns. */
  get emptyRooms(): string {
    return `${this.prefix}emptyrooms`;
  }

  /** Sorted set: address key → when `account` last logged in from it (ms). */
  loginAddresses(account: string): string {
    return `${this.prefix}loginaddr:${account}`;
  }

  /** Hash: account key → when `chat user unlock` last lifted its lock (ms). */
  get loginUnlocks(): string {
    return `${this.prefix}loginunlock`;
  }

  /** Prefix of the hourly counters of quota `name`: `PREFIX<address>:<hour>` (expire after 2 h). */
  quota(name: string): string {
    return `${this.prefix}quota:${name}:`;
  }

  /** Hash: API key id → key (JSON: name, hash of the key, admin flag; never the key). */
  get apiKeys(): string {
    return `${this.prefix}apikeys`;
  }

  /** Hash: webhook id → webhook (JSON, secret included: it signs deliveries). */
  get webhooks(): string {
    return `${this.prefix}webhooks`;
  }

  /** Stream of audit entries (JSON in field `j`). */
  get audit(): string {
    return `${this.prefix}audit`;
  }

  // Ephemeral: who is online where.

  /** Sorted set: instance id → when its presence expires (ms). */
  get instances(): string {
    return `${this.prefix}instances`;
  }

  /** String: when any instance last beat (ms, Redis clock). */
  get lastBeat(): string {
    return `${this.prefix}lastbeat`;
  }

  /** Hash: user key → sessions on `instance`. */
  instanceUsers(instance: string): string {
    return `${this.prefix}inst:${instance}:users`;
  }

  /** Hash: `room:user` → sessions of the user in the room on `instance`. */
  instanceRooms(instance: string): string {
    return `${this.prefix}inst:${instance}:rooms`;
  }

  /** Set of the IP addresses `instance` has published connection counts for. */
  instanceIps(instance: string): string {
    return `${this.prefix}inst:${instance}:ips`;
  }

  /** Hash: instance id → open connections on it. */
  get connections(): string {
    return `${this.prefix}conns`;
  }

  /** Hash: instance id → open connections on it from `ip` (expires unless refreshed). */
  connectionsFrom(ip: string): string {
    return `${this.prefix}connip:${ip}`;
  }

  /** Hash: instance id → its connections from `ip` not logged in yet (expires unless refreshed). */
  handshakesFrom(ip: string): string {
    return `${this.prefix}hsip:${ip}`;
  }

  /** Hash of an online user: nick, acct (account key or ""), adm, n (sessions). */
  user(key: string): string {
    return `${this.prefix}user:${key}`;
  }

  /** Hash: user key → nickname, of everyone online. */
  get online(): string {
    return `${this.prefix}online`;
  }

  /** Sorted set of the keys of {@linkcode online}, all of score 0: pages in name-key order. */
  get onlineKeys(): string {
    return `${this.prefix}online:keys`;
  }

  /** Hash: user key → nickname, of a room's members online. */
  members(room: string): string {
    return `${this.prefix}members:${room}`;
  }

  /** Sorted set of the keys of {@linkcode members}, all of score 0: pages in name-key order. */
  memberKeys(room: string): string {
    return `${this.prefix}members:${room}:keys`;
  }

  /** Hash: user key → sessions in the room, across instances. */
  memberSessions(room: string): string {
    return `${this.prefix}msess:${room}`;
  }

  /** Set of the rooms `user` is in on any instance (section 22: whom its away change reaches). */
  userRooms(user: string): string {
    return `${this.prefix}urooms:${user}`;
  }

  /** Hash: room key → members online (rooms with none are absent). */
  get roomSizes(): string {
    return `${this.prefix}roomsizes`;
  }

  // Channels.

  /** Messages, joins and leaves of one room, in order. */
  roomChannel(room: string): string {
    return `${this.prefix}ch:room:${room}`;
  }

  /** Everything else: DMs, notices, room settings, moderation. */
  get allChannel(): string {
    return `${this.prefix}ch:all`;
  }
}
