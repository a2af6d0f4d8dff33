/**
 * The broker: who is online, which rooms exist, who is in them, and fan-out
 * of every event to the sessions concerned. Delivering is queuing bytes, so
 * one slow client never stalls a room. State changes are made in memory at
 * once and persisted through one group-commit queue; a message is delivered
 * and acknowledged only once it is committed.
 *
 * Ids, commits and events that concern other sessions go through a
 * {@linkcode Bus}: within one process it delivers directly; over Redis it
 * reaches every instance. With several instances a {@linkcode Presence}
 * answers who is online and who holds a name; alone, the broker's own maps do.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { utf8ByteLength } from "../../shared/bytes.ts";
import { ChatError } from "../../shared/errors.ts";
import {
  type ChatEvent,
  type DirectMessageEvent,
  MAX_HISTORY_PAGE,
  MAX_LIST_PAGE,
  type ModerationType,
  type RoomMessageEvent,
} from "../../shared/protocol.ts";
import { FlushScheduler } from "../../shared/flush_scheduler.ts";
import { lookalikeKey, nameKey } from "../../shared/validation.ts";
import type {
  Audience,
  Bus,
  BusNode,
  Effect,
  Envelope,
  NamePage,
  Presence,
  PresenceSnapshot,
  SentMessage,
} from "../cluster/cluster.ts";
import { LocalBus } from "../cluster/local_bus.ts";
import { Delivery } from "./delivery.ts";
import { GroupCommit, StoreBusyError } from "../store/group_commit.ts";
import { HistoryLimiter, type HistoryLimiterOptions } from "../limits/history_limiter.ts";
import {
  guestKeyOf,
  isGuestKey,
  type Member,
  Rank,
  RANK_NAMES,
  rightsKey,
  Room,
  userKey,
} from "./room.ts";
import { ServerMetrics } from "../server_metrics.ts";
import { SortedNameMap } from "./sorted_name_map.ts";
import { StoreHealth } from "../store/store_health.ts";
import type { AddressQuota } from "../limits/address_quota.ts";
import {
  DEFAULT_MSG_ID_WINDOW_MS,
  DEFAULT_MSG_IDS_PER_USER,
  type DmRecord,
  type GrantKind,
  type GrantRecord,
  type MessageRecord,
  type MsgIdWindow,
  type RoomRecord,
  type Store,
  type StoreWrite,
  type UnreadCount,
} from "../store/store.ts";

export { type Member, Room } from "./room.ts";

const logger = getLogger(["chat", "broker"]);

/** Whom a moderation request acts on, and the keys that decide it. */
interface ModerationTarget {
  /** The key restrictions go under: the account, or the nickname. */
  key: string;
  /** The key rights go under: the account, or the guest online; none for an offline guest. */
  rights?: string;
  /** The guest's key when the target is a guest online (restrictions follow it too). */
  guest?: string;
  /** Whether a session of the target is a server admin. */
  admin: boolean;
}

/** Summary of a room for `rooms`. */
export interface RoomSummary {
  name: string;
  members: number;
  topic: string;
}

/** Which page of a list: names after `after` (by name key), at most `limit` of them. */
export interface ListQuery {
  after?: string;
  limit?: number;
}

/** A page of a list: `more` when it does not reach the end. */
export type ListPage<K extends string, T> =
  & { [key in K]: T[] }
  & { total: number; more?: true };

/**
 * The longest run of `items` (one more than `limit` was read, to tell if
 * there is more) that is at most `limit` long and within `maxBytes` by
 * `size`; `more` when some were left out.
 */
function fitList<T>(
  items: readonly T[],
  options: { limit: number; maxBytes: number; size: (item: T) => number },
): { items: T[]; more: boolean } {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    if (count === options.limit) break;
    bytes += options.size(item);
    if (bytes > options.maxBytes) break;
    count++;
  }
  return { items: items.slice(0, count), more: count < items.length };
}

/** An upper bound of a name's encoded size in a reply's list. */
function nameBytes(name: string): number {
  return utf8ByteLength(name) + 3;
}

/** An upper bound of a room summary's encoded size in a `rooms` reply. */
function summaryBytes(summary: RoomSummary): number {
  return utf8ByteLength(summary.name) + utf8ByteLength(summary.topic) + 40;
}

/** Settings of the broker. */
export interface BrokerOptions {
  /** Messages sent with the join reply. */
  historyOnJoin?: number;
  /** Most messages replayed on a resuming join before the client must page. */
  maxReplay?: number;
  /** Most rooms that may exist. */
  maxRooms?: number;
  /** Most rooms one user may be in at once (its sessions together, on this instance). */
  maxRoomsPerUser?: number;
  /** Most rooms one account may own. */
  maxRoomsPerAccount?: number;
  /** How long a room no account owns is kept once empty, in ms. */
  guestRoomTtlMs?: number;
  /** Rooms a client address may create per hour; none: no limit. */
  roomCreations?: AddressQuota;
  /** Default mute duration, in ms. */
  defaultMuteMs?: number;
  /** Largest reply the broker builds (history pages are cut to fit), in bytes. */
  maxReplyBytes?: number;
  /** How long and how many client message ids the default {@linkcode LocalBus} remembers. */
  msgIdWindow?: MsgIdWindow;
  /** How many history reads may run and wait, per session and in all. */
  historyReads?: HistoryLimiterOptions;
  /**
   * When sessions' output is written: commits are made just before the
   * flush that will write their messages. A scheduler without coalescing by default.
   */
  flushScheduler?: FlushScheduler;
  /** Where to count messages, deliveries and commit times. */
  metrics?: ServerMetrics;
  /** Carries ids, commits and events between instances; a {@linkcode LocalBus} by default. */
  bus?: Bus;
  /** Who is online on other instances; none when this is the only one. */
  presence?: Presence;
  now?: () => number;
}

/** What the join reply carries. */
export interface JoinResult {
  room: string;
  topic: string;
  members: string[];
  /** Id of the last message in the room when joined. */
  lastId: number;
  history: RoomMessageEvent[];
  /** More missed messages than were replayed: page with `history` after the last one. */
  more?: boolean;
  /** More members than `members` holds: page on with `who` after the last one. */
  membersMore?: boolean;
  /** Messages after `since` that are no longer stored: ids `after`+1 to `oldest`-1 are lost. */
  gap?: { after: number; oldest: number };
}

type Write = StoreWrite;

/** A message to send, as `say` and `dm` carry it. */
export interface OutgoingMessage {
  body: string;
  /** An action ("/me waves"). */
  action?: boolean;
  /** The sender's id for it: a retry under the same id is not sent twice. */
  clientMsgId?: string;
}

function messageEvent(record: MessageRecord, room: string, history: boolean): RoomMessageEvent {
  const event: RoomMessageEvent = {
    type: "message",
    room,
    from: record.from,
    body: record.body,
    id: record.id,
    ts: record.ts,
  };
  if (record.action) event.action = true;
  if (history) event.history = true;
  return event;
}

function dmEvent(record: DmRecord, history: boolean): DirectMessageEvent {
  const event: DirectMessageEvent = {
    type: "dm",
    from: record.from,
    to: record.to,
    body: record.body,
    id: record.id,
    ts: record.ts,
  };
  if (record.action) event.action = true;
  if (history) event.history = true;
  return event;
}

/** An upper bound of an event's encoded size, in bytes. */
function eventBytes(event: ChatEvent): number {
  let bytes = 96;
  for (const value of Object.values(event)) {
    if (typeof value === "string") bytes += utf8ByteLength(value);
  }
  return bytes;
}

/** The name key a list's cursor stands for; undefined from the start. */
function cursorKey(after: string | undefined): string | undefined {
  return after === undefined ? undefined : nameKey(after.replace(/^#/, ""));
}

function storageError(error: unknown): ChatError {
  if (error instanceof ChatError) return error;
  if (error instanceof StoreBusyError) {
    return new ChatError("storage", `${error.message}; try again shortly`, {
      retryAfterMs: 100,
      cause: error,
    });
  }
  return new ChatError("storage", "Could not save: the store failed; nothing was sent", {
    cause: error,
  });
}

const REFUSAL: Record<string, string> = {
  topic: "Setting the topic",
  op: "Giving operator rights",
  deop: "Taking operator rights",
  kick: "Kicking",
  ban: "Banning",
  unban: "Lifting a ban",
  mute: "Muting",
  unmute: "Lifting a mute",
  invite: "Inviting",
  uninvite: "Withdrawing an invitation",
  mode: "Changing room modes",
};

/**
 * Rooms, users and direct messages over a {@linkcode Store}.
 *
 * @example
 * ```ts ignore
 * import { Broker } from "./broker.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * const broker = await Broker.open(SqliteStore.memory());
 * ```
 */
export class Broker {
  readonly store: Store;
  readonly metrics: ServerMetrics;
  /** Whether commits succeed (readiness, the store-errors counter, the warning). */
  readonly storeHealth: StoreHealth;
  // By name key, in order: lists page through them with a cursor.
  #users = new SortedNameMap<Set<Member>>();
  // lookalikeKey → name key of the user online under a name that looks like that: no two may.
  #looks = new Map<string, string>();
  // lookalikeKey → key of a room whose name looks like that; checked against #rooms on use.
  #roomLooks = new Map<string, string>();
  #rooms = new SortedNameMap<Room>();
  #bus: Bus;
  #presence: Presence | null;
  // Rooms with a join under way (here, or waiting for its watch): a deletion must not drop them.
  #joining = new Map<string, number>();
  // Guests' rights keys that may hold rights in some room (taken back when the guest leaves).
  #guestHolders = new Set<string>();
  // The highest DM id seen here, for re-asserting it after Redis lost data.
  #dmSeen = 0;
  #now: () => number;
  #historyOnJoin: number;
  #maxReplay: number;
  #maxRooms: number;
  #maxRoomsPerUser: number;
  #maxRoomsPerAccount: number;
  #guestRoomTtlMs: number;
  #roomCreations: AddressQuota | undefined;
  #defaultMuteMs: number;
  #maxReplyBytes: number;
  #historyReads: HistoryLimiter;
  // The part of a join reply its first page of members may take.
  #memberListBytes: number;
  #writes: GroupCommit<Write>;

  private constructor(store: Store, options: BrokerOptions) {
    this.store = store;
    this.metrics = options.metrics ?? new ServerMetrics();
    this.#now = options.now ?? Date.now;
    this.#historyOnJoin = options.historyOnJoin ?? 50;
    this.#maxReplay = options.maxReplay ?? 500;
    this.#maxRooms = options.maxRooms ?? 10_000;
    this.#maxRoomsPerUser = options.maxRoomsPerUser ?? 20;
    this.#maxRoomsPerAccount = options.maxRoomsPerAccount ?? 15;
    this.#guestRoomTtlMs = options.guestRoomTtlMs ?? 60 * 60_000;
    this.#roomCreations = options.roomCreations;
    this.#defaultMuteMs = options.defaultMuteMs ?? 10 * 60_000;
    this.#maxReplyBytes = options.maxReplyBytes ?? 60 * 1024;
    this.#historyReads = new HistoryLimiter(options.historyReads);
    this.#memberListBytes = Math.floor(this.#maxReplyBytes / 4);
    // While recipients wait for a flush tick anyway, commit just before it:
    // one transaction per tick instead of one per event-loop turn.
    this.storeHealth = new StoreHealth({ probe: () => store.checkWrite(), metrics: this.metrics });
    const flushes = options.flushScheduler ?? new FlushScheduler();
    this.#writes = new GroupCommit((batch) => this.#commit(batch), {
      schedule: (commit) => flushes.beforeNextFlush(commit),
      observer: this.storeHealth,
    });
    this.#bus = options.bus ?? new LocalBus();
    this.#presence = options.presence ?? null;
  }

  /** Loads rooms, grants and counters from `store`, then starts the bus. */
  static async open(store: Store, options: BrokerOptions = {}): Promise<Broker> {
    const lastDmId = await store.lastDmId();
    const broker = new Broker(store, {
      ...options,
      bus: options.bus ?? new LocalBus({
        lastDmId,
        store,
        msgIdWindow: options.msgIdWindow ??
          { ms: DEFAULT_MSG_ID_WINDOW_MS, perUser: DEFAULT_MSG_IDS_PER_USER },
      }),
    });
    broker.#dmSeen = lastDmId;
    broker.#reload(await store.loadRooms(), await store.loadGrants());
    // Alone, no guest is online at start: rights left under guests' keys
    // (a crash, a failed save) end now. With other instances they may be live.
    if (broker.#presence === null) {
      for (const key of [...broker.#guestHolders]) await broker.#lapseRights(key);
    }
    await broker.#bus.start(broker.#node());
    return broker;
  }

  /**
   * Deletes the rooms no account owns that have been empty for the guest
   * room TTL, with their history and grants; resolves to how many went.
   * Over several instances Redis decides (rooms are empty everywhere).
   */
  async expireRooms(): Promise<number> {
    if (this.#presence !== null) {
      return await this.#presence.expireRooms(this.#guestRoomTtlMs).catch((error) => {
        throw storageError(error);
      });
    }
    const cutoff = this.#now() - this.#guestRoomTtlMs;
    const expired: Room[] = [];
    for (const room of this.#rooms.values()) {
      if (
        room.members.size === 0 && !room.accountOwned && room.emptySince !== undefined &&
        room.emptySince <= cutoff && !this.#joining.has(room.key)
      ) {
        expired.push(room);
      }
    }
    for (const room of expired) this.#dropRoom(room);
    await Promise.all(expired.map((room) => this.#persist({ kind: "deleteRoom", room: room.key })));
    return expired.length;
  }

  /** Whether other instances share this chat (through a {@linkcode Presence}). */
  get shared(): boolean {
    return this.#presence !== null;
  }

  /** Flushes writes and stops the bus; call after every session is gone. */
  async close(): Promise<void> {
    await this.#writes.flushed();
    await this.#bus.flushed();
    await this.#bus.close();
    this.storeHealth[Symbol.dispose]();
  }

  /** Sessions online. */
  get userCount(): number {
    return this.#users.size;
  }

  /** Rooms that exist. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Writes waiting to be committed. */
  get pendingWrites(): number {
    return this.#writes.pending;
  }

  /** Resolves once every write so far is committed. */
  flushed(): Promise<void> {
    return this.#writes.flushed();
  }

  /**
   * Claims `nick` for `member`. Guests need a free nickname; sessions of an
   * account may share it when `multipleSessions` is set. With `resume` (the
   * hash of a resume token), the session of that nickname holding that
   * token is taken over: it ends, and `member` takes its guest identity.
   */
  register(
    member: Member,
    nick: string,
    options: { multipleSessions?: boolean; resume?: string } = {},
  ): void | Promise<void> {
    const key = nameKey(nick);
    if (options.resume !== undefined) {
      const ghost = [...this.#users.get(key) ?? []].find((other) =>
        other.account === member.account && other.resumeHash?.() === options.resume
      );
      if (ghost?.displace !== undefined) {
        member.guestId = ghost.guestId;
        // Leaves the broker at once, keeping the guest's rights for `member`.
        ghost.displace();
      }
    }
    const sessions = this.#users.get(key);
    if (sessions !== undefined && sessions.size > 0) {
      const sameAccount = member.account !== undefined &&
        [...sessions].every((other) => other.account === member.account);
      if (!sameAccount) throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
      if (!options.multipleSessions) {
        throw new ChatError(
          "name_taken",
          `${nick} is already logged in elsewhere (one session per account)`,
        );
      }
    }
    this.#refuseLookalike(nick, key);
    if (this.#presence === null) return this.#addUser(member, nick);
    // Other instances may have the name: the claim in Redis decides.
    return this.#presence.claim(member, nick, {
      multipleSessions: options.multipleSessions ?? false,
      ...(options.resume === undefined ? {} : { resume: options.resume }),
    })
      .then(() => this.#addUser(member, nick));
  }

  #addUser(member: Member, nick: string): void {
    member.nick = nick;
    const key = nameKey(nick);
    const sessions = this.#users.get(key);
    if (sessions === undefined) this.#users.set(key, new Set([member]));
    else sessions.add(member);
    this.#looks.set(lookalikeKey(nick), key);
  }

  /** Throws `name_taken` when someone else online has a name that looks like `nick` (UTS #39). */
  #refuseLookalike(nick: string, key: string): void {
    const holder = this.#looks.get(lookalikeKey(nick));
    if (holder === undefined || holder === key) return;
    const other = this.#users.get(holder)?.values().next().value;
    if (other === undefined) return;
    throw new ChatError(
      "name_taken",
      `Nickname ${nick} looks like ${other.nick}, who is online; choose another`,
    );
  }

  /** Throws `invalid_room` when creating room `name` beside a room that looks like it. */
  #refuseRoomLookalike(name: string, key: string): void {
    const look = lookalikeKey(name);
    const holder = this.#roomLooks.get(look);
    if (holder === undefined || holder === key) return;
    const other = this.#rooms.get(holder);
    // Deleted rooms leave their entry behind: drop it when met.
    if (other === undefined || lookalikeKey(other.name) !== look) {
      this.#roomLooks.delete(look);
      return;
    }
    throw new ChatError(
      "invalid_room",
      `Cannot create #${name}: it looks like #${other.name}; join that room or choose another name`,
    );
  }

  /** Forgets the look of `nick` once nobody online has it. */
  #forgetLook(nick: string, key: string): void {
    const look = lookalikeKey(nick);
    if (this.#looks.get(look) === key) this.#looks.delete(look);
  }

  /** Whether anyone online on this instance uses this nickname. */
  isOnline(nick: string): boolean {
    return (this.#users.get(nameKey(nick))?.size ?? 0) > 0;
  }

  /**
   * Removes `member` from every room (telling the rooms) and frees its
   * nickname. A guest's rights end with it, unless `keepRights` (a new
   * connection of the same guest takes over).
   */
  unregister(member: Member, reason?: string, options: { keepRights?: boolean } = {}): void {
    for (const room of [...member.rooms]) this.#removeFromRoom(member, room, reason);
    const key = nameKey(member.nick);
    const sessions = this.#users.get(key);
    if (sessions === undefined || !sessions.delete(member)) return;
    if (sessions.size === 0) {
      this.#users.delete(key);
      this.#forgetLook(member.nick, key);
    }
    this.#presence?.release(member);
    if (member.account === undefined && !options.keepRights) {
      this.#lapseRights(rightsKey(member)).catch((error) => {
        logger.warn("Could not save that {nick}'s guest rights ended: {error}", {
          nick: member.nick,
          error,
        });
      });
    }
  }

  /**
   * Moves what a guest holds under its guest key (rooms it owns, operator
   * rights, invitations, restrictions) to the account it has just
   * registered, so registering keeps the guest's rooms and rights.
   */
  async adoptGuestRights(member: Member, guestKey: string): Promise<void> {
    const account = member.account;
    if (account === undefined || !this.#guestHolders.delete(guestKey)) return;
    const writes: Write[] = [];
    for (const room of this.#rooms.values()) {
      if (room.owner === guestKey) {
        room.owner = account;
        writes.push({ kind: "room", record: room.toRecord() });
      }
      for (const grant of room.grantsOf(guestKey)) {
        room.removeGrant(guestKey, grant.kind);
        writes.push({ kind: "ungrant", room: room.key, user: guestKey, grant: grant.kind });
        const moved = { ...grant, user: account };
        room.setGrant(moved);
        writes.push({ kind: "grant", grant: moved });
      }
    }
    await Promise.all(writes.map((write) => this.#persist(write)));
    const fx = this.#shared(
      writes.map((write): Effect =>
        write.kind === "room"
          ? { kind: "room", record: write.record }
          : write.kind === "grant"
          ? { kind: "grant", grant: write.grant }
          : write as Extract<Effect, { kind: "ungrant" }>
      ),
    );
    if (fx !== undefined && fx.length > 0) await this.#publish({ fx });
  }

  /**
   * Takes back every right recorded under a guest's key: ownership lapses
   * (the room is then nobody's until someone joins it empty) and operator
   * rights and invitations end.
   */
  async #lapseRights(key: string): Promise<void> {
    if (!this.#guestHolders.delete(key)) return;
    const writes: Write[] = [];
    const fx: Effect[] = [];
    for (const room of this.#rooms.values()) {
      if (room.owner === key) {
        room.owner = null;
        writes.push({ kind: "room", record: room.toRecord() });
        fx.push({ kind: "room", record: room.toRecord() });
      }
      for (const grant of room.grantsOf(key)) {
        room.removeGrant(key, grant.kind);
        const write = { kind: "ungrant", room: room.key, user: key, grant: grant.kind } as const;
        writes.push(write);
        fx.push(write);
      }
    }
    // In force at once; a save that fails leaves a key nobody can ever use.
    await Promise.all(writes.map((write) => this.#persist(write)));
    if (this.#presence !== null && fx.length > 0) await this.#publish({ fx });
  }

  /**
   * Joins (creating if needed) room `name`. The reply carries recent
   * history, or with `since` everything after it (or says plainly what is
   * lost); every message after the reply's `lastId` arrives live.
   */
  async join(
    member: Member,
    name: string,
    options: { since?: number; key?: string } = {},
  ): Promise<JoinResult> {
    if (this.#presence !== null) {
      return await this.#joinShared(this.#presence, member, name, options);
    }
    const key = nameKey(name);
    // An empty room is not deleted while a join of it is under way.
    this.#joining.set(key, (this.#joining.get(key) ?? 0) + 1);
    try {
      return await this.#joinHere(member, name, options);
    } finally {
      const left = (this.#joining.get(key) ?? 1) - 1;
      if (left > 0) this.#joining.set(key, left);
      else this.#joining.delete(key);
    }
  }

  async #joinHere(
    member: Member,
    name: string,
    options: { since?: number; key?: string },
  ): Promise<JoinResult> {
    const key = nameKey(name);
    let room = this.#rooms.get(key);
    const now = this.#now();
    if (room === undefined) {
      this.#refuseRoomLookalike(name, key);
      this.#checkRoomLimit(name);
      this.#checkOwnership(member, name);
      this.#checkRoomCount(member, name);
      const taking = this.#takeCreation(member, name);
      if (taking !== undefined) {
        await taking;
        // Someone may have made the room meanwhile.
        if (this.#rooms.has(key)) return await this.#joinHere(member, name, options);
      }
      room = this.#addRoom({
        key,
        name,
        owner: rightsKey(member),
        topic: "",
        inviteOnly: false,
        passphrase: null,
        createdAt: now,
        lastId: 0,
      });
      await this.#persist({ kind: "room", record: room.toRecord() });
    } else if (!room.members.has(member)) {
      this.#checkEntry(member, room, options.key, now);
      this.#checkRoomCount(member, room.name);
      // An empty room whose guest owner has left goes to whoever comes first,
      // as a room made anew would.
      if (room.owner === null && room.members.size === 0 && this.#mayOwnMore(member)) {
        const claimed = room;
        await this.#changeRoom(claimed, () => claimed.owner = rightsKey(member));
        this.#heldRights(member);
      }
    }
    const { history, more, gap } = await this.#catchUp(member, room, {
      since: options.since,
      ceiling: () => room.committedId,
    });
    // Synchronous from the last history read to here: nothing committed in between is missed.
    room.emptySince = undefined;
    if (room.addMember(member)) {
      this.#fanOut(room.members, {
        type: "join",
        room: room.name,
        nick: member.nick,
        ts: this.#now(),
      });
    }
    member.rooms.add(room);
    const members = this.#memberList({
      names: room.memberPage({ limit: MAX_LIST_PAGE + 1 }),
      total: room.userCount,
    });
    const result: JoinResult = {
      room: room.name,
      topic: room.topic,
      members: members.items,
      lastId: room.committedId,
      history,
    };
    if (more) result.more = true;
    if (gap) result.gap = gap;
    if (members.more) result.membersMore = true;
    return result;
  }

  /** The first page of a room's members that fits the part of a join reply kept for it. */
  #memberList(page: NamePage): { items: string[]; more: boolean } {
    const fit = fitList(page.names, {
      limit: MAX_LIST_PAGE,
      maxBytes: this.#memberListBytes,
      size: nameBytes,
    });
    return { items: fit.items, more: fit.more || fit.items.length < page.total };
  }

  /**
   * Joins over several instances. The member is added here before the
   * room is told, so from the id noted then on every message arrives live
   * and history supplies the rest: no gap, no duplicate.
   */
  async #joinShared(
    presence: Presence,
    member: Member,
    name: string,
    options: { since?: number; key?: string },
  ): Promise<JoinResult> {
    const key = nameKey(name);
    let room = this.#rooms.get(key);
    const now = this.#now();
    if (room === undefined) {
      this.#refuseRoomLookalike(name, key);
      this.#checkOwnership(member, name);
      this.#checkRoomCount(member, name);
      await this.#takeCreation(member, name);
      const { record, created } = await presence.createRoom({
        key,
        name,
        owner: rightsKey(member),
        topic: "",
        inviteOnly: false,
        passphrase: null,
        createdAt: now,
        lastId: 0,
      }, this.#maxRooms).catch((error) => {
        throw storageError(error);
      });
      room = this.#rooms.get(key) ?? this.#addRoom(record);
      if (created) this.#heldRights(member);
      else this.#checkEntry(member, room, options.key, now);
    } else if (!room.members.has(member)) {
      this.#checkEntry(member, room, options.key, now);
      this.#checkRoomCount(member, room.name);
    }
    const joined = room;
    if (joined.members.has(member)) {
      const upTo = joined.committedId;
      const caught = await this.#catchUp(member, joined, {
        since: options.since,
        ceiling: () => upTo,
      });
      const members = await presence.members(joined.key, { limit: MAX_LIST_PAGE + 1 }).catch(
        (error) => {
          throw storageError(error);
        },
      );
      return this.#joinResult(joined, members, upTo, caught);
    }
    // An empty room nobody owns goes to whoever comes first (Redis decides who).
    const claimAs = joined.owner === null && this.#mayOwnMore(member) ? rightsKey(member) : "";
    const watching = this.#bus.watch(joined);
    if (watching !== undefined) {
      // A deletion seen meanwhile (the room was empty everywhere) must not
      // orphan this join: the room stays here, and ENTER recreates it in Redis.
      this.#joining.set(joined.key, (this.#joining.get(joined.key) ?? 0) + 1);
      try {
        await watching;
      } catch (error) {
        this.#bus.unwatch(joined);
        throw storageError(error);
      } finally {
        const left = (this.#joining.get(joined.key) ?? 1) - 1;
        if (left > 0) this.#joining.set(joined.key, left);
        else this.#joining.delete(joined.key);
      }
    }
    // Synchronous from the watch being in sync to here.
    joined.addMember(member);
    member.rooms.add(joined);
    const upTo = joined.committedId;
    try {
      const entered = await presence.enter(joined, member, {
        type: "join",
        room: joined.name,
        nick: member.nick,
        ts: this.#now(),
      }, claimAs === "" ? {} : { claimAs });
      if (entered.claimed) this.#heldRights(member);
      const caught = await this.#catchUp(member, joined, {
        since: options.since,
        ceiling: () => upTo,
      });
      return this.#joinResult(joined, entered, upTo, caught);
    } catch (error) {
      if (member.rooms.has(joined)) this.#removeFromRoom(member, joined, "join failed");
      throw storageError(error);
    }
  }

  #joinResult(
    room: Room,
    page: NamePage,
    lastId: number,
    caught: { history: RoomMessageEvent[]; more: boolean; gap?: { after: number; oldest: number } },
  ): JoinResult {
    const members = this.#memberList(page);
    const result: JoinResult = {
      room: room.name,
      topic: room.topic,
      members: members.items,
      lastId,
      history: caught.history,
    };
    if (caught.more) result.more = true;
    if (caught.gap) result.gap = caught.gap;
    if (members.more) result.membersMore = true;
    return result;
  }

  /** Forgets a room (deleted here or elsewhere), with its look. */
  #dropRoom(room: Room): void {
    this.#rooms.delete(room.key);
    const look = lookalikeKey(room.name);
    if (this.#roomLooks.get(look) === room.key) this.#roomLooks.delete(look);
  }

  #addRoom(record: RoomRecord): Room {
    const room = new Room(record);
    room.emptySince = this.#now();
    this.#rooms.set(room.key, room);
    if (room.owner !== null && isGuestKey(room.owner)) this.#guestHolders.add(room.owner);
    this.#roomLooks.set(lookalikeKey(room.name), room.key);
    return room;
  }

  /** Refuses to create a room beyond the server's limit. */
  #checkRoomLimit(name: string): void {
    if (this.#rooms.size >= this.#maxRooms) {
      throw new ChatError(
        "forbidden",
        `Cannot create #${name}: the server's limit of ${this.#maxRooms} rooms is reached`,
      );
    }
  }

  /** Rooms owned by the account `account`. */
  #ownedBy(account: string): number {
    let owned = 0;
    for (const room of this.#rooms.values()) if (room.owner === account) owned++;
    return owned;
  }

  /** Takes one from the member's address's hourly allowance of new rooms (API bots have none). */
  #takeCreation(member: Member, name: string): void | Promise<void> {
    if (member.ip === undefined || this.#roomCreations === undefined) return undefined;
    const wording = { refused: `Cannot create #${name}`, counted: "rooms created" };
    const taking = this.#roomCreations.take(member.ip, wording);
    return taking instanceof Promise
      ? taking.catch((error) => {
        throw storageError(error);
      })
      : taking;
  }

  /** Whether `member` may own one more room (guests may: their rooms lapse). */
  #mayOwnMore(member: Member): boolean {
    return member.account === undefined || this.#ownedBy(member.account) < this.#maxRoomsPerAccount;
  }

  /** Refuses to make an account the owner of more rooms than an account may own. */
  #checkOwnership(member: Member, name: string): void {
    if (member.account === undefined) return;
    const owned = this.#ownedBy(member.account);
    if (owned >= this.#maxRoomsPerAccount) {
      throw new ChatError(
        "forbidden",
        `Cannot create #${name}: your account owns ${owned} rooms, the limit of ${this.#maxRoomsPerAccount} per account`,
      );
    }
  }

  /** Refuses a join that would put the user in more rooms than a user may be in. */
  #checkRoomCount(member: Member, room: string): void {
    const rooms = new Set<string>();
    for (const joined of member.rooms) rooms.add(joined.key);
    for (const session of this.#users.get(nameKey(member.nick)) ?? []) {
      for (const joined of session.rooms) rooms.add(joined.key);
    }
    if (rooms.has(nameKey(room)) || rooms.size < this.#maxRoomsPerUser) return;
    throw new ChatError(
      "too_many_rooms",
      `Cannot join #${room}: you are in ${rooms.size} rooms, the limit per user; /leave one first`,
    );
  }

  /** Notes that a guest holds rights somewhere, to take them back when the guest leaves. */
  #heldRights(member: Member): void {
    if (member.account === undefined) this.#guestHolders.add(rightsKey(member));
  }

  #checkEntry(member: Member, room: Room, key: string | undefined, now: number): void {
    if (room.rankOf(rightsKey(member), member.admin, now) >= Rank.Operator) return;
    const ban = this.#restriction(member, room, "ban", now);
    if (ban !== undefined) {
      const until = ban.until === null ? "" : ` until ${new Date(ban.until).toISOString()}`;
      throw new ChatError(
        "banned",
        `You are banned from #${room.name}${until}${ban.reason ? `: ${ban.reason}` : ""}`,
      );
    }
    if (room.inviteOnly && room.grant(rightsKey(member), "invite", now) === undefined) {
      throw new ChatError(
        "invite_only",
        `#${room.name} is invite-only: an operator must /invite you`,
      );
    }
    if (room.passphrase !== null && key !== room.passphrase) {
      throw new ChatError("bad_key", `#${room.name} needs a key: /join ${room.name} KEY`);
    }
  }

  /**
   * Reads history up to `ceiling` (re-read when it moves: the room's
   * committed id, or a fixed id when live delivery has already begun), so
   * joining leaves no gap. One history read of `member`'s, bounded in bytes
   * by what the join reply leaves for it.
   */
  async #catchUp(
    member: Member,
    room: Room,
    options: { since: number | undefined; ceiling: () => number },
  ): Promise<
    { history: RoomMessageEvent[]; more: boolean; gap?: { after: number; oldest: number } }
  > {
    const { since, ceiling } = options;
    // The topic and the first page of members share the reply with history.
    const maxBytes = this.#maxReplyBytes - utf8ByteLength(room.topic) - this.#memberListBytes;
    return await this.#historyReads.run(member, async () => {
      const history: RoomMessageEvent[] = [];
      let gap: { after: number; oldest: number } | undefined;
      if (since === undefined) {
        if (this.#historyOnJoin > 0 && ceiling() > 0) {
          // The latest messages up to the committed id, re-read if a commit
          // landed meanwhile; what still lands after the last read follows.
          let upTo = ceiling();
          const latest = () =>
            this.store.history(room.key, { upTo, limit: this.#historyOnJoin, maxBytes });
          let page = await latest();
          for (let retry = 0; retry < 3 && ceiling() !== upTo; retry++) {
            upTo = ceiling();
            page = await latest();
          }
          // Newest first when cutting to fit one frame: older pages are a `history` away.
          history.push(
            ...this.#fit(page.map((record) => messageEvent(record, room.name, true)), {
              oldestFirst: false,
              maxBytes,
            }),
          );
          const more = await this.#readOn(room, {
            after: upTo,
            into: history,
            limit: this.#maxReplay,
            ceiling,
            maxBytes,
          });
          return { history, more };
        }
        return { history, more: false };
      }
      if (since < ceiling()) {
        const oldest = await this.store.oldestId(room.key);
        if (oldest === undefined || oldest > since + 1) {
          gap = { after: since, oldest: oldest ?? ceiling() + 1 };
        }
      }
      const more = await this.#readOn(room, {
        after: since,
        into: history,
        limit: this.#maxReplay,
        ceiling,
        maxBytes,
      });
      return gap ? { history, more, gap } : { history, more };
    });
  }

  /**
   * Appends history after `after` up to `ceiling`; true if `limit` or
   * `maxBytes` (counting what `into` already holds) cut it short.
   */
  async #readOn(
    room: Room,
    options: {
      after: number;
      into: RoomMessageEvent[];
      limit: number;
      ceiling: () => number;
      maxBytes: number;
    },
  ): Promise<boolean> {
    const { into, ceiling, maxBytes } = options;
    let last = options.after;
    let bytes = into.reduce((sum, event) => sum + eventBytes(event), 0);
    const most = Math.min(options.limit, MAX_HISTORY_PAGE);
    while (last < ceiling()) {
      const left = most - into.length;
      if (left <= 0) return true;
      const page = await this.store.history(room.key, {
        after: last,
        upTo: ceiling(),
        limit: left,
        maxBytes: maxBytes - bytes,
      });
      if (page.length === 0) break;
      for (const record of page) {
        const event = messageEvent(record, room.name, true);
        bytes += eventBytes(event);
        // The reply must fit in one frame: the client pages for the rest.
        if (bytes > maxBytes) return true;
        into.push(event);
        last = record.id;
      }
    }
    return false;
  }

  /** Leaves room `name`; everyone in it sees the leave. */
  leave(member: Member, name: string): { room: string } {
    const room = this.#memberRoom(member, name);
    this.#removeFromRoom(member, room);
    return { room: room.name };
  }

  /**
   * Sends `message.body` to room `message.room`. Resolves with the message's
   * id and time once it is committed, which is also when it is delivered,
   * sender included. A retry (a `clientMsgId` the sender already used in the
   * room, within the window) resolves with the first message's id and time
   * and `duplicate: true`, delivering nothing; with another body or action
   * it fails with `msg_id_conflict`.
   */
  async say(
    member: Member,
    message: OutgoingMessage & { room: string },
  ): Promise<{ id: number; ts: number; duplicate?: true }> {
    const { room: name, body, action = false, clientMsgId } = message;
    const room = this.#memberRoom(member, name);
    const now = this.#now();
    const mute = this.#restriction(member, room, "mute", now);
    if (mute !== undefined) {
      throw new ChatError(
        "muted",
        `You are muted in #${room.name} until ${new Date(mute.until ?? 0).toISOString()}`,
        {
          retryAfterMs: (mute.until ?? now) - now,
        },
      );
    }
    const arrived = performance.now();
    let sent: SentMessage;
    try {
      sent = await this.#bus.sendMessage(room, {
        room: room.key,
        from: member.nick,
        body,
        ts: now,
        action,
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
      });
    } catch (error) {
      throw storageError(error);
    }
    const { record } = sent;
    if (sent.duplicate) return { id: record.id, ts: record.ts, duplicate: true };
    // Counted once stored: a refused or repeated message is not a message in.
    this.metrics.messagesIn++;
    this.metrics.delivery.observeMs(performance.now() - arrived);
    return { id: record.id, ts: record.ts };
  }

  /**
   * Sends a direct message. Online recipients get it at once (every session);
   * a registered user who is offline gets it at next login. A retry under a
   * `clientMsgId` the sender already used for this recipient is answered as
   * by {@linkcode Broker.say}.
   */
  async dm(
    member: Member,
    message: OutgoingMessage & { to: string },
  ): Promise<{ id: number; ts: number; stored?: boolean; duplicate?: true }> {
    const { to, body, action = false, clientMsgId } = message;
    const key = nameKey(to);
    const sessions = this.#users.get(key);
    let recipientName: string;
    if (sessions !== undefined && sessions.size > 0) {
      recipientName = [...sessions][0]!.nick;
    } else {
      const remote = this.#presence === null
        ? undefined
        : await this.#presence.user(key).catch((error) => {
          throw storageError(error);
        });
      if (remote !== undefined) {
        recipientName = remote.nick;
      } else {
        const account = await this.store.getAccount(key);
        if (account === undefined) {
          throw new ChatError("no_such_user", `No user ${to} is online or registered`);
        }
        recipientName = account.name;
      }
    }
    const online = this.#users.get(key);
    const fromKey = nameKey(member.nick);
    let sent: { record: DmRecord; delivered: boolean; duplicate: boolean };
    try {
      sent = await this.#bus.sendDm(
        {
          from: member.nick,
          to: recipientName,
          body,
          ts: this.#now(),
          action,
          ...(clientMsgId === undefined ? {} : { clientMsgId }),
        },
        { from: fromKey, to: key, online: online !== undefined && online.size > 0 },
      );
    } catch (error) {
      throw storageError(error);
    }
    const { record, delivered } = sent;
    if (sent.duplicate) return { id: record.id, ts: record.ts, duplicate: true };
    this.metrics.messagesIn++;
    this.#deliverDm(record, [key, fromKey]);
    return delivered
      ? { id: record.id, ts: record.ts }
      : { id: record.id, ts: record.ts, stored: true };
  }

  /** Delivers a DM to the sessions here of the users with these name keys. */
  #deliverDm(record: DmRecord, users: readonly string[]): void {
    if (record.id > this.#dmSeen) this.#dmSeen = record.id;
    const delivery = new Delivery(dmEvent(record, false));
    const audience = new Set<Member>();
    for (const user of users) {
      for (const session of this.#users.get(user) ?? []) audience.add(session);
    }
    for (const session of audience) session.deliver(delivery);
  }

  /**
   * Delivers DMs stored while the account was offline, page by page (each
   * bounded like a history page, and marked delivered once queued); between
   * pages it waits for `ready`, which resolves once the member can take
   * more (false: it is gone). Returns unread counts per peer, the first by
   * name that fit in a third of a reply (`more` when some were left out).
   */
  async deliverPending(
    member: Member,
    options: { ready?: () => Promise<boolean> } = {},
  ): Promise<{ unread: UnreadCount[]; more: boolean }> {
    const account = member.account;
    if (account === undefined) return { unread: [], more: false };
    let after = 0;
    while (true) {
      const page = await this.#readPatiently(
        member,
        () =>
          this.store.pendingDms(account, {
            after,
            limit: MAX_HISTORY_PAGE,
            maxBytes: this.#maxReplyBytes,
          }),
        options.ready,
      );
      const last = page?.[page.length - 1];
      if (page === undefined || last === undefined) break;
      for (const record of page) member.deliver(new Delivery(dmEvent(record, true)));
      await this.#persist({ kind: "delivered", user: account, upTo: last.id });
      after = last.id;
      if (options.ready !== undefined && !(await options.ready())) {
        return { unread: [], more: false };
      }
    }
    const counts = await this.store.unreadCounts(account);
    // The notice lists them twice (in its body too): a third of a reply each.
    let bytes = 0;
    let fit = 0;
    for (const { peer } of counts.slice(0, MAX_LIST_PAGE)) {
      bytes += utf8ByteLength(peer) + 16;
      if (bytes > this.#maxReplyBytes / 3) break;
      fit++;
    }
    return { unread: counts.slice(0, fit), more: fit < counts.length };
  }

  /**
   * Runs a history read of `member`'s, waiting out `server_busy` refusals
   * (as long as `ready` says the member is still there) instead of failing.
   */
  async #readPatiently<T>(
    member: Member,
    read: () => Promise<T>,
    ready: (() => Promise<boolean>) | undefined,
  ): Promise<T | undefined> {
    while (true) {
      try {
        return await this.#historyReads.run(member, read);
      } catch (error) {
        if (!(error instanceof ChatError) || error.code !== "server_busy") throw error;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? 100));
        if (ready !== undefined && !(await ready())) return undefined;
      }
    }
  }

  /** A page of room history (for members of the room), one history read of `member`'s. */
  async history(
    member: Member,
    name: string,
    query: { before?: number; after?: number; limit?: number },
  ): Promise<{ room: string; messages: RoomMessageEvent[]; more?: boolean }> {
    const room = this.#memberRoom(member, name);
    const limit = Math.min(query.limit ?? 50, MAX_HISTORY_PAGE);
    const forward = query.after !== undefined;
    // One more than asked: whether it exists says if there is more in that
    // direction. The store stops at the reply's byte budget, so a page of
    // long messages costs one frame's worth of reading, not `limit` messages.
    const page = await this.#historyReads.run(member, () =>
      this.store.history(room.key, {
        ...query,
        upTo: room.committedId,
        limit: limit + 1,
        maxBytes: this.#maxReplyBytes,
      }));
    const asked = page.length > limit ? (forward ? page.slice(0, limit) : page.slice(1)) : page;
    const messages = this.#fit(
      asked.map((record) => messageEvent(record, room.name, true)),
      { oldestFirst: forward },
    );
    return messages.length < page.length
      ? { room: room.name, messages, more: true }
      : { room: room.name, messages };
  }

  /** A page of the account's direct messages with `peer`, one history read of `member`'s. */
  async dmHistory(
    member: Member,
    peer: string,
    query: { before?: number; after?: number; limit?: number },
  ): Promise<{ with: string; messages: DirectMessageEvent[]; more?: boolean }> {
    const account = member.account;
    if (account === undefined) {
      throw new ChatError("forbidden", "DM history needs a registered account: /register PASSWORD");
    }
    const limit = Math.min(query.limit ?? 50, MAX_HISTORY_PAGE);
    const forward = query.after !== undefined;
    const page = await this.#historyReads.run(
      member,
      () =>
        this.store.dmHistory(account, nameKey(peer), {
          ...query,
          limit: limit + 1,
          maxBytes: this.#maxReplyBytes,
        }),
    );
    const asked = page.length > limit ? (forward ? page.slice(0, limit) : page.slice(1)) : page;
    const messages = this.#fit(asked.map((record) => dmEvent(record, true)), {
      oldestFirst: forward,
    });
    return messages.length < page.length
      ? { with: peer, messages, more: true }
      : { with: peer, messages };
  }

  /** Marks DMs from `peer` read up to `upTo`. */
  async markRead(
    member: Member,
    peer: string,
    upTo: number,
  ): Promise<{ with: string; upTo: number }> {
    if (member.account === undefined) {
      throw new ChatError("forbidden", "Unread counts need a registered account");
    }
    await this.#persist({ kind: "read", user: member.account, peer: nameKey(peer), upTo });
    return { with: peer, upTo };
  }

  /** Sends a notice from a server admin to everyone online. */
  async broadcast(member: Member, body: string): Promise<{ ts: number }> {
    if (!member.admin) throw new ChatError("forbidden", "Broadcasting needs server admin rights");
    const ts = this.#now();
    await this.#persist({
      kind: "audit",
      entry: {
        ts,
        actor: member.nick,
        action: "broadcast",
        room: null,
        target: null,
        detail: body,
      },
    });
    await this.#publish({
      to: { all: true },
      event: { type: "notice", from: member.nick, body, ts },
    });
    return { ts };
  }

  /** Sends a server notice (no sender) to everyone online on this instance. */
  notice(body: string): void {
    this.#fanOut(this.#allSessions(), { type: "notice", body, ts: this.#now() });
  }

  /**
   * A page of the rooms, in name-key order after `query.after`, with their
   * members online and topics: at most `query.limit` (up to
   * {@linkcode MAX_LIST_PAGE}) and one reply's worth of bytes. `total`
   * counts every room; `more` says there are rooms after the last one.
   */
  async rooms(query: ListQuery = {}): Promise<ListPage<"rooms", RoomSummary>> {
    const limit = Math.min(query.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE);
    const total = this.#rooms.size;
    const rooms = this.#rooms.page({ after: cursorKey(query.after), limit: limit + 1 })
      .map(([, room]) => room);
    const sizes = this.#presence === null
      ? rooms.map((room) => room.userCount)
      : await this.#presence.roomSizes(rooms.map((room) => room.key)).catch((error) => {
        throw storageError(error);
      });
    const summaries = rooms.map((room, index) => ({
      name: room.name,
      members: sizes[index] ?? 0,
      topic: room.topic,
    }));
    const { items, more } = fitList(summaries, {
      limit,
      maxBytes: this.#maxReplyBytes,
      size: summaryBytes,
    });
    return more ? { rooms: items, total, more: true } : { rooms: items, total };
  }

  /**
   * A page of the members online of room `name` (nicknames, each once, in
   * name-key order after `query.after`), bounded as {@linkcode rooms} is.
   */
  async who(
    name: string,
    query: ListQuery = {},
  ): Promise<{ room: string } & ListPage<"members", string>> {
    const room = this.#rooms.get(nameKey(name));
    if (room === undefined) throw new ChatError("no_such_room", `No room #${name}`);
    const limit = Math.min(query.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE);
    const after = cursorKey(query.after);
    const page = this.#presence === null
      ? { names: room.memberPage({ after, limit: limit + 1 }), total: room.userCount }
      : await this.#presence.members(room.key, { after, limit: limit + 1 }).catch((error) => {
        throw storageError(error);
      });
    const { items, more } = this.#fitNames(page.names, limit);
    return more
      ? { room: room.name, members: items, total: page.total, more: true }
      : { room: room.name, members: items, total: page.total };
  }

  /** A page of everyone online (nicknames, each once), bounded as {@linkcode rooms} is. */
  async users(query: ListQuery = {}): Promise<ListPage<"users", string>> {
    const limit = Math.min(query.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE);
    const after = cursorKey(query.after);
    const page = this.#presence === null
      ? {
        names: this.#users.page({ after, limit: limit + 1 }).map(([, sessions]) =>
          [...sessions][0]!.nick
        ),
        total: this.#users.size,
      }
      : await this.#presence.users({ after, limit: limit + 1 }).catch((error) => {
        throw storageError(error);
      });
    const { items, more } = this.#fitNames(page.names, limit);
    return more
      ? { users: items, total: page.total, more: true }
      : { users: items, total: page.total };
  }

  #fitNames(names: readonly string[], limit: number): { items: string[]; more: boolean } {
    return fitList(names, { limit, maxBytes: this.#maxReplyBytes, size: nameBytes });
  }

  /** Shows, or (operators, when `topic` is given) sets, a room's topic. */
  async topic(
    member: Member,
    name: string,
    topic?: string,
  ): Promise<{ room: string; topic: string }> {
    const room = this.#memberRoom(member, name);
    if (topic !== undefined) {
      this.#requireRank(member, room, Rank.Operator, "topic");
      await this.#changeRoom(room, () => room.topic = topic);
      await this.#audit(member, "topic", room, null, topic);
      await this.#publish({
        to: { room: room.key },
        event: { type: "topic", room: room.name, topic, by: member.nick, ts: this.#now() },
        fx: this.#shared([{ kind: "room", record: room.toRecord() }]),
      });
    }
    return { room: room.name, topic: room.topic };
  }

  /** Renames a guest; everyone sharing a room with it (and itself) sees the change. */
  rename(member: Member, nick: string): { nick: string } | Promise<{ nick: string }> {
    if (member.account !== undefined) {
      throw new ChatError(
        "forbidden",
        "A registered account keeps its name; log in as another account instead",
      );
    }
    const newKey = nameKey(nick);
    const holders = this.#users.get(newKey);
    if (holders !== undefined && holders.size > 0 && !(holders.size === 1 && holders.has(member))) {
      throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
    }
    this.#refuseLookalike(nick, newKey);
    if (this.#presence === null) {
      const event = this.#renameHere(member, nick);
      const audience = new Set<Member>([member]);
      for (const room of member.rooms) for (const other of room.members) audience.add(other);
      this.#fanOut(audience, event);
      return { nick };
    }
    return this.#presence.rename(member, nick).then(async () => {
      const event = this.#renameHere(member, nick);
      const rooms = [...member.rooms].map((room) => room.key);
      await this.#publish({ to: { rooms, users: [nameKey(nick)] }, event });
      return { nick };
    }, (error) => {
      throw storageError(error);
    });
  }

  #renameHere(member: Member, nick: string): ChatEvent {
    const from = member.nick;
    const oldKey = nameKey(from);
    const sessions = this.#users.get(oldKey);
    if (sessions?.delete(member) && sessions.size === 0) this.#users.delete(oldKey);
    this.#forgetLook(from, oldKey);
    this.#users.set(nameKey(nick), new Set([member]));
    this.#looks.set(lookalikeKey(nick), nameKey(nick));
    member.nick = nick;
    for (const room of member.rooms) room.renameMember(from, nick);
    return { type: "nick", from, to: nick, ts: this.#now() };
  }

  /** Applies a moderation request; refusals name the missing right. */
  async moderate(
    member: Member,
    type: ModerationType,
    name: string,
    target: string,
    options: { reason?: string; durationMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    const room = this.#memberRoomOrAdmin(member, name);
    const now = this.#now();
    const actorRank = this.#requireRank(member, room, Rank.Operator, type);
    const found = await this.#target(target);
    const targetKey = found.key;
    const targetRank = room.rankOf(found.rights ?? found.key, found.admin, now);
    const lifting = type === "invite" || type === "uninvite" || type === "unban" ||
      type === "unmute";
    if (!lifting && targetRank >= actorRank) {
      throw new ChatError(
        "forbidden",
        `${REFUSAL[type]} ${target} needs a higher rank than theirs (${
          RANK_NAMES[targetRank]
        }) in #${room.name}`,
      );
    }
    const reason = options.reason ?? "";
    // Rights go to the account, or to the guest online (never to a nickname,
    // which the next guest could take); restrictions hold for the nickname
    // and, for a guest online, also for the guest whatever its next nickname.
    const keysOf = (kind: GrantKind): string[] => {
      if (kind === "op" || kind === "invite") {
        if (found.rights !== undefined) return [found.rights];
        throw new ChatError(
          "no_such_user",
          `${target} is not online and has no account: rights go to accounts and to guests online`,
        );
      }
      return found.guest === undefined ? [targetKey] : [targetKey, found.guest];
    };
    let notice: string;
    const fx: Effect[] = [];
    // A change is in force at once (so a concurrent request sees it) and is
    // taken back when it cannot be saved: a refused save leaves nothing live.
    const give = async (kind: GrantKind, until: number | null): Promise<void> => {
      const records = keysOf(kind).map((user): GrantRecord => ({
        room: room.key,
        user,
        kind,
        until,
        by: member.nick,
        reason,
      }));
      const before = records.map((record) => room.recordedGrant(record.user, kind));
      for (const record of records) room.setGrant(record);
      try {
        await Promise.all(records.map((record) => this.#persist({ kind: "grant", grant: record })));
      } catch (error) {
        records.forEach((record, index) => {
          const previous = before[index];
          if (previous === undefined) room.removeGrant(record.user, kind);
          else room.setGrant(previous);
        });
        throw error;
      }
      for (const record of records) {
        if (isGuestKey(record.user)) this.#guestHolders.add(record.user);
        fx.push({ kind: "grant", grant: record });
      }
    };
    const lift = async (kind: GrantKind, missing: string): Promise<void> => {
      const keys = kind === "op" || kind === "invite"
        ? [found.rights ?? targetKey]
        : [targetKey, ...(found.guest === undefined ? [] : [found.guest])];
      const held = keys.flatMap((user) => {
        const before = room.recordedGrant(user, kind);
        return before === undefined ? [] : [before];
      });
      if (held.length === 0) throw new ChatError("bad_request", missing);
      const writes = held.map((before) =>
        ({ kind: "ungrant", room: room.key, user: before.user, grant: kind }) as const
      );
      for (const before of held) room.removeGrant(before.user, kind);
      try {
        await Promise.all(writes.map((write) => this.#persist(write)));
      } catch (error) {
        for (const before of held) room.setGrant(before);
        throw error;
      }
      fx.push(...writes);
    };
    switch (type) {
      case "op":
        await give("op", null);
        notice = `${member.nick} made ${target} an operator`;
        break;
      case "deop":
        await lift("op", `${target} is not an operator in #${room.name}`);
        notice = `${member.nick} took operator rights from ${target}`;
        break;
      case "kick":
        if (!(await this.#inRoom(room, targetKey, target))) {
          throw new ChatError("not_in_room", `${target} is not in #${room.name}`);
        }
        notice = `${member.nick} kicked ${target}${reason ? `: ${reason}` : ""}`;
        break;
      case "ban": {
        const until = options.durationMs === undefined ? null : now + options.durationMs;
        await give("ban", until);
        notice = `${member.nick} banned ${target}${reason ? `: ${reason}` : ""}`;
        break;
      }
      case "unban":
        await lift("ban", `${target} is not banned from #${room.name}`);
        notice = `${member.nick} lifted the ban on ${target}`;
        break;
      case "mute": {
        const until = now + (options.durationMs ?? this.#defaultMuteMs);
        await give("mute", until);
        notice = `${member.nick} muted ${target} until ${new Date(until).toISOString()}`;
        break;
      }
      case "unmute":
        await lift("mute", `${target} is not muted in #${room.name}`);
        notice = `${member.nick} lifted the mute on ${target}`;
        break;
      case "invite":
        await give("invite", null);
        notice = `${member.nick} invited ${target}`;
        await this.#publish({
          to: { users: [targetKey] },
          event: {
            type: "notice",
            body: `${member.nick} invited you to #${room.name}`,
            room: room.name,
            ts: now,
          },
        });
        break;
      case "uninvite":
        await lift("invite", `${target} has no invitation to #${room.name}`);
        notice = `${member.nick} withdrew the invitation of ${target}`;
        break;
    }
    await this.#audit(
      member,
      type,
      room,
      target,
      reason || (options.durationMs ? `${options.durationMs} ms` : ""),
    );
    if (type === "kick" || type === "ban") {
      const why = `${type === "kick" ? "kicked" : "banned"} by ${member.nick}${
        reason ? `: ${reason}` : ""
      }`;
      fx.push({ kind: "evict", room: room.key, user: targetKey, reason: why });
    } else if (this.#presence === null) {
      // Grants are already in place here; only instances elsewhere need them.
      fx.length = 0;
    }
    await this.#publish({
      to: { room: room.key },
      event: { type: "notice", body: notice, room: room.name, ts: now },
      fx,
    });
    return { room: room.name, nick: target };
  }

  /** Changes a room's invite-only flag and/or key (operators). */
  async mode(
    member: Member,
    name: string,
    change: { inviteOnly?: boolean; key?: string | null },
  ): Promise<{ room: string; inviteOnly: boolean; hasKey: boolean }> {
    const room = this.#memberRoomOrAdmin(member, name);
    this.#requireRank(member, room, Rank.Operator, "mode");
    const parts: string[] = [];
    if (change.inviteOnly !== undefined) {
      parts.push(change.inviteOnly ? "made the room invite-only" : "opened the room to all");
    }
    if (change.key !== undefined) {
      parts.push(change.key === null ? "removed the room key" : "set a room key");
    }
    await this.#changeRoom(room, () => {
      if (change.inviteOnly !== undefined) room.inviteOnly = change.inviteOnly;
      if (change.key !== undefined) room.passphrase = change.key;
    });
    await this.#audit(member, "mode", room, null, parts.join(", "));
    await this.#publish({
      to: { room: room.key },
      event: {
        type: "notice",
        body: `${member.nick} ${parts.join(" and ")}`,
        room: room.name,
        ts: this.#now(),
      },
      fx: this.#shared([{ kind: "room", record: room.toRecord() }]),
    });
    return { room: room.name, inviteOnly: room.inviteOnly, hasKey: room.passphrase !== null };
  }

  /**
   * The longest run of `events` that fits in `maxBytes` (one reply by
   * default): the oldest when paging forward, else the newest.
   */
  #fit<T extends ChatEvent>(
    events: T[],
    options: { oldestFirst: boolean; maxBytes?: number },
  ): T[] {
    const maxBytes = options.maxBytes ?? this.#maxReplyBytes;
    let bytes = 0;
    const order = options.oldestFirst ? events : [...events].reverse();
    let count = 0;
    for (const event of order) {
      bytes += eventBytes(event);
      if (bytes > maxBytes) break;
      count++;
    }
    return options.oldestFirst ? events.slice(0, count) : events.slice(events.length - count);
  }

  /** Server admins named in configuration (name keys), besides accounts flagged admin. */
  adminKeys: Set<string> = new Set();

  /**
   * The key rights are recorded under for `nick` (the account's when one
   * is logged in), and whether a logged-in session of it is a server admin
   * (a guest with an admin's name is not).
   */
  async #target(nick: string): Promise<ModerationTarget> {
    const sessions = this.#users.get(nameKey(nick));
    const online = sessions === undefined ? undefined : [...sessions][0];
    if (online !== undefined) {
      let admin = false;
      for (const session of sessions ?? []) if (session.admin) admin = true;
      const target: ModerationTarget = { key: userKey(online), rights: rightsKey(online), admin };
      if (online.account === undefined) target.guest = rightsKey(online);
      return target;
    }
    const remote = this.#presence === null
      ? undefined
      : await this.#presence.user(nameKey(nick)).catch((error) => {
        throw storageError(error);
      });
    if (remote !== undefined) {
      if (remote.account !== undefined) {
        return { key: remote.account, rights: remote.account, admin: remote.admin };
      }
      const guest = guestKeyOf(remote.guestId);
      return { key: nameKey(nick), rights: guest, guest, admin: false };
    }
    // Offline: an account keeps its rights and restrictions; a nickname
    // nobody registered can only be restricted.
    const account = await this.store.getAccount(nameKey(nick)).catch((error) => {
      throw storageError(error);
    });
    const target: ModerationTarget = { key: nameKey(nick), admin: false };
    if (account !== undefined) target.rights = account.key;
    return target;
  }

  /** Whether some session of the user is in the room, on any instance. */
  async #inRoom(room: Room, key: string, nick: string): Promise<boolean> {
    if (room.hasUser(key) || room.hasUser(nameKey(nick))) return true;
    if (this.#presence === null) return false;
    return await this.#presence.inRoom(room.key, nameKey(nick)).catch((error) => {
      throw storageError(error);
    });
  }

  /** A ban or mute in force on `member`: on its nickname or account, or on the guest. */
  #restriction(
    member: Member,
    room: Room,
    kind: "ban" | "mute",
    now: number,
  ): GrantRecord | undefined {
    const own = room.grant(userKey(member), kind, now);
    if (own !== undefined || member.account !== undefined) return own;
    return room.grant(rightsKey(member), kind, now);
  }

  #requireRank(member: Member, room: Room, needed: Rank, what: string): Rank {
    const rank = room.rankOf(rightsKey(member), member.admin, this.#now());
    if (rank < needed) {
      throw new ChatError(
        "forbidden",
        `${REFUSAL[what] ?? what} needs ${RANK_NAMES[needed]} rights in #${room.name}; you are a ${
          RANK_NAMES[rank]
        }`,
      );
    }
    return rank;
  }

  async #audit(
    member: Member,
    action: string,
    room: Room,
    target: string | null,
    detail: string,
  ): Promise<void> {
    await this.#persist({
      kind: "audit",
      entry: { ts: this.#now(), actor: member.nick, action, room: room.name, target, detail },
    });
  }

  /**
   * Applies `change` to a room's settings at once (so requests behind it see
   * it) and saves them; when the save fails the settings are put back.
   */
  async #changeRoom(room: Room, change: () => void): Promise<void> {
    const before = room.toRecord();
    change();
    try {
      await this.#persist({ kind: "room", record: room.toRecord() });
    } catch (error) {
      room.owner = before.owner;
      room.topic = before.topic;
      room.inviteOnly = before.inviteOnly;
      room.passphrase = before.passphrase;
      throw error;
    }
  }

  async #persist(write: Write): Promise<void> {
    try {
      await this.#writes.add(write);
    } catch (error) {
      throw storageError(error);
    }
  }

  async #commit(batch: Write[]): Promise<void> {
    const started = performance.now();
    try {
      await this.store.write(batch);
    } finally {
      this.metrics.storeCommit.observeMs(performance.now() - started);
    }
  }

  #memberRoom(member: Member, name: string): Room {
    const room = this.#rooms.get(nameKey(name));
    if (room === undefined || !room.members.has(member)) {
      throw new ChatError("not_in_room", `You are not in #${name}: /join ${name} first`);
    }
    return room;
  }

  #memberRoomOrAdmin(member: Member, name: string): Room {
    const room = this.#rooms.get(nameKey(name));
    if (room !== undefined && (member.admin || room.members.has(member))) return room;
    if (room === undefined) throw new ChatError("no_such_room", `No room #${name}`);
    throw new ChatError("not_in_room", `You are not in #${name}: /join ${name} first`);
  }

  #removeFromRoom(member: Member, room: Room, reason?: string): void {
    if (this.#presence !== null) return this.#removeShared(this.#presence, member, room, reason);
    const lastSession = room.hasUser(nameKey(member.nick)) &&
      [...room.members].filter((other) => nameKey(other.nick) === nameKey(member.nick)).length ===
        1;
    if (lastSession) {
      this.#fanOut(room.members, this.#leaveEvent(member, room, reason));
    } else if (room.members.has(member)) {
      // Other sessions of this user stay: only this session hears that it left.
      member.deliver(new Delivery(this.#leaveEvent(member, room, reason)));
    }
    room.removeMember(member);
    member.rooms.delete(room);
    // Kept once empty; a room no account owns goes after the guest room TTL.
    if (room.members.size === 0) room.emptySince = this.#now();
  }

  /** The event saying `member` left `room`, with why when there is a reason. */
  #leaveEvent(member: Member, room: Room, reason: string | undefined): ChatEvent {
    const event: ChatEvent = { type: "leave", room: room.name, nick: member.nick, ts: this.#now() };
    if (reason !== undefined) event.reason = reason;
    return event;
  }

  /**
   * Over several instances the room's count decides whether the room sees
   * the leave; the session itself always hears it, here and at once.
   */
  #removeShared(presence: Presence, member: Member, room: Room, reason?: string): void {
    if (!room.members.has(member)) return;
    const event = this.#leaveEvent(member, room, reason);
    member.deliver(new Delivery(event));
    room.removeMember(member);
    member.rooms.delete(room);
    presence.exit(room, member, event);
    this.#bus.unwatch(room);
  }

  /** Sends an envelope through the bus; resolves once it is applied here. */
  async #publish(envelope: Envelope): Promise<void> {
    try {
      const applied = this.#bus.publish(envelope);
      if (applied !== undefined) await applied;
    } catch (error) {
      throw storageError(error);
    }
  }

  /** Effects other instances need; none when there are none. */
  #shared(fx: Effect[]): Effect[] | undefined {
    return this.#presence === null ? undefined : fx;
  }

  /** Applies an envelope from any instance: room changes, then delivery, then evictions. */
  #receive(envelope: Envelope): void {
    const evictions: Array<Extract<Effect, { kind: "evict" }>> = [];
    for (const effect of envelope.fx ?? []) {
      switch (effect.kind) {
        case "created":
          if (!this.#rooms.has(effect.record.key)) this.#addRoom(effect.record);
          break;
        case "deleted": {
          const room = this.#rooms.get(effect.room);
          if (room !== undefined && room.members.size === 0 && !this.#joining.has(effect.room)) {
            this.#dropRoom(room);
          }
          break;
        }
        case "room": {
          const room = this.#rooms.get(effect.record.key);
          if (room === undefined) this.#addRoom(effect.record);
          else room.update(effect.record);
          const owner = effect.record.owner;
          if (owner !== null && isGuestKey(owner)) this.#guestHolders.add(owner);
          break;
        }
        case "grant":
          this.#rooms.get(effect.grant.room)?.setGrant(effect.grant);
          if (isGuestKey(effect.grant.user)) this.#guestHolders.add(effect.grant.user);
          break;
        case "ungrant":
          this.#rooms.get(effect.room)?.removeGrant(effect.user, effect.grant);
          break;
        case "evict":
          evictions.push(effect);
          break;
        case "displace":
          for (const session of this.#users.get(effect.user) ?? []) {
            if (session.resumeHash?.() === effect.resume) session.displace?.();
          }
          break;
      }
    }
    const event = envelope.event;
    if (event !== undefined && envelope.to !== undefined) this.#deliverTo(envelope.to, event);
    for (const { room: key, user, reason } of evictions) {
      const room = this.#rooms.get(key);
      if (room === undefined) continue;
      for (const session of [...room.members]) {
        if (nameKey(session.nick) === user || session.account === user) {
          this.#removeFromRoom(session, room, reason);
        }
      }
    }
  }

  #deliverTo(to: Audience, event: ChatEvent): void {
    if (to.all) return this.#fanOut(this.#allSessions(), event);
    if (to.room !== undefined && to.rooms === undefined && to.users === undefined) {
      const room = this.#rooms.get(to.room);
      if (room !== undefined) this.#fanOut(room.members, event);
      return;
    }
    const audience = new Set<Member>();
    for (const key of [...(to.room === undefined ? [] : [to.room]), ...(to.rooms ?? [])]) {
      for (const member of this.#rooms.get(key)?.members ?? []) audience.add(member);
    }
    for (const user of to.users ?? []) {
      for (const session of this.#users.get(user) ?? []) audience.add(session);
    }
    this.#fanOut(audience, event);
  }

  /** Replaces room settings and grants with `rooms` and `grants`, keeping members here. */
  #reload(rooms: RoomRecord[], grants: GrantRecord[]): void {
    const seen = new Set<string>();
    for (const record of rooms) {
      seen.add(record.key);
      const room = this.#rooms.get(record.key);
      if (room === undefined) this.#addRoom(record);
      else {
        room.update(record);
        room.clearGrants();
      }
    }
    for (const [key, room] of this.#rooms) {
      if (!seen.has(key) && room.members.size === 0) this.#dropRoom(room);
    }
    for (const grant of grants) {
      this.#rooms.get(grant.room)?.setGrant(grant);
      if (isGuestKey(grant.user)) this.#guestHolders.add(grant.user);
    }
    for (const record of rooms) {
      if (record.owner !== null && isGuestKey(record.owner)) this.#guestHolders.add(record.owner);
    }
  }

  /** What the bus may call on this broker. */
  #node(): BusNode {
    return {
      room: (key) => this.#rooms.get(key),
      deliverMessage: (room, record) => {
        room.committedId = record.id;
        if (record.id > room.lastId) room.lastId = record.id;
        this.#fanOut(room.members, messageEvent(record, room.name, false));
      },
      receive: (envelope) => this.#receive(envelope),
      deliverDm: (record, users) => this.#deliverDm(record, users),
      commit: (write) => this.#writes.add(write),
      commits: this.storeHealth,
      notice: (body) => this.notice(body),
      snapshot: () => this.#snapshot(),
      reload: (rooms, grants) => this.#reload(rooms, grants),
    };
  }

  #snapshot(): PresenceSnapshot {
    const snapshot: PresenceSnapshot = { users: [], rooms: [], seqs: [], lastDmId: this.#dmSeen };
    for (const [key, sessions] of this.#users) {
      const first = [...sessions][0];
      if (first === undefined) continue;
      const admin = [...sessions].some((session) => session.admin) ? 1 : 0;
      snapshot.users.push([
        key,
        first.nick,
        first.account ?? "",
        admin,
        sessions.size,
        first.account === undefined ? first.guestId : "",
        first.resumeHash?.() ?? "",
        lookalikeKey(first.nick),
      ]);
    }
    for (const room of this.#rooms.values()) {
      if (room.committedId > 0) snapshot.seqs.push([room.key, room.committedId]);
      const counts = new Map<string, { nick: string; sessions: number }>();
      for (const member of room.members) {
        const key = nameKey(member.nick);
        const count = counts.get(key);
        if (count === undefined) counts.set(key, { nick: member.nick, sessions: 1 });
        else count.sessions++;
      }
      for (const [user, { nick, sessions }] of counts) {
        snapshot.rooms.push([room.key, user, nick, sessions]);
      }
    }
    return snapshot;
  }

  *#allSessions(): Iterable<Member> {
    for (const sessions of this.#users.values()) yield* sessions;
  }

  #fanOut(members: Iterable<Member>, event: ChatEvent): void {
    // One encoding, shared by every recipient's queue.
    const delivery = new Delivery(event);
    let count = 0;
    for (const member of members) {
      member.deliver(delivery);
      count++;
    }
    this.metrics.deliveries += count;
  }
}
