/**
 * The embedded store: one SQLite file (node:sqlite) in WAL mode.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { createPrivateFile } from "../../shared/private_file.ts";
import { getLogger } from "@logtape/logtape";
import {
  LOOKALIKE_KEY_VERSION,
  lookalikeKey,
  NAME_KEY_VERSION,
  nameKey,
} from "../../shared/validation.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import {
  describeRename,
  type NameKeyPlan,
  type NameKeyRename,
  newRoomKey,
  newUserKey,
  planNameKeys,
} from "./name_key_migration.ts";
import { MIGRATIONS } from "./sqlite_migrations.ts";
import { ChatError } from "../../shared/errors.ts";
import { ftsMatch } from "../search/search_text.ts";
import { WalSyncer } from "./wal_syncer.ts";
import type {
  AccountRecord,
  ApiKeyRecord,
  AuditRecord,
  ClientMsgQuery,
  DmRecord,
  FileRecord,
  GrantKind,
  GrantRecord,
  HistoryQuery,
  LoginAddressLimits,
  LoginAddressRecord,
  MessageRecord,
  PendingQuery,
  RetentionPolicy,
  RoomRecord,
  SearchHit,
  SearchQuery,
  Store,
  StoreWrite,
  UnreadCount,
  WebhookRecord,
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
import type { FileInfo } from "../../shared/protocol.ts";

/** The database file's name inside the data directory. */
export const DATABASE_FILE = "chat.db";

// How long a write waits for another connection's (chat user's) write lock.
const BUSY_TIMEOUT_MS = 5000;

/** How hard commits are made durable. */
export type SyncMode = "normal" | "full";

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * `normal` (default): a commit survives the server being killed; the last
   * commits may be lost on power failure. `full`: fsync on every commit.
   */
  sync?: SyncMode;
  /**
   * Hold the directory's {@linkcode DataDirLock} while open, so a second
   * server on it fails to start (default false: `chat user` edits a live server's store).
   */
  exclusive?: boolean;
  /**
   * Create the directory and the database when missing (default true). When
   * false, a directory without a database throws `Deno.errors.NotFound`.
   */
  create?: boolean;
}

type Row = Record<string, unknown>;

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

/** A key's UTF-8 bytes in hex, as SQLite's hex() writes them (the search index's scopes). */
function hexOf(key: string): string {
  let hex = "";
  for (const byte of new TextEncoder().encode(key)) hex += byte.toString(16).padStart(2, "0");
  return hex.toUpperCase();
}

function toMessage(row: Row): MessageRecord {
  const message: MessageRecord = {
    room: String(row.room_key),
    id: Number(row.id),
    from: String(row.from_name),
    body: String(row.body),
    ts: Number(row.ts),
    action: row.action === 1,
  };
  // Section 21: the reply, and the current state kept in place.
  if (row.reply_to !== null && row.reply_to !== undefined) message.replyTo = Number(row.reply_to);
  if (row.edited_ts !== null && row.edited_ts !== undefined) message.edited = Number(row.edited_ts);
  if (row.deleted_ts !== null && row.deleted_ts !== undefined) {
    message.deleted = { by: String(row.deleted_by), ts: Number(row.deleted_ts) };
  }
  return withFile(message, row);
}

function toChange(row: Row): ChangeRecord {
  return {
    room: String(row.room_key),
    id: Number(row.id),
    change: String(row.kind) as ChangeKind,
    target: Number(row.target),
    from: String(row.from_name),
    text: String(row.text),
    ts: Number(row.ts),
  };
}

function toDm(row: Row): DmRecord {
  const dm: DmRecord = {
    id: Number(row.id),
    from: String(row.from_name),
    to: String(row.to_name),
    body: String(row.body),
    ts: Number(row.ts),
    action: row.action === 1,
  };
  return withFile(dm, row);
}

// Files (section 23): the info a message or DM shares, kept as JSON beside its id.
function withFile<T extends { file?: FileInfo }>(record: T, row: Row): T {
  if (typeof row.file === "string") record.file = JSON.parse(row.file) as FileInfo;
  return record;
}

function toFile(row: Row): FileRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    type: String(row.type),
    size: Number(row.size),
    sha256: String(row.sha256),
    uploader: String(row.uploader_key),
    room: row.room_key === null ? null : String(row.room_key),
    to: row.to_key === null ? null : String(row.to_key),
    ts: Number(row.ts),
  };
}

function toAccount(row: Row): AccountRecord {
  return {
    key: String(row.name_key),
    name: String(row.name),
    passwordHash: String(row.password_hash),
    admin: row.admin === 1,
    createdAt: Number(row.created_at),
  };
}

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    hash: String(row.key_hash),
    admin: row.admin === 1,
    createdAt: Number(row.created_at),
  };
}

/**
 * SQLite implementation of {@linkcode Store}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteStore } from "./sqlite_store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = SqliteStore.open(`${dir}/chat-data`);
 * assert.deepEqual(await store.loadRooms(), []);
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteStore implements Store {
  readonly path: string;
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  // Keeps the WAL synced in the background so checkpoints stay short.
  #walSyncer: WalSyncer | undefined;
  #lock: DataDirLock | undefined;

  private constructor(path: string, db: DatabaseSync, walSyncer?: WalSyncer) {
    this.path = path;
    this.#db = db;
    this.#walSyncer = walSyncer;
  }

  /**
   * Opens the store in directory `dir` (creating both unless `create` is
   * false) and migrates it. New files are readable by their owner only.
   */
  static open(dir: string, options: SqliteStoreOptions = {}): SqliteStore {
    const path = join(dir, DATABASE_FILE);
    if (options.create === false) {
      if (!isFile(path)) {
        throw new Deno.errors.NotFound(`No database in ${dir}: ${path} does not exist`);
      }
    } else {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    // Before the database opens: a second server must not even migrate it.
    const lock = options.exclusive === true ? DataDirLock.acquire(dir) : undefined;
    try {
      // An empty file is an empty database; SQLite gives the -wal and -shm
      // files the database file's mode.
      createPrivateFile(path);
      const store = SqliteStore.#openPath(path, options);
      store.#lock = lock;
      return store;
    } catch (error) {
      lock?.release();
      throw error;
    }
  }

  /** A store that lives in memory only (tests, and `--data` none). */
  static memory(): SqliteStore {
    return SqliteStore.#openPath(":memory:", {});
  }

  static #openPath(path: string, options: SqliteStoreOptions): SqliteStore {
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`);
    db.exec("PRAGMA foreign_keys = ON");
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // With `full` every commit syncs; in memory there is no file.
    const walSyncer = path !== ":memory:" && options.sync !== "full"
      ? new WalSyncer(`${path}-wal`)
      : undefined;
    const store = new SqliteStore(path, db, walSyncer);
    try {
      store.#migrate();
      store.#rekeyNames();
      store.#indexLookalikes();
    } catch (error) {
      void walSyncer?.close();
      db.close();
      throw error;
    }
    return store;
  }

  /** The schema version applied. */
  get schemaVersion(): number {
    return Number((this.#db.prepare("PRAGMA user_version").get() as Row).user_version);
  }

  #migrate(): void {
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `Cannot open ${this.path}: schema version ${current} is newer than this build (${MIGRATIONS.length})`,
      );
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      this.#transaction(() => {
        this.#db.exec(MIGRATIONS[version - 1]!);
        this.#db.exec(`PRAGMA user_version = ${version}`);
      });
    }
  }

  /**
   * What the last re-keying at open renamed (see name_key_migration.ts):
   * empty unless this open re-keyed a store with names that collide.
   */
  nameKeyRenames: readonly NameKeyRename[] = [];

  #meta(name: string): string | undefined {
    const row = this.#statement("SELECT value FROM store_meta WHERE name = ?").get(name) as
      | Row
      | undefined;
    return row === undefined ? undefined : String(row.value);
  }

  #setMeta(name: string, value: string): void {
    this.#statement(
      `INSERT INTO store_meta (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    ).run(name, value);
  }

  /**
   * Re-keys every stored name key when the build computes them differently
   * (store_meta's name_key_version; none: the toLowerCase keys of before),
   * in one transaction. Collisions are renamed, logged and audited.
   */
  #rekeyNames(): void {
    if (this.#meta("name_key_version") === NAME_KEY_VERSION) return;
    const renames = this.#transaction(() => {
      // Keys of accounts move with their login records in one statement each.
      this.#db.exec("PRAGMA defer_foreign_keys = ON");
      const named = (sql: string) =>
        (this.#statement(sql).all() as Row[]).map((row) => ({
          key: String(row.key),
          name: String(row.name),
          createdAt: Number(row.created_at),
        }));
      const plan = planNameKeys({
        accounts: named("SELECT name_key AS key, name, created_at FROM accounts"),
        rooms: named("SELECT room_key AS key, name, created_at FROM rooms"),
        apiKeys: named("SELECT id AS key, name, created_at FROM api_keys"),
      });
      this.#applyNameKeys(plan);
      const audit = this.#statement(
        "INSERT INTO audit (ts, actor, action, room, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
      );
      for (const rename of plan.renames) {
        const room = rename.kind === "room" ? rename.newName : null;
        audit.run(Date.now(), "server", "rename", room, rename.oldName, describeRename(rename));
      }
      this.#setMeta("name_key_version", NAME_KEY_VERSION);
      return plan.renames;
    });
    this.nameKeyRenames = renames;
    const logger = getLogger(["chat", "store"]);
    for (const rename of renames) {
      logger.warn("{path}: {rename}", { path: this.path, rename: describeRename(rename) });
    }
  }

  #applyNameKeys(plan: NameKeyPlan): void {
    const user = (key: string) => newUserKey(plan, key);
    const room = (key: string) => newRoomKey(plan, key);
    // Distinct values of a column whose new key differs, with it.
    const changed = (sql: string, rekey: (key: string) => string): Array<[string, string]> =>
      (this.#statement(sql).all() as Row[]).map((row) => String(row.k))
        .map((key): [string, string] => [key, rekey(key)])
        .filter(([key, next]) => key !== next);

    for (const rename of plan.renames) {
      if (rename.kind === "account") {
        this.#statement("UPDATE accounts SET name = ? WHERE name_key = ?")
          .run(rename.newName, rename.oldKey);
      } else if (rename.kind === "room") {
        this.#statement("UPDATE rooms SET name = ? WHERE room_key = ?")
          .run(rename.newName, rename.oldKey);
      } else {
        this.#statement("UPDATE api_keys SET name = ? WHERE id = ?")
          .run(rename.newName, rename.oldKey);
      }
    }
    // Renamed keys may be another's old key (`strasse` → `strasse-2` while
    // `straße` → `strasse`): every moving key goes through a key of its own first.
    const moveAll = (pairs: Array<[string, string]>, move: (from: string, to: string) => void) => {
      pairs.forEach(([from], index) => move(from, `\u0000${index}`));
      pairs.forEach(([, to], index) => move(`\u0000${index}`, to));
    };
    moveAll([...plan.accounts], (from, to) => {
      this.#statement("UPDATE accounts SET name_key = ? WHERE name_key = ?").run(to, from);
      this.#statement("UPDATE login_addresses SET account_key = ? WHERE account_key = ?").run(
        to,
        from,
      );
      this.#statement("UPDATE login_unlocks SET account_key = ? WHERE account_key = ?").run(
        to,
        from,
      );
    });
    moveAll([...plan.rooms], (from, to) => {
      this.#statement("UPDATE rooms SET room_key = ? WHERE room_key = ?").run(to, from);
    });
    // A room's files (section 23) may be uploaded before any message shares them.
    const historyRooms = changed(
      "SELECT room_key AS k FROM messages UNION SELECT room_key FROM files WHERE room_key IS NOT NULL",
      room,
    );
    moveAll(historyRooms, (from, to) => {
      this.#statement("UPDATE messages SET room_key = ? WHERE room_key = ?").run(to, from);
      this.#statement("UPDATE message_changes SET room_key = ? WHERE room_key = ?").run(to, from);
      this.#statement("UPDATE reactions SET room_key = ? WHERE room_key = ?").run(to, from);
      this.#statement("UPDATE files SET room_key = ? WHERE room_key = ?").run(to, from);
    });
    moveAll(changed("SELECT DISTINCT user_key AS k FROM reactions", user), (from, to) => {
      this.#statement("UPDATE OR REPLACE reactions SET user_key = ? WHERE user_key = ?").run(
        to,
        from,
      );
    });
    for (const row of this.#statement("SELECT id, name FROM api_keys").all() as Row[]) {
      this.#statement("UPDATE api_keys SET name_key = ? WHERE id = ?")
        .run(nameKey(String(row.name)), String(row.id));
    }
    const owners = changed(
      "SELECT DISTINCT owner_key AS k FROM rooms WHERE owner_key IS NOT NULL",
      user,
    );
    moveAll(owners, (from, to) => {
      this.#statement("UPDATE rooms SET owner_key = ? WHERE owner_key = ?").run(to, from);
    });
    const senders = changed(
      "SELECT DISTINCT sender_key AS k FROM messages WHERE sender_key IS NOT NULL",
      user,
    );
    moveAll(senders, (from, to) => {
      this.#statement("UPDATE messages SET sender_key = ? WHERE sender_key = ?").run(to, from);
    });
    // Files (section 23): the uploader's (its quota) and a DM file's recipient's.
    const fileUsers = changed(
      "SELECT uploader_key AS k FROM files UNION SELECT to_key FROM files WHERE to_key IS NOT NULL",
      user,
    );
    moveAll(fileUsers, (from, to) => {
      this.#statement("UPDATE files SET uploader_key = ? WHERE uploader_key = ?").run(to, from);
      this.#statement("UPDATE files SET to_key = ? WHERE to_key = ?").run(to, from);
    });
    // DMs: both keys of each row, and the pair key made of them.
    const dmKeys = changed(
      "SELECT from_key AS k FROM dms UNION SELECT to_key FROM dms",
      user,
    );
    if (dmKeys.length > 0) {
      const next = new Map(dmKeys);
      const update = this.#statement(
        "UPDATE dms SET from_key = ?, to_key = ?, pair_key = ? WHERE id = ?",
      );
      const rows = this.#statement("SELECT id, from_key, to_key FROM dms").all() as Row[];
      for (const row of rows) {
        const [from, to] = [String(row.from_key), String(row.to_key)];
        if (!next.has(from) && !next.has(to)) continue;
        const [a, b] = [next.get(from) ?? from, next.get(to) ?? to];
        update.run(a, b, pairKey(a, b), Number(row.id));
      }
    }
    // Tables keyed by users: rows whose keys now meet are merged, keeping
    // the later marker, the longer grant, the later login.
    this.#rekeyRows({
      select: "SELECT * FROM dm_reads",
      keys: (row) => [user(String(row.user_key)), user(String(row.peer_key))],
      changedFrom: (row) => [String(row.user_key), String(row.peer_key)],
      del: "DELETE FROM dm_reads WHERE user_key = ? AND peer_key = ?",
      insert: (row, [u, p]) =>
        this.#statement(
          `INSERT INTO dm_reads (user_key, peer_key, last_read_id) VALUES (?, ?, ?)
           ON CONFLICT DO UPDATE SET last_read_id = max(last_read_id, excluded.last_read_id)`,
        ).run(u!, p!, Number(row.last_read_id)),
    });
    this.#rekeyRows({
      select: "SELECT * FROM grants",
      keys: (row) => [room(String(row.room_key)), user(String(row.user_key))],
      changedFrom: (row) => [String(row.room_key), String(row.user_key), String(row.kind)],
      del: "DELETE FROM grants WHERE room_key = ? AND user_key = ? AND kind = ?",
      insert: (row, [r, u]) =>
        this.#statement(
          `INSERT INTO grants (room_key, user_key, kind, until, by, reason) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET until = CASE WHEN until IS NULL OR excluded.until IS NULL
             THEN NULL ELSE max(until, excluded.until) END`,
        ).run(
          r!,
          u!,
          String(row.kind),
          row.until === null ? null : Number(row.until),
          String(row.by),
          String(row.reason),
        ),
    });
  }

  /**
   * Moves the rows of a table whose keys change: each is deleted and
   * inserted again under its new keys (merging with a row already there).
   */
  #rekeyRows(table: {
    select: string;
    keys: (row: Row) => string[];
    changedFrom: (row: Row) => string[];
    del: string;
    insert: (row: Row, keys: string[]) => void;
  }): void {
    const moving: Array<[Row, string[]]> = [];
    for (const row of this.#statement(table.select).all() as Row[]) {
      const keys = table.keys(row);
      const old = table.changedFrom(row);
      if (keys.some((key, index) => key !== old[index])) moving.push([row, keys]);
    }
    for (const [row] of moving) this.#statement(table.del).run(...table.changedFrom(row));
    for (const [row, keys] of moving) table.insert(row, keys);
  }

  /** Fills every account's lookalike key when the build computes them differently. */
  #indexLookalikes(): void {
    const version = this.#statement("SELECT value FROM store_meta WHERE name = 'lookalike_version'")
      .get() as Row | undefined;
    if (version?.value === LOOKALIKE_KEY_VERSION) return;
    this.#transaction(() => {
      const update = this.#statement("UPDATE accounts SET lookalike_key = ? WHERE name_key = ?");
      for (const row of this.#statement("SELECT name_key, name FROM accounts").all() as Row[]) {
        update.run(lookalikeKey(String(row.name)), String(row.name_key));
      }
      this.#statement(
        `INSERT INTO store_meta (name, value) VALUES ('lookalike_version', ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
      ).run(LOOKALIKE_KEY_VERSION);
    });
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      this.#walSyncer?.committed();
      return result;
    } catch (error) {
      // After an I/O error or a full disk SQLite may have rolled back
      // already; a second ROLLBACK would throw and hide the cause.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  loadRooms(): Promise<RoomRecord[]> {
    const rows = this.#statement("SELECT * FROM rooms").all() as Row[];
    return Promise.resolve(rows.map((row) => ({
      key: String(row.room_key),
      name: String(row.name),
      owner: row.owner_key === null ? null : String(row.owner_key),
      topic: String(row.topic),
      inviteOnly: row.invite_only === 1,
      passphrase: row.passphrase === null ? null : String(row.passphrase),
      createdAt: Number(row.created_at),
      lastId: Number(row.last_id),
    })));
  }

  write(batch: readonly StoreWrite[]): Promise<void> {
    if (batch.length === 0) return Promise.resolve();
    this.#transaction(() => {
      const lastIds = new Map<string, number>();
      for (const write of batch) {
        switch (write.kind) {
          case "message":
            this.#insertMessage(write.record);
            lastIds.set(write.record.room, write.record.id);
            break;
          case "change":
            this.#applyChange(write.record);
            lastIds.set(write.record.room, write.record.id);
            break;
          case "dm":
            this.#insertDm(write.record, write.delivered);
            break;
          case "room":
            this.#saveRoom(write.record);
            break;
          case "deleteRoom":
            this.#statement("DELETE FROM rooms WHERE room_key = ?").run(write.room);
            this.#statement("DELETE FROM grants WHERE room_key = ?").run(write.room);
            this.#statement("DELETE FROM messages WHERE room_key = ?").run(write.room);
            this.#statement("DELETE FROM message_changes WHERE room_key = ?").run(write.room);
            this.#statement("DELETE FROM reactions WHERE room_key = ?").run(write.room);
            this.#deleteRoomFiles(write.room);
            break;
          case "grant":
            this.#saveGrant(write.grant);
            break;
          case "ungrant":
            this.#statement("DELETE FROM grants WHERE room_key = ? AND user_key = ? AND kind = ?")
              .run(write.room, write.user, write.grant);
            break;
          case "audit":
            this.#statement(
              "INSERT INTO audit (ts, actor, action, room, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            ).run(
              write.entry.ts,
              write.entry.actor,
              write.entry.action,
              write.entry.room,
              write.entry.target,
              write.entry.detail,
            );
            break;
          case "delivered":
            this.#statement(
              "UPDATE dms SET delivered = 1 WHERE to_key = ? AND delivered = 0 AND id <= ?",
            )
              .run(write.user, write.upTo);
            break;
          case "file":
            this.#insertFile(write.record);
            break;
          case "read":
            this.#statement(
              `INSERT INTO dm_reads (user_key, peer_key, last_read_id) VALUES (?, ?, ?)
               ON CONFLICT (user_key, peer_key) DO UPDATE SET last_read_id = max(last_read_id, excluded.last_read_id)`,
            ).run(write.user, write.peer, write.upTo);
            break;
        }
      }
      const bump = this.#statement("UPDATE rooms SET last_id = max(last_id, ?) WHERE room_key = ?");
      for (const [room, id] of lastIds) bump.run(id, room);
    });
    return Promise.resolve();
  }

  #saveRoom(room: RoomRecord): void {
    this.#statement(
      `INSERT INTO rooms (room_key, name, owner_key, topic, invite_only, passphrase, created_at, last_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_key) DO UPDATE SET name = excluded.name, owner_key = excluded.owner_key,
         topic = excluded.topic, invite_only = excluded.invite_only, passphrase = excluded.passphrase`,
    ).run(
      room.key,
      room.name,
      room.owner,
      room.topic,
      room.inviteOnly ? 1 : 0,
      room.passphrase,
      room.createdAt,
      room.lastId,
    );
  }

  loadGrants(): Promise<GrantRecord[]> {
    const rows = this.#statement("SELECT * FROM grants").all() as Row[];
    return Promise.resolve(rows.map((row) => ({
      room: String(row.room_key),
      user: String(row.user_key),
      kind: String(row.kind) as GrantKind,
      until: row.until === null ? null : Number(row.until),
      by: String(row.by),
      reason: String(row.reason),
    })));
  }

  #saveGrant(grant: GrantRecord): void {
    this.#statement(
      `INSERT OR REPLACE INTO grants (room_key, user_key, kind, until, by, reason) VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(grant.room, grant.user, grant.kind, grant.until, grant.by, grant.reason);
  }

  #insertMessage(message: MessageRecord): void {
    const clientMsgId = message.clientMsgId ?? null;
    this.#statement(
      `INSERT INTO messages (room_key, id, from_name, body, ts, action, sender_key, client_msg_id,
         reply_to, file_id, file)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      message.room,
      message.id,
      message.from,
      message.body,
      message.ts,
      message.action ? 1 : 0,
      // Only messages with an id are indexed by sender.
      clientMsgId === null ? null : nameKey(message.from),
      clientMsgId,
      message.replyTo ?? null,
      message.file?.id ?? null,
      message.file === undefined ? null : JSON.stringify(message.file),
    );
  }

  /** Section 21: keeps the change's entry, and updates its message in place. */
  #applyChange(change: ChangeRecord): void {
    this.#statement(
      `INSERT INTO message_changes (room_key, id, target, kind, from_name, text, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      change.room,
      change.id,
      change.target,
      change.change,
      change.from,
      change.text,
      change.ts,
    );
    switch (change.change) {
      case "edit":
        this.#statement("UPDATE messages SET body = ?, edited_ts = ? WHERE room_key = ? AND id = ?")
          .run(change.text, change.ts, change.room, change.target);
        break;
      case "delete":
        // A tombstone: the words go, from the message and from its edits.
        this.#statement(
          `UPDATE messages SET body = '', deleted_by = ?, deleted_ts = ?
           WHERE room_key = ? AND id = ?`,
        ).run(change.from, change.ts, change.room, change.target);
        this.#statement(
          "UPDATE message_changes SET text = '' WHERE room_key = ? AND target = ? AND kind = 'edit'",
        ).run(change.room, change.target);
        this.#statement("DELETE FROM reactions WHERE room_key = ? AND message_id = ?")
          .run(change.room, change.target);
        break;
      case "react":
        this.#statement(
          `INSERT OR IGNORE INTO reactions (room_key, message_id, emoji, user_key, nick, change_id)
           VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(change.room, change.target, change.text, change.user ?? "", change.from, change.id);
        break;
      case "unreact":
        this.#statement(
          `DELETE FROM reactions WHERE room_key = ? AND message_id = ? AND emoji = ? AND user_key = ?`,
        ).run(change.room, change.target, change.text, change.user ?? "");
        break;
    }
  }

  /** The reactions of messages `ids` of `room`, by message id (section 21). */
  #reactionsOf(room: string, ids: readonly number[]): Map<number, ReactionRecord[]> {
    const byMessage = new Map<number, ReactionRecord[]>();
    if (ids.length === 0) return byMessage;
    const low = Math.min(...ids);
    const high = Math.max(...ids);
    const wanted = new Set(ids);
    // Emoji in the order first given, users earliest first.
    const rows = this.#statement(
      `SELECT message_id, emoji, nick, min(change_id) OVER (PARTITION BY message_id, emoji) AS first
       FROM reactions WHERE room_key = ? AND message_id BETWEEN ? AND ?
       ORDER BY message_id, first, change_id`,
    ).all(room, low, high) as Row[];
    for (const row of rows) {
      const id = Number(row.message_id);
      if (!wanted.has(id)) continue;
      let reactions = byMessage.get(id);
      if (reactions === undefined) byMessage.set(id, reactions = []);
      const emoji = String(row.emoji);
      let reaction = reactions[reactions.length - 1];
      if (reaction?.emoji !== emoji) reactions.push(reaction = { emoji, count: 0, users: [] });
      reaction.count++;
      if (reaction.users.length < MAX_REACTION_USERS_LISTED) reaction.users.push(String(row.nick));
    }
    return byMessage;
  }

  /** `messages` with their reactions (section 21). */
  #withReactions(room: string, messages: MessageRecord[]): MessageRecord[] {
    const reactions = this.#reactionsOf(room, messages.map((message) => message.id));
    for (const message of messages) {
      const found = reactions.get(message.id);
      if (found !== undefined) message.reactions = found;
    }
    return messages;
  }

  timeline(room: string, query: TimelineQuery): Promise<TimelineRecord[]> {
    const upTo = query.upTo ?? Number.MAX_SAFE_INTEGER;
    // Messages and changes in one id order, each side read by its primary key
    // no further than the page (at most `limit` rows each), then merged.
    const rows = this.#statement(
      `SELECT * FROM (
         SELECT room_key, id, from_name, body, ts, action, reply_to, edited_ts, deleted_by,
           deleted_ts, NULL AS kind, NULL AS target, NULL AS text
         FROM messages WHERE room_key = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4)
       UNION ALL
       SELECT * FROM (
         SELECT room_key, id, from_name, NULL, ts, NULL, NULL, NULL, NULL, NULL, kind, target, text
         FROM message_changes WHERE room_key = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4)
       ORDER BY id ASC LIMIT ?4`,
    );
    const records = this.#page(rows, [room, query.after, upTo, query.limit], {
      maxBytes: query.maxBytes,
      convert: (row): TimelineRecord => row.kind === null ? toMessage(row) : toChange(row),
    });
    const messages = records.filter((record): record is MessageRecord => !isChangeRecord(record));
    this.#withReactions(room, messages);
    return Promise.resolve(records);
  }

  messageState(room: string, id: number): Promise<MessageState | undefined> {
    const row = this.#statement(
      "SELECT from_name, deleted_ts FROM messages WHERE room_key = ? AND id = ?",
    ).get(room, id) as Row | undefined;
    if (row === undefined) return Promise.resolve(undefined);
    const reactions = new Map<string, Set<string>>();
    const rows = this.#statement(
      `SELECT emoji, user_key, min(change_id) OVER (PARTITION BY emoji) AS first FROM reactions
       WHERE room_key = ? AND message_id = ? ORDER BY first, change_id`,
    ).all(room, id) as Row[];
    for (const reaction of rows) {
      const emoji = String(reaction.emoji);
      let users = reactions.get(emoji);
      if (users === undefined) reactions.set(emoji, users = new Set());
      users.add(String(reaction.user_key));
    }
    return Promise.resolve({
      id,
      from: String(row.from_name),
      deleted: row.deleted_ts !== null,
      reactions,
    });
  }

  #insertDm(dm: DmRecord, delivered: boolean): void {
    const from = nameKey(dm.from);
    const to = nameKey(dm.to);
    this.#statement(
      `INSERT INTO dms (id, pair_key, from_key, from_name, to_key, to_name, body, ts, action, delivered,
         client_msg_id, file_id, file)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      dm.id,
      pairKey(from, to),
      from,
      dm.from,
      to,
      dm.to,
      dm.body,
      dm.ts,
      dm.action ? 1 : 0,
      delivered ? 1 : 0,
      dm.clientMsgId ?? null,
      dm.file?.id ?? null,
      dm.file === undefined ? null : JSON.stringify(dm.file),
    );
  }

  messageByClientMsgId(room: string, query: ClientMsgQuery): Promise<MessageRecord | undefined> {
    const row = this.#statement(
      `SELECT * FROM messages WHERE sender_key = ? AND client_msg_id = ? AND room_key = ? AND ts >= ?
       ORDER BY ts DESC, id DESC LIMIT 1`,
    ).get(query.sender, query.clientMsgId, room, query.since) as Row | undefined;
    if (row === undefined) return Promise.resolve(undefined);
    const message = toMessage(row);
    // The sender's order: by time; within one ms room messages (by room and
    // id) before DMs (by id). So every DM of this ms or later is newer.
    const newer = this.#newerMessages(query, message.ts, { room, id: message.id }) +
      this.#newerDms(query, message.ts - 1, Number.MAX_SAFE_INTEGER);
    if (newer >= query.perUser) return Promise.resolve(undefined);
    return Promise.resolve({ ...message, clientMsgId: query.clientMsgId });
  }

  dmByClientMsgId(to: string, query: ClientMsgQuery): Promise<DmRecord | undefined> {
    const row = this.#statement(
      `SELECT * FROM dms WHERE from_key = ? AND client_msg_id = ? AND to_key = ? AND ts >= ?
       ORDER BY id DESC LIMIT 1`,
    ).get(query.sender, query.clientMsgId, to, query.since) as Row | undefined;
    if (row === undefined) return Promise.resolve(undefined);
    const dm = toDm(row);
    // Room messages of a later ms only (every room key sorts after "").
    const newer = this.#newerMessages(query, dm.ts + 1, { room: "", id: 0 }) +
      this.#newerDms(query, dm.ts, dm.id);
    if (newer >= query.perUser) return Promise.resolve(undefined);
    return Promise.resolve({ ...dm, clientMsgId: query.clientMsgId });
  }

  // How many of the sender's room messages with a client message id come
  // after (ts, room, id); at most perUser are read, however many there are.
  #newerMessages(query: ClientMsgQuery, ts: number, after: { room: string; id: number }): number {
    const row = this.#statement(
      `SELECT count(*) AS n FROM (SELECT 1 FROM messages
         WHERE sender_key = ?1 AND client_msg_id IS NOT NULL
           AND (ts > ?2 OR (ts = ?2 AND (room_key > ?3 OR (room_key = ?3 AND id > ?4))))
         LIMIT ?5)`,
    ).get(query.sender, ts, after.room, after.id, query.perUser) as Row;
    return Number(row.n);
  }

  // The same for the sender's DMs after (ts, id); DM ids grow with time.
  #newerDms(query: ClientMsgQuery, ts: number, id: number): number {
    const row = this.#statement(
      `SELECT count(*) AS n FROM (SELECT 1 FROM dms
         WHERE from_key = ?1 AND client_msg_id IS NOT NULL AND (ts > ?2 OR (ts = ?2 AND id > ?3))
         LIMIT ?4)`,
    ).get(query.sender, ts, id, query.perUser) as Row;
    return Number(row.n);
  }

  history(room: string, query: HistoryQuery): Promise<MessageRecord[]> {
    if (query.after !== undefined) {
      return Promise.resolve(this.#page(
        this.#statement(
          "SELECT * FROM messages WHERE room_key = ? AND id > ? AND id <= ? ORDER BY id ASC LIMIT ?",
        ),
        [room, query.after, query.upTo ?? Number.MAX_SAFE_INTEGER, query.limit],
        { maxBytes: query.maxBytes, convert: toMessage },
      )).then((page) => this.#withReactions(room, page));
    }
    const below = Math.min(
      query.before ?? Number.MAX_SAFE_INTEGER,
      (query.upTo ?? Number.MAX_SAFE_INTEGER - 1) + 1,
    );
    return Promise.resolve(
      this.#page(
        this.#statement(
          "SELECT * FROM messages WHERE room_key = ? AND id < ? ORDER BY id DESC LIMIT ?",
        ),
        [room, below, query.limit],
        { maxBytes: query.maxBytes, convert: toMessage },
      ).reverse(),
    ).then((page) => this.#withReactions(room, page));
  }

  /**
   * Steps `statement` row by row until `maxBytes` is spent (the row that
   * spends it is the last one kept): rows after it are never read.
   */
  #page<T extends Parameters<typeof recordBytes>[0]>(
    statement: StatementSync,
    params: readonly (string | number)[],
    options: { maxBytes: number | undefined; convert: (row: Row) => T },
  ): T[] {
    const records: T[] = [];
    let bytes = 0;
    for (const row of statement.iterate(...params)) {
      const record = options.convert(row as Row);
      records.push(record);
      if (options.maxBytes === undefined) continue;
      bytes += recordBytes(record);
      // Leaving the loop resets the statement: SQLite steps no further.
      if (bytes > options.maxBytes) break;
    }
    return records;
  }

  /**
   * Matches in the FTS5 index (migration 7), newest stored first: the
   * index's own rowid order, so a page reads its matches and no more. The
   * cursor is `e` and the entry number of the last match of the page.
   */
  search(query: SearchQuery): Promise<SearchHit[]> {
    const scopes = query.rooms.map((room) => `r${hexOf(room)}`);
    if (query.dmsOf !== undefined) scopes.push(`u${hexOf(query.dmsOf)}`);
    let before = Number.MAX_SAFE_INTEGER;
    if (query.cursor !== undefined) {
      const match = /^e(\d{1,15})$/.exec(query.cursor);
      if (match === null) {
        throw new ChatError("bad_request", "Invalid search cursor: give one from an earlier reply");
      }
      before = Number(match[1]);
    }
    if (scopes.length === 0 || query.terms.length === 0) return Promise.resolve([]);
    const matches = this.#statement(
      `SELECT e.entry AS entry, e.room_key AS room_key, e.id AS id
         FROM search_index f CROSS JOIN search_entries e ON e.entry = f.rowid
         WHERE search_index MATCH ? AND f.rowid < ? ORDER BY f.rowid DESC LIMIT ?`,
    );
    const message = this.#statement("SELECT * FROM messages WHERE room_key = ? AND id = ?");
    const dm = this.#statement("SELECT * FROM dms WHERE id = ?");
    const hits: SearchHit[] = [];
    let bytes = 0;
    for (const row of matches.iterate(ftsMatch(query.terms, scopes), before, query.limit)) {
      const { entry, room_key: room, id } = row as Row;
      const cursor = `e${Number(entry)}`;
      let hit: SearchHit | undefined;
      if (room === null) {
        const found = dm.get(Number(id)) as Row | undefined;
        if (found !== undefined) hit = { kind: "dm", record: toDm(found), cursor };
      } else {
        const found = message.get(String(room), Number(id)) as Row | undefined;
        if (found !== undefined) hit = { kind: "message", record: toMessage(found), cursor };
      }
      if (hit === undefined) continue;
      hits.push(hit);
      if (query.maxBytes === undefined) continue;
      bytes += recordBytes(hit.record);
      if (bytes > query.maxBytes) break;
    }
    return Promise.resolve(hits);
  }

  oldestId(room: string): Promise<number | undefined> {
    const row = this.#statement("SELECT min(id) AS id FROM messages WHERE room_key = ?").get(
      room,
    ) as Row;
    return Promise.resolve(row.id === null ? undefined : Number(row.id));
  }

  prune(policy: RetentionPolicy, batchSize: number): Promise<number> {
    let deleted = 0;
    this.#transaction(() => {
      if (policy.maxAgeMs > 0) {
        const cutoff = Date.now() - policy.maxAgeMs;
        const gone = this.#statement(
          // WITHOUT ROWID table: select victims by primary key.
          `DELETE FROM messages WHERE (room_key, id) IN
             (SELECT room_key, id FROM messages WHERE ts < ? LIMIT ?) RETURNING room_key, id`,
        ).all(cutoff, batchSize) as Row[];
        deleted += gone.length;
        // Section 21: a message's changes and reactions go with it.
        const changes = this.#statement(
          "DELETE FROM message_changes WHERE room_key = ? AND target = ?",
        );
        const reactions = this.#statement(
          "DELETE FROM reactions WHERE room_key = ? AND message_id = ?",
        );
        for (const row of gone) {
          changes.run(String(row.room_key), Number(row.id));
          reactions.run(String(row.room_key), Number(row.id));
        }
      }
      if (policy.maxMessages > 0 && deleted < batchSize) {
        const rooms = this.#statement("SELECT room_key, last_id FROM rooms").all() as Row[];
        const remove = this.#statement(
          `DELETE FROM messages WHERE (room_key, id) IN
             (SELECT room_key, id FROM messages WHERE room_key = ? AND id <= ? LIMIT ?)`,
        );
        for (const room of rooms) {
          const keepFrom = Number(room.last_id) - policy.maxMessages;
          if (keepFrom <= 0) continue;
          deleted += Number(
            remove.run(String(room.room_key), keepFrom, batchSize - deleted).changes,
          );
          // Section 21: changes and reactions of the messages gone go with them.
          this.#statement("DELETE FROM message_changes WHERE room_key = ? AND target <= ?")
            .run(String(room.room_key), keepFrom);
          this.#statement("DELETE FROM reactions WHERE room_key = ? AND message_id <= ?")
            .run(String(room.room_key), keepFrom);
          if (deleted >= batchSize) break;
        }
      }
    });
    return Promise.resolve(deleted);
  }

  // Files (section 23).
  #insertFile(file: FileRecord): void {
    this.#statement(
      `INSERT INTO files (id, name, type, size, sha256, uploader_key, room_key, to_key, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      file.id,
      file.name,
      file.type,
      file.size,
      file.sha256,
      file.uploader,
      file.room,
      file.to,
      file.ts,
    );
  }

  // A room's files belong to it, not to its name: they go with it, so that a
  // room made anew under the name cannot read them. Their contents, if no
  // other file shares them, are left to retention (pruneFiles) to delete.
  #deleteRoomFiles(room: string): void {
    const deleted = this.#statement("DELETE FROM files WHERE room_key = ? RETURNING sha256")
      .all(room) as Row[];
    const used = this.#statement("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1");
    const unused = this.#statement("INSERT OR IGNORE INTO unused_blobs (sha256) VALUES (?)");
    for (const sha256 of new Set(deleted.map((row) => String(row.sha256)))) {
      if (used.get(sha256) === undefined) unused.run(sha256);
    }
  }

  getFile(id: string): Promise<FileRecord | undefined> {
    const row = this.#statement("SELECT * FROM files WHERE id = ?").get(id) as Row | undefined;
    return Promise.resolve(row === undefined ? undefined : toFile(row));
  }

  uploadedBytes(uploader: string, since: number): Promise<number> {
    const row = this.#statement(
      "SELECT coalesce(sum(size), 0) AS n FROM files WHERE uploader_key = ? AND ts >= ?",
    ).get(uploader, since) as Row;
    return Promise.resolve(Number(row.n));
  }

  pruneFiles(before: number): Promise<string[]> {
    const gone: string[] = [];
    this.#transaction(() => {
      const deleted = this.#statement(
        `DELETE FROM files WHERE ts < ?
           AND NOT EXISTS (SELECT 1 FROM messages WHERE file_id = files.id)
           AND NOT EXISTS (SELECT 1 FROM dms WHERE file_id = files.id)
         RETURNING sha256`,
      ).all(before) as Row[];
      // And the contents the files of deleted rooms left (shared again since: kept).
      const left = this.#statement("DELETE FROM unused_blobs RETURNING sha256").all() as Row[];
      const used = this.#statement("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1");
      const hashes = [...deleted, ...left].map((row) => String(row.sha256));
      for (const sha256 of new Set(hashes)) {
        if (used.get(sha256) === undefined) gone.push(sha256);
      }
    });
    return Promise.resolve(gone);
  }

  lastDmId(): Promise<number> {
    const row = this.#statement("SELECT max(id) AS id FROM dms").get() as Row;
    return Promise.resolve(row.id === null ? 0 : Number(row.id));
  }

  dmHistory(user: string, peer: string, query: HistoryQuery): Promise<DmRecord[]> {
    const pair = pairKey(user, peer);
    const bound = { maxBytes: query.maxBytes, convert: toDm };
    if (query.after !== undefined) {
      return Promise.resolve(this.#page(
        this.#statement("SELECT * FROM dms WHERE pair_key = ? AND id > ? ORDER BY id ASC LIMIT ?"),
        [pair, query.after, query.limit],
        bound,
      ));
    }
    return Promise.resolve(
      this.#page(
        this.#statement("SELECT * FROM dms WHERE pair_key = ? AND id < ? ORDER BY id DESC LIMIT ?"),
        [pair, query.before ?? Number.MAX_SAFE_INTEGER, query.limit],
        bound,
      ).reverse(),
    );
  }

  pendingDms(user: string, query: PendingQuery): Promise<DmRecord[]> {
    return Promise.resolve(this.#page(
      this.#statement(
        "SELECT * FROM dms WHERE to_key = ? AND delivered = 0 AND id > ? ORDER BY id ASC LIMIT ?",
      ),
      [user, query.after ?? 0, query.limit],
      { maxBytes: query.maxBytes, convert: toDm },
    ));
  }

  unreadCounts(user: string): Promise<UnreadCount[]> {
    const rows = this.#statement(
      `SELECT d.from_name AS peer, count(*) AS count FROM dms d
       LEFT JOIN dm_reads r ON r.user_key = d.to_key AND r.peer_key = d.from_key
       WHERE d.to_key = ? AND d.id > coalesce(r.last_read_id, 0)
       GROUP BY d.from_key ORDER BY d.from_name`,
    ).all(user) as Row[];
    return Promise.resolve(
      rows.map((row) => ({ peer: String(row.peer), count: Number(row.count) })),
    );
  }

  lastDmFrom(user: string, peer: string): Promise<number> {
    const row = this.#statement(
      "SELECT id FROM dms WHERE to_key = ? AND from_key = ? ORDER BY id DESC LIMIT 1",
    ).get(user, peer) as Row | undefined;
    return Promise.resolve(Number(row?.id ?? 0));
  }

  readMarker(user: string, peer: string): Promise<number> {
    const row = this.#statement(
      "SELECT last_read_id FROM dm_reads WHERE user_key = ? AND peer_key = ?",
    ).get(user, peer) as Row | undefined;
    return Promise.resolve(Number(row?.last_read_id ?? 0));
  }

  getAccount(key: string): Promise<AccountRecord | undefined> {
    const row = this.#statement("SELECT * FROM accounts WHERE name_key = ?").get(key) as
      | Row
      | undefined;
    return Promise.resolve(row === undefined ? undefined : toAccount(row));
  }

  putAccount(account: AccountRecord): Promise<void> {
    this.#statement(
      `INSERT INTO accounts (name_key, name, password_hash, admin, created_at, lookalike_key)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash,
         admin = excluded.admin, lookalike_key = excluded.lookalike_key`,
    ).run(
      account.key,
      account.name,
      account.passwordHash,
      account.admin ? 1 : 0,
      account.createdAt,
      lookalikeKey(account.name),
    );
    return Promise.resolve();
  }

  findAccountLike(lookalike: string, except: string): Promise<AccountRecord | undefined> {
    const row = this.#statement(
      "SELECT * FROM accounts WHERE lookalike_key = ? AND name_key <> ? ORDER BY name_key LIMIT 1",
    ).get(lookalike, except) as Row | undefined;
    return Promise.resolve(row === undefined ? undefined : toAccount(row));
  }

  deleteAccount(key: string): Promise<boolean> {
    const result = this.#statement("DELETE FROM accounts WHERE name_key = ?").run(key);
    return Promise.resolve(Number(result.changes) > 0);
  }

  listAccounts(): Promise<AccountRecord[]> {
    const rows = this.#statement("SELECT * FROM accounts ORDER BY name_key").all() as Row[];
    return Promise.resolve(rows.map(toAccount));
  }

  putLoginAddress(
    account: string,
    address: LoginAddressRecord,
    limits: LoginAddressLimits,
  ): Promise<void> {
    this.#transaction(() => {
      this.#statement(
        `INSERT INTO login_addresses (account_key, ip_key, last_login_at) VALUES (?, ?, ?)
         ON CONFLICT (account_key, ip_key) DO UPDATE
           SET last_login_at = max(last_login_at, excluded.last_login_at)`,
      ).run(account, address.ip, address.lastLoginAt);
      this.#statement(
        `DELETE FROM login_addresses WHERE account_key = ? AND (last_login_at < ? OR ip_key NOT IN
           (SELECT ip_key FROM login_addresses WHERE account_key = ?
            ORDER BY last_login_at DESC, ip_key LIMIT ?))`,
      ).run(account, limits.notBefore, account, limits.keep);
    });
    return Promise.resolve();
  }

  lastLoginFrom(account: string, ip: string): Promise<number | undefined> {
    const row = this.#statement(
      "SELECT last_login_at FROM login_addresses WHERE account_key = ? AND ip_key = ?",
    ).get(account, ip) as Row | undefined;
    return Promise.resolve(row === undefined ? undefined : Number(row.last_login_at));
  }

  loginAddresses(account: string): Promise<LoginAddressRecord[]> {
    const rows = this.#statement(
      `SELECT ip_key, last_login_at FROM login_addresses WHERE account_key = ?
       ORDER BY last_login_at DESC, ip_key`,
    ).all(account) as Row[];
    return Promise.resolve(
      rows.map((row) => ({ ip: String(row.ip_key), lastLoginAt: Number(row.last_login_at) })),
    );
  }

  putLoginUnlock(account: string, at: number): Promise<void> {
    this.#statement(
      `INSERT INTO login_unlocks (account_key, unlocked_at) VALUES (?, ?)
       ON CONFLICT (account_key) DO UPDATE SET unlocked_at = max(unlocked_at, excluded.unlocked_at)`,
    ).run(account, at);
    return Promise.resolve();
  }

  loginUnlock(account: string): Promise<number | undefined> {
    const row = this.#statement("SELECT unlocked_at FROM login_unlocks WHERE account_key = ?")
      .get(account) as Row | undefined;
    return Promise.resolve(row === undefined ? undefined : Number(row.unlocked_at));
  }

  putApiKey(key: ApiKeyRecord): Promise<void> {
    this.#statement(
      `INSERT INTO api_keys (id, name, name_key, key_hash, admin, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(key.id, key.name, nameKey(key.name), key.hash, key.admin ? 1 : 0, key.createdAt);
    return Promise.resolve();
  }

  getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#statement("SELECT * FROM api_keys WHERE id = ?").get(id) as Row | undefined;
    return Promise.resolve(row === undefined ? undefined : toApiKey(row));
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = this.#statement("SELECT * FROM api_keys ORDER BY name_key").all() as Row[];
    return Promise.resolve(rows.map(toApiKey));
  }

  deleteApiKey(name: string): Promise<boolean> {
    const result = this.#statement("DELETE FROM api_keys WHERE name_key = ?").run(nameKey(name));
    return Promise.resolve(Number(result.changes) > 0);
  }

  putWebhook(webhook: WebhookRecord): Promise<void> {
    this.#statement(
      `INSERT INTO webhooks (id, url, name, rooms, events, secret, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      webhook.id,
      webhook.url,
      webhook.name,
      JSON.stringify(webhook.rooms),
      JSON.stringify(webhook.events),
      webhook.secret,
      webhook.createdAt,
    );
    return Promise.resolve();
  }

  listWebhooks(): Promise<WebhookRecord[]> {
    const rows = this.#statement("SELECT * FROM webhooks ORDER BY created_at, id").all() as Row[];
    return Promise.resolve(rows.map((row) => ({
      id: String(row.id),
      url: String(row.url),
      name: String(row.name),
      rooms: JSON.parse(String(row.rooms)) as string[],
      events: JSON.parse(String(row.events)) as string[],
      secret: String(row.secret),
      createdAt: Number(row.created_at),
    })));
  }

  deleteWebhook(id: string): Promise<boolean> {
    const result = this.#statement("DELETE FROM webhooks WHERE id = ?").run(id);
    return Promise.resolve(Number(result.changes) > 0);
  }

  auditLog(limit: number): Promise<AuditRecord[]> {
    const rows = this.#statement("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(
      limit,
    ) as Row[];
    return Promise.resolve(
      rows.reverse().map((row) => ({
        ts: Number(row.ts),
        actor: String(row.actor),
        action: String(row.action),
        room: row.room === null ? null : String(row.room),
        target: row.target === null ? null : String(row.target),
        detail: String(row.detail),
      })),
    );
  }

  ping(): Promise<boolean> {
    try {
      this.#statement("SELECT 1").get();
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
  }

  checkWrite(): Promise<void> {
    // Writes the header page: a real page write, the same value. Without
    // waiting for another writer's lock: this runs on the event loop.
    try {
      this.#db.exec("PRAGMA busy_timeout = 0");
      try {
        this.#transaction(() => this.#db.exec(`PRAGMA user_version = ${this.schemaVersion}`));
      } finally {
        this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async close(): Promise<void> {
    await this.#walSyncer?.close();
    if (this.#db.isOpen) this.#db.close();
    this.#lock?.release();
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
