/**
 * A room: its persistent settings, its members online, and the grants
 * (operators, bans, mutes, invites) that decide who may do what in it.
 *
 * @module
 */
import { nameKey } from "../../shared/validation.ts";
import type { Delivery } from "./delivery.ts";
import { SortedNameMap } from "./sorted_name_map.ts";
import type { GrantKind, GrantRecord, RoomRecord } from "../store/store.ts";

/** A connected session as the broker sees it. */
export interface Member {
  /** The current nickname (set by the broker). */
  nick: string;
  /** Rooms this session is in. */
  readonly rooms: Set<Room>;
  /** The account's name key when logged in to one; undefined for a guest. */
  account: string | undefined;
  /** Whether this session may act as a server admin (server/accounts/server_admin.ts, at login). */
  admin: boolean;
  /** The client's address, for per-address allowances; none for API bots. */
  readonly ip?: string;
  /**
   * A random id of this guest's identity: rights a guest is given are
   * recorded under it, so they end with the guest and never pass to the
   * next guest who takes the nickname. A session that resumes a guest's
   * connection (its resume token) takes the id over.
   */
  guestId: string;
  /** The hash of the session's resume token, if it has one (see resume_token.ts). */
  resumeHash?(): string;
  /** Ends the session because a new connection took it over with its resume token. */
  displace?(): void;
  /** Queues `delivery` for this session; must not block or throw. */
  deliver(delivery: Delivery): void;
}

/**
 * The key restrictions (bans, mutes) are recorded under: the account, else
 * the nickname, so a guest's ban holds for whoever uses that nickname.
 */
export function userKey(member: Member): string {
  return member.account ?? nameKey(member.nick);
}

/** The prefix of the keys guests' rights are recorded under; no name key contains `:`. */
const GUEST_PREFIX = "guest:";

/**
 * The key rights (ownership, operator rights, invitations) are recorded
 * under: the account, else the guest's identity (see {@linkcode Member.guestId}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isGuestKey, rightsKey } from "./room.ts";
 * const key = rightsKey({ account: undefined, guestId: "x1" } as never);
 * assert.deepEqual([key, isGuestKey(key)], ["guest:x1", true]);
 * ```
 */
export function rightsKey(member: Member): string {
  return member.account ?? guestKeyOf(member.guestId);
}

/** The rights key of the guest identity `guestId`. */
export function guestKeyOf(guestId: string): string {
  return GUEST_PREFIX + guestId;
}

/** Whether `key` names a guest's identity rather than an account or a nickname. */
export function isGuestKey(key: string): boolean {
  return key.startsWith(GUEST_PREFIX);
}

/** A fresh random guest identity id. */
export function newGuestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** How much a member may do in a room, lowest first. */
export enum Rank {
  Member = 0,
  Operator = 1,
  Owner = 2,
  Admin = 3,
}

/** The rank names used in refusals. */
export const RANK_NAMES: Record<Rank, string> = {
  [Rank.Member]: "member",
  [Rank.Operator]: "operator",
  [Rank.Owner]: "owner",
  [Rank.Admin]: "server admin",
};

/** A room with its members online and its grants. */
export class Room {
  readonly key: string;
  readonly name: string;
  readonly createdAt: number;
  owner: string | null;
  topic: string;
  inviteOnly: boolean;
  /** The passphrase needed to join, or null (see {@linkcode RoomRecord.passphrase}). */
  passphrase: string | null;
  /** Id given to the last message sent (it may not be committed yet). */
  lastId: number;
  /** Id of the last message committed and delivered: history up to here is complete. */
  committedId: number;
  readonly members: Set<Member> = new Set();
  // Sessions per user (by name key, in order): a user with two sessions in
  // the room joins once and leaves once, and is listed once.
  readonly #users = new SortedNameMap<{ nick: string; sessions: number }>();
  readonly #grants = new Map<string, Map<GrantKind, GrantRecord>>();

  constructor(record: RoomRecord) {
    this.key = record.key;
    this.name = record.name;
    this.createdAt = record.createdAt;
    this.owner = record.owner;
    this.topic = record.topic;
    this.inviteOnly = record.inviteOnly;
    this.passphrase = record.passphrase;
    this.lastId = record.lastId;
    this.committedId = record.lastId;
  }

  /** The persistent part of the room. */
  toRecord(): RoomRecord {
    return {
      key: this.key,
      name: this.name,
      owner: this.owner,
      topic: this.topic,
      inviteOnly: this.inviteOnly,
      passphrase: this.passphrase,
      createdAt: this.createdAt,
      lastId: this.committedId,
    };
  }

  /** Takes the settings of `record` (another instance changed them). */
  update(record: RoomRecord): void {
    this.owner = record.owner;
    this.topic = record.topic;
    this.inviteOnly = record.inviteOnly;
    this.passphrase = record.passphrase;
  }

  /** Adds a session; true when it is the user's first session in the room. */
  addMember(member: Member): boolean {
    if (this.members.has(member)) return false;
    this.members.add(member);
    const key = nameKey(member.nick);
    const user = this.#users.get(key);
    if (user !== undefined) {
      user.sessions++;
      return false;
    }
    this.#users.set(key, { nick: member.nick, sessions: 1 });
    return true;
  }

  /** Removes a session; true when it was the user's last session in the room. */
  removeMember(member: Member): boolean {
    if (!this.members.delete(member)) return false;
    const key = nameKey(member.nick);
    const user = this.#users.get(key);
    if (user !== undefined && --user.sessions > 0) return false;
    this.#users.delete(key);
    return true;
  }

  /** Moves a session's count to its new nickname. */
  renameMember(oldNick: string, newNick: string): void {
    const oldKey = nameKey(oldNick);
    const old = this.#users.get(oldKey);
    if (old === undefined || old.sessions <= 1) this.#users.delete(oldKey);
    else old.sessions--;
    const newKey = nameKey(newNick);
    const user = this.#users.get(newKey);
    if (user === undefined) this.#users.set(newKey, { nick: newNick, sessions: 1 });
    else {
      user.nick = newNick;
      user.sessions++;
    }
  }

  /** Whether some session of the user with this name key is here. */
  hasUser(key: string): boolean {
    return this.#users.has(key);
  }

  /** Sessions here of the user with this name key. */
  sessionsOf(key: string): number {
    return this.#users.get(key)?.sessions ?? 0;
  }

  /** Users online in the room (each once, however many sessions). */
  get userCount(): number {
    return this.#users.size;
  }

  /** The members' nicknames, each once, sorted by name key. */
  memberNames(): string[] {
    return this.memberPage({ limit: this.#users.size });
  }

  /** At most `limit` members' nicknames in name-key order, after the name key `after`. */
  memberPage(options: { after?: string | undefined; limit: number }): string[] {
    return this.#users.page(options).map(([, user]) => user.nick);
  }

  /** A grant in force at `now`, if any. */
  grant(user: string, kind: GrantKind, now: number): GrantRecord | undefined {
    const grant = this.#grants.get(user)?.get(kind);
    if (grant === undefined) return undefined;
    if (grant.until !== null && grant.until <= now) return undefined;
    return grant;
  }

  /** The grant on record, in force or expired. */
  recordedGrant(user: string, kind: GrantKind): GrantRecord | undefined {
    return this.#grants.get(user)?.get(kind);
  }

  setGrant(grant: GrantRecord): void {
    let grants = this.#grants.get(grant.user);
    if (grants === undefined) this.#grants.set(grant.user, grants = new Map());
    grants.set(grant.kind, grant);
  }

  /** Forgets every grant (before loading them afresh). */
  clearGrants(): void {
    this.#grants.clear();
  }

  removeGrant(user: string, kind: GrantKind): boolean {
    const grants = this.#grants.get(user);
    if (grants === undefined || !grants.delete(kind)) return false;
    if (grants.size === 0) this.#grants.delete(user);
    return true;
  }

  /**
   * When the room last became empty here (broker clock, ms), or undefined
   * while someone is in it: a room no account owns is deleted once it has
   * been empty for a while.
   */
  emptySince: number | undefined;

  /** Whether an account owns the room (else it was made by a guest, or the owner lapsed). */
  get accountOwned(): boolean {
    return this.owner !== null && !isGuestKey(this.owner);
  }

  /** The rooms' grants held by `user`, in force or expired. */
  grantsOf(user: string): GrantRecord[] {
    return [...this.#grants.get(user)?.values() ?? []];
  }

  /** Every rights key that holds a grant here. */
  grantHolders(): string[] {
    return [...this.#grants.keys()];
  }

  /** The rank of a user (by rights key; `admin` for server admins) in this room. */
  rankOf(user: string, admin: boolean, now: number): Rank {
    if (admin) return Rank.Admin;
    if (this.owner !== null && this.owner === user) return Rank.Owner;
    if (this.grant(user, "op", now) !== undefined) return Rank.Operator;
    return Rank.Member;
  }
}
