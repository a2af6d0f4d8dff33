import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "../server/store/sqlite_migrations.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { planNameKeys } from "../server/store/name_key_migration.ts";
import {
  LOOKALIKE_KEY_VERSION,
  lookalikeKey,
  NAME_KEY_VERSION,
  nameKey,
} from "../shared/validation.ts";
import { RedisConnection } from "../server/cluster/redis_connection.ts";
import { RedisKeys } from "../server/cluster/redis_keys.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import type { FileRecord, Store } from "../server/store/store.ts";
import { RedisServer } from "./support/redis_server.ts";

// The name key of the builds before full case folding.
function oldKey(name: string): string {
  return name.normalize("NFKC").toLowerCase().normalize("NFKC");
}

/**
 * Shared files (section 23) keyed as the old build keyed them: one in each
 * of the two rooms that collide, a DM file whose uploader and recipient both
 * move (STRASSE onto `strasse-2` while Straße takes `strasse`), and two
 * guests' whose nicknames are one name now (their quotas merge).
 */
const OLD_FILES: FileRecord[] = [
  ["f1", 10, "Straße", "Fußball", null, 300],
  ["f2", 20, "STRASSE", "FUSSBALL", null, 301],
  ["f3", 40, "STRASSE", null, "Straße", 302],
  ["g1", 1, "Groß", "café", null, 5000],
  ["g2", 2, "GROSS", "café", null, 5001],
].map(([id, size, uploader, room, to, ts]) => ({
  id: String(id),
  name: `${id}.txt`,
  type: "text/plain",
  size: Number(size),
  sha256: String(id).repeat(32),
  uploader: oldKey(String(uploader)),
  room: room === null ? null : oldKey(String(room)),
  to: to === null ? null : oldKey(String(to)),
  ts: Number(ts),
}));

function fileInfo(id: string): { id: string; name: string; size: number; type: string } {
  const file = OLD_FILES.find((record) => record.id === id)!;
  return { id, name: file.name, size: file.size, type: file.type };
}

/** The files of {@linkcode OLD_FILES} after the re-key: readable, counted, kept. */
async function assertFilesRekeyed(store: Store): Promise<void> {
  const keysOf = async (id: string) => {
    const record = await store.getFile(id);
    return record && [record.room, record.uploader, record.to];
  };
  assert.deepEqual(await keysOf("f1"), ["fussball", "strasse", null]);
  assert.deepEqual(await keysOf("f2"), ["fussball-2", "strasse-2", null]);
  assert.deepEqual(await keysOf("f3"), [null, "strasse-2", "strasse"]);
  assert.deepEqual(await keysOf("g1"), ["café", "gross", null]);
  assert.deepEqual(await keysOf("g2"), ["café", "gross", null]);
  // Upload quotas by the new keys, nothing left under the old ones.
  assert.equal(await store.uploadedBytes("strasse", 0), 10);
  assert.equal(await store.uploadedBytes("strasse-2", 0), 60);
  assert.equal(await store.uploadedBytes("gross", 0), 3);
  assert.equal(await store.uploadedBytes(oldKey("Straße"), 0), 0);
  assert.equal(await store.uploadedBytes(oldKey("Groß"), 0), 0);
  // Their messages still share them: retention keeps every one.
  assert.deepEqual(await store.pruneFiles(1000), []);
  for (const { id } of OLD_FILES) assert.ok(await store.getFile(id), id);
  // A re-keyed room's files go with it, the other room's stay.
  await store.write([{ kind: "deleteRoom", room: "fussball-2" }]);
  assert.equal(await store.getFile("f2"), undefined);
  assert.equal((await store.getFile("f1"))?.room, "fussball");
}

/** A data directory as the last build without name_key_version left it. */
function writeOldStore(dir: string): void {
  const db = new DatabaseSync(`${dir}/chat.db`);
  for (const sql of MIGRATIONS) db.exec(sql);
  db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
  db.prepare("INSERT INTO store_meta (name, value) VALUES ('lookalike_version', ?)")
    .run("tr39-17.0.0.1");
  const account = db.prepare(
    "INSERT INTO accounts (name_key, name, password_hash, admin, created_at, lookalike_key) VALUES (?, ?, 'h', 0, ?, 'x')",
  );
  // Straße is older than STRASSE: once ß folds to ss it keeps the key.
  for (const [name, at] of [["Straße", 1], ["STRASSE", 2], ["alice", 3], ["ᏣᎳᎩ", 4]] as const) {
    account.run(oldKey(name), name, at);
  }
  const login = db.prepare(
    "INSERT INTO login_addresses (account_key, ip_key, last_login_at) VALUES (?, ?, ?)",
  );
  login.run(oldKey("Straße"), "192.0.2.1", 10);
  login.run(oldKey("STRASSE"), "192.0.2.2", 20);
  db.prepare("INSERT INTO login_unlocks (account_key, unlocked_at) VALUES (?, 5)")
    .run(oldKey("STRASSE"));
  const room = db.prepare(
    "INSERT INTO rooms (room_key, name, owner_key, created_at, last_id) VALUES (?, ?, ?, ?, ?)",
  );
  room.run(oldKey("Fußball"), "Fußball", oldKey("Straße"), 1, 2);
  room.run(oldKey("FUSSBALL"), "FUSSBALL", oldKey("STRASSE"), 2, 1);
  room.run("café", "café", "guest:abc", 3, 0);
  const message = db.prepare(
    "INSERT INTO messages (room_key, id, from_name, body, ts, sender_key, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  message.run(oldKey("Fußball"), 1, "Straße", "first", 100, oldKey("Straße"), "m1");
  message.run(oldKey("Fußball"), 2, "alice", "second", 101, null, null);
  message.run(oldKey("FUSSBALL"), 1, "STRASSE", "other room", 102, null, null);
  const file = db.prepare(
    `INSERT INTO files (id, name, type, size, sha256, uploader_key, room_key, to_key, ts)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const f of OLD_FILES) {
    file.run(f.id, f.name, f.type, f.size, f.sha256, f.uploader, f.room, f.to, f.ts);
  }
  const share = db.prepare("UPDATE messages SET file_id = ? WHERE room_key = ? AND id = ?");
  share.run("f1", oldKey("Fußball"), 2);
  share.run("f2", oldKey("FUSSBALL"), 1);
  const grant = db.prepare(
    "INSERT INTO grants (room_key, user_key, kind, until, by) VALUES (?, ?, ?, ?, 'alice')",
  );
  grant.run("café", oldKey("Straße"), "ban", null);
  grant.run("café", oldKey("STRASSE"), "mute", 500);
  // Two guests' nickname bans that become one name: the longer one stays.
  grant.run("café", oldKey("Groß"), "ban", 1000);
  grant.run("café", oldKey("GROSS"), "ban", 2000);
  grant.run(oldKey("FUSSBALL"), "guest:abc", "op", null);
  db.prepare(
    `INSERT INTO dms (id, pair_key, from_key, from_name, to_key, to_name, body, ts)
     VALUES (1, ?, ?, 'Straße', 'alice', 'alice', 'hi alice', 200)`,
  ).run(`alice\n${oldKey("Straße")}`, oldKey("Straße"));
  db.prepare(
    `INSERT INTO dms (id, pair_key, from_key, from_name, to_key, to_name, body, ts)
     VALUES (2, ?, ?, 'STRASSE', 'alice', 'alice', 'hi from the other', 201)`,
  ).run(`alice\n${oldKey("STRASSE")}`, oldKey("STRASSE"));
  db.prepare(
    `INSERT INTO dms (id, pair_key, from_key, from_name, to_key, to_name, body, ts, delivered, file_id)
     VALUES (3, ?, ?, 'STRASSE', ?, 'Straße', 'a file', 202, 1, 'f3')`,
  ).run(`${oldKey("STRASSE")}\n${oldKey("Straße")}`, oldKey("STRASSE"), oldKey("Straße"));
  db.prepare("INSERT INTO dm_reads (user_key, peer_key, last_read_id) VALUES ('alice', ?, 1)")
    .run(oldKey("Straße"));
  db.prepare(
    "INSERT INTO api_keys (id, name, name_key, key_hash, created_at) VALUES ('k1', 'Straßenbot', ?, 'h', 1)",
  ).run(oldKey("Straßenbot"));
  db.close();
}

Deno.test("name keys fold fully: the old keys differ where toLowerCase did not fold", () => {
  assert.equal(nameKey("STRASSE"), nameKey("straße"));
  assert.notEqual(oldKey("STRASSE"), oldKey("straße"));
  assert.equal(nameKey("ᏣᎳᎩ"), nameKey("ꮳꮃꭹ")); // Cherokee folds to capitals
});

Deno.test("planNameKeys: the older name keeps the key, the younger is renamed NAME-2", () => {
  const plan = planNameKeys({
    accounts: [
      { key: "strasse", name: "STRASSE", createdAt: 2 },
      { key: "straße", name: "Straße", createdAt: 1 },
      { key: "strasse-2", name: "strasse-2", createdAt: 3 }, // the first pick is taken
    ],
    rooms: [{ key: "r".repeat(62) + "ß", name: "R".repeat(62) + "ß", createdAt: 1 }, {
      key: "r".repeat(62) + "ss",
      name: "r".repeat(62) + "ss",
      createdAt: 2,
    }],
    apiKeys: [],
  });
  assert.deepEqual(Object.fromEntries(plan.accounts), { straße: "strasse", strasse: "strasse-3" });
  assert.deepEqual(
    plan.renames.map((rename) => [rename.kind, rename.oldName, rename.newName, rename.keptBy]),
    [
      ["account", "STRASSE", "STRASSE-3", "Straße"],
      // Cut to fit 64 characters with its suffix.
      ["room", "r".repeat(62) + "ss", "r".repeat(62) + "-2", "R".repeat(62) + "ß"],
    ],
  );
});

Deno.test("SQLite: a data directory keyed by toLowerCase is re-keyed at open, collisions renamed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-namekeys-" });
  try {
    writeOldStore(dir);
    const store = SqliteStore.open(dir);
    try {
      assert.deepEqual(
        store.nameKeyRenames.map((rename) => [rename.kind, rename.oldName, rename.newName]),
        [["account", "STRASSE", "STRASSE-2"], ["room", "FUSSBALL", "FUSSBALL-2"]],
      );
      // Accounts: Straße now under strasse; STRASSE kept, renamed, its logins with it.
      assert.deepEqual(
        (await store.listAccounts()).map((account) => [account.key, account.name]),
        [["alice", "alice"], ["strasse", "Straße"], ["strasse-2", "STRASSE-2"], [
          nameKey("ᏣᎳᎩ"),
          "ᏣᎳᎩ",
        ]],
      );
      assert.deepEqual((await store.loginAddresses("strasse")).map((a) => a.ip), ["192.0.2.1"]);
      assert.deepEqual((await store.loginAddresses("strasse-2")).map((a) => a.ip), ["192.0.2.2"]);
      assert.equal(await store.loginUnlock("strasse-2"), 5);
      assert.equal(await store.loginUnlock("strasse"), undefined);
      // Lookalike keys follow the new keys (found by the index).
      assert.equal((await store.findAccountLike("\u0000none", ""))?.name, undefined);
      // Rooms, their owners and their history.
      const rooms = (await store.loadRooms()).sort((a, b) => a.createdAt - b.createdAt);
      assert.deepEqual(rooms.map((room) => [room.key, room.name, room.owner, room.lastId]), [
        ["fussball", "Fußball", "strasse", 2],
        ["fussball-2", "FUSSBALL-2", "strasse-2", 1],
        ["café", "café", "guest:abc", 0],
      ]);
      const history = await store.history("fussball", { limit: 10 });
      assert.deepEqual(history.map((m) => m.body), ["first", "second"]);
      assert.deepEqual((await store.history("fussball-2", { limit: 10 })).map((m) => m.body), [
        "other room",
      ]);
      const retry = await store.messageByClientMsgId("fussball", {
        sender: "strasse",
        clientMsgId: "m1",
        since: 0,
        perUser: 10,
      });
      assert.equal(retry?.body, "first");
      // Grants: accounts' apart, two guests' nickname bans merged (the longer kept).
      const grants = (await store.loadGrants())
        .map((grant) => `${grant.room} ${grant.user} ${grant.kind} ${grant.until}`).sort();
      assert.deepEqual(grants, [
        "café gross ban 2000",
        "café strasse ban null",
        "café strasse-2 mute 500",
        "fussball-2 guest:abc op null",
      ]);
      // DMs and read markers.
      assert.deepEqual(
        (await store.dmHistory("strasse", "alice", { limit: 10 })).map((dm) => dm.body),
        ["hi alice"],
      );
      assert.deepEqual(
        (await store.dmHistory("alice", "strasse-2", { limit: 10 })).map((dm) => dm.body),
        ["hi from the other"],
      );
      assert.deepEqual(await store.unreadCounts("alice"), [{ peer: "STRASSE", count: 1 }]);
      // API keys by their new name key.
      assert.equal(await store.deleteApiKey("STRASSENBOT"), true);
      // The renames are in the audit log.
      const audit = (await store.auditLog(10)).filter((entry) => entry.action === "rename");
      assert.deepEqual(audit.map((entry) => [entry.actor, entry.target]), [
        ["server", "STRASSE"],
        ["server", "FUSSBALL"],
      ]);
      assert.match(audit[0]!.detail, /"STRASSE" renamed "STRASSE-2".*"Straße", which is older/);
      await assertFilesRekeyed(store);
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(`${dir}/chat.db`);
    const meta = Object.fromEntries(
      (db.prepare("SELECT name, value FROM store_meta").all() as Array<
        { name: string; value: string }
      >).map((row) => [row.name, row.value]),
    );
    const looks = db.prepare("SELECT lookalike_key FROM accounts WHERE name_key = 'strasse-2'")
      .get() as { lookalike_key: string };
    db.close();
    assert.equal(meta.name_key_version, NAME_KEY_VERSION);
    assert.equal(meta.lookalike_version, LOOKALIKE_KEY_VERSION);
    assert.notEqual(looks.lookalike_key, "x");
    // Opened again, nothing moves.
    const again = SqliteStore.open(dir);
    assert.deepEqual(again.nameKeyRenames, []);
    assert.equal((await again.getAccount("strasse"))?.name, "Straße");
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SQLite: a new store is at the current name key version", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-namekeys-" });
  try {
    await SqliteStore.open(dir).close();
    const db = new DatabaseSync(`${dir}/chat.db`);
    const row = db.prepare("SELECT value FROM store_meta WHERE name = 'name_key_version'").get();
    db.close();
    assert.deepEqual({ ...row }, { value: NAME_KEY_VERSION });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Redis: a store keyed by toLowerCase is re-keyed once, collisions renamed; refused while an instance is live", async () => {
  await using server = await RedisServer.start();
  const connection = await RedisConnection.open(server.url);
  const keys = new RedisKeys();
  const old = new RedisStore(connection, { keys });
  const account = (name: string, createdAt: number) => ({
    key: oldKey(name),
    name,
    passwordHash: "h",
    admin: false,
    createdAt,
  });
  try {
    for (const [name, at] of [["Straße", 1], ["STRASSE", 2], ["alice", 3], ["ᏣᎳᎩ", 4]] as const) {
      await old.putAccount(account(name, at));
    }
    await old.putLoginAddress(oldKey("STRASSE"), { ip: "192.0.2.2", lastLoginAt: 20 }, {
      keep: 5,
      notBefore: 0,
    });
    await old.putLoginUnlock(oldKey("STRASSE"), 5);
    const room = (name: string, owner: string, createdAt: number, lastId: number) => ({
      kind: "room" as const,
      record: {
        key: oldKey(name),
        name,
        owner,
        topic: "",
        inviteOnly: false,
        passphrase: null,
        createdAt,
        lastId,
      },
    });
    const message = (roomName: string, id: number, body: string, file?: string) => ({
      kind: "message" as const,
      record: {
        room: oldKey(roomName),
        id,
        from: "alice",
        body,
        ts: 100 + id,
        action: false,
        ...(file === undefined ? {} : { file: fileInfo(file) }),
      },
    });
    const grant = (room: string, user: string, kind: "ban" | "mute", until: number | null) => ({
      kind: "grant" as const,
      grant: { room, user, kind, until, by: "alice", reason: "" },
    });
    await old.write([
      room("Fußball", oldKey("Straße"), 1, 2),
      room("FUSSBALL", oldKey("STRASSE"), 2, 1),
      room("café", "guest:abc", 3, 0),
      message("Fußball", 1, "first"),
      ...OLD_FILES.map((record) => ({ kind: "file" as const, record })),
      message("Fußball", 2, "second", "f1"),
      message("FUSSBALL", 1, "other room", "f2"),
      grant("café", oldKey("Straße"), "ban", null),
      grant("café", oldKey("STRASSE"), "mute", 500),
      grant("café", oldKey("Groß"), "ban", 1000),
      grant("café", oldKey("GROSS"), "ban", 2000),
      grant(oldKey("FUSSBALL"), "alice", "ban", null),
      { kind: "read", user: "alice", peer: oldKey("Straße"), upTo: 1 },
    ]);
    // A DM from Straße to alice as the old build stored it, and its client message id.
    const from = oldKey("Straße");
    const dm = { id: 1, from: "Straße", to: "alice", body: "hi alice", ts: 200, action: false };
    for (
      const command of [
        ["HSET", keys.dms, "1", JSON.stringify(dm)],
        ["SET", keys.dmSeq, "1"],
        ["ZADD", keys.dmPair(from, "alice"), 1, 1],
        ["ZADD", keys.dmPending("alice"), 1, 1],
        ["ZADD", keys.dmIn("alice", from), 1, 1],
        ["HSET", keys.dmPeers("alice"), from, "Straße"],
        ["HSET", `${keys.prefix}fileref`, "f3", "dm"], // the DM that shares f3
        ["HSET", keys.msgIds(from), `r:${oldKey("Fußball")}:m1`, "1 101", "#", "1"],
        ["ZADD", keys.msgIdTimes(from), 1, `r:${oldKey("Fußball")}:m1`],
        ["PEXPIRE", keys.msgIds(from), 3_600_000],
        ["PEXPIRE", keys.msgIdTimes(from), 3_600_000],
      ] as Array<Array<string | number>>
    ) await connection.command(command);

    // Refused, and nothing changed, while an instance is live.
    await connection.command(["ZADD", keys.instances, Date.now() + 60_000, "other"]);
    await assert.rejects(
      () => RedisStore.open(server.url),
      /Cannot re-key names in Redis \(prefix chat:\).*1 instance\(s\) are live \(other\); stop every instance/,
    );
    assert.equal(await connection.command(["GET", keys.nameKeyVersion]), null);
    assert.equal((await old.getAccount(oldKey("Straße")))?.name, "Straße");
    await connection.command(["ZREM", keys.instances, "other"]);

    const store = await RedisStore.open(server.url);
    try {
      assert.equal(await connection.command(["GET", keys.nameKeyVersion]), NAME_KEY_VERSION);
      assert.deepEqual(
        (await store.listAccounts()).map((record) => [record.key, record.name]),
        [["alice", "alice"], ["strasse", "Straße"], ["strasse-2", "STRASSE-2"], [
          nameKey("ᏣᎳᎩ"),
          "ᏣᎳᎩ",
        ]],
      );
      assert.deepEqual((await store.loginAddresses("strasse-2")).map((a) => a.ip), ["192.0.2.2"]);
      assert.equal(await store.loginUnlock("strasse-2"), 5);
      assert.equal(await store.loginUnlock("strasse"), undefined);
      // The lookalike index follows the new keys.
      assert.equal((await store.findAccountLike(lookalikeKey("STRASSE-2"), ""))?.key, "strasse-2");
      const rooms = (await store.loadRooms()).sort((a, b) => a.createdAt - b.createdAt);
      assert.deepEqual(rooms.map((r) => [r.key, r.name, r.owner, r.lastId]), [
        ["fussball", "Fußball", "strasse", 2],
        ["fussball-2", "FUSSBALL-2", "strasse-2", 1],
        ["café", "café", "guest:abc", 0],
      ]);
      assert.deepEqual((await store.history("fussball", { limit: 10 })).map((m) => m.body), [
        "first",
        "second",
      ]);
      assert.deepEqual((await store.history("fussball-2", { limit: 10 })).map((m) => m.body), [
        "other room",
      ]);
      const grants = (await store.loadGrants())
        .map((g) => `${g.room} ${g.user} ${g.kind} ${g.until}`).sort();
      assert.deepEqual(grants, [
        "café gross ban 2000",
        "café strasse ban null",
        "café strasse-2 mute 500",
        "fussball-2 alice ban null",
      ]);
      assert.deepEqual(
        (await store.dmHistory("alice", "strasse", { limit: 10 })).map((d) => d.body),
        ["hi alice"],
      );
      assert.deepEqual(
        (await store.pendingDms("strasse", { limit: 10 })).map((d) => d.body),
        [],
      );
      assert.deepEqual((await store.pendingDms("alice", { limit: 10 })).map((d) => d.body), [
        "hi alice",
      ]);
      assert.deepEqual(await store.unreadCounts("alice"), []); // read up to 1, by the new key
      const retry = await store.messageByClientMsgId("fussball", {
        sender: "strasse",
        clientMsgId: "m1",
        since: 0,
        perUser: 10,
      });
      assert.equal(retry?.body, "first");
      assert.ok(await connection.command<number>(["PTTL", keys.msgIds("strasse")]) > 0);
      const audit = (await store.auditLog(10)).filter((entry) => entry.action === "rename");
      assert.deepEqual(audit.map((entry) => entry.target), ["STRASSE", "FUSSBALL"]);
      // Once done, opening again changes nothing.
      assert.deepEqual(await store.rekeyNames(), []);
      // Nothing is left under an old key.
      const left = await connection.command<string[]>(["KEYS", "*ß*"]);
      assert.deepEqual(left, []);
      // The message that shares a file is found under the room's new key.
      assert.equal(
        await connection.command(["HGET", `${keys.prefix}fileref`, "f2"]),
        "fussball-2:1",
      );
      await assertFilesRekeyed(store);
    } finally {
      await store.close();
    }
  } finally {
    await old.close();
  }
});
