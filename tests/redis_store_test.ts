/**
 * RedisStore against a real redis-server answers every Store query the way
 * the embedded SQLite store does, given the same writes.
 */
import assert from "node:assert/strict";
import { RedisConnection } from "../server/cluster/redis_connection.ts";
import { RedisKeys } from "../server/cluster/redis_keys.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { Store, StoreWrite } from "../server/store/store.ts";
import { RedisServer } from "./support/redis_server.ts";
import { LOOKALIKE_KEY_VERSION } from "../shared/validation.ts";

const T0 = 1_700_000_000_000;

function writes(): StoreWrite[][] {
  const room = (key: string, extra: Partial<{ topic: string; lastId: number }> = {}) => ({
    kind: "room" as const,
    record: {
      key,
      name: key.toUpperCase(),
      owner: "alice",
      topic: extra.topic ?? "",
      inviteOnly: false,
      passphrase: null,
      createdAt: T0,
      lastId: extra.lastId ?? 0,
    },
  });
  const batches: StoreWrite[][] = [[room("dev"), room("ops"), room("tmp")]];
  const messages: StoreWrite[] = [];
  for (let id = 1; id <= 30; id++) {
    messages.push({
      kind: "message",
      record: {
        room: id % 3 === 0 ? "ops" : "dev",
        id: id % 3 === 0 ? id / 3 : id - Math.floor(id / 3),
        from: id % 2 ? "alice" : "bob",
        body: `message ${id} ✓`,
        ts: T0 + id * 1000,
        action: id % 5 === 0,
      },
    });
  }
  batches.push(messages);
  batches.push([
    room("dev", { topic: "Release", lastId: 20 }),
    {
      kind: "grant",
      grant: {
        room: "dev",
        user: "mallory",
        kind: "ban",
        until: null,
        by: "alice",
        reason: "spam",
      },
    },
    {
      kind: "grant",
      grant: { room: "dev", user: "bob", kind: "op", until: T0 + 5, by: "alice", reason: "" },
    },
    {
      kind: "grant",
      grant: { room: "ops", user: "carol", kind: "mute", until: null, by: "alice", reason: "" },
    },
    { kind: "ungrant", room: "ops", user: "carol", grant: "mute" },
    { kind: "deleteRoom", room: "tmp" },
    {
      kind: "audit",
      entry: { ts: T0, actor: "alice", action: "ban", room: "dev", target: "mallory", detail: "" },
    },
    {
      kind: "audit",
      entry: {
        ts: T0 + 1,
        actor: "alice",
        action: "topic",
        room: "dev",
        target: null,
        detail: "x",
      },
    },
  ]);
  const dms: StoreWrite[] = [];
  for (let id = 1; id <= 12; id++) {
    const [from, to] = id % 3 === 0
      ? ["Carol", "Bob"]
      : id % 2
      ? ["alice", "Bob"]
      : ["Bob", "alice"];
    dms.push({
      kind: "dm",
      record: { id, from: from!, to: to!, body: `dm ${id}`, ts: T0 + id, action: false },
      delivered: id < 5,
    });
  }
  batches.push(dms);
  batches.push([
    { kind: "delivered", user: "bob", upTo: 7 },
    { kind: "read", user: "bob", peer: "alice", upTo: 5 },
    { kind: "read", user: "bob", peer: "alice", upTo: 3 },
  ]);
  return batches;
}

async function answers(store: Store) {
  const out: Record<string, unknown> = {};
  out.rooms = (await store.loadRooms()).sort((a, b) => a.key.localeCompare(b.key));
  out.grants = (await store.loadGrants()).sort((a, b) => a.user.localeCompare(b.user));
  const queries = [
    { limit: 5 },
    { limit: 50 },
    { before: 8, limit: 3 },
    { after: 4, limit: 3 },
    { after: 4, upTo: 6, limit: 10 },
    { upTo: 9, limit: 4 },
    { after: 100, limit: 4 },
    { before: 1, limit: 4 },
    // Byte budgets: each record costs 64 bytes plus its sender and body.
    { limit: 50, maxBytes: 300 },
    { after: 2, limit: 50, maxBytes: 200 },
    { before: 15, limit: 50, maxBytes: 150 },
    { limit: 50, maxBytes: 1 },
    { after: 0, upTo: 12, limit: 50, maxBytes: 10_000 },
  ];
  for (const [i, query] of queries.entries()) {
    out[`history dev ${i}`] = await store.history("dev", query);
    out[`history ops ${i}`] = await store.history("ops", query);
    out[`dm ${i}`] = await store.dmHistory("bob", "alice", query);
  }
  out.oldestDev = await store.oldestId("dev");
  out.oldestNone = await store.oldestId("nowhere");
  out.lastDm = await store.lastDmId();
  out.pending = await store.pendingDms("bob", { limit: 50 });
  out.pendingPage = await store.pendingDms("bob", { limit: 2 });
  out.pendingAfter = await store.pendingDms("bob", { after: 8, limit: 50 });
  out.pendingBytes = await store.pendingDms("bob", { limit: 50, maxBytes: 100 });
  out.unread = await store.unreadCounts("bob");
  out.unreadAlice = await store.unreadCounts("alice");
  out.readMarker = await store.readMarker("bob", "alice");
  out.readMarkerNone = await store.readMarker("alice", "bob");
  out.lastFromAlice = await store.lastDmFrom("bob", "alice");
  out.lastFromNobody = await store.lastDmFrom("bob", "nobody");
  out.audit = await store.auditLog(10);
  out.audit1 = await store.auditLog(1);
  return out;
}

Deno.test("RedisStore answers like the SQLite store, accounts included, and prunes by count", async () => {
  await using redis = await RedisServer.start();
  const redisStore = new RedisStore(await RedisConnection.open(redis.url), {
    keys: new RedisKeys("test:"),
  });
  const sqlite = SqliteStore.memory();
  try {
    for (const batch of writes()) {
      await redisStore.write(batch);
      await sqlite.write(batch);
    }
    const expected = await answers(sqlite);
    assert.deepEqual(await answers(redisStore), expected);
    assert.equal((expected["history dev 1"] as unknown[]).length, 20);
    assert.equal((expected.pending as unknown[]).length, 3);
    assert.equal((expected.pendingBytes as unknown[]).length, 2);
    // 300 bytes: three records of about 84 fit, the fourth goes over and is the last read.
    assert.deepEqual(
      (expected["history dev 8"] as { id: number }[]).map((record) => record.id),
      [17, 18, 19, 20],
    );
    assert.deepEqual(
      (expected["history dev 9"] as { id: number }[]).map((record) => record.id),
      [3, 4, 5],
    );
    assert.equal((expected["history dev 11"] as unknown[]).length, 1);
    assert.equal((expected["history dev 12"] as unknown[]).length, 12);
    assert.deepEqual(expected.unread, [{ peer: "Carol", count: 4 }, { peer: "alice", count: 2 }]);
    // Read up to 5, then 3: the marker stays at 5.
    assert.deepEqual([expected.readMarker, expected.readMarkerNone], [5, 0]);
    assert.ok((expected.lastFromAlice as number) > 0);
    assert.equal(expected.lastFromNobody, 0);

    const account = {
      key: "erin",
      name: "Erin",
      passwordHash: "$scrypt$x",
      admin: false,
      createdAt: T0,
    };
    for (const store of [redisStore, sqlite] as Store[]) {
      assert.equal(await store.getAccount("erin"), undefined);
      await store.putAccount(account);
      await store.putAccount({ ...account, key: "dan", name: "dan" });
      await store.putAccount({ ...account, admin: true });
    }
    assert.deepEqual(await redisStore.listAccounts(), await sqlite.listAccounts());
    assert.deepEqual(await redisStore.getAccount("erin"), { ...account, admin: true });
    assert.equal(await redisStore.deleteAccount("dan"), true);
    assert.equal(await redisStore.deleteAccount("dan"), false);
    assert.equal(await redisStore.ping(), true);

    // Keep the last 5 of each room: dev had 20, ops 10.
    const policy = { maxMessages: 5, maxAgeMs: 0 };
    assert.equal(await redisStore.prune(policy, 1000), 20);
    assert.equal(await redisStore.oldestId("dev"), 16);
    assert.equal(await redisStore.oldestId("ops"), 6);
  } finally {
    await redisStore.close();
    await sqlite.close();
  }
});

Deno.test("RedisStore finds accounts by lookalike key like SQLite, and indexes older data once", async () => {
  await using redis = await RedisServer.start();
  const keys = new RedisKeys("looks:");
  const connection = await RedisConnection.open(redis.url);
  // Accounts written by a build without the index: plain records only.
  const record = (key: string, name: string, createdAt: number) => ({
    key,
    name,
    passwordHash: "$scrypt$x",
    admin: false,
    createdAt,
  });
  await connection.command(
    ["HSET", keys.accounts, "paypal", JSON.stringify(record("paypal", "paypal", T0))],
  );
  const redisStore = new RedisStore(connection, { keys });
  const sqlite = SqliteStore.memory();
  try {
    await sqlite.putAccount(record("paypal", "paypal", T0));
    for (const store of [redisStore, sqlite] as Store[]) {
      await store.putAccount(record("ian", "Ian", T0 + 1));
      assert.equal((await store.findAccountLike("paypal", "paypa1"))?.name, "paypal");
      assert.equal(await store.findAccountLike("paypal", "paypal"), undefined);
      assert.equal((await store.findAccountLike("lan", "lan"))?.name, "Ian");
      assert.equal(await store.findAccountLike("alice", "alice"), undefined);
      assert.equal(await store.deleteAccount("ian"), true);
      assert.equal(await store.findAccountLike("lan", "lan"), undefined);
    }
    assert.equal(
      await connection.command(["GET", keys.accountLooksVersion]),
      LOOKALIKE_KEY_VERSION,
    );
    assert.equal(await connection.command(["HLEN", keys.accountLooks]), 1);
  } finally {
    await redisStore.close();
    await sqlite.close();
  }
});

Deno.test("login addresses and unlocks: both stores keep the newest addresses, forget old ones, and drop them with the account", async () => {
  await using redis = await RedisServer.start();
  const redisStore = new RedisStore(await RedisConnection.open(redis.url), {
    keys: new RedisKeys("t:"),
  });
  const sqlite = SqliteStore.memory();
  try {
    const account = {
      key: "erin",
      name: "Erin",
      passwordHash: "$scrypt$x",
      admin: false,
      createdAt: T0,
    };
    const answers: unknown[] = [];
    for (const store of [redisStore, sqlite] as Store[]) {
      await store.putAccount(account);
      const limits = { keep: 3, notBefore: T0 };
      for (const [ip, at] of [["192.0.2.1", 10], ["192.0.2.2", 20], ["192.0.2.1", 30]] as const) {
        await store.putLoginAddress("erin", { ip, lastLoginAt: T0 + at }, limits);
      }
      // An older time never moves an address back.
      await store.putLoginAddress("erin", { ip: "192.0.2.2", lastLoginAt: T0 + 5 }, limits);
      const first = await store.loginAddresses("erin");
      // Over the count, the least recently used goes; older than notBefore too.
      await store.putLoginAddress("erin", { ip: "2001:db8::/64", lastLoginAt: T0 + 40 }, limits);
      await store.putLoginAddress("erin", { ip: "192.0.2.3", lastLoginAt: T0 + 50 }, limits);
      const trimmed = await store.loginAddresses("erin");
      await store.putLoginAddress("erin", { ip: "192.0.2.4", lastLoginAt: T0 + 60 }, {
        keep: 3,
        notBefore: T0 + 45,
      });
      const aged = await store.loginAddresses("erin");
      const last = [
        await store.lastLoginFrom("erin", "192.0.2.3"),
        await store.lastLoginFrom("erin", "192.0.2.1"),
      ];
      const unlockBefore = await store.loginUnlock("erin");
      await store.putLoginUnlock("erin", T0 + 70);
      const unlock = await store.loginUnlock("erin");
      await store.deleteAccount("erin");
      answers.push({
        first,
        trimmed,
        aged,
        last,
        unlockBefore,
        unlock,
        afterDelete: [await store.loginAddresses("erin"), await store.loginUnlock("erin")],
      });
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.deepEqual(answers[1], {
      first: [{ ip: "192.0.2.1", lastLoginAt: T0 + 30 }, { ip: "192.0.2.2", lastLoginAt: T0 + 20 }],
      trimmed: [
        { ip: "192.0.2.3", lastLoginAt: T0 + 50 },
        { ip: "2001:db8::/64", lastLoginAt: T0 + 40 },
        { ip: "192.0.2.1", lastLoginAt: T0 + 30 },
      ],
      aged: [{ ip: "192.0.2.4", lastLoginAt: T0 + 60 }, { ip: "192.0.2.3", lastLoginAt: T0 + 50 }],
      last: [T0 + 50, undefined],
      unlockBefore: undefined,
      unlock: T0 + 70,
      afterDelete: [[], undefined],
    });
  } finally {
    await redisStore.close();
    await sqlite.close();
  }
});

Deno.test("deleteRoom deletes the room's files at once in both stores; retention then gets the contents no file uses", async () => {
  await using redis = await RedisServer.start();
  const redisStore = new RedisStore(await RedisConnection.open(redis.url), {
    keys: new RedisKeys("test:"),
  });
  const sqlite = SqliteStore.memory();
  const file = (id: string, room: string, sha256: string) => ({
    kind: "file" as const,
    record: {
      id,
      name: `${id}.bin`,
      type: "application/octet-stream",
      size: 100,
      sha256: sha256.repeat(64),
      uploader: "alice",
      room,
      to: null,
      ts: T0 + 10,
    },
  });
  const room = (key: string) => ({
    kind: "room" as const,
    record: {
      key,
      name: key,
      owner: null,
      topic: "",
      inviteOnly: false,
      passphrase: null,
      createdAt: T0,
      lastId: 0,
    },
  });
  try {
    for (const store of [sqlite, redisStore] as Store[]) {
      // Contents a only in #tmp, b in #tmp and #dev, c only in #dev.
      await store.write([
        room("tmp"),
        room("dev"),
        file("one", "tmp", "a"),
        file("two", "tmp", "b"),
        file("three", "dev", "b"),
        file("four", "dev", "c"),
      ]);
      const info = { id: "one", name: "one.bin", size: 100, type: "application/octet-stream" };
      await store.write([{
        kind: "message",
        record: {
          room: "tmp",
          id: 1,
          from: "alice",
          body: "x",
          ts: T0 + 11,
          action: false,
          file: info,
        },
      }]);
      await store.write([{ kind: "deleteRoom", room: "tmp" }]);
      assert.equal(await store.getFile("one"), undefined);
      assert.equal(await store.getFile("two"), undefined);
      assert.equal((await store.getFile("three"))?.room, "dev");
      assert.equal(await store.uploadedBytes("alice", 0), 200);
      // No file is old enough to go by itself; only content a is left unused.
      assert.deepEqual(await store.pruneFiles(T0), ["a".repeat(64)]);
      assert.deepEqual(await store.pruneFiles(T0), []);
      assert.equal((await store.getFile("four"))?.room, "dev");
    }
  } finally {
    await redisStore.close();
    await sqlite.close();
  }
});
