/**
 * The embedded store: one SQLite file (node:sqlite) in WAL mode.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { nameKey } from "../../shared/validation.ts";
import { MIGRATIONS } from "./sqlite_migrations.ts";
import { WalSyncer } from "./wal_syncer.ts";
import type {
  AccountRecord,
  ApiKeyRecord,
  AuditRecord,
  DmRecord,
  GrantKind,
  GrantRecord,
  HistoryQuery,
  MessageRecord,
  PendingQuery,
  RetentionPolicy,
  RoomRecord,
  Store,
  StoreWrite,
  UnreadCount,
} from "./store.ts";
import { recordBytes } from "./store.ts";

/** The database file's name inside the data directory. */
export const DATABASE_FILE = "chat.db";

/** How hard commits are made durable. */
export type SyncMode = "normal" | "full";

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * `normal` (default): a commit survives the server being killed; the last
   * commits may be lost on power failure. `full`: fsync on every commit.
   */
  sync?: SyncMode;
}

type Row = Record<string, unknown>;

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

function toMessage(row: Row): MessageRecord {
  return {
    room: String(row.room_key),
    id: Number(row.id),
    from: String(row.from_name),
    body: String(row.body),
    ts: Number(row.ts),
    action: row.action === 1,
  };
}

function toDm(row: Row): DmRecord {
  return {
    id: Number(row.id),
    from: String(row.from_name),
    to: String(row.to_name),
    body: String(row.body),
    ts: Number(row.ts),
    action: row.action === 1,
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
 * ```ts ignore
 * import { SqliteStore } from "./sqlite_store.ts";
 * const store = SqliteStore.open("./chat-data");
 * console.log(await store.loadRooms());
 * await store.close();
 * ```
 */
export class SqliteStore implements Store {
  readonly path: string;
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  // Keeps the WAL synced in the background so checkpoints stay short.
  #walSyncer: WalSyncer | undefined;

  private constructor(path: string, db: DatabaseSync, walSyncer?: WalSyncer) {
    this.path = path;
    this.#db = db;
    this.#walSyncer = walSyncer;
  }

  /** Opens (creating if needed) the store in directory `dir` and migrates it. */
  static open(dir: string, options: SqliteStoreOptions = {}): SqliteStore {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return SqliteStore.#openPath(join(dir, DATABASE_FILE), options);
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
    db.exec("PRAGMA busy_timeout = 5000");
    // With `full` every commit syncs; in memory there is no file.
    const walSyncer = path !== ":memory:" && options.sync !== "full"
      ? new WalSyncer(`${path}-wal`)
      : undefined;
    const store = new SqliteStore(path, db, walSyncer);
    store.#migrate();
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
      this.#db.exec("ROLLBACK");
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
          case "dm":
            this.#insertDm(write.record, write.delivered);
            break;
          case "room":
            this.#saveRoom(write.record);
            break;
          case "deleteRoom":
            this.#statement("DELETE FROM rooms WHERE room_key = ?").run(write.room);
            this.#statement("DELETE FROM grants WHERE room_key = ?").run(write.room);
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
    this.#statement(
      "INSERT INTO messages (room_key, id, from_name, body, ts, action) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(message.room, message.id, message.from, message.body, message.ts, message.action ? 1 : 0);
  }

  #insertDm(dm: DmRecord, delivered: boolean): void {
    const from = nameKey(dm.from);
    const to = nameKey(dm.to);
    this.#statement(
      `INSERT INTO dms (id, pair_key, from_key, from_name, to_key, to_name, body, ts, action, delivered)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    );
  }

  history(room: string, query: HistoryQuery): Promise<MessageRecord[]> {
    if (query.after !== undefined) {
      return Promise.resolve(this.#page(
        this.#statement(
          "SELECT * FROM messages WHERE room_key = ? AND id > ? AND id <= ? ORDER BY id ASC LIMIT ?",
        ),
        [room, query.after, query.upTo ?? Number.MAX_SAFE_INTEGER, query.limit],
        { maxBytes: query.maxBytes, convert: toMessage },
      ));
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
    );
  }

  /**
   * Steps `statement` row by row until `maxBytes` is spent (the row that
   * spends it is the last one kept): rows after it are never read.
   */
  #page<T extends { from: string; body: string }>(
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
        deleted += Number(
          this.#statement(
            // WITHOUT ROWID table: select victims by primary key.
            `DELETE FROM messages WHERE (room_key, id) IN
               (SELECT room_key, id FROM messages WHERE ts < ? LIMIT ?)`,
          ).run(cutoff, batchSize).changes,
        );
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
          if (deleted >= batchSize) break;
        }
      }
    });
    return Promise.resolve(deleted);
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

  getAccount(key: string): Promise<AccountRecord | undefined> {
    const row = this.#statement("SELECT * FROM accounts WHERE name_key = ?").get(key) as
      | Row
      | undefined;
    return Promise.resolve(row === undefined ? undefined : toAccount(row));
  }

  putAccount(account: AccountRecord): Promise<void> {
    this.#statement(
      `INSERT INTO accounts (name_key, name, password_hash, admin, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash,
         admin = excluded.admin`,
    ).run(
      account.key,
      account.name,
      account.passwordHash,
      account.admin ? 1 : 0,
      account.createdAt,
    );
    return Promise.resolve();
  }

  deleteAccount(key: string): Promise<boolean> {
    const result = this.#statement("DELETE FROM accounts WHERE name_key = ?").run(key);
    return Promise.resolve(Number(result.changes) > 0);
  }

  listAccounts(): Promise<AccountRecord[]> {
    const rows = this.#statement("SELECT * FROM accounts ORDER BY name_key").all() as Row[];
    return Promise.resolve(rows.map(toAccount));
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

  async close(): Promise<void> {
    await this.#walSyncer?.close();
    if (this.#db.isOpen) this.#db.close();
  }
}
