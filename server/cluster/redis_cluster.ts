/**
 * Several `chat serve` instances as one chat, through Redis: the bus
 * (message ids, commits and fan-out to every instance) and presence (who is
 * online where, nickname claims, room members). Each instance keeps a
 * heartbeat; one that stops beating is reaped by the others, so its users
 * go offline within the presence TTL.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { type ChatEvent, MAX_LIST_PAGE } from "../../shared/protocol.ts";
import { lookalikeKey, nameKey } from "../../shared/validation.ts";
import type { ConnectionChange, RemoteConnections } from "../limits/connection_limiter.ts";
import { GroupCommit } from "../store/group_commit.ts";
import type { Member, Room } from "../chat/room.ts";
import { dmPairKey, type RedisStore, toRoomRecord } from "../store/redis_store.ts";
import type { DmRecord, RoomRecord } from "../store/store.ts";
import {
  type ChangeDraft,
  type ChangeOutcome,
  changeRefusal,
  type ChangeRules,
  ChangeStatus,
} from "../chat/message_change_rules.ts";
import {
  type Bus,
  type BusNode,
  type DmDraft,
  type Envelope,
  type MessageDraft,
  msgIdConflict,
  type NamePage,
  type OnlineUser,
  type PageQuery,
  type Presence,
  type SentMessage,
} from "./cluster.ts";
import type { RedisConnection } from "./redis_connection.ts";
import type { RedisKeys } from "./redis_keys.ts";
import {
  ADOPT,
  CLAIM,
  COUNT_CONNECTION,
  CREATE_ROOM,
  DEPART,
  ENTER,
  EXIT,
  EXPIRE_ROOMS,
  HEARTBEAT,
  OTHER_CONNECTIONS,
  PAGE_NAMES_AWAY,
  RELEASE,
  RENAME,
  RESYNC,
  SEND,
  SET_AWAY,
} from "./redis_scripts.ts";
import { type PublishedMessage, RoomFeed, type RoomPayload } from "./room_feed.ts";

/** Options for {@linkcode RedisCluster}. */
export interface RedisClusterOptions {
  /** How long an instance stays present without a heartbeat, in ms (beats come 3 times as often). */
  presenceTtlMs?: number;
  /** Most messages and DMs waiting to be sent before more are refused with `storage`. */
  maxPending?: number;
  /** Most messages and DMs sent in one script call. */
  maxBatch?: number;
}

interface SendItem {
  kind: "message" | "dm" | "change";
  room?: Room;
  message?: MessageDraft;
  /** A message change (section 21) and the rules it is checked with. */
  change?: { draft: ChangeDraft; rules: ChangeRules };
  dm?: { draft: DmDraft; from: string; to: string };
  token?: string;
  applied?: Promise<void>;
  id?: number;
  delivered?: boolean;
  /** What SEND said: 0 sent, 1 a duplicate of an earlier message, 2 a conflict with it. */
  status?: number;
  /** The message's time: the earlier message's for a duplicate. */
  ts?: number;
}

// What SEND says of each message: sent, or not because its client message
// id was used before (for the same message, or another).
const SENT = 0;
const DUPLICATE = 1;
const CONFLICT = 2;
// A reply to what is not a message of the room (section 21).
const NO_SUCH_MESSAGE = 3;
// What SEND says of a message change: 10 + the status of check_change (ChangeStatus).
const CHANGE_STATUS_BASE = 10;

interface DmPayload {
  o: string;
  dm: { id: number; from: string; to: string; body: string; ts: number; action: boolean };
  u: string[];
}

/**
 * The Redis {@linkcode Bus} and {@linkcode Presence} of one instance, and
 * the {@linkcode RemoteConnections} that make the connection caps the
 * cluster's.
 *
 * @example
 * ```ts ignore
 * import { Broker } from "../chat/broker.ts";
 * import { RedisConnection } from "./redis_connection.ts";
 * import { RedisCluster } from "./redis_cluster.ts";
 * import { RedisStore } from "../store/redis_store.ts";
 * const store = new RedisStore(await RedisConnection.open("redis://127.0.0.1:6379"));
 * const cluster = new RedisCluster(store);
 * const broker = await Broker.open(store, { bus: cluster, presence: cluster });
 * ```
 */
export class RedisCluster implements Bus, Presence, RemoteConnections {
  /** This instance's id in Redis (random per process). */
  readonly id: string = crypto.randomUUID();
  readonly #store: RedisStore;
  readonly #redis: RedisConnection;
  readonly #keys: RedisKeys;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #sends: GroupCommit<SendItem>;
  readonly #feeds = new Map<string, RoomFeed>();
  readonly #tokens = new Map<string, () => void>();
  #node: BusNode | undefined;
  #tokenSeq = 0;
  #beat: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<void> | undefined;
  // What Redis records about this instance may be wrong (a command failed,
  // Redis restarted, or this instance was reaped): re-assert it.
  #resync = true;
  #inFlight = 0;
  #closed = false;
  // Open connections here as published, so a resync can re-publish them:
  // per address, [open, of them not logged in].
  #connections = 0;
  #connectionsFrom = new Map<string, [number, number]>();

  constructor(store: RedisStore, options: RedisClusterOptions = {}) {
    this.#store = store;
    this.#redis = store.redis;
    this.#keys = store.keys;
    this.#ttlMs = options.presenceTtlMs ?? 10_000;
    this.#logger = getLogger(["chat", "cluster"]);
    this.#sends = new GroupCommit((batch) => this.#send(batch), {
      maxBatch: options.maxBatch ?? 500,
      maxPending: options.maxPending ?? this.#redis.maxPending,
      observer: {
        committed: () => this.#node?.commits.committed(),
        failed: (error) => this.#node?.commits.failed(error),
      },
    });
  }

  async start(node: BusNode): Promise<void> {
    this.#node = node;
    await this.#redis.subscribe(this.#keys.allChannel, (message) => this.#onShared(message));
    this.#redis.onDown((reason) => {
      this.#logger.warn("Lost Redis ({reason}): sending fails until it is back", { reason });
      node.notice("The chat's storage (Redis) is unreachable: sending fails until it is back");
    });
    this.#redis.onUp(() => {
      this.#logger.info("Redis is back: re-asserting presence, catching up rooms");
      this.#resync = true;
      this.#beating ??= this.#heartbeat(true);
      node.notice("The chat's storage is back");
    });
    await this.#heartbeat(false);
    this.#beat = setInterval(() => this.#beating ??= this.#heartbeat(false), this.#ttlMs / 3);
    this.#beat.unref?.();
  }

  /** Messages and DMs waiting to be sent. */
  get pending(): number {
    return this.#sends.pending;
  }

  // --- Bus ---

  async sendMessage(room: Room, draft: MessageDraft): Promise<SentMessage> {
    const item: SendItem = { kind: "message", room, message: draft };
    await this.#sends.add(item);
    const id = item.id!;
    if (item.status === CONFLICT) throw msgIdConflict(draft.clientMsgId ?? "");
    if (item.status === NO_SUCH_MESSAGE) {
      throw new ChatError(
        "no_such_message",
        `Cannot reply to message ${draft.replyTo}: there is no such message in #${room.name}`,
      );
    }
    // A retry: the first send delivered it already.
    if (item.status === DUPLICATE) {
      return { record: { ...draft, id, ts: item.ts! }, duplicate: true };
    }
    // The ack waits until the message is delivered here, so a history read
    // right after it includes the message.
    await this.#delivered(room, id, item.applied);
    return { record: { ...draft, id }, duplicate: false };
  }

  async sendChange(
    room: Room,
    draft: ChangeDraft,
    rules: ChangeRules,
  ): Promise<ChangeOutcome> {
    const item: SendItem = { kind: "change", room, change: { draft, rules } };
    await this.#sends.add(item);
    const status = (item.status! - CHANGE_STATUS_BASE) as ChangeStatus;
    if (status === ChangeStatus.unchanged) return { unchanged: true, ts: draft.ts };
    if (status !== ChangeStatus.applied) throw changeRefusal(status, draft, rules);
    const id = item.id!;
    await this.#delivered(room, id, item.applied);
    return { record: { ...draft, id } };
  }

  /**
   * Waits until this instance's feed of `room` has delivered `id` (after
   * anything before it), reading history if the channel lost it; bounded by
   * the command timeout.
   */
  async #delivered(room: Room, id: number, applied: Promise<void> | undefined): Promise<void> {
    if (room.committedId < id && applied !== undefined) await applied;
    const feed = this.#feeds.get(room.key);
    if (room.committedId < id && feed !== undefined) {
      feed.check(id);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        feed.reached(id),
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#redis.commandTimeoutMs)),
      ]);
      clearTimeout(timer);
    }
  }

  async sendDm(
    draft: DmDraft,
    keys: { from: string; to: string; online: boolean },
  ): Promise<{ record: DmRecord; delivered: boolean; duplicate: boolean }> {
    const item: SendItem = { kind: "dm", dm: { draft, from: keys.from, to: keys.to } };
    await this.#sends.add(item);
    if (item.status === CONFLICT) throw msgIdConflict(draft.clientMsgId ?? "");
    const duplicate = item.status === DUPLICATE;
    return {
      record: { id: item.id!, ...draft, ts: item.ts ?? draft.ts },
      delivered: !duplicate && (item.delivered ?? false),
      duplicate,
    };
  }

  async publish(envelope: Envelope): Promise<void> {
    const token = this.#token();
    const applied = this.#await(token);
    try {
      await this.#redis.command([
        "PUBLISH",
        this.#keys.allChannel,
        JSON.stringify({ o: this.id, k: token, ...envelope }),
      ]);
    } catch (error) {
      this.#tokens.get(token)?.();
      throw error;
    }
    await applied;
  }

  watch(room: Room): Promise<void> {
    const existing = this.#feeds.get(room.key);
    if (existing !== undefined) {
      existing.refs++;
      return existing.ready;
    }
    const feed = new RoomFeed(room, {
      node: this.#started(),
      // Pages of at most about a MiB: a room of long messages is caught up in several.
      // Every timeline entry: messages and their changes (section 21).
      history: (key, after, upTo) =>
        this.#store.timeline(key, {
          after,
          upTo,
          limit: Math.min(500, upTo - after),
          maxBytes: 1024 * 1024,
        }),
      applied: (token) => this.#tokens.get(token)?.(),
      lost: (lost, error) =>
        this.#logger.error("Room {room}: could not read missed messages: {error}", {
          room: lost.name,
          error,
        }),
    });
    feed.refs = 1;
    this.#feeds.set(room.key, feed);
    feed.ready = (async () => {
      await this.#redis.subscribe(
        this.#keys.roomChannel(room.key),
        (message) => feed.push(JSON.parse(message) as RoomPayload),
      );
      feed.start(await this.#store.lastId(room.key));
    })();
    return feed.ready;
  }

  unwatch(room: Room): void {
    const feed = this.#feeds.get(room.key);
    if (feed === undefined || --feed.refs > 0) return;
    this.#feeds.delete(room.key);
    this.#redis.unsubscribe(this.#keys.roomChannel(room.key));
  }

  async flushed(): Promise<void> {
    await this.#sends.flushed();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#beat);
    await this.#sends.flushed();
    await this.#beating;
    try {
      // Whatever the sessions' own leaves did not clean up goes now.
      await this.#redis.eval(DEPART, [this.#keys.prefix, this.id, "server shutdown"]);
    } catch (error) {
      this.#logger.warn("Could not remove this instance's presence: {error}", { error });
    }
    for (const resolve of this.#tokens.values()) resolve();
  }

  // --- Presence ---

  async claim(
    member: Member,
    nick: string,
    options: { multipleSessions: boolean; resume?: string },
  ): Promise<void> {
    const key = nameKey(nick);
    const attempt = () =>
      this.#presenceCall<string>(CLAIM, [
        key,
        nick,
        member.account ?? "",
        member.admin ? 1 : 0,
        options.multipleSessions ? 1 : 0,
        member.account === undefined ? member.guestId : "",
        member.resumeHash?.() ?? "",
        options.resume ?? "",
        lookalikeKey(nick),
      ]);
    let result = await attempt();
    if (result.startsWith("resume:") && options.resume !== undefined) {
      // The holder gave this token: its instance ends it, then the name is free.
      const guestId = result.slice("resume:".length);
      if (member.account === undefined && guestId !== "") member.guestId = guestId;
      await this.publish({ fx: [{ kind: "displace", user: key, resume: options.resume }] });
      const deadline = Date.now() + 2 * this.#redis.commandTimeoutMs;
      while (result.startsWith("resume:") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        result = await attempt();
      }
    }
    if (result === "taken" || result.startsWith("resume:")) {
      throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
    }
    if (result.startsWith("looks:")) throw looksLike(nick, result);
    if (result === "elsewhere") {
      throw new ChatError(
        "name_taken",
        `${nick} is already logged in elsewhere (one session per account)`,
      );
    }
  }

  async registered(member: Member): Promise<void> {
    if (member.account === undefined) return;
    try {
      await this.#presenceCall<number>(ADOPT, [
        nameKey(member.nick),
        member.account,
        member.admin ? 1 : 0,
        member.guestId,
      ]);
    } catch (error) {
      // The account is created: the failed call marked this instance for a
      // resync, whose snapshot records the session as the account.
      this.#logger.warn("Could not record that {nick} registered: {error}", {
        nick: member.nick,
        error,
      });
    }
  }

  release(member: Member): void {
    this.#presenceCall(RELEASE, [nameKey(member.nick)]).catch(() => {});
  }

  async rename(member: Member, nick: string): Promise<void> {
    const rooms = [...member.rooms].map((room) => room.key);
    const result = await this.#presenceCall<string>(RENAME, [
      nameKey(member.nick),
      nameKey(nick),
      nick,
      JSON.stringify(rooms),
      lookalikeKey(nick),
    ]);
    if (result === "taken") throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
    if (result.startsWith("looks:")) throw looksLike(nick, result);
  }

  async user(key: string): Promise<OnlineUser | undefined> {
    const [nick, account, admin, guestId, away] = await this.#redis.command<(string | null)[]>(
      ["HMGET", this.#keys.user(key), "nick", "acct", "adm", "gid", "away"],
    );
    if (nick === null || nick === undefined) return undefined;
    return {
      nick,
      account: account ? account : undefined,
      admin: admin === "1",
      guestId: guestId ?? "",
      ...(away ? { away } : {}),
    };
  }

  async createRoom(
    record: RoomRecord,
    maxRooms: number,
  ): Promise<{ record: RoomRecord; created: boolean }> {
    const [status, json] = await this.#redis.eval<[number, string]>(CREATE_ROOM, [
      this.#keys.prefix,
      this.id,
      record.key,
      roomJson(record),
      maxRooms,
    ]);
    if (status === -1) {
      throw new ChatError(
        "forbidden",
        `Cannot create #${record.name}: the server's limit of ${maxRooms} rooms is reached`,
      );
    }
    return { record: toRoomRecord(JSON.parse(json), 0), created: status === 1 };
  }

  async enter(
    room: Room,
    member: Member,
    event: ChatEvent,
    options: { claimAs?: string } = {},
  ): Promise<NamePage & { claimed: boolean; first: boolean }> {
    const token = this.#token();
    const applied = this.#await(token);
    const payload = JSON.stringify({ o: this.id, k: token, to: { room: room.key }, event });
    try {
      const [first, claimed, total, ...names] = await this.#presenceCall<
        [number, string, number, ...string[]]
      >(
        ENTER,
        [
          room.key,
          nameKey(member.nick),
          member.nick,
          payload,
          roomJson(room.toRecord()),
          options.claimAs ?? "",
          MAX_LIST_PAGE,
        ],
      );
      // The room's own join event is queued here before the reply.
      if (first === 1) await applied;
      if (claimed !== "" && options.claimAs !== undefined) room.owner = options.claimAs;
      return { names, total, claimed: claimed !== "", first: first === 1 };
    } finally {
      this.#tokens.get(token)?.();
    }
  }

  exit(room: Room, member: Member, event: ChatEvent): Promise<boolean> {
    const payload = JSON.stringify({ o: this.id, to: { room: room.key }, event });
    return this.#presenceCall<number>(EXIT, [room.key, nameKey(member.nick), payload]).then(
      (published) => published === 1,
      () => false,
    );
  }

  async members(room: string, page: PageQuery): Promise<NamePage> {
    return await this.#pageWithAway(`members:${room}`, page);
  }

  async inRoom(room: string, user: string): Promise<boolean> {
    return await this.#redis.command<number>(["HEXISTS", this.#keys.members(room), user]) === 1;
  }

  async users(page: PageQuery): Promise<NamePage> {
    return await this.#pageWithAway("online", page);
  }

  // ---- away (section 22)

  async setAway(member: Member, message: string | undefined, event: ChatEvent): Promise<boolean> {
    const token = this.#token();
    const applied = this.#await(token);
    try {
      const published = await this.#presenceCall<number>(SET_AWAY, [
        nameKey(member.nick),
        message ?? "",
        JSON.stringify(event),
        token,
      ]);
      // The event is queued here (the user's own sessions) before the reply.
      if (published === 1) await applied;
      return published === 1;
    } finally {
      this.#tokens.get(token)?.();
    }
  }

  /** A page of `online` or a room's members, with the away messages of those away. */
  async #pageWithAway(hash: string, page: PageQuery): Promise<NamePage> {
    const [total, ...pairs] = await this.#redis.eval<[number, ...string[]]>(PAGE_NAMES_AWAY, [
      this.#keys.prefix,
      hash,
      page.after ?? "",
      Math.min(page.limit, MAX_LIST_PAGE + 1),
    ]);
    const names: string[] = [];
    const away = new Map<string, string>();
    for (let index = 0; index + 1 < pairs.length; index += 2) {
      const name = pairs[index]!;
      names.push(name);
      if (pairs[index + 1]) away.set(name, pairs[index + 1]!);
    }
    return away.size === 0 ? { names, total } : { names, total, away };
  }

  async expireRooms(ttlMs: number): Promise<number> {
    let total = 0;
    // In small calls: each is atomic, and a big sweep must not stall Redis.
    for (let round = 0; round < 100; round++) {
      const count = await this.#redis.eval<number>(EXPIRE_ROOMS, [
        this.#keys.prefix,
        this.id,
        ttlMs,
        100,
      ]);
      total += count;
      if (count < 100) break;
    }
    return total;
  }

  async roomSizes(rooms: readonly string[]): Promise<number[]> {
    if (rooms.length === 0) return [];
    const sizes = await this.#redis.command<(string | null)[]>(
      ["HMGET", this.#keys.roomSizes, ...rooms],
    );
    return sizes.map((size) => Number(size ?? 0));
  }

  // --- RemoteConnections ---

  async others(ip: string): Promise<{ total: number; ip: number; handshakes: number }> {
    const [total, fromIp, handshakes] = await this.#redis.eval<[number, number, number]>(
      OTHER_CONNECTIONS,
      [this.#keys.prefix, this.id, ip],
    );
    return { total, ip: fromIp, handshakes };
  }

  count(ip: string, change: ConnectionChange): void {
    this.#connections += change.connections;
    const [open, handshakes] = this.#connectionsFrom.get(ip) ?? [0, 0];
    const now: [number, number] = [open + change.connections, handshakes + change.handshakes];
    if (now[0] <= 0) this.#connectionsFrom.delete(ip);
    else this.#connectionsFrom.set(ip, now);
    if (this.#closed) return;
    // Not awaited: sent in order on the one connection, so counts never go
    // ahead of themselves; one lost means Redis's view is wrong until resync.
    this.#redis.eval(COUNT_CONNECTION, [
      this.#keys.prefix,
      this.id,
      ip,
      change.connections,
      this.#ttlMs,
      change.handshakes,
    ]).catch(() => this.#resync = true);
  }

  // --- Internals ---

  #started(): BusNode {
    if (this.#node === undefined) throw new Error("RedisCluster used before start()");
    return this.#node;
  }

  /** Runs a presence script; a failure leaves Redis's view in doubt, so it is re-asserted. */
  async #presenceCall<T>(
    script: typeof CLAIM,
    args: readonly (string | number)[],
  ): Promise<T> {
    this.#inFlight++;
    try {
      return await this.#redis.eval<T>(script, [this.#keys.prefix, this.id, ...args]);
    } catch (error) {
      if (!(error instanceof ChatError) || error.code === "storage") this.#resync = true;
      throw error;
    } finally {
      this.#inFlight--;
    }
  }

  #token(): string {
    return `${this.id}:${++this.#tokenSeq}`;
  }

  /** Resolves when the payload carrying `token` has been applied here, or after the command timeout. */
  #await(token: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#redis.commandTimeoutMs);
      const tokens = this.#tokens;
      function done() {
        clearTimeout(timer);
        tokens.delete(token);
        resolve();
      }
      this.#tokens.set(token, done);
    });
  }

  /** Sends a batch: one script call gives ids, stores and publishes everything in it. */
  async #send(batch: SendItem[]): Promise<void> {
    const groups = new Map<string, { token: string; items: SendItem[] }>();
    const dms: SendItem[] = [];
    for (const item of batch) {
      if (item.kind === "dm") {
        dms.push(item);
        continue;
      }
      const key = item.room!.key;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, group = { token: this.#token(), items: [] });
      group.items.push(item);
    }
    const window = this.#store.msgIdWindow;
    // A window of 0 remembers nothing: ids are then left out.
    const keyed = window.ms > 0 && window.perUser > 0;
    const payload = {
      r: [...groups].map(([room, { token, items }]) => [
        room,
        token,
        items.map(({ message, change }) =>
          change === undefined
            ? [
              message!.from,
              message!.body,
              String(message!.ts),
              message!.action ? "1" : "",
              nameKey(message!.from),
              keyed ? message!.clientMsgId ?? "" : "",
              message!.replyTo ?? 0,
              message!.file === undefined ? "" : JSON.stringify(message!.file),
            ]
            : {
              k: change.draft.change,
              g: change.draft.target,
              f: change.draft.from,
              u: change.draft.user ?? "",
              x: change.draft.text,
              t: String(change.draft.ts),
              n: change.rules.maxReactions,
              o: change.rules.moderator ? 1 : 0,
            }
        ),
      ]),
      d: dms.map(({ dm }) => {
        const { draft, from, to } = dm!;
        return {
          from: draft.from,
          to: draft.to,
          fromKey: from,
          toKey: to,
          pair: dmPairKey(from, to),
          body: draft.body,
          ts: String(draft.ts),
          action: draft.action,
          clientMsgId: keyed ? draft.clientMsgId ?? "" : "",
          file: draft.file === undefined ? "" : JSON.stringify(draft.file),
        };
      }),
      w: { ms: window.ms, n: window.perUser },
    };
    // Waiters first: the payload may come back before the script's reply.
    for (const { token, items } of groups.values()) {
      const applied = this.#await(token);
      for (const item of items) item.applied = applied;
    }
    let out: number[];
    try {
      out = await this.#redis.eval<number[]>(SEND, [
        this.#keys.prefix,
        this.id,
        JSON.stringify(payload),
      ]);
    } catch (error) {
      for (const { token } of groups.values()) this.#tokens.get(token)?.();
      throw error;
    }
    let at = 0;
    for (const { token, items } of groups.values()) {
      for (const item of items) {
        item.id = out[at++]!;
        item.status = out[at++]!;
        item.ts = out[at++]!;
      }
      // Only retries and refused changes: nothing was published, so nothing will be applied.
      const published = (item: SendItem) =>
        item.kind === "change"
          ? item.status === CHANGE_STATUS_BASE + ChangeStatus.applied
          : item.status === SENT;
      if (!items.some(published)) this.#tokens.get(token)?.();
    }
    for (const item of dms) {
      item.id = out[at++]!;
      item.status = out[at++]!;
      item.ts = out[at++]!;
      item.delivered = out[at++] === 1;
    }
  }

  #onShared(message: string): void {
    let payload: Envelope & { o?: string; k?: string } & Partial<DmPayload>;
    try {
      payload = JSON.parse(message);
    } catch {
      return;
    }
    const node = this.#started();
    if (payload.dm !== undefined) {
      // The sending instance delivered its own sessions already.
      if (payload.o !== this.id) node.deliverDm({ ...payload.dm }, payload.u ?? []);
      return;
    }
    node.receive(payload);
    if (payload.o === this.id && payload.k !== undefined) this.#tokens.get(payload.k)?.();
  }

  /** Refreshes presence, reaps dead instances, re-asserts this one when needed, checks rooms. */
  async #heartbeat(recovering: boolean): Promise<void> {
    try {
      if (this.#closed) return;
      const present = await this.#redis.eval<number>(HEARTBEAT, [
        this.#keys.prefix,
        this.id,
        this.#ttlMs,
      ]);
      if (present === 0) this.#resync = true;
      if (this.#resync && this.#inFlight === 0) await this.#reassert();
      if (recovering) {
        const node = this.#started();
        node.reload(await this.#store.loadRooms(), await this.#store.loadGrants());
      }
      await this.#checkFeeds();
    } catch (error) {
      this.#logger.debug("Heartbeat failed: {error}", { error });
    } finally {
      this.#beating = undefined;
    }
  }

  async #reassert(): Promise<void> {
    const snapshot = this.#started().snapshot();
    this.#resync = false;
    try {
      await this.#redis.eval(RESYNC, [
        this.#keys.prefix,
        this.id,
        JSON.stringify({
          u: snapshot.users,
          r: snapshot.rooms,
          s: snapshot.seqs,
          d: snapshot.lastDmId,
          c: this.#connections,
          i: [...this.#connectionsFrom].map(([ip, [open, handshakes]]) => [ip, open, handshakes]),
        }),
        2 * this.#ttlMs,
      ]);
    } catch (error) {
      this.#resync = true;
      throw error;
    }
  }

  /** Delivers here whatever a room's channel may have missed. */
  async #checkFeeds(): Promise<void> {
    const feeds = [...this.#feeds.values()].filter((feed) => feed.room.members.size > 0);
    for (let i = 0; i < feeds.length; i += 500) {
      const chunk = feeds.slice(i, i + 500);
      const ids = await this.#redis.command<(string | null)[]>(
        ["HMGET", this.#keys.seq, ...chunk.map((feed) => feed.room.key)],
      );
      chunk.forEach((feed, index) => feed.check(Number(ids[index] ?? 0)));
    }
  }
}

/** The refusal of a nickname that looks like one online on another instance ("looks:NICK"). */
function looksLike(nick: string, result: string): ChatError {
  const other = result.slice("looks:".length);
  return new ChatError(
    "name_taken",
    `Nickname ${nick} looks like ${other}, who is online; choose another`,
  );
}

function roomJson(record: RoomRecord): string {
  const { lastId: _lastId, ...settings } = record;
  return JSON.stringify(settings);
}

export type { PublishedMessage };
