/**
 * What the broker asks of the world beyond its own sessions. A
 * {@linkcode Bus} orders, commits and carries events to every instance (a
 * single process has one: {@linkcode LocalBus}, today's direct fan-out); a
 * {@linkcode Presence} answers who is online across instances and claims
 * names, and exists only when there are several instances (the broker's own
 * maps are the truth otherwise).
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import type { ChatEvent } from "../../shared/protocol.ts";
import type { CommitObserver } from "../store/group_commit.ts";
import type { Member, Room } from "../chat/room.ts";
import type { ChangeDraft, ChangeOutcome, ChangeRules } from "../chat/message_change_rules.ts";
import type {
  ChangeRecord,
  DmRecord,
  GrantKind,
  GrantRecord,
  MessageRecord,
  RoomRecord,
  StoreWrite,
} from "../store/store.ts";

/** Who hears an event, on each instance: the local sessions that match. */
export interface Audience {
  /** The members of this room (by key). */
  room?: string;
  /** The members of any of these rooms. */
  rooms?: string[];
  /** Every session of these users (by name key). */
  users?: string[];
  /** Every session. */
  all?: boolean;
  /** Not the sessions of this user (by name key): a typing relay skips its sender. */
  except?: string;
}

/** A change every instance applies to its copy of the rooms. */
export type Effect =
  | { kind: "created"; record: RoomRecord }
  | { kind: "deleted"; room: string }
  | { kind: "room"; record: RoomRecord }
  | { kind: "grant"; grant: GrantRecord }
  | { kind: "ungrant"; room: string; user: string; grant: GrantKind }
  /** Remove the user's sessions from the room (kick, ban), telling them why. */
  | { kind: "evict"; room: string; user: string; reason: string }
  /** End the session of this user (name key) whose resume token has this hash: it is taken over. */
  | { kind: "displace"; user: string; resume: string };

/** One event and/or changes, for every instance. */
export interface Envelope {
  to?: Audience | undefined;
  event?: ChatEvent | undefined;
  fx?: Effect[] | undefined;
}

/** A direct message as sent: the bus gives it its id. */
export type DmDraft = Omit<DmRecord, "id">;

/** A room message as sent: the bus gives it its id. */
export type MessageDraft = Omit<MessageRecord, "id">;

/**
 * A room message after sending: the message, and whether it is one its
 * sender had already sent under the same client message id (a retry:
 * nothing new was stored or delivered).
 */
export interface SentMessage {
  record: MessageRecord;
  duplicate: boolean;
}

/**
 * What a retry under a client message id gets when its body or action is
 * not those of the message first sent under it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { msgIdConflict } from "./cluster.ts";
 * assert.equal(msgIdConflict("m-1").code, "msg_id_conflict");
 * ```
 */
export function msgIdConflict(clientMsgId: string): ChatError {
  return new ChatError(
    "msg_id_conflict",
    `clientMsgId ${clientMsgId} was already used for another message: use a new one for a new message`,
  );
}

/** What a bus may call on the broker it serves. */
export interface BusNode {
  /** The room with this key, if this instance knows it. */
  room(key: string): Room | undefined;
  /** Delivers a committed message to this instance's members of its room; called in id order. */
  deliverMessage(room: Room, record: MessageRecord): void;
  /** Delivers a committed message change (section 21) like a message: in id order with them. */
  deliverChange(room: Room, record: ChangeRecord): void;
  /** Applies an envelope from any instance (this one included): effects, then delivery. */
  receive(envelope: Envelope): void;
  /** Delivers a DM to this instance's sessions of its sender and recipient (by name key). */
  deliverDm(record: DmRecord, users: readonly string[]): void;
  /** Commits a store write through the broker's group commit. */
  commit(write: StoreWrite): Promise<void>;
  /** Told how each commit the bus makes itself went (the store's health). */
  readonly commits: CommitObserver;
  /** Tells this instance's sessions something (storage lost or back). */
  notice(body: string): void;
  /** What this instance has online, for re-asserting it. */
  snapshot(): PresenceSnapshot;
  /** Replaces the room settings and grants with fresh ones (after losing contact). */
  reload(rooms: RoomRecord[], grants: GrantRecord[]): void;
}

/** This instance's sessions, users and rooms, counted. */
export interface PresenceSnapshot {
  /** Users online here: key, nick, account key or "", admin, sessions, guest id or "", resume hash, lookalike key. */
  users: Array<
    [
      key: string,
      nick: string,
      account: string,
      admin: 0 | 1,
      sessions: number,
      guestId: string,
      resumeHash: string,
      look: string,
      away: string,
    ]
  >;
  /** Room memberships here: room key, user key, nick, sessions. */
  rooms: Array<[room: string, user: string, nick: string, sessions: number]>;
  /** Per room, the last message id delivered here. */
  seqs: Array<[room: string, id: number]>;
  /** The last DM id seen here. */
  lastDmId: number;
}

/**
 * Orders, commits and carries what concerns more than one session.
 * Promise-or-undefined results let the local bus stay synchronous.
 */
export interface Bus {
  /** Connects the bus to its broker and starts it. */
  start(node: BusNode): Promise<void>;
  /**
   * Gives `draft` the room's next id, commits it and delivers it (on every
   * instance, in id order). Resolves with the message once it has been
   * delivered to this instance's members. A draft with a `clientMsgId` its
   * sender already sent to the room (within the window) is not sent again:
   * it resolves with that message as a duplicate, or rejects with
   * `msg_id_conflict` when the body or action differ. A `replyTo` that is
   * not a message of the room is refused (`no_such_message`, section 21).
   */
  sendMessage(room: Room, draft: MessageDraft): Promise<SentMessage>;
  /**
   * Checks a message change (section 21) against its target as it is now,
   * in turn with the room's messages (exists? deleted? the maker's own, or
   * `rules.moderator` for a deletion? reacted so already? too many emoji?)
   * and, when it changes something, gives it the room's next id, commits
   * it and delivers it as {@linkcode Bus.sendMessage} does a message, in id
   * order with them. Rejects with the refusal (`no_such_message`,
   * `forbidden`, `too_many_reactions`, `storage`).
   */
  sendChange(room: Room, draft: ChangeDraft, rules: ChangeRules): Promise<ChangeOutcome>;
  /**
   * Gives `draft` the next DM id, commits it and delivers it on other
   * instances; this instance delivers its own sessions itself. `online`: the
   * recipient is online here. Resolves with whether the recipient was online
   * anywhere (else the DM waits for its next login). A `clientMsgId` already
   * used for this recipient is handled as by {@linkcode Bus.sendMessage}.
   */
  sendDm(
    draft: DmDraft,
    keys: { from: string; to: string; online: boolean },
  ): Promise<{ record: DmRecord; delivered: boolean; duplicate: boolean }>;
  /** Sends `envelope` to every instance, this one included; resolves once applied here. */
  publish(envelope: Envelope): Promise<void> | undefined;
  /** Starts receiving a room's events here (a member joins); resolves once in sync. */
  watch(room: Room): Promise<void> | undefined;
  /** Stops receiving them (a member left); one call per {@linkcode watch}. */
  unwatch(room: Room): void;
  /** Resolves once everything sent so far is committed. */
  flushed(): Promise<void>;
  /** Stops the bus (after the broker's sessions are gone). */
  close(): Promise<void>;
}

/** An online user as every instance sees it. */
export interface OnlineUser {
  nick: string;
  /** The account's key, or undefined for a guest. */
  account: string | undefined;
  admin: boolean;
  /** A guest's identity id (see `Member.guestId`); "" for an account. */
  guestId: string;
  /** The away message, while the user is away (section 22). */
  away?: string;
}

/** Which page of names: at most `limit`, after the name key `after` (from the first without). */
export interface PageQuery {
  after?: string | undefined;
  limit: number;
}

/** A page of names in name-key order, and how many names there are in all. */
export interface NamePage {
  names: string[];
  total: number;
  /** The away messages of those of `names` who are away, by nickname (who and users). */
  away?: ReadonlyMap<string, string>;
}

/** Who is online across instances, and their names. */
export interface Presence {
  /**
   * Claims `nick` for a session; throws `name_taken` when someone else has
   * it. With `resume`, a session holding the nickname with that resume
   * token hash, wherever it is, is ended first and `member` takes its guest
   * identity.
   */
  claim(
    member: Member,
    nick: string,
    options: { multipleSessions: boolean; resume?: string },
  ): Promise<void>;
  /**
   * Records that the guest `member` (its `guestId`) is now the account
   * `member.account`, having registered its nickname: the account's
   * sessions elsewhere then share the nickname.
   */
  registered(member: Member): Promise<void>;
  /** Releases a session's claim (after it left its rooms). */
  release(member: Member): void;
  /** Moves a guest's claim and memberships to a new nickname; throws `name_taken`. */
  rename(member: Member, nick: string): Promise<void>;
  /** The online user with this name key, if any. */
  user(key: string): Promise<OnlineUser | undefined>;
  /**
   * Creates a room unless it exists; resolves to the room's record and
   * whether this call created it. Throws `forbidden` past `maxRooms` rooms.
   */
  createRoom(
    record: RoomRecord,
    maxRooms: number,
  ): Promise<{ record: RoomRecord; created: boolean }>;
  /**
   * Counts a member into a room (already a local member); the room sees
   * `event` when it is the user's first session there. With `claimAs`, an
   * empty room nobody owns becomes owned by that rights key (`claimed`).
   * Resolves with the first page of the room's members (at most
   * `MAX_LIST_PAGE`) once the event was delivered here, and whether this
   * was the user's `first` session in the room (else the room saw nothing).
   */
  enter(
    room: Room,
    member: Member,
    event: ChatEvent,
    options?: { claimAs?: string },
  ): Promise<NamePage & { claimed: boolean; first: boolean }>;
  /**
   * Counts a member out; the room sees `event` when it was the user's last
   * session. Says (now, or once known) whether the room saw it; false too
   * when that could not be told.
   */
  exit(room: Room, member: Member, event: ChatEvent): boolean | Promise<boolean>;
  /** A page of the nicknames of a room's members online. */
  members(room: string, page: PageQuery): Promise<NamePage>;
  /** Whether the user with this name key is in the room (on any instance). */
  inRoom(room: string, user: string): Promise<boolean>;
  /** A page of the nicknames of everyone online. */
  users(page: PageQuery): Promise<NamePage>;
  /**
   * Sets (a message) or ends (undefined) the away state of `member`'s user
   * (all its sessions) and delivers `event` to its sessions and everyone
   * sharing a room with it, on every instance; resolves to false when the
   * state was that already (nothing is delivered).
   */
  setAway(member: Member, message: string | undefined, event: ChatEvent): Promise<boolean>;
  /** The members online of each of these rooms (by key), in order. */
  roomSizes(rooms: readonly string[]): Promise<number[]>;
  /**
   * Deletes the rooms no account owns that have been empty everywhere for
   * `ttlMs`, with their history and grants, telling every instance; resolves
   * to how many went.
   */
  expireRooms(ttlMs: number): Promise<number>;
}
