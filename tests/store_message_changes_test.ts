/**
 * The stores' part of message changes (docs/protocol.md section 21), the
 * same for SQLite (a real file) and Redis (a real server): a change updates
 * its message in place and keeps its entry; the timeline gives messages
 * and changes in id order; retention prunes a message's change entries and
 * reactions with it; deleting a room deletes them too.
 */
import assert from "node:assert/strict";
import { RedisConnection } from "../server/cluster/redis_connection.ts";
import { RedisKeys } from "../server/cluster/redis_keys.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type {
  ChangeKind,
  ChangeRecord,
  MessageRecord,
  Store,
  StoreWrite,
} from "../server/store/store.ts";
import { hasRedisServer, RedisServer } from "./support/redis_server.ts";
import { withDataDir } from "./support/test_server.ts";

const redisAvailable = await hasRedisServer();
const OLD = Date.now() - 3_600_000;

function message(id: number, body: string, ts = Date.now()): StoreWrite {
  const record: MessageRecord = { room: "dev", id, from: "ann", body, ts, action: false };
  return { kind: "message", record };
}

function change(
  id: number,
  kind: ChangeKind,
  target: number,
  text: string,
  by = "bob",
  ts = Date.now(),
): StoreWrite {
  const record: ChangeRecord = { room: "dev", id, change: kind, target, from: by, text, ts };
  if (kind === "react" || kind === "unreact") record.user = by;
  return { kind: "change", record };
}

async function checkStore(store: Store): Promise<void> {
  await store.write([{
    kind: "room",
    record: {
      key: "dev",
      name: "dev",
      owner: null,
      topic: "",
      inviteOnly: false,
      passphrase: null,
      createdAt: 0,
      lastId: 0,
    },
  }]);
  await store.write([
    message(1, "old", OLD),
    change(2, "react", 1, "👍", "bob", OLD),
    message(3, "kept"),
    change(4, "edit", 1, "old, edited", "ann"),
    change(5, "react", 3, "👍", "bob"),
    change(6, "react", 3, "👍", "cy"),
    change(7, "react", 3, "🎉", "bob"),
    change(8, "unreact", 3, "👍", "bob"),
    change(9, "edit", 3, "kept, edited", "ann"),
    message(10, "doomed"),
    change(11, "react", 10, "👀", "bob"),
    change(12, "delete", 10, "", "ann"),
  ]);
  const timeline = await store.timeline("dev", { after: 0, limit: 100 });
  assert.deepEqual(timeline.map((entry) => entry.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const pages = await store.history("dev", { limit: 10 });
  assert.deepEqual(pages.map((m) => [m.id, m.body, m.edited !== undefined, m.deleted?.by]), [
    [1, "old, edited", true, undefined],
    [3, "kept, edited", true, undefined],
    [10, "", false, "ann"],
  ]);
  assert.deepEqual(pages[1]!.reactions, [
    { emoji: "👍", count: 1, users: ["cy"] },
    { emoji: "🎉", count: 1, users: ["bob"] },
  ]);
  assert.equal(pages[2]!.reactions, undefined);
  const state = await store.messageState("dev", 3);
  assert.deepEqual([...state!.reactions].map(([emoji, users]) => [emoji, [...users]]), [
    ["👍", ["cy"]],
    ["🎉", ["bob"]],
  ]);
  assert.equal((await store.messageState("dev", 10))!.deleted, true);
  assert.equal(await store.messageState("dev", 2), undefined); // a change, not a message
  // Bounded pages: by entries, and by bytes (the record over the budget is the last).
  assert.deepEqual((await store.timeline("dev", { after: 2, limit: 3 })).map((e) => e.id), [
    3,
    4,
    5,
  ]);
  assert.deepEqual(
    (await store.timeline("dev", { after: 0, upTo: 5, limit: 100, maxBytes: 1 })).map((e) => e.id),
    [1],
  );
  // Retention by age: message 1 goes with its reaction and its edit; 3 and its changes stay.
  assert.ok(await store.prune({ maxMessages: 0, maxAgeMs: 60_000 }, 100) >= 1);
  const left = await store.timeline("dev", { after: 0, limit: 100 });
  assert.deepEqual(left.map((entry) => entry.id), [3, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(await store.messageState("dev", 1), undefined);
  await store.write([{ kind: "deleteRoom", room: "dev" }]);
  assert.deepEqual(await store.timeline("dev", { after: 0, limit: 100 }), []);
  assert.equal(await store.messageState("dev", 3), undefined);
}

Deno.test("SQLite store: changes in place, the timeline in id order, pruned and deleted with their messages", async () => {
  await withDataDir(async (dir) => {
    const store = SqliteStore.open(dir);
    try {
      await checkStore(store);
    } finally {
      await store.close();
    }
  });
});

Deno.test({
  name:
    "Redis store: changes in place, the timeline in id order, pruned and deleted with their messages",
  ignore: !redisAvailable,
  async fn() {
    await using redis = await RedisServer.start();
    const store = new RedisStore(await RedisConnection.open(redis.url), {
      keys: new RedisKeys("t:"),
    });
    try {
      await checkStore(store);
    } finally {
      await store.close();
    }
  },
});

Deno.test("SQLite store: retention by count prunes the entries and reactions of the messages it drops", async () => {
  const store = SqliteStore.memory();
  try {
    await store.write([{
      kind: "room",
      record: {
        key: "dev",
        name: "dev",
        owner: null,
        topic: "",
        inviteOnly: false,
        passphrase: null,
        createdAt: 0,
        lastId: 0,
      },
    }]);
    await store.write([
      message(1, "a"),
      change(2, "react", 1, "👍"),
      message(3, "b"),
      change(4, "react", 3, "👍"),
      message(5, "c"),
    ]);
    // Keep the last 2 timeline ids: 4 and 5; message 3 goes, and its reaction 4 with it.
    await store.prune({ maxMessages: 2, maxAgeMs: 0 }, 100);
    assert.deepEqual((await store.timeline("dev", { after: 0, limit: 10 })).map((e) => e.id), [5]);
    assert.equal(await store.messageState("dev", 3), undefined);
  } finally {
    await store.close();
  }
});
