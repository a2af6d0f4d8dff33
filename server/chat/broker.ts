/**
 * The broker: membership and fan-out. It knows who is online and which
 * rooms exist and who is in them, and delivers every event to the sessions
 * concerned. Delivering is queuing bytes, so one slow client never stalls a
 * room. State changes are made in memory at once and persisted through one
 * group-commit queue; a message is delivered and acknowledged only once it
 * is committed.
 *
 * The rest of the chat is in parts beside it: {@linkcode HistoryReader}
 * (catch-up and history pages), {@linkcode DirectMessages},
 * {@linkcode Moderation} (ranks, refusals, topics, modes, audit) and
 * {@linkcode GuestRights}. Ids, commits and events that concern other
 * sessions go through a {@linkcode Bus}; who is online anywhere is a
 * {@linkcode Presence}: this instance's own maps when it is alone
 * ({@linkcode LocalPresence}), Redis when several instances share the chat.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { utf8ByteLength } from "../../shared/bytes.ts";
import { ChatError } from "../../shared/errors.ts";
import { type ChatEvent, MAX_LIST_PAGE, type ResultOf } from "../../shared/protocol.ts";
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
import { LocalPresence } from "../cluster/local_presence.ts";
import type { ChatContext } from "./chat_context.ts";
import { Delivery } from "./delivery.ts";
import { DirectMessages, type OutgoingMessage } from "./direct_messages.ts";
import { GroupCommit } from "../store/group_commit.ts";
import { GuestRights } from "./guest_rights.ts";
import { type CatchUp, type HistoryQuery, HistoryReader } from "./history.ts";
import { HistoryLimiter, type HistoryLimiterOptions } from "../limits/history_limiter.ts";
import { changeEvent, messageEvent } from "./message_events.ts";
import { MessageChanges } from "./message_changes.ts";
import { Moderation } from "./moderation.ts";
import { OnlineUsers } from "./online_users.ts";
import { awayBytes, fitList, nameBytes } from "./reply_fit.ts";
import { type Member, rightsKey, type Room } from "./room.ts";
import { type AwayLimits, type AwayMessages, AwayStatus } from "./away_status.ts";
import { TypingRelay } from "./typing_relay.ts";
import { RoomIndex } from "./room_index.ts";
import { RoomEventTap } from "./room_events.ts";
import {
  MessageSearch,
  type MessageSearchOptions,
  type SearchRequest,
} from "../search/message_search.ts";
import { ServerMetrics } from "../server_metrics.ts";
import { orStorageError, storageError } from "./storage_error.ts";
import { StoreHealth } from "../store/store_health.ts";
import type { AddressQuota } from "../limits/address_quota.ts";
import {
  DEFAULT_MSG_ID_WINDOW_MS,
  DEFAULT_MSG_IDS_PER_USER,
  type GrantRecord,
  type MsgIdWindow,
  type RoomRecord,
  type Store,
  type StoreWrite,
} from "../store/store.ts";

export { type Member, Room } from "./room.ts";
export type { OutgoingMessage } from "./direct_messages.ts";

const logger = getLogger(["chat", "broker"]);

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
  /** Most distinct emoji one message may carry as reactions (section 21). */
  maxReactionsPerMessage?: number;
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
  /** Search: limits on the text, searches at once and waiting, the Redis scan depth. */
  search?: Omit<MessageSearchOptions, "store" | "maxReplyBytes">;
  /**
   * When sessions' output is written: commits are made just before the
   * flush that will write their messages. A scheduler without coalescing by default.
   */
  flushScheduler?: FlushScheduler;
  /** Where to count messages, deliveries and commit times. */
  metrics?: ServerMetrics;
  /** Carries ids, commits and events between instances; a {@linkcode LocalBus} by default. */
  bus?: Bus;
  /** Who is online on other instances too; this instance's own maps by default. */
  presence?: Presence;
  /** Away and typing limits (section 22). */
  presenceLimits?: AwayLimits & { typingIntervalMs?: number };
  now?: () => number;
}

/**
 * What the join reply carries (docs/protocol.md, section 8): `lastId` is the
 * last message in the room when joined; `more`, missed messages beyond those
 * replayed; `membersMore`, members beyond `members`; `gap`, messages after
 * `since` no longer stored.
 */
export type JoinResult = ResultOf<"join">;

/** The name key a list's cursor stands for; undefined from the start. */
function cursorKey(after: string | undefined): string | undefined {
  return after === undefined ? undefined : nameKey(after.replace(/^#/, ""));
}

/**
 * Rooms, users and their events over a {@linkcode Store}.
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
  /** Whether other instances share this chat (through a Redis {@linkcode Presence}). */
  readonly shared: boolean;
  /** Direct messages: sending, delivering those kept offline, read markers. */
  readonly directMessages: DirectMessages;
  /** Ranks, refusals, bans, mutes, kicks, invitations, topics, modes. */
  readonly moderation: Moderation;
  /** Rights recorded under guests, which end with them or move to their account. */
  readonly guestRights: GuestRights;
  /** Room events this instance originates, for observers such as webhooks (room_events.ts). */
  readonly roomEvents: RoomEventTap = new RoomEventTap();
  /** Away state (section 22). */
  readonly away: AwayStatus;
  /** Typing indicators (section 22). */
  readonly typing: TypingRelay;
  readonly #awayMessages: AwayMessages = new Map();
  /** Edits, deletions and reactions of room messages (section 21). */
  readonly messageChanges: MessageChanges;
  readonly #users = new OnlineUsers();
  readonly #rooms = new RoomIndex();
  readonly #bus: Bus;
  readonly #presence: Presence;
  readonly #history: HistoryReader;
  readonly #search: MessageSearch;
  readonly #chat: ChatContext;
  readonly #now: () => number;
  readonly #maxRooms: number;
  readonly #maxRoomsPerUser: number;
  readonly #maxRoomsPerAccount: number;
  readonly #guestRoomTtlMs: number;
  readonly #roomCreations: AddressQuota | undefined;
  readonly #maxReplyBytes: number;
  // The part of a join reply its first page of members may take.
  readonly #memberListBytes: number;
  readonly #writes: GroupCommit<StoreWrite>;
  // Rooms being created, by name key: other joins of them wait (see #roomToJoin).
  readonly #creating = new Map<string, Promise<{ room: Room; created: boolean }>>();

  private constructor(store: Store, options: BrokerOptions & { lastDmId: number }) {
    this.store = store;
    this.metrics = options.metrics ?? new ServerMetrics();
    this.#now = options.now ?? Date.now;
    this.#maxRooms = options.maxRooms ?? 10_000;
    this.#maxRoomsPerUser = options.maxRoomsPerUser ?? 20;
    this.#maxRoomsPerAccount = options.maxRoomsPerAccount ?? 15;
    this.#guestRoomTtlMs = options.guestRoomTtlMs ?? 60 * 60_000;
    this.#roomCreations = options.roomCreations;
    this.#maxReplyBytes = options.maxReplyBytes ?? 60 * 1024;
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
    const persist = (write: StoreWrite) => this.#persist(write);
    const fanOut = (members: Iterable<Member>, event: ChatEvent) => this.#fanOut(members, event);
    this.shared = options.presence !== undefined;
    this.#presence = options.presence ?? new LocalPresence({
      users: this.#users,
      rooms: this.#rooms,
      away: this.#awayMessages,
      persist,
      fanOut,
      now: this.#now,
    });
    this.#chat = {
      store,
      metrics: this.metrics,
      users: this.#users,
      rooms: this.#rooms,
      presence: this.#presence,
      bus: this.#bus,
      awayMessages: this.#awayMessages,
      now: this.#now,
      persist,
      publish: (envelope) => this.#publish(envelope),
      fanOut,
      originated: (event) => this.roomEvents.tell(event),
    };
    this.#history = new HistoryReader({
      store,
      reads: new HistoryLimiter(options.historyReads),
      onJoin: options.historyOnJoin ?? 50,
      maxReplay: options.maxReplay ?? 500,
      maxReplyBytes: this.#maxReplyBytes,
      memberListBytes: this.#memberListBytes,
    });
    this.#search = new MessageSearch({
      ...options.search,
      store,
      maxReplyBytes: this.#maxReplyBytes,
    });
    this.guestRights = new GuestRights(this.#chat);
    this.moderation = new Moderation(this.#chat, {
      guestRights: this.guestRights,
      defaultMuteMs: options.defaultMuteMs ?? 10 * 60_000,
    });
    this.away = new AwayStatus(this.#chat, {
      ...options.presenceLimits,
      messages: this.#awayMessages,
    });
    this.typing = new TypingRelay(this.#chat, {
      moderation: this.moderation,
      ...(options.presenceLimits?.typingIntervalMs === undefined
        ? {}
        : { intervalMs: options.presenceLimits.typingIntervalMs }),
    });
    this.messageChanges = new MessageChanges(this.#chat, {
      moderation: this.moderation,
      maxReactionsPerMessage: options.maxReactionsPerMessage ?? 20,
    });
    this.directMessages = new DirectMessages(this.#chat, {
      history: this.#history,
      maxReplyBytes: this.#maxReplyBytes,
      lastId: options.lastDmId,
    });
  }

  /** Loads rooms, grants and counters from `store`, then starts the bus. */
  static async open(store: Store, options: BrokerOptions = {}): Promise<Broker> {
    const lastDmId = await store.lastDmId();
    const broker = new Broker(store, {
      ...options,
      lastDmId,
      bus: options.bus ?? new LocalBus({
        lastDmId,
        store,
        msgIdWindow: options.msgIdWindow ??
          { ms: DEFAULT_MSG_ID_WINDOW_MS, perUser: DEFAULT_MSG_IDS_PER_USER },
      }),
    });
    broker.#reload(await store.loadRooms(), await store.loadGrants());
    await broker.#bus.start(broker.#node());
    // Alone, no guest is online at start: rights left under guests' keys
    // (a crash, a failed save) end now. With other instances they may be live.
    if (!broker.shared) {
      for (const key of broker.guestRights.holders()) await broker.guestRights.lapse(key);
    }
    return broker;
  }

  /**
   * Deletes the rooms no account owns that have been empty for the guest
   * room TTL (everywhere), with their history and grants; resolves to how many went.
   */
  async expireRooms(): Promise<number> {
    return await orStorageError(this.#presence.expireRooms(this.#guestRoomTtlMs));
  }

  /** Flushes writes and stops the bus; call after every session is gone. */
  async close(): Promise<void> {
    await this.#writes.flushed();
    await this.#bus.flushed();
    await this.#bus.close();
    this.storeHealth[Symbol.dispose]();
  }

  /** Users online on this instance. */
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
  async claim(
    member: Member,
    nick: string,
    options: { multipleSessions?: boolean; resume?: string } = {},
  ): Promise<void> {
    const key = nameKey(nick);
    if (options.resume !== undefined) {
      const ghost = [...this.#users.sessions(key)].find((other) =>
        other.account === member.account && other.resumeHash?.() === options.resume
      );
      if (ghost?.displace !== undefined) {
        member.guestId = ghost.guestId;
        // Leaves the broker at once, keeping the guest's rights for `member`.
        ghost.displace();
      }
    }
    const sessions = this.#users.sessions(key);
    if (sessions.size > 0) {
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
    this.#users.refuseLookalike(nick);
    // Other instances may have the name: the claim decides.
    await this.#presence.claim(member, nick, {
      multipleSessions: options.multipleSessions ?? false,
      ...(options.resume === undefined ? {} : { resume: options.resume }),
    });
    // An account's first session here: its sessions elsewhere may be away (section 22).
    const away = this.shared && member.account !== undefined && this.#users.sessions(key).size === 0
      ? (await this.#presence.user(key).catch(() => undefined))?.away
      : undefined;
    this.#users.add(member, nick);
    if (away !== undefined && this.#users.sessions(key).size === 1) {
      this.#awayMessages.set(key, away);
    }
  }

  /**
   * Makes what the guest `member` held its new account's, once it has
   * registered (`member.account` set): its claim of the nickname, so the
   * account's sessions on other instances share it, then the rights it
   * held under its guest key.
   */
  async adopt(member: Member, guestKey: string): Promise<void> {
    await this.#presence.registered(member);
    await this.guestRights.adopt(member, guestKey);
  }

  /** Whether anyone online on this instance uses this nickname. */
  isOnline(nick: string): boolean {
    return this.#users.isOnline(nick);
  }

  /**
   * Removes `member` from every room (telling the rooms) and frees its
   * nickname. A guest's rights end with it, unless `keepRights` (a new
   * connection of the same guest takes over).
   */
  release(member: Member, reason?: string, options: { keepRights?: boolean } = {}): void {
    for (const room of [...member.rooms]) this.#removeFromRoom(member, room, reason);
    if (!this.#users.remove(member)) return;
    const key = nameKey(member.nick);
    if (this.#users.sessions(key).size === 0) {
      this.away.forget(key);
      this.typing.forget(key);
    }
    if (member.account !== undefined || options.keepRights) {
      this.#presence.release(member);
      return;
    }
    // Others see the guest gone only once its rights have ended: whoever
    // then joins a room it owned, empty, must find it nobody's.
    this.guestRights.lapse(rightsKey(member)).catch((error) => {
      logger.warn("Could not save that {nick}'s guest rights ended: {error}", {
        nick: member.nick,
        error,
      });
    }).finally(() => this.#presence.release(member));
  }

  /**
   * Joins (creating if needed) room `name`. The reply carries recent
   * history, or with `since` everything after it (or says plainly what is
   * lost); every message after the reply's `lastId` arrives live. The
   * member is in the room before history is read, so from the id noted
   * then on every message arrives live and history supplies the rest: no
   * gap, no duplicate.
   */
  async join(
    member: Member,
    name: string,
    options: { since?: number; passphrase?: string } = {},
  ): Promise<JoinResult> {
    // An empty room is not deleted while a join of it is under way.
    return await this.#rooms.joining(nameKey(name), () => this.#join(member, name, options));
  }

  async #join(
    member: Member,
    name: string,
    options: { since?: number; passphrase?: string },
  ): Promise<JoinResult> {
    const now = this.#now();
    const { room, created } = await this.#roomToJoin(member, name, now);
    if (created) this.guestRights.noteMember(member);
    else if (!room.members.has(member)) {
      this.moderation.checkEntry(member, room, options.passphrase, now);
      this.#checkRoomCount(member, room.name);
    }
    const joined = room;
    if (joined.members.has(member)) {
      const upTo = joined.committedId;
      const caught = await this.#history.catchUp(member, joined, { since: options.since, upTo });
      const members = await orStorageError(
        this.#presence.members(joined.key, { limit: MAX_LIST_PAGE + 1 }),
      );
      return this.#joinResult(joined, { members, lastId: upTo, caught });
    }
    // An empty room nobody owns goes to whoever comes first (the presence decides who).
    const claimAs = joined.owner === null && this.#mayOwnMore(member) ? rightsKey(member) : "";
    const watching = this.#bus.watch(joined);
    if (watching !== undefined) {
      try {
        await watching;
      } catch (error) {
        this.#bus.unwatch(joined);
        throw storageError(error);
      }
    }
    // Synchronous from the watch being in sync to here.
    joined.addMember(member);
    member.rooms.add(joined);
    const upTo = joined.committedId;
    try {
      const event: ChatEvent = {
        type: "join",
        room: joined.name,
        nick: member.nick,
        ts: this.#now(),
      };
      const entered = await this.#presence.enter(
        joined,
        member,
        event,
        claimAs === "" ? {} : { claimAs },
      );
      // Another session of the user was there: the room saw nothing, the session hears its join.
      if (!entered.first) member.deliver(new Delivery(event));
      else {this.roomEvents.tell({
          type: "join",
          room: joined.name,
          nick: member.nick,
          ts: event.ts,
        });}
      if (entered.claimed) this.guestRights.noteMember(member);
      const caught = await this.#history.catchUp(member, joined, { since: options.since, upTo });
      return this.#joinResult(joined, { members: entered, lastId: upTo, caught });
    } catch (error) {
      if (member.rooms.has(joined)) this.#removeFromRoom(member, joined, "join failed");
      throw storageError(error);
    }
  }

  /**
   * The room `name`, created for `member` when it does not exist. Joins of
   * a room being created wait for that creation instead of making it again:
   * only one of them creates it and takes from an allowance of new rooms.
   */
  async #roomToJoin(
    member: Member,
    name: string,
    now: number,
  ): Promise<{ room: Room; created: boolean }> {
    const key = nameKey(name);
    while (true) {
      const room = this.#rooms.get(key);
      if (room !== undefined) return { room, created: false };
      const creating = this.#creating.get(key);
      if (creating === undefined) break;
      // Its failure is the creator's; this join tries again.
      await creating.catch(() => {});
    }
    const creating = this.#createRoom(member, name, now);
    this.#creating.set(key, creating);
    try {
      return await creating;
    } finally {
      this.#creating.delete(key);
    }
  }

  async #createRoom(
    member: Member,
    name: string,
    now: number,
  ): Promise<{ room: Room; created: boolean }> {
    const key = nameKey(name);
    this.#rooms.refuseLookalike(name);
    this.#checkRoomLimit(name);
    this.#checkOwnership(member, name);
    this.#checkRoomCount(member, name);
    await this.#takeCreation(member, name);
    const { record, created } = await orStorageError(this.#presence.createRoom({
      key,
      name,
      owner: rightsKey(member),
      topic: "",
      inviteOnly: false,
      passphrase: null,
      createdAt: now,
      lastId: 0,
    }, this.#maxRooms));
    return { room: this.#rooms.get(key) ?? this.#addRoom(record), created };
  }

  #joinResult(
    room: Room,
    parts: { members: NamePage; lastId: number; caught: CatchUp },
  ): JoinResult {
    const { caught } = parts;
    const fit = fitList(parts.members.names, {
      limit: MAX_LIST_PAGE,
      maxBytes: this.#memberListBytes,
      size: nameBytes,
    });
    const result: JoinResult = {
      room: room.name,
      topic: room.topic,
      members: fit.items,
      lastId: parts.lastId,
      history: caught.history,
    };
    if (caught.more) result.more = true;
    if (caught.gap) result.gap = caught.gap;
    if (fit.more || fit.items.length < parts.members.total) result.membersMore = true;
    return result;
  }

  #addRoom(record: RoomRecord): Room {
    const room = this.#rooms.add(record, { now: this.#now() });
    this.guestRights.note(room.owner);
    return room;
  }

  /** Refuses to create a room beyond the server's limit (before taking from an allowance). */
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
  async #takeCreation(member: Member, name: string): Promise<void> {
    if (member.ip === undefined || this.#roomCreations === undefined) return;
    const wording = { refused: `Cannot create #${name}`, counted: "rooms created" };
    const taking = this.#roomCreations.take(member.ip, wording);
    if (taking instanceof Promise) await orStorageError(taking);
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
    for (const session of this.#users.sessions(nameKey(member.nick))) {
      for (const joined of session.rooms) rooms.add(joined.key);
    }
    if (rooms.has(nameKey(room)) || rooms.size < this.#maxRoomsPerUser) return;
    throw new ChatError(
      "too_many_rooms",
      `Cannot join #${room}: you are in ${rooms.size} rooms, the limit per user; /leave one first`,
    );
  }

  /** Leaves room `name`; everyone in it sees the leave. */
  leave(member: Member, name: string): { room: string } {
    const room = this.#rooms.joinedBy(member, name);
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
    message: OutgoingMessage & { room: string; replyTo?: number },
  ): Promise<{ id: number; ts: number; duplicate?: true }> {
    const { room: name, body, action = false, clientMsgId, replyTo, file } = message;
    const room = this.#rooms.joinedBy(member, name);
    const now = this.#now();
    this.moderation.checkVoice(member, room, now);
    const arrived = performance.now();
    const sent: SentMessage = await orStorageError(this.#bus.sendMessage(room, {
      room: room.key,
      from: member.nick,
      body,
      ts: now,
      action,
      ...(clientMsgId === undefined ? {} : { clientMsgId }),
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(file === undefined ? {} : { file }),
    }));
    const { record } = sent;
    if (sent.duplicate) return { id: record.id, ts: record.ts, duplicate: true };
    // Counted once stored: a refused or repeated message is not a message in.
    this.metrics.messagesIn++;
    this.metrics.delivery.observeMs(performance.now() - arrived);
    this.roomEvents.tell(messageEvent(record, { room: room.name, history: false }));
    return { id: record.id, ts: record.ts };
  }

  // Files (docs/protocol.md section 23).

  /** Refuses to share a file in room `name` unless `member` may say there (a member, not muted). */
  checkCanShare(member: Member, name: string): void {
    this.moderation.checkVoice(member, this.#rooms.joinedBy(member, name), this.#now());
  }

  /** Whether `member` is in the room keyed `roomKey` (and so may read its history). */
  isMemberOf(member: Member, roomKey: string): boolean {
    for (const room of member.rooms) if (room.key === roomKey) return true;
    return false;
  }

  /** A page of room history (for members of the room), one history read of `member`'s. */
  history(
    member: Member,
    name: string,
    query: HistoryQuery,
  ): ReturnType<HistoryReader["roomPage"]> {
    return this.#history.roomPage(member, this.#rooms.joinedBy(member, name), query);
  }

  /**
   * Searches what `member` may read (docs/protocol.md section 24): the rooms
   * it is in now, or only `room` (`not_in_room` unless in it), and without
   * `room` an account's own direct messages.
   */
  search(
    member: Member,
    request: SearchRequest & { room?: string },
  ): ReturnType<MessageSearch["run"]> {
    const { room, ...query } = request;
    const scope = room === undefined
      ? { rooms: [...member.rooms], dms: member.account !== undefined }
      : { rooms: [this.#rooms.joinedBy(member, room)], dms: false };
    return this.#search.run(member, scope, query);
  }

  /** Sends a server notice (no sender) to everyone online on this instance. */
  notice(body: string): void {
    this.#fanOut(this.#users.allSessions(), { type: "notice", body, ts: this.#now() });
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
    // Names and topics as the request starts; later requests may change them meanwhile.
    const rooms = this.#rooms.page({ after: cursorKey(query.after), limit: limit + 1 })
      .map((room) => ({ key: room.key, name: room.name, topic: room.topic }));
    const sizes = await orStorageError(this.#presence.roomSizes(rooms.map((room) => room.key)));
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
  ): Promise<ResultOf<"who">> {
    const room = this.#rooms.get(nameKey(name));
    if (room === undefined) throw new ChatError("no_such_room", `No room #${name}`);
    const limit = Math.min(query.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE);
    const page = await orStorageError(
      this.#presence.members(room.key, { after: cursorKey(query.after), limit: limit + 1 }),
    );
    const { items, more, away } = this.#fitNames(page, limit);
    return {
      room: room.name,
      members: items,
      total: page.total,
      ...(more ? { more: true } : {}),
      ...(away.length > 0 ? { away } : {}),
    };
  }

  /** A page of everyone online (nicknames, each once), bounded as {@linkcode rooms} is. */
  async users(query: ListQuery = {}): Promise<ResultOf<"users">> {
    const limit = Math.min(query.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE);
    const page = await orStorageError(
      this.#presence.users({ after: cursorKey(query.after), limit: limit + 1 }),
    );
    const { items, more, away } = this.#fitNames(page, limit);
    return {
      users: items,
      total: page.total,
      ...(more ? { more: true } : {}),
      ...(away.length > 0 ? { away } : {}),
    };
  }

  /**
   * The names of a page that fit one reply, with the away messages of those
   * of them who are away (section 22), which count against the same budget.
   */
  #fitNames(
    page: NamePage,
    limit: number,
  ): { items: string[]; more: boolean; away: Array<{ nick: string; message: string }> } {
    const awayOf = page.away;
    const size = awayOf === undefined || awayOf.size === 0
      ? nameBytes
      : (name: string) => nameBytes(name) + awayBytes(name, awayOf.get(name));
    const { items, more } = fitList(page.names, { limit, maxBytes: this.#maxReplyBytes, size });
    const away: Array<{ nick: string; message: string }> = [];
    if (awayOf !== undefined && awayOf.size > 0) {
      for (const nick of items) {
        const message = awayOf.get(nick);
        if (message !== undefined) away.push({ nick, message });
      }
    }
    return { items, more, away };
  }

  /** Renames a guest; everyone sharing a room with it (and itself) sees the change. */
  async rename(member: Member, nick: string): Promise<{ nick: string }> {
    if (member.account !== undefined) {
      throw new ChatError(
        "forbidden",
        "A registered account keeps its name; log in as another account instead",
      );
    }
    const holders = this.#users.sessions(nameKey(nick));
    if (holders.size > 0 && !(holders.size === 1 && holders.has(member))) {
      throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
    }
    this.#users.refuseLookalike(nick);
    await orStorageError(this.#presence.rename(member, nick));
    const from = member.nick;
    this.#users.rename(member, nick);
    this.away.renamed(nameKey(from), nameKey(nick));
    for (const room of member.rooms) room.renameMember(from, nick);
    const rooms = [...member.rooms].map((room) => room.key);
    await this.#publish({
      to: { rooms, users: [nameKey(nick)] },
      event: { type: "nick", from, to: nick, ts: this.#now() },
    });
    return { nick };
  }

  async #persist(write: StoreWrite): Promise<void> {
    try {
      await this.#writes.add(write);
    } catch (error) {
      throw storageError(error);
    }
  }

  async #commit(batch: StoreWrite[]): Promise<void> {
    const started = performance.now();
    try {
      await this.store.write(batch);
    } finally {
      this.metrics.storeCommit.observeMs(performance.now() - started);
    }
  }

  /**
   * Takes `member` out of `room`. The session itself hears its leave here
   * and at once; the room hears it when it was the user's last session
   * (the presence counts sessions on every instance).
   */
  #removeFromRoom(member: Member, room: Room, reason?: string): void {
    if (!room.members.has(member)) return;
    const event: ChatEvent = { type: "leave", room: room.name, nick: member.nick, ts: this.#now() };
    if (reason !== undefined) event.reason = reason;
    member.deliver(new Delivery(event));
    room.removeMember(member);
    member.rooms.delete(room);
    // Observers hear the leave the room hears: the user's last session there.
    const heard = this.#presence.exit(room, member, event);
    const tell = () => this.roomEvents.tell({ ...event, type: "leave", room: room.name });
    if (heard === true) tell();
    else if (heard instanceof Promise) heard.then((last) => last && tell(), () => {});
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
          if (
            room !== undefined && room.members.size === 0 && !this.#rooms.isJoining(effect.room)
          ) {
            this.#rooms.drop(room);
          }
          break;
        }
        case "room": {
          const room = this.#rooms.get(effect.record.key);
          if (room === undefined) this.#addRoom(effect.record);
          else room.update(effect.record);
          this.guestRights.note(effect.record.owner);
          break;
        }
        case "grant":
          this.#rooms.get(effect.grant.room)?.setGrant(effect.grant);
          this.guestRights.note(effect.grant.user);
          break;
        case "ungrant":
          this.#rooms.get(effect.room)?.removeGrant(effect.user, effect.grant);
          break;
        case "evict":
          evictions.push(effect);
          break;
        case "displace":
          for (const session of this.#users.sessions(effect.user)) {
            if (session.resumeHash?.() === effect.resume) session.displace?.();
          }
          break;
      }
    }
    const event = envelope.event;
    if (event?.type === "away") this.away.noted(event);
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
    const audience = this.#audience(to);
    const except = to.except;
    if (except === undefined) return this.#fanOut(audience, event);
    // A typing relay: its sender's own sessions do not hear it.
    const others: Member[] = [];
    for (const member of audience) if (nameKey(member.nick) !== except) others.push(member);
    this.#fanOut(others, event);
  }

  #audience(to: Audience): Iterable<Member> {
    if (to.all) return this.#users.allSessions();
    if (to.room !== undefined && to.rooms === undefined && to.users === undefined) {
      return this.#rooms.get(to.room)?.members ?? [];
    }
    const audience = new Set<Member>();
    for (const key of [...(to.room === undefined ? [] : [to.room]), ...(to.rooms ?? [])]) {
      for (const member of this.#rooms.get(key)?.members ?? []) audience.add(member);
    }
    for (const user of to.users ?? []) {
      for (const session of this.#users.sessions(user)) audience.add(session);
    }
    return audience;
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
        this.guestRights.note(record.owner);
      }
    }
    for (const room of [...this.#rooms.values()]) {
      if (!seen.has(room.key) && room.members.size === 0) this.#rooms.drop(room);
    }
    for (const grant of grants) {
      this.#rooms.get(grant.room)?.setGrant(grant);
      this.guestRights.note(grant.user);
    }
  }

  /** What the bus may call on this broker. */
  #node(): BusNode {
    return {
      room: (key) => this.#rooms.get(key),
      deliverMessage: (room, record) => {
        room.committedId = record.id;
        if (record.id > room.lastId) room.lastId = record.id;
        this.#fanOut(room.members, messageEvent(record, { room: room.name, history: false }));
      },
      deliverChange: (room, record) => {
        room.committedId = record.id;
        if (record.id > room.lastId) room.lastId = record.id;
        this.#fanOut(room.members, changeEvent(record, { room: room.name, history: false }));
      },
      receive: (envelope) => this.#receive(envelope),
      deliverDm: (record, users) => this.directMessages.deliver(record, users),
      commit: (write) => this.#writes.add(write),
      commits: this.storeHealth,
      notice: (body) => this.notice(body),
      snapshot: () => this.#snapshot(),
      reload: (rooms, grants) => this.#reload(rooms, grants),
    };
  }

  #snapshot(): PresenceSnapshot {
    const snapshot: PresenceSnapshot = {
      users: [],
      rooms: [],
      seqs: [],
      lastDmId: this.directMessages.lastSeenId,
    };
    for (const [key, sessions] of this.#users.entries()) {
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
        this.#awayMessages.get(key) ?? "",
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
