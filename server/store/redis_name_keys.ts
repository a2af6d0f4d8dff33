/**
 * Re-keying a Redis store when {@linkcode NAME_KEY_VERSION} changes: the
 * plan of name_key_migration.ts applied to every key and field that holds
 * a name key. The instance reads what to change, then one Lua script applies
 * it atomically, unless another instance did first (the script checks the
 * version). It refuses while an instance is live: presence is written under
 * keys that instance computes, and an older build keeps using the old ones.
 *
 * @module
 */
import { NAME_KEY_VERSION } from "../../shared/validation.ts";
import type { RedisConnection } from "../cluster/redis_connection.ts";
import { RedisScript } from "../cluster/redis_connection.ts";
import type { RedisKeys } from "../cluster/redis_keys.ts";
import {
  describeRename,
  type NameKeyPlan,
  type NameKeyRename,
  newRoomKey,
  newUserKey,
  planNameKeys,
} from "./name_key_migration.ts";

/** One change, as the script applies it. */
type Op =
  | { op: "rename"; from: string; to: string }
  | { op: "del"; key: string }
  | { op: "hdel"; key: string; fields: string[] }
  | { op: "hset"; key: string; set: string[] }
  | { op: "zrem"; key: string; members: string[] }
  | { op: "zadd"; key: string; add: Array<string | number> }
  | { op: "srem"; key: string; members: string[] }
  | { op: "sadd"; key: string; members: string[] }
  | { op: "pexpire"; key: string; ms: number }
  | { op: "xadd"; key: string; json: string };

// KEYS none; ARGV: version key, version, JSON ops. Renames go through keys
// of their own first (a renamed key may be another's old one), then every
// removal, then every addition. A zset renamed onto one that exists is
// merged (the ids of both); nothing else can meet (the plan renames).
const APPLY_NAME_KEYS = new RedisScript(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
if redis.call('GET', ARGV[1]) == ARGV[2] then return 0 end
local ops = cjson.decode(ARGV[3])
local moved = {}
for i, o in ipairs(ops) do
  if o.op == 'rename' and redis.call('EXISTS', o.from) == 1 then
    local tmp = ARGV[1] .. ':tmp:' .. i
    redis.call('RENAME', o.from, tmp)
    moved[#moved + 1] = {tmp, o.to}
  end
end
for _, m in ipairs(moved) do
  if redis.call('EXISTS', m[2]) == 1 then
    redis.call('ZUNIONSTORE', m[2], 2, m[2], m[1], 'AGGREGATE', 'MAX')
    redis.call('DEL', m[1])
  else
    redis.call('RENAME', m[1], m[2])
  end
end
for _, o in ipairs(ops) do
  if o.op == 'del' then redis.call('DEL', o.key)
  elseif o.op == 'hdel' then redis.call('HDEL', o.key, unpack(o.fields))
  elseif o.op == 'zrem' then redis.call('ZREM', o.key, unpack(o.members))
  elseif o.op == 'srem' then redis.call('SREM', o.key, unpack(o.members)) end
end
for _, o in ipairs(ops) do
  if o.op == 'hset' then redis.call('HSET', o.key, unpack(o.set))
  elseif o.op == 'zadd' then redis.call('ZADD', o.key, unpack(o.add))
  elseif o.op == 'sadd' then redis.call('SADD', o.key, unpack(o.members))
  elseif o.op == 'pexpire' then redis.call('PEXPIRE', o.key, o.ms)
  elseif o.op == 'xadd' then redis.call('XADD', o.key, '*', 'j', o.json) end
end
redis.call('SET', ARGV[1], ARGV[2])
return 1
`);

function pairs(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

// Lua's unpack takes some thousands of values: long lists go in parts.
const PART = 1000;

function chunked(op: Op): Op[] {
  const parts = <T>(list: T[], step: number) =>
    Array.from(
      { length: Math.ceil(list.length / step) },
      (_, i) => list.slice(i * step, (i + 1) * step),
    );
  switch (op.op) {
    case "hdel":
      return parts(op.fields, PART).map((fields) => ({ ...op, fields }));
    case "hset":
      return parts(op.set, PART).map((set) => ({ ...op, set }));
    case "zadd":
      return parts(op.add, PART).map((add) => ({ ...op, add }));
    case "zrem":
    case "srem":
    case "sadd":
      return parts(op.members, PART).map((members) => ({ ...op, members }));
    default:
      return [op];
  }
}

function glob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => "\\" + char);
}

/** Re-keys one store; see {@linkcode rekeyRedisNames}. */
class Rekeying {
  readonly #redis: RedisConnection;
  readonly #keys: RedisKeys;
  readonly #removals: Op[] = [];
  readonly #additions: Op[] = [];
  readonly #renames: Op[] = [];
  #plan!: NameKeyPlan;

  constructor(redis: RedisConnection, keys: RedisKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  #user = (key: string) => newUserKey(this.#plan, key);
  #room = (key: string) => newRoomKey(this.#plan, key);

  async #scan(family: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await this.#redis.command<[string, string[]]>(
        ["SCAN", cursor, "MATCH", glob(this.#keys.prefix + family) + "*", "COUNT", 1000],
      );
      found.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    return found.map((key) => key.slice(this.#keys.prefix.length + family.length));
  }

  /** Moves hash fields: the old ones go, the new ones (with their values) come. */
  #moveFields(key: string, moves: Array<[from: string, to: string, value: string]>): void {
    if (moves.length === 0) return;
    this.#removals.push({ op: "hdel", key, fields: moves.map(([from]) => from) });
    this.#additions.push({ op: "hset", key, set: moves.flatMap(([, to, value]) => [to, value]) });
  }

  /** Replaces a whole hash or zset of `key` under `next` (merging what meets). */
  #replace(key: string, next: string, op: "hset" | "zadd", entries: Array<string | number>): void {
    this.#removals.push({ op: "del", key });
    if (entries.length > 0) {
      this.#additions.push(
        op === "hset"
          ? { op, key: next, set: entries.map(String) }
          : { op, key: next, add: entries },
      );
    }
  }

  async run(): Promise<NameKeyRename[]> {
    const r = this.#redis;
    const k = this.#keys;
    const version = await r.command<string | null>(["GET", k.nameKeyVersion]);
    if (version === NAME_KEY_VERSION) return [];
    const [seconds] = await r.command<[string, string]>(["TIME"]);
    const live = await r.command<string[]>(
      ["ZRANGEBYSCORE", k.instances, `(${Number(seconds) * 1000}`, "+inf"],
    );
    if (live.length > 0) {
      throw new Error(
        `Cannot re-key names in Redis (prefix ${k.prefix}) for name key version ` +
          `${NAME_KEY_VERSION}: ${live.length} instance(s) are live (${live.join(", ")}); ` +
          `stop every instance, then start them again with this build`,
      );
    }
    const accounts = pairs(await r.command<string[]>(["HGETALL", k.accounts]))
      .map(([key, json]) => ({ key, json: JSON.parse(json) as Record<string, unknown> }));
    const rooms = pairs(await r.command<string[]>(["HGETALL", k.rooms]))
      .map(([key, json]) => ({ key, json: JSON.parse(json) as Record<string, unknown> }));
    const apiKeys = pairs(await r.command<string[]>(["HGETALL", k.apiKeys]))
      .map(([key, json]) => ({ key, json: JSON.parse(json) as Record<string, unknown> }));
    const named = (records: typeof accounts) =>
      records.map(({ key, json }) => ({
        key,
        name: String(json.name),
        createdAt: Number(json.createdAt),
      }));
    const plan = planNameKeys({
      accounts: named(accounts),
      rooms: named(rooms),
      apiKeys: named(apiKeys),
    });
    this.#plan = plan;
    const newName = new Map(
      plan.renames.map((rename) => [`${rename.kind}:${rename.oldKey}`, rename]),
    );
    const nameOf = (kind: string, key: string, name: unknown) =>
      newName.get(`${kind}:${key}`)?.newName ?? String(name);

    // Accounts, rooms, API keys: the records and the hashes keyed by them.
    this.#moveFields(
      k.accounts,
      accounts.filter(({ key }) => plan.accounts.has(key)).map(({ key, json }) => {
        const to = plan.accounts.get(key)!;
        return [
          key,
          to,
          JSON.stringify({ ...json, key: to, name: nameOf("account", key, json.name) }),
        ];
      }),
    );
    this.#moveFields(
      k.rooms,
      rooms.flatMap(({ key, json }) => {
        const to = this.#room(key);
        const owner = json.owner === null || json.owner === undefined
          ? json.owner
          : this.#user(String(json.owner));
        if (to === key && owner === json.owner) return [];
        const record = { ...json, key: to, name: nameOf("room", key, json.name), owner };
        return [[key, to, JSON.stringify(record)] as [string, string, string]];
      }),
    );
    for (const { key, json } of apiKeys) {
      const rename = newName.get(`apiKey:${key}`);
      if (rename === undefined) continue;
      this.#additions.push({
        op: "hset",
        key: k.apiKeys,
        set: [key, JSON.stringify({ ...json, name: rename.newName })],
      });
    }
    await this.#rekeyFields(k.seq, this.#room);
    await this.#rekeyFields(k.loginUnlocks, this.#user);
    for (const account of await this.#scan("loginaddr:")) {
      this.#rename(k.loginAddresses(account), k.loginAddresses(this.#user(account)));
    }
    for (const room of rooms.map(({ key }) => key)) {
      this.#rename(k.log(room), k.log(this.#room(room)));
      this.#rename(k.changes(room), k.changes(this.#room(room)));
      this.#rename(k.messageStates(room), k.messageStates(this.#room(room)));
      this.#rename(this.#roomFiles(room), this.#roomFiles(this.#room(room)));
    }
    await this.#rekeyMembers(k.emptyRooms, this.#room);
    await this.#rekeyGrants();
    await this.#rekeyDms();
    await this.#rekeyMsgIds();
    await this.#rekeyFiles();
    for (const rename of plan.renames) {
      this.#additions.push({
        op: "xadd",
        key: k.audit,
        json: JSON.stringify({
          ts: Date.now(),
          actor: "server",
          action: "rename",
          room: rename.kind === "room" ? rename.newName : null,
          target: rename.oldName,
          detail: describeRename(rename),
        }),
      });
    }
    // The lookalike index is rebuilt from the accounts as they are now.
    this.#removals.push({ op: "del", key: k.accountLooksVersion });
    const ops = [...this.#renames, ...this.#removals, ...this.#additions].flatMap(chunked);
    const applied = await r.eval<number>(APPLY_NAME_KEYS, [
      k.nameKeyVersion,
      NAME_KEY_VERSION,
      JSON.stringify(ops),
    ]);
    return applied === 1 ? [...plan.renames] : [];
  }

  #rename(from: string, to: string): void {
    if (from !== to) this.#renames.push({ op: "rename", from, to });
  }

  /** A hash whose fields are keys: each field moves to its new key (the larger number wins). */
  async #rekeyFields(key: string, rekey: (key: string) => string): Promise<void> {
    const moves: Array<[string, string, string]> = [];
    for (const [field, value] of pairs(await this.#redis.command<string[]>(["HGETALL", key]))) {
      const to = rekey(field);
      if (to !== field) moves.push([field, to, value]);
    }
    this.#moveFields(key, moves);
  }

  /** A zset whose members are keys. */
  async #rekeyMembers(key: string, rekey: (key: string) => string): Promise<void> {
    const entries = pairs(
      await this.#redis.command<string[]>(["ZRANGE", key, 0, -1, "WITHSCORES"]),
    ).filter(([member]) => rekey(member) !== member);
    if (entries.length === 0) return;
    this.#removals.push({ op: "zrem", key, members: entries.map(([member]) => member) });
    this.#additions.push({
      op: "zadd",
      key,
      add: entries.flatMap(([member, score]) => [score, rekey(member)]),
    });
  }

  async #rekeyGrants(): Promise<void> {
    const k = this.#keys;
    for (const room of await this.#redis.command<string[]>(["SMEMBERS", k.grantRooms])) {
      const grants = (await this.#redis.command<string[]>(["HVALS", k.grants(room)]))
        .map((json) => JSON.parse(json) as Record<string, unknown>);
      const to = this.#room(room);
      const merged = new Map<string, Record<string, unknown>>();
      let changed = to !== room;
      for (const grant of grants) {
        const user = this.#user(String(grant.user));
        if (user !== grant.user) changed = true;
        const field = `${user}:${grant.kind}`;
        const next: Record<string, unknown> = { ...grant, room: to, user };
        const other = merged.get(field);
        // Two nicknames that are one now: the grant that lasts longer stays.
        if (
          other === undefined || next.until === null ||
          (other.until !== null && Number(next.until) > Number(other.until))
        ) merged.set(field, next);
      }
      if (!changed) continue;
      this.#replace(
        k.grants(room),
        k.grants(to),
        "hset",
        [...merged].flatMap(([field, grant]) => [field, JSON.stringify(grant)]),
      );
      if (to !== room) {
        this.#removals.push({ op: "srem", key: k.grantRooms, members: [room] });
        this.#additions.push({ op: "sadd", key: k.grantRooms, members: [to] });
      }
    }
  }

  async #rekeyDms(): Promise<void> {
    const k = this.#keys;
    for (const pair of await this.#scan("dmpair:")) {
      const [a, b] = pair.split(":") as [string, string];
      this.#rename(k.dmPair(a, b), k.dmPair(this.#user(a), this.#user(b)));
    }
    for (const user of await this.#scan("dmpending:")) {
      this.#rename(k.dmPending(user), k.dmPending(this.#user(user)));
    }
    for (const both of await this.#scan("dmin:")) {
      const [user, peer] = both.split(":") as [string, string];
      this.#rename(k.dmIn(user, peer), k.dmIn(this.#user(user), this.#user(peer)));
    }
    // Hashes whose fields are peer keys: rebuilt when anything in them moves.
    const peerHashes = [
      { family: "dmpeers:", at: (user: string) => k.dmPeers(user), max: false },
      { family: "dmread:", at: (user: string) => k.dmRead(user), max: true },
    ];
    const rebuilt = new Map<string, Map<string, string>>();
    const olds: string[] = [];
    for (const { family, at, max } of peerHashes) {
      for (const user of await this.#scan(family)) {
        const fields = pairs(await this.#redis.command<string[]>(["HGETALL", at(user)]));
        const to = at(this.#user(user));
        if (to === at(user) && fields.every(([peer]) => this.#user(peer) === peer)) continue;
        olds.push(at(user));
        const hash = rebuilt.get(to) ?? new Map<string, string>();
        rebuilt.set(to, hash);
        for (const [peer, value] of fields) {
          const next = this.#user(peer);
          const other = hash.get(next);
          if (other === undefined || (max && Number(value) > Number(other))) hash.set(next, value);
        }
      }
    }
    for (const key of olds) this.#removals.push({ op: "del", key });
    for (const [key, hash] of rebuilt) {
      if (hash.size > 0) this.#additions.push({ op: "hset", key, set: [...hash].flat() });
    }
  }

  // Files (section 23), named as in redis_store.ts: files (id → record JSON
  // with the room, uploader and recipient keys), fileref (id → 'room:messageId'
  // or 'dm'), filesby:UPLOADER (the uploader's quota), roomfiles:ROOM.
  #roomFiles = (room: string) => `${this.#keys.prefix}roomfiles:${room}`;
  #filesBy = (uploader: string) => `${this.#keys.prefix}filesby:${uploader}`;

  async #hashEntries(key: string): Promise<Array<[string, string]>> {
    const entries: Array<[string, string]> = [];
    let cursor = "0";
    do {
      const [next, flat] = await this.#redis.command<[string, string[]]>(
        ["HSCAN", key, cursor, "COUNT", 1000],
      );
      entries.push(...pairs(flat));
      cursor = next;
    } while (cursor !== "0");
    return entries;
  }

  async #rekeyFiles(): Promise<void> {
    const p = this.#keys.prefix;
    const records: string[] = [];
    for (const [id, json] of await this.#hashEntries(`${p}files`)) {
      const record = JSON.parse(json) as Record<string, unknown>;
      const room = record.room === null ? null : this.#room(String(record.room));
      const to = record.to === null ? null : this.#user(String(record.to));
      const uploader = this.#user(String(record.uploader));
      if (room === record.room && to === record.to && uploader === record.uploader) continue;
      records.push(id, JSON.stringify({ ...record, room, to, uploader }));
    }
    if (records.length > 0) this.#additions.push({ op: "hset", key: `${p}files`, set: records });
    const refs: string[] = [];
    for (const [id, ref] of await this.#hashEntries(`${p}fileref`)) {
      const sep = ref.lastIndexOf(":");
      if (sep < 0) continue; // 'dm'
      const room = this.#room(ref.slice(0, sep));
      if (room !== ref.slice(0, sep)) refs.push(id, room + ref.slice(sep));
    }
    if (refs.length > 0) this.#additions.push({ op: "hset", key: `${p}fileref`, set: refs });
    // Two uploaders that are one now (two guests' nicknames): their quotas merge.
    for (const uploader of await this.#scan("filesby:")) {
      this.#rename(this.#filesBy(uploader), this.#filesBy(this.#user(uploader)));
    }
  }

  /** Client message ids: `r:<room>:<id>` and `d:<peer>:<id>` name keys, and expire. */
  async #rekeyMsgIds(): Promise<void> {
    const k = this.#keys;
    const member = (text: string) => {
      const match = /^([rd]):([^:]*):(.*)$/s.exec(text);
      if (match === null) return text;
      const key = match[1] === "r" ? this.#room(match[2]!) : this.#user(match[2]!);
      return `${match[1]}:${key}:${match[3]}`;
    };
    for (const user of await this.#scan("msgidt:")) {
      const flat = await this.#redis.command<string[]>(
        ["ZRANGE", k.msgIdTimes(user), 0, -1, "WITHSCORES"],
      );
      const entries = pairs(flat);
      const to = k.msgIdTimes(this.#user(user));
      if (to === k.msgIdTimes(user) && entries.every(([m]) => member(m) === m)) continue;
      const ttl = await this.#redis.command<number>(["PTTL", k.msgIdTimes(user)]);
      this.#replace(k.msgIdTimes(user), to, "zadd", entries.flatMap(([m, s]) => [s, member(m)]));
      if (ttl > 0 && entries.length > 0) this.#additions.push({ op: "pexpire", key: to, ms: ttl });
    }
    for (const user of await this.#scan("msgid:")) {
      const entries = pairs(await this.#redis.command<string[]>(["HGETALL", k.msgIds(user)]));
      const to = k.msgIds(this.#user(user));
      if (to === k.msgIds(user) && entries.every(([m]) => member(m) === m)) continue;
      const ttl = await this.#redis.command<number>(["PTTL", k.msgIds(user)]);
      this.#replace(k.msgIds(user), to, "hset", entries.flatMap(([m, v]) => [member(m), v]));
      if (ttl > 0 && entries.length > 0) this.#additions.push({ op: "pexpire", key: to, ms: ttl });
    }
  }
}

/**
 * Re-keys the store under `keys` when it was keyed by another
 * {@linkcode NAME_KEY_VERSION} (none: the toLowerCase keys of before).
 * Resolves to the records it renamed (see name_key_migration.ts); throws,
 * changing nothing, while an instance is live.
 */
export async function rekeyRedisNames(
  redis: RedisConnection,
  keys: RedisKeys,
): Promise<NameKeyRename[]> {
  return await new Rekeying(redis, keys).run();
}
