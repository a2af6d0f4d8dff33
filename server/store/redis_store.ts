/**
 * The shared store: everything the SQLite store keeps, kept in Redis (or
 * Valkey) so several `chat serve` instances see one chat. Room history is a
 * stream per room whose entry ids are the message ids; a batch of writes is
 * one Lua script, so it applies atomically. Durability is Redis's own: run
 * it with `appendonly yes` (docs/scaling.md).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { LOOKALIKE_KEY_VERSION, lookalikeKey, nameKey } from "../../shared/validation.ts";
import { RedisConnection } from "../cluster/redis_connection.ts";
import { RedisKeys } from "../cluster/redis_keys.ts";
import { APPLY, LOAD_GRANTS, UNREAD } from "../cluster/redis_scripts.ts";
import {
  type AccountRecord,
  type ApiKeyRecord,
  type AuditRecord,
  type ClientMsgQuery,
  DEFAULT_MSG_ID_WINDOW_MS,
  DEFAULT_MSG_IDS_PER_USER,
  type DmRecord,
  type FileRecord,
  type GrantRecord,
  type HistoryQuery,
  type LoginAddressLimits,
  type LoginAddressRecord,
  type MessageRecord,
  type MsgIdWindow,
  type PendingQuery,
  type RetentionPolicy,
  type RoomRecord,
  type SearchHit,
  type SearchQuery,
  type Store,
  type StoreWrite,
  type UnreadCount,
  type WebhookRecord,
} from "./store.ts";
import {
  type ChangeKind,
  type ChangeRecord,
  isChangeRecord,
  type MessageState,
  type ReactionRecord,
  recordBytes,
  type TimelineQuery,
  type TimelineRecord,
} from "./store.ts";
import { MAX_REACTION_USERS_LISTED } from "../../shared/protocol.ts";

/** What the records of one side of a timeline read count for against its byte budget. */
function bytesOf(records: readonly TimelineRecord[]): number {
  return records.reduce((sum, record) => sum + recordBytes(record), 0);
}
import type { FileInfo } from "../../shared/protocol.ts";
import { describeRename, type NameKeyRename } from "./name_key_migration.ts";
import { rekeyRedisNames } from "./redis_name_keys.ts";
import { ChatError } from "../../shared/errors.ts";
import { bodyMatches } from "../search/search_text.ts";

type StreamEntry = [id: string, fields: string[]];

function fieldsOf(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

function toMessage(room: string, entry: StreamEntry): MessageRecord {
  const fields = fieldsOf(entry[1]);
  const message: MessageRecord = {
    room,
    id: Number.parseInt(entry[0], 10),
    from: fields.f ?? "",
    body: fields.b ?? "",
    ts: Number(fields.t),
    action: fields.a === "1",
    ...(fields.F ? { file: JSON.parse(fields.F) as FileInfo } : {}),
  };
  if (fields.r !== undefined && Number(fields.r) > 0) message.replyTo = Number(fields.r);
  return message;
}

/** A message change's stream entry (section 21) as its record. */
function toChange(room: string, entry: StreamEntry): ChangeRecord {
  const fields = fieldsOf(entry[1]);
  return {
    room,
    id: Number.parseInt(entry[0], 10),
    change: (fields.k ?? "edit") as ChangeKind,
    target: Number(fields.g),
    from: fields.f ?? "",
    text: fields.x ?? "",
    ts: Number(fields.t),
  };
}

/** A message's current state as the scripts keep it (see apply_change in redis_scripts.ts). */
interface StoredState {
  e?: number;
  b?: string;
  d?: { by: string; ts: number };
  /** Per emoji, in the order first given: [emoji, [[user key, nick]...]]; `{}` when emptied. */
  r?: Array<[string, Array<[string, string]>]> | Record<string, never>;
}

function parseState(json: string | null): StoredState | undefined {
  if (json === null) return undefined;
  try {
    return JSON.parse(json) as StoredState;
  } catch {
    return undefined;
  }
}

function reactionsOf(state: StoredState): Array<[string, Array<[string, string]>]> {
  return Array.isArray(state.r) ? state.r : [];
}

/** `message` in its current state `state` (section 21). */
function withState(message: MessageRecord, state: StoredState | undefined): MessageRecord {
  if (state === undefined) return message;
  if (state.d !== undefined) {
    return { ...message, body: "", deleted: { by: String(state.d.by), ts: Number(state.d.ts) } };
  }
  if (state.e !== undefined) {
    message.body = state.b ?? message.body;
    message.edited = Number(state.e);
  }
  const reactions: ReactionRecord[] = reactionsOf(state)
    .filter(([, users]) => Array.isArray(users) && users.length > 0)
    .map(([emoji, users]) => ({
      emoji,
      count: users.length,
      users: users.slice(0, MAX_REACTION_USERS_LISTED).map(([, nick]) => nick),
    }));
  if (reactions.length > 0) message.reactions = reactions;
  return message;
}

function toDm(json: string): DmRecord {
  const raw = JSON.parse(json);
  return {
    id: Number(raw.id),
    from: String(raw.from),
    to: String(raw.to),
    body: String(raw.body),
    ts: Number(raw.ts),
    action: raw.action === true,
    ...(raw.file ? { file: raw.file as FileInfo } : {}),
  };
}

/** Records read in the first batch of a bounded read: their sizes tell how many the next may take. */
const FIRST_BATCH = 8;
/** Most records one batch of a bounded read asks for. */
const MAX_BATCH = 100;

/**
 * Reads up to `query.limit` records in batches through `batch(after, count)`
 * (`after`: the id of the last record read, undefined at first), stopping
 * once their bytes exceed `query.maxBytes`: the record that goes over is the
 * last one returned, as {@linkcode HistoryQuery.maxBytes} says. Batches are
 * sized by the records read so far, so little is read beyond the budget.
 */
async function readBounded<T extends { id: number } & Parameters<typeof recordBytes>[0]>(
  query: { limit: number; maxBytes?: number | undefined },
  batch: (after: number | undefined, count: number) => Promise<T[]>,
): Promise<T[]> {
  const records: T[] = [];
  let bytes = 0;
  let after: number | undefined;
  while (records.length < query.limit) {
    const left = query.limit - records.length;
    let count = left;
    if (query.maxBytes !== undefined) {
      const average = records.length === 0 ? 0 : bytes / records.length;
      const fits = average === 0 ? FIRST_BATCH : Math.ceil((query.maxBytes - bytes) / average) + 1;
      count = Math.min(left, MAX_BATCH, Math.max(1, fits));
    }
    const read = await batch(after, count);
    for (const record of read) {
      records.push(record);
      if (query.maxBytes === undefined) continue;
      bytes += recordBytes(record);
      if (bytes > query.maxBytes) return records;
    }
    if (read.length < count) break;
    after = read[read.length - 1]!.id;
  }
  return records;
}

/** Where a match is in the merged order of a Redis search: by time, then room key, then id. */
interface SearchPosition {
  ts: number;
  room: string;
  id: number;
}

/** Negative when `a` comes before (is older than) `b`. */
function comparePositions(a: SearchPosition, b: SearchPosition): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  if (a.room !== b.room) return a.room < b.room ? -1 : 1;
  return a.id - b.id;
}

/** The room's settings as stored: the sequence (lastId) lives apart. */
function roomJson(record: RoomRecord): string {
  const { lastId: _lastId, ...settings } = record;
  return JSON.stringify(settings);
}

/** A pair of user keys in one order, as the DM pair key wants it. */
export function dmPairKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/** A write in the form the APPLY script reads. */
function encodeWrite(write: StoreWrite): Record<string, unknown> {
  switch (write.kind) {
    case "message": {
      const r = write.record;
      return {
        kind: "message",
        record: {
          ...r,
          ts: String(r.ts),
          action: r.action ? "1" : "",
          // Section 21: whom message changes check authorship by.
          senderKey: nameKey(r.from),
          file: r.file === undefined ? "" : JSON.stringify(r.file),
        },
        ...(r.clientMsgId === undefined
          ? {}
          : { sender: nameKey(r.from), clientMsgId: r.clientMsgId }),
      };
    }
    case "change": {
      // Section 21: the fields of a change as the scripts read it (see check_change).
      const r = write.record;
      return {
        kind: "change",
        room: r.room,
        id: r.id,
        k: r.change,
        g: r.target,
        f: r.from,
        u: r.user ?? "",
        x: r.text,
        t: String(r.ts),
      };
    }
    case "dm": {
      const r = write.record;
      const fromKey = nameKey(r.from);
      const toKey = nameKey(r.to);
      return {
        kind: "dm",
        id: r.id,
        from: r.from,
        to: r.to,
        fromKey,
        toKey,
        pair: dmPairKey(fromKey, toKey),
        body: r.body,
        ts: String(r.ts),
        action: r.action,
        delivered: write.delivered,
        clientMsgId: r.clientMsgId ?? "",
        file: r.file === undefined ? "" : JSON.stringify(r.file),
      };
    }
    case "file": {
      const r = write.record;
      return {
        kind: "file",
        id: r.id,
        json: JSON.stringify(r),
        room: r.room ?? "",
        uploader: r.uploader,
        ts: r.ts,
        size: r.size,
        sha256: r.sha256,
      };
    }
    case "room":
      return {
        kind: "room",
        key: write.record.key,
        json: roomJson(write.record),
        lastId: write.record.lastId,
      };
    case "deleteRoom":
      return { kind: "deleteRoom", room: write.room };
    case "grant":
      return {
        kind: "grant",
        room: write.grant.room,
        field: `${write.grant.user}:${write.grant.kind}`,
        json: JSON.stringify(write.grant),
      };
    case "ungrant":
      return { kind: "ungrant", room: write.room, field: `${write.user}:${write.grant}` };
    case "audit":
      return { kind: "audit", json: JSON.stringify(write.entry) };
    case "delivered":
      return { kind: "delivered", user: write.user, upTo: write.upTo };
    case "read":
      return { kind: "read", user: write.user, peer: write.peer, upTo: write.upTo };
  }
}

/**
 * Redis implementation of {@linkcode Store}, over a shared
 * {@linkcode RedisConnection} (closed with the store).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { RedisConnection } from "../cluster/redis_connection.ts";
 * import { RedisStore } from "./redis_store.ts";
 * const store = new RedisStore(await RedisConnection.open("redis://127.0.0.1:6379"));
 * assert.deepEqual(await store.loadRooms(), []); // a Redis nothing was stored in yet
 * await store.close();
 * ```
 */
export class RedisStore implements Store {
  readonly redis: RedisConnection;
  readonly keys: RedisKeys;
  #looksIndexed: Promise<void> | undefined;
  /** How long and how many client message ids are kept (their memory in Redis). */
  readonly msgIdWindow: MsgIdWindow;

  constructor(
    redis: RedisConnection,
    options: { keys?: RedisKeys; msgIdWindow?: MsgIdWindow } = {},
  ) {
    this.redis = redis;
    this.keys = options.keys ?? new RedisKeys();
    this.msgIdWindow = options.msgIdWindow ??
      { ms: DEFAULT_MSG_ID_WINDOW_MS, perUser: DEFAULT_MSG_IDS_PER_USER };
  }

  /**
   * Connects to the Redis at `url` for a one-off command (`chat user`,
   * `chat apikey`): patient timeouts, few commands at once.
   */
  static async open(url: string, options: { prefix?: string } = {}): Promise<RedisStore> {
    const connection = await RedisConnection.open(url, { commandTimeoutMs: 5000, maxPending: 100 });
    const store = new RedisStore(connection, { keys: new RedisKeys(options.prefix) });
    try {
      await store.rekeyNames();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /**
   * Re-keys what the store keeps by name key when it was keyed by another
   * `NAME_KEY_VERSION` (see redis_name_keys.ts): before the instance
   * publishes presence. Logs and resolves to what it renamed; rejects while
   * an instance is live.
   */
  async rekeyNames(): Promise<NameKeyRename[]> {
    const renames = await rekeyRedisNames(this.redis, this.keys);
    const logger = getLogger(["chat", "store"]);
    for (const rename of renames) {
      logger.warn("Redis {prefix}: {rename}", {
        prefix: this.keys.prefix,
        rename: describeRename(rename),
      });
    }
    return renames;
  }

  async write(batch: readonly StoreWrite[]): Promise<void> {
    if (batch.length === 0) return;
    const { ms, perUser } = this.msgIdWindow;
    await this.redis.eval(APPLY, [
      this.keys.prefix,
      JSON.stringify(batch.map(encodeWrite)),
      JSON.stringify({ ms, n: perUser }),
    ]);
  }

  async messageByClientMsgId(
    room: string,
    query: ClientMsgQuery,
  ): Promise<MessageRecord | undefined> {
    const id = await this.#recall(query, `r:${room}:${query.clientMsgId}`);
    if (id === undefined) return undefined;
    const entries = await this.redis.command<StreamEntry[]>(
      ["XRANGE", this.keys.log(room), `${id}-0`, `${id}-0`],
    );
    const entry = entries[0];
    return entry === undefined
      ? undefined
      : { ...toMessage(room, entry), clientMsgId: query.clientMsgId };
  }

  async dmByClientMsgId(to: string, query: ClientMsgQuery): Promise<DmRecord | undefined> {
    const id = await this.#recall(query, `d:${to}:${query.clientMsgId}`);
    if (id === undefined) return undefined;
    const [record] = await this.#dms([String(id)]);
    return record === undefined ? undefined : { ...record, clientMsgId: query.clientMsgId };
  }

  /** The message id `member` of the sender's client message ids names, if remembered. */
  async #recall(query: ClientMsgQuery, member: string): Promise<number | undefined> {
    const [entry, newer] = await Promise.all([
      this.redis.command<string | null>(["HGET", this.keys.msgIds(query.sender), member]),
      this.redis.command<number | null>(["ZREVRANK", this.keys.msgIdTimes(query.sender), member]),
    ]);
    if (entry === null || newer === null || newer >= query.perUser) return undefined;
    // "message-id ts", as the scripts keep it.
    const [id, ts] = entry.split(" ").map(Number);
    return ts! < query.since ? undefined : id;
  }

  async loadRooms(): Promise<RoomRecord[]> {
    const [rooms, seqs] = await Promise.all([
      this.redis.command<string[]>(["HGETALL", this.keys.rooms]),
      this.redis.command<string[]>(["HGETALL", this.keys.seq]),
    ]);
    const lastIds = new Map<string, number>();
    for (let i = 0; i + 1 < seqs.length; i += 2) lastIds.set(seqs[i]!, Number(seqs[i + 1]));
    const records: RoomRecord[] = [];
    for (let i = 0; i + 1 < rooms.length; i += 2) {
      const raw = JSON.parse(rooms[i + 1]!);
      records.push(toRoomRecord(raw, lastIds.get(rooms[i]!) ?? 0));
    }
    return records;
  }

  async loadGrants(): Promise<GrantRecord[]> {
    const grants = await this.redis.eval<string[]>(LOAD_GRANTS, [this.keys.prefix]);
    return grants.map((json) => JSON.parse(json) as GrantRecord);
  }

  /** The id of the last message of `room` (its sequence), 0 when none. */
  async lastId(room: string): Promise<number> {
    return Number(await this.redis.command<string | null>(["HGET", this.keys.seq, room]) ?? 0);
  }

  async history(room: string, query: HistoryQuery): Promise<MessageRecord[]> {
    const key = this.keys.log(room);
    if (query.after !== undefined) {
      const end = query.upTo === undefined ? "+" : `${query.upTo}-0`;
      if (query.upTo !== undefined && query.upTo <= query.after) return [];
      const page = await readBounded(query, async (from, count) => {
        const start = from === undefined ? `${query.after! + 1}-0` : `(${from}-0`;
        const entries = await this.redis.command<StreamEntry[]>(
          ["XRANGE", key, start, end, "COUNT", count],
        );
        return entries.map((entry) => toMessage(room, entry));
      });
      return await this.#withStates(room, page);
    }
    const below = Math.min(
      query.before ?? Number.MAX_SAFE_INTEGER,
      (query.upTo ?? Number.MAX_SAFE_INTEGER - 1) + 1,
    );
    if (below <= 1) return [];
    const newest = await readBounded(query, async (from, count) => {
      const start = from !== undefined
        ? `(${from}-0`
        : below >= Number.MAX_SAFE_INTEGER
        ? "+"
        : `${below - 1}-0`;
      const entries = await this.redis.command<StreamEntry[]>(
        ["XREVRANGE", key, start, "-", "COUNT", count],
      );
      return entries.map((entry) => toMessage(room, entry));
    });
    return await this.#withStates(room, newest.reverse());
  }

  /** `messages` in their current state: edited, deleted, reacted to (section 21). */
  async #withStates(room: string, messages: MessageRecord[]): Promise<MessageRecord[]> {
    if (messages.length === 0) return messages;
    const states = await this.redis.command<(string | null)[]>(
      ["HMGET", this.keys.messageStates(room), ...messages.map((message) => String(message.id))],
    );
    return messages.map((message, index) => withState(message, parseState(states[index] ?? null)));
  }

  async timeline(room: string, query: TimelineQuery): Promise<TimelineRecord[]> {
    const upTo = query.upTo ?? Number.MAX_SAFE_INTEGER;
    if (upTo <= query.after) return [];
    const end = query.upTo === undefined ? "+" : `${query.upTo}-0`;
    const read = (key: string, convert: (entry: StreamEntry) => TimelineRecord) =>
      readBounded(query, async (from, count) => {
        const start = from === undefined ? `${query.after + 1}-0` : `(${from}-0`;
        const entries = await this.redis.command<StreamEntry[]>(
          ["XRANGE", key, start, end, "COUNT", count],
        );
        return entries.map(convert);
      });
    const [messages, changes] = await Promise.all([
      read(this.keys.log(room), (entry) => toMessage(room, entry)),
      read(this.keys.changes(room), (entry) => toChange(room, entry)),
    ]);
    // Each side is complete up to its last entry when it stopped short of the
    // page (limit or bytes), else up to upTo: the merge is, up to the lower of those.
    const complete = (side: TimelineRecord[]) =>
      side.length >= query.limit || (query.maxBytes !== undefined && bytesOf(side) > query.maxBytes)
        ? side[side.length - 1]!.id
        : upTo;
    const through = Math.min(complete(messages), complete(changes));
    const stated = await this.#withStates(room, messages as MessageRecord[]);
    // A change whose message retention pruned goes with it.
    const oldest = await this.oldestId(room);
    const merged = [...stated, ...changes]
      .filter((record) => record.id <= through)
      .filter((record) =>
        !isChangeRecord(record) || (oldest !== undefined && record.target >= oldest)
      )
      .sort((a, b) => a.id - b.id);
    const page: TimelineRecord[] = [];
    let bytes = 0;
    for (const record of merged) {
      if (page.length >= query.limit) break;
      page.push(record);
      bytes += recordBytes(record);
      if (query.maxBytes !== undefined && bytes > query.maxBytes) break;
    }
    return page;
  }

  async messageState(room: string, id: number): Promise<MessageState | undefined> {
    const [entries, json] = await Promise.all([
      this.redis.command<StreamEntry[]>(["XRANGE", this.keys.log(room), `${id}-0`, `${id}-0`]),
      this.redis.command<string | null>(["HGET", this.keys.messageStates(room), String(id)]),
    ]);
    const entry = entries[0];
    if (entry === undefined) return undefined;
    const state = parseState(json);
    const reactions = new Map<string, Set<string>>();
    for (const [emoji, users] of reactionsOf(state ?? {})) {
      if (Array.isArray(users) && users.length > 0) {
        reactions.set(emoji, new Set(users.map(([user]) => user)));
      }
    }
    return {
      id,
      from: toMessage(room, entry).from,
      deleted: state?.d !== undefined,
      reactions,
    };
  }

  /**
   * Redis has no search index: each room's latest `query.scan` messages are
   * read newest first, in batches, and matched here with the same rules as
   * the SQLite index; older messages are not searched, nor are direct
   * messages (docs/protocol.md section 24). Matches of all rooms are merged
   * newest first by (ts, room, id), which the cursor `t<ts>.<id>.<room>`
   * names.
   */
  async search(query: SearchQuery): Promise<SearchHit[]> {
    let before: SearchPosition | undefined;
    if (query.cursor !== undefined) {
      const match = /^t(\d{1,15})\.(\d{1,15})\.(.+)$/s.exec(query.cursor);
      if (match === null) {
        throw new ChatError("bad_request", "Invalid search cursor: give one from an earlier reply");
      }
      before = { ts: Number(match[1]), id: Number(match[2]), room: match[3]! };
    }
    const perRoom = await Promise.all(
      query.rooms.map((room) => this.#searchRoom(room, query, before)),
    );
    const merged = perRoom.flat().sort((a, b) => comparePositions(b, a));
    const hits: SearchHit[] = [];
    let bytes = 0;
    for (const record of merged) {
      if (hits.length >= query.limit) break;
      hits.push({
        kind: "message",
        record,
        cursor: `t${record.ts}.${record.id}.${record.room}`,
      });
      bytes += recordBytes(record);
      if (query.maxBytes !== undefined && bytes > query.maxBytes) break;
    }
    return hits;
  }

  /** The matches among `room`'s latest `query.scan` messages older than `before`, bounded. */
  async #searchRoom(
    room: string,
    query: SearchQuery,
    before: SearchPosition | undefined,
  ): Promise<MessageRecord[]> {
    const key = this.keys.log(room);
    const found: MessageRecord[] = [];
    let bytes = 0;
    let read = 0;
    let start = "+";
    while (read < query.scan && found.length < query.limit) {
      const count = Math.min(MAX_BATCH, query.scan - read);
      const entries = await this.redis.command<StreamEntry[]>(
        ["XREVRANGE", key, start, "-", "COUNT", count],
      );
      read += entries.length;
      for (const entry of entries) {
        const record = toMessage(room, entry);
        if (before !== undefined && comparePositions(record, before) >= 0) continue;
        if (!bodyMatches(record.body, query.terms)) continue;
        found.push(record);
        bytes += recordBytes(record);
        // No page can hold more of this room than one page's bytes.
        if (found.length >= query.limit) break;
        if (query.maxBytes !== undefined && bytes > query.maxBytes) return found;
      }
      if (entries.length < count) break;
      start = `(${entries[entries.length - 1]![0]}`;
    }
    return found;
  }

  async oldestId(room: string): Promise<number | undefined> {
    const entries = await this.redis.command<StreamEntry[]>(
      ["XRANGE", this.keys.log(room), "-", "+", "COUNT", 1],
    );
    const first = entries[0];
    return first === undefined ? undefined : Number.parseInt(first[0], 10);
  }

  async prune(policy: RetentionPolicy, batchSize: number): Promise<number> {
    const seqs = await this.redis.command<string[]>(["HGETALL", this.keys.seq]);
    let deleted = 0;
    for (let i = 0; i + 1 < seqs.length && deleted < batchSize; i += 2) {
      const room = seqs[i]!;
      const lastId = Number(seqs[i + 1]);
      let minId = 0;
      if (policy.maxMessages > 0) minId = Math.max(minId, lastId - policy.maxMessages + 1);
      if (policy.maxAgeMs > 0) {
        // Ids follow time closely: the first message young enough bounds what goes.
        const cutoff = Date.now() - policy.maxAgeMs;
        const entries = await this.redis.command<StreamEntry[]>(
          ["XRANGE", this.keys.log(room), "-", "+", "COUNT", batchSize - deleted],
        );
        let young = entries.findIndex((entry) => Number(fieldsOf(entry[1]).t) >= cutoff);
        if (young === -1) young = entries.length;
        const firstKept = entries[young];
        const ageMin = firstKept === undefined
          ? (entries.length === 0 ? 0 : Number.parseInt(entries[entries.length - 1]![0], 10) + 1)
          : Number.parseInt(firstKept[0], 10);
        minId = Math.max(minId, ageMin);
      }
      if (minId <= 1) continue;
      deleted += await this.redis.command<number>(
        ["XTRIM", this.keys.log(room), "MINID", `${minId}-0`],
      );
      // Section 21: a message's changes and state go with it.
      await this.#pruneChanges(room, minId);
    }
    return deleted;
  }

  /** Drops the change entries and states of the messages of `room` below `minId`. */
  async #pruneChanges(room: string, minId: number): Promise<void> {
    await this.redis.command(["XTRIM", this.keys.changes(room), "MINID", `${minId}-0`]);
    const ids = await this.redis.command<string[]>(["HKEYS", this.keys.messageStates(room)]);
    const gone = ids.filter((id) => Number(id) < minId);
    for (let at = 0; at < gone.length; at += 500) {
      await this.redis.command(
        ["HDEL", this.keys.messageStates(room), ...gone.slice(at, at + 500)],
      );
    }
  }

  async lastDmId(): Promise<number> {
    return Number(await this.redis.command<string | null>(["GET", this.keys.dmSeq]) ?? 0);
  }

  async dmHistory(user: string, peer: string, query: HistoryQuery): Promise<DmRecord[]> {
    const key = this.keys.dmPair(user, peer);
    if (query.after !== undefined) {
      return await readBounded(query, async (from, count) =>
        await this.#dms(
          await this.redis.command<string[]>(
            ["ZRANGEBYSCORE", key, `(${from ?? query.after}`, "+inf", "LIMIT", 0, count],
          ),
        ));
    }
    const newest = await readBounded(query, async (from, count) => {
      const below = from ?? query.before;
      return await this.#dms(
        await this.redis.command<string[]>([
          "ZREVRANGEBYSCORE",
          key,
          below === undefined ? "+inf" : `(${below}`,
          "-inf",
          "LIMIT",
          0,
          count,
        ]),
      );
    });
    return newest.reverse();
  }

  async pendingDms(user: string, query: PendingQuery): Promise<DmRecord[]> {
    const key = this.keys.dmPending(user);
    return await readBounded(query, async (from, count) =>
      await this.#dms(
        await this.redis.command<string[]>(
          ["ZRANGEBYSCORE", key, `(${from ?? query.after ?? 0}`, "+inf", "LIMIT", 0, count],
        ),
      ));
  }

  async #dms(ids: string[]): Promise<DmRecord[]> {
    if (ids.length === 0) return [];
    const records = await this.redis.command<(string | null)[]>(["HMGET", this.keys.dms, ...ids]);
    return records.filter((json): json is string => json !== null).map(toDm);
  }

  async unreadCounts(user: string): Promise<UnreadCount[]> {
    const flat = await this.redis.eval<(string | number)[]>(UNREAD, [this.keys.prefix, user]);
    const counts: UnreadCount[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      counts.push({ peer: String(flat[i]), count: Number(flat[i + 1]) });
    }
    return counts.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
  }

  async lastDmFrom(user: string, peer: string): Promise<number> {
    const [id] = await this.redis.command<string[]>([
      "ZREVRANGE",
      this.keys.dmIn(user, peer),
      "0",
      "0",
    ]);
    return Number(id ?? 0);
  }

  async readMarker(user: string, peer: string): Promise<number> {
    const id = await this.redis.command<string | null>(["HGET", this.keys.dmRead(user), peer]);
    return Number(id ?? 0);
  }

  async getAccount(key: string): Promise<AccountRecord | undefined> {
    const json = await this.redis.command<string | null>(["HGET", this.keys.accounts, key]);
    return json === null ? undefined : JSON.parse(json) as AccountRecord;
  }

  async putAccount(account: AccountRecord): Promise<void> {
    await this.redis.command(["HSET", this.keys.accounts, account.key, JSON.stringify(account)]);
    await this.#indexLooks();
    const look = lookalikeKey(account.name);
    const holder = await this.redis.command<string | null>(["HGET", this.keys.accountLooks, look]);
    // An older account keeps the entry (names that look alike from before the rule).
    if (holder === null || holder === account.key || await this.getAccount(holder) === undefined) {
      await this.redis.command(["HSET", this.keys.accountLooks, look, account.key]);
    }
  }

  async deleteAccount(key: string): Promise<boolean> {
    const account = await this.getAccount(key);
    const [removed] = await Promise.all([
      this.redis.command<number>(["HDEL", this.keys.accounts, key]),
      this.redis.command(["DEL", this.keys.loginAddresses(key)]),
      this.redis.command(["HDEL", this.keys.loginUnlocks, key]),
    ]);
    const deleted = removed > 0;
    if (account !== undefined) {
      const look = lookalikeKey(account.name);
      const holder = await this.redis.command<string | null>(
        ["HGET", this.keys.accountLooks, look],
      );
      if (holder === key) await this.redis.command(["HDEL", this.keys.accountLooks, look]);
    }
    return deleted;
  }

  async findAccountLike(lookalike: string, except: string): Promise<AccountRecord | undefined> {
    await this.#indexLooks();
    const holder = await this.redis.command<string | null>(
      ["HGET", this.keys.accountLooks, lookalike],
    );
    if (holder === null || holder === except) return undefined;
    return await this.getAccount(holder);
  }

  /**
   * Builds the lookalike index from the accounts once, when it was built by
   * a build whose lookalike keys differ (or never): one read of every
   * account per upgrade, never per lookup.
   */
  #indexLooks(): Promise<void> {
    this.#looksIndexed ??= (async () => {
      const version = await this.redis.command<string | null>(
        ["GET", this.keys.accountLooksVersion],
      );
      if (version === LOOKALIKE_KEY_VERSION) return;
      // The oldest account holds its look, as putAccount keeps it.
      const accounts = (await this.listAccounts()).sort((a, b) => a.createdAt - b.createdAt);
      const entries = new Map<string, string>();
      for (const account of accounts) {
        const look = lookalikeKey(account.name);
        if (!entries.has(look)) entries.set(look, account.key);
      }
      await this.redis.command(["DEL", this.keys.accountLooks]);
      const flat = [...entries].flat();
      for (let i = 0; i < flat.length; i += 1000) {
        await this.redis.command(["HSET", this.keys.accountLooks, ...flat.slice(i, i + 1000)]);
      }
      await this.redis.command(["SET", this.keys.accountLooksVersion, LOOKALIKE_KEY_VERSION]);
    })().catch((error) => {
      this.#looksIndexed = undefined;
      throw error;
    });
    return this.#looksIndexed;
  }

  async listAccounts(): Promise<AccountRecord[]> {
    const values = await this.redis.command<string[]>(["HVALS", this.keys.accounts]);
    return values.map((json) => JSON.parse(json) as AccountRecord)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async putLoginAddress(
    account: string,
    address: LoginAddressRecord,
    limits: LoginAddressLimits,
  ): Promise<void> {
    const key = this.keys.loginAddresses(account);
    // One connection keeps the order: add, forget the old, keep the newest.
    await Promise.all([
      this.redis.command(["ZADD", key, "GT", address.lastLoginAt, address.ip]),
      this.redis.command(["ZREMRANGEBYSCORE", key, "-inf", `(${limits.notBefore}`]),
      this.redis.command(["ZREMRANGEBYRANK", key, 0, -(limits.keep + 1)]),
    ]);
  }

  async lastLoginFrom(account: string, ip: string): Promise<number | undefined> {
    const score = await this.redis.command<string | null>(
      ["ZSCORE", this.keys.loginAddresses(account), ip],
    );
    return score === null ? undefined : Number(score);
  }

  async loginAddresses(account: string): Promise<LoginAddressRecord[]> {
    const flat = await this.redis.command<string[]>(
      ["ZRANGE", this.keys.loginAddresses(account), 0, -1, "REV", "WITHSCORES"],
    );
    const records: LoginAddressRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      records.push({ ip: flat[i]!, lastLoginAt: Number(flat[i + 1]) });
    }
    return records;
  }

  async putLoginUnlock(account: string, at: number): Promise<void> {
    await this.redis.command(["HSET", this.keys.loginUnlocks, account, at]);
  }

  async loginUnlock(account: string): Promise<number | undefined> {
    const value = await this.redis.command<string | null>(
      ["HGET", this.keys.loginUnlocks, account],
    );
    return value === null ? undefined : Number(value);
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    const taken = (await this.listApiKeys()).some((other) =>
      other.id === key.id || nameKey(other.name) === nameKey(key.name)
    );
    if (taken) throw new Error(`Cannot add API key ${key.name}: its id or name is taken`);
    // HSETNX: a key added elsewhere meanwhile with the same id is not overwritten.
    const added = await this.redis.command<number>(
      ["HSETNX", this.keys.apiKeys, key.id, JSON.stringify(key)],
    );
    if (added !== 1) throw new Error(`Cannot add API key ${key.name}: its id is taken`);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const json = await this.redis.command<string | null>(["HGET", this.keys.apiKeys, id]);
    return json === null ? undefined : JSON.parse(json) as ApiKeyRecord;
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const values = await this.redis.command<string[]>(["HVALS", this.keys.apiKeys]);
    return values.map((json) => JSON.parse(json) as ApiKeyRecord)
      .sort((a, b) => {
        const [x, y] = [nameKey(a.name), nameKey(b.name)];
        return x < y ? -1 : x > y ? 1 : 0;
      });
  }

  async deleteApiKey(name: string): Promise<boolean> {
    const key = (await this.listApiKeys()).find((other) => nameKey(other.name) === nameKey(name));
    if (key === undefined) return false;
    return await this.redis.command<number>(["HDEL", this.keys.apiKeys, key.id]) > 0;
  }

  async putWebhook(webhook: WebhookRecord): Promise<void> {
    const added = await this.redis.command<number>(
      ["HSETNX", this.keys.webhooks, webhook.id, JSON.stringify(webhook)],
    );
    if (added !== 1) throw new Error(`Cannot add webhook ${webhook.id}: its id is taken`);
  }

  async listWebhooks(): Promise<WebhookRecord[]> {
    const values = await this.redis.command<string[]>(["HVALS", this.keys.webhooks]);
    return values.map((json) => JSON.parse(json) as WebhookRecord)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return await this.redis.command<number>(["HDEL", this.keys.webhooks, id]) > 0;
  }

  async auditLog(limit: number): Promise<AuditRecord[]> {
    const entries = await this.redis.command<StreamEntry[]>(
      ["XREVRANGE", this.keys.audit, "+", "-", "COUNT", limit],
    );
    return entries.reverse().map((entry) =>
      JSON.parse(fieldsOf(entry[1]).j ?? "{}") as AuditRecord
    );
  }

  // Files (section 23): files (id -> record JSON), filesby:UPLOADER (ts ->
  // 'id:size'), filesha:SHA (ids), fileref (id -> 'room:messageId' or 'dm'),
  // roomfiles:ROOM (the ids of a room's files, deleted with the room), and
  // unusedblobs (contents a deleted room's files left, for retention).

  async getFile(id: string): Promise<FileRecord | undefined> {
    const json = await this.redis.command<string | null>(["HGET", `${this.keys.prefix}files`, id]);
    return json === null ? undefined : JSON.parse(json) as FileRecord;
  }

  async uploadedBytes(uploader: string, since: number): Promise<number> {
    const members = await this.redis.command<string[]>(
      ["ZRANGE", `${this.keys.prefix}filesby:${uploader}`, since, "+inf", "BYSCORE"],
    );
    return members.reduce(
      (sum, member) => sum + Number(member.slice(member.lastIndexOf(":") + 1)),
      0,
    );
  }

  async pruneFiles(before: number): Promise<string[]> {
    const p = this.keys.prefix;
    const gone: string[] = [];
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.command<[string, string[]]>(
        ["HSCAN", `${p}files`, cursor, "COUNT", 500],
      );
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const record = JSON.parse(flat[i + 1]!) as FileRecord;
        if (record.ts >= before || await this.#fileReferenced(record.id)) continue;
        await this.redis.command(["HDEL", `${p}files`, record.id]);
        await this.redis.command(["HDEL", `${p}fileref`, record.id]);
        if (record.room !== null) {
          await this.redis.command(["SREM", `${p}roomfiles:${record.room}`, record.id]);
        }
        await this.redis.command(
          ["ZREM", `${p}filesby:${record.uploader}`, `${record.id}:${record.size}`],
        );
        await this.redis.command(["SREM", `${p}filesha:${record.sha256}`, record.id]);
        if (await this.redis.command<number>(["SCARD", `${p}filesha:${record.sha256}`]) === 0) {
          gone.push(record.sha256);
        }
      }
    } while (cursor !== "0");
    // The contents the files of deleted rooms left (shared again since: kept).
    const left = await this.redis.command<string[]>(["SMEMBERS", `${p}unusedblobs`]);
    for (const sha256 of left) {
      await this.redis.command(["SREM", `${p}unusedblobs`, sha256]);
      const users = await this.redis.command<number>(["SCARD", `${p}filesha:${sha256}`]);
      if (users === 0 && !gone.includes(sha256)) gone.push(sha256);
    }
    return gone;
  }

  /** Whether a message or DM still shares file `id`. */
  async #fileReferenced(id: string): Promise<boolean> {
    const ref = await this.redis.command<string | null>(["HGET", `${this.keys.prefix}fileref`, id]);
    if (ref === null) return false;
    if (ref === "dm") return true;
    const sep = ref.lastIndexOf(":");
    const messageId = ref.slice(sep + 1);
    const entries = await this.redis.command<StreamEntry[]>(
      ["XRANGE", this.keys.log(ref.slice(0, sep)), `${messageId}-0`, `${messageId}-0`],
    );
    return entries.length > 0;
  }

  async ping(): Promise<boolean> {
    try {
      return await this.redis.command<string>(["PING"]) === "PONG";
    } catch {
      return false;
    }
  }

  async checkWrite(): Promise<void> {
    // SET is refused like any write when Redis is out of memory or read-only.
    await this.redis.command(["SET", this.keys.probe, String(Date.now()), "PX", "60000"]);
  }

  async close(): Promise<void> {
    await this.redis.close();
  }
}

/** A room record from its stored JSON and its sequence. */
export function toRoomRecord(raw: Record<string, unknown>, lastId: number): RoomRecord {
  return {
    key: String(raw.key),
    name: String(raw.name),
    owner: raw.owner === null || raw.owner === undefined ? null : String(raw.owner),
    topic: String(raw.topic ?? ""),
    inviteOnly: raw.inviteOnly === true,
    passphrase: raw.passphrase === null || raw.passphrase === undefined
      ? null
      : String(raw.passphrase),
    createdAt: Number(raw.createdAt),
    lastId,
  };
}
