/**
 * `clientMsgId` on `say` and `dm`: a retry under the same id gets the first
 * message's ack and posts nothing new, across reconnects, restarts (a real
 * SQLite file) and instances (a real Redis). Over real TCP.
 */
import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { RedisConnection } from "../server/cluster/redis_connection.ts";
import { RedisKeys } from "../server/cluster/redis_keys.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { ClientMsgQuery, Store } from "../server/store/store.ts";
import { concatBytes } from "../shared/bytes.ts";
import { encodeFrame } from "../shared/frame.ts";
import { type Frame, Peer } from "./support/peer.ts";
import { hasRedisServer, RedisServer } from "./support/redis_server.ts";

const redisAvailable = await hasRedisServer();

function listen(options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    textPromptDelayMs: 100,
    rateBurst: 1000,
    ratePerSecond: 1000,
    ...options,
  });
}

/** Every message of `room` in history, oldest first. */
async function history(peer: Peer, room: string): Promise<Frame[]> {
  const page = await peer.request({ type: "history", room, after: 0, limit: 500 });
  assert.equal(page.type, "ack");
  return page.result.messages;
}

async function joined(port: number, nick: string, room = "dev"): Promise<Peer> {
  const peer = await Peer.join(port, nick);
  assert.equal((await peer.request({ type: "join", room })).type, "ack");
  return peer;
}

Deno.test("a retry under the same clientMsgId gets the first ack and posts nothing new", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using bob = await joined(port, "bob");
  let alice = await joined(port, "alice");
  const first = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k1" });
  assert.equal(first.type, "ack");
  assert.equal(first.result.duplicate, undefined);
  await bob.next((f) => f.type === "message" && f.body === "hi");
  // The same connection, then a new one as after a lost ack.
  const again = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k1" });
  assert.deepEqual(again.result, { id: first.result.id, ts: first.result.ts, duplicate: true });
  await alice[Symbol.asyncDispose]();
  alice = await joined(port, "alice");
  const retry = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k1" });
  assert.deepEqual(retry.result, { id: first.result.id, ts: first.result.ts, duplicate: true });
  // Nothing was delivered again: the next message is the next one bob sees.
  await alice.request({ type: "say", room: "dev", body: "next", clientMsgId: "k2" });
  const seen = await bob.next((f) => f.type === "message");
  assert.equal(seen.body, "next");
  assert.deepEqual((await history(bob, "dev")).map((m) => m.body), ["hi", "next"]);
  await alice[Symbol.asyncDispose]();
});

Deno.test("clientMsgId: another body is msg_id_conflict; another room or sender is a new message", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  await using carol = await joined(port, "carol");
  assert.equal((await alice.request({ type: "join", room: "ops" })).type, "ack");
  const first = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
  const changed = await alice.request({ type: "say", room: "dev", body: "HI", clientMsgId: "k" });
  assert.equal(changed.type, "error");
  assert.equal(changed.code, "msg_id_conflict");
  const action = await alice.request({
    type: "say",
    room: "dev",
    body: "hi",
    action: true,
    clientMsgId: "k",
  });
  assert.equal(action.code, "msg_id_conflict");
  const elsewhere = await alice.request({ type: "say", room: "ops", body: "hi", clientMsgId: "k" });
  assert.equal(elsewhere.result.duplicate, undefined);
  const other = await carol.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
  assert.equal(other.result.duplicate, undefined);
  assert.notEqual(other.result.id, first.result.id);
  assert.deepEqual((await history(alice, "dev")).map((m) => m.from), ["alice", "carol"]);
  assert.deepEqual((await history(alice, "ops")).map((m) => m.from), ["alice"]);
});

Deno.test("clientMsgId: the same say pipelined twice is posted once, both acks name it", async () => {
  await using server = await listen();
  await using alice = await joined(server.addr.port, "alice");
  const frames = [10, 11, 12].map((id) =>
    encodeFrame({ type: "say", id, room: "dev", body: "once", clientMsgId: "dup" })
  );
  alice.sendRaw(concatBytes(frames));
  const acks = await Promise.all(
    [10, 11, 12].map((id) => alice.next((f) => f.type === "ack" && f.id === id)),
  );
  assert.deepEqual(acks.map((f) => f.result.id), [1, 1, 1]);
  assert.deepEqual(acks.map((f) => f.result.duplicate), [undefined, true, true]);
  assert.equal(alice.all((f) => f.type === "message").length, 1);
  assert.equal((await history(alice, "dev")).length, 1);
});

Deno.test("clientMsgId: ids keep the order of the says, with and without a clientMsgId", async () => {
  await using server = await listen();
  await using alice = await joined(server.addr.port, "alice");
  const frames = [...Array(40).keys()].map((i) =>
    encodeFrame({
      type: "say",
      id: 100 + i,
      room: "dev",
      body: `m${i}`,
      ...(i % 3 === 0 ? {} : { clientMsgId: `k${i}` }),
    })
  );
  alice.sendRaw(concatBytes(frames));
  await alice.next((f) => f.type === "ack" && f.id === 139);
  const bodies = alice.all((f) => f.type === "message").map((f) => f.body);
  assert.deepEqual(bodies, [...Array(40).keys()].map((i) => `m${i}`));
  const ids = alice.all((f) => f.type === "ack" && f.id >= 100).map((f) => f.result.id);
  assert.deepEqual(ids, [...Array(40).keys()].map((i) => i + 1));
});

Deno.test("clientMsgId on dm: a retry gets the first ack and the recipient gets it once", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice");
  await using bob = await Peer.join(port, "bob");
  const first = await alice.request({ type: "dm", to: "bob", body: "psst", clientMsgId: "d1" });
  assert.equal(first.type, "ack");
  const again = await alice.request({ type: "dm", to: "Bob", body: "psst", clientMsgId: "d1" });
  assert.deepEqual(again.result, { id: first.result.id, ts: first.result.ts, duplicate: true });
  const conflict = await alice.request({ type: "dm", to: "bob", body: "pst", clientMsgId: "d1" });
  assert.equal(conflict.code, "msg_id_conflict");
  // The same id to someone else is another message.
  await using carol = await Peer.join(port, "carol");
  const other = await alice.request({ type: "dm", to: "carol", body: "psst", clientMsgId: "d1" });
  assert.equal(other.result.duplicate, undefined);
  await alice.request({ type: "dm", to: "bob", body: "later" });
  await bob.next((f) => f.type === "dm" && f.body === "later");
  assert.deepEqual(bob.all((f) => f.type === "dm").map((f) => f.body), ["psst", "later"]);
  assert.equal(carol.all((f) => f.type === "dm").length, 1);
});

Deno.test("clientMsgId must be 1 to 64 printable ASCII characters", async () => {
  await using server = await listen();
  await using alice = await joined(server.addr.port, "alice");
  for (const clientMsgId of ["", "x".repeat(65), "has space", "é", "tab\t", 7, true, ["a"]]) {
    const reply = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId });
    assert.equal(reply.code, "bad_request", JSON.stringify(clientMsgId));
    assert.match(reply.message, /clientMsgId/);
  }
  const longest = "~".repeat(64);
  assert.equal(
    (await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: longest })).type,
    "ack",
  );
  assert.equal((await history(alice, "dev")).length, 1);
});

Deno.test("clientMsgId survives a restart: the retry after it is not posted again", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-msgid-" });
  try {
    let server = await listen({ dataDir });
    const alice = await joined(server.addr.port, "alice");
    const say = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
    const dm = await alice.request({ type: "dm", to: "alice", body: "note", clientMsgId: "k" });
    await server.shutdown();
    await alice.closed;
    server = await listen({ dataDir });
    await using again = await joined(server.addr.port, "alice");
    const retry = await again.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
    assert.deepEqual(retry.result, { ...say.result, duplicate: true });
    const dmRetry = await again.request({
      type: "dm",
      to: "alice",
      body: "note",
      clientMsgId: "k",
    });
    assert.deepEqual(dmRetry.result, { id: dm.result.id, ts: dm.result.ts, duplicate: true });
    assert.equal((await history(again, "dev")).length, 1);
    assert.equal(again.all((f) => f.type === "dm").length, 0);
    await again[Symbol.asyncDispose]();
    await server.shutdown();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("clientMsgId: only a sender's latest msgIdsPerUser ids are remembered", async () => {
  await using server = await listen({ msgIdsPerUser: 3 });
  await using alice = await joined(server.addr.port, "alice");
  for (const key of ["a", "b", "c", "d"]) {
    await alice.request({ type: "say", room: "dev", body: key, clientMsgId: key });
  }
  // "a" is the fourth latest: forgotten, so its retry is a new message; "b" is kept.
  const b = await alice.request({ type: "say", room: "dev", body: "b", clientMsgId: "b" });
  assert.equal(b.result.duplicate, true);
  const a = await alice.request({ type: "say", room: "dev", body: "a", clientMsgId: "a" });
  assert.equal(a.result.duplicate, undefined);
  assert.deepEqual((await history(alice, "dev")).map((m) => m.body), ["a", "b", "c", "d", "a"]);
});

Deno.test("clientMsgId: with msgIdWindowMs 0 ids are ignored", async () => {
  await using server = await listen({ msgIdWindowMs: 0 });
  await using alice = await joined(server.addr.port, "alice");
  await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
  const again = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
  assert.equal(again.result.duplicate, undefined);
  assert.equal((await history(alice, "dev")).length, 2);
});

/** Checks a store's client message id lookups: the time window and the count. */
async function checkStoreWindow(store: Store): Promise<void> {
  const t = 1_700_000_000_000;
  const message = (id: number, ts: number, clientMsgId: string, room = "dev") => ({
    kind: "message" as const,
    record: { room, id, from: "Alice", body: `m${id}`, ts, action: false, clientMsgId },
  });
  await store.write([
    { kind: "room", record: roomRecord("dev") },
    message(1, t, "k1"),
    message(2, t + 1000, "k2"),
    { kind: "dm", record: dmRecord(7, t + 2000, "k3"), delivered: true },
    message(3, t + 3000, "k4"),
  ]);
  const query = (clientMsgId: string, since: number, perUser = 10): ClientMsgQuery => ({
    sender: "alice",
    clientMsgId,
    since,
    perUser,
  });
  assert.equal((await store.messageByClientMsgId("dev", query("k1", t)))?.id, 1);
  assert.equal(await store.messageByClientMsgId("dev", query("k1", t + 1)), undefined);
  assert.equal(await store.messageByClientMsgId("ops", query("k1", t)), undefined);
  assert.equal(
    await store.messageByClientMsgId("dev", { ...query("k1", t), sender: "bob" }),
    undefined,
  );
  assert.equal((await store.dmByClientMsgId("bob", query("k3", t)))?.id, 7);
  assert.equal(await store.dmByClientMsgId("carol", query("k3", t)), undefined);
  // k2 has two newer ids (a DM and a message): among the latest 3, not the latest 2.
  assert.equal((await store.messageByClientMsgId("dev", query("k2", t, 3)))?.body, "m2");
  assert.equal(await store.messageByClientMsgId("dev", query("k2", t, 2)), undefined);
  // Sent within one millisecond, they still count in the order they came.
  await store.write([4, 5, 6].map((id) => message(id, t + 5000, `s${id}`)));
  assert.equal((await store.messageByClientMsgId("dev", query("s4", t, 3)))?.id, 4);
  assert.equal(await store.messageByClientMsgId("dev", query("s4", t, 2)), undefined);
  assert.equal((await store.messageByClientMsgId("dev", query("s5", t, 2)))?.id, 5);
}

function roomRecord(key: string) {
  return {
    key,
    name: key,
    owner: null,
    topic: "",
    inviteOnly: false,
    passphrase: null,
    createdAt: 0,
    lastId: 0,
  };
}

function dmRecord(id: number, ts: number, clientMsgId: string) {
  return { id, from: "Alice", to: "bob", body: `d${id}`, ts, action: false, clientMsgId };
}

Deno.test("SqliteStore finds a message by sender and clientMsgId within the window", async () => {
  const store = SqliteStore.memory();
  try {
    await checkStoreWindow(store);
  } finally {
    await store.close();
  }
});

Deno.test({
  name: "RedisStore finds a message by sender and clientMsgId within the window",
  ignore: !redisAvailable,
  async fn() {
    await using redis = await RedisServer.start();
    const store = new RedisStore(await RedisConnection.open(redis.url), {
      keys: new RedisKeys("t:"),
      msgIdWindow: { ms: 3_600_000, perUser: 10 },
    });
    try {
      await checkStoreWindow(store);
    } finally {
      await store.close();
    }
  },
});

Deno.test({
  name: "clientMsgId over Redis: a retry on another instance is not posted again",
  ignore: !redisAvailable,
  async fn() {
    await using redis = await RedisServer.start();
    const options = { redis: redis.url, redisPrefix: "t:" };
    await using a = await listen(options);
    await using b = await listen(options);
    await using bob = await joined(b.addr.port, "bob");
    const alice = await joined(a.addr.port, "alice");
    const first = await alice.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
    const dm = await alice.request({ type: "dm", to: "bob", body: "psst", clientMsgId: "k" });
    await bob.next((f) => f.type === "message" && f.body === "hi");
    await bob.next((f) => f.type === "dm" && f.body === "psst");
    await alice[Symbol.asyncDispose]();
    // The ack was lost: alice reconnects to the other instance and retries.
    await using again = await joined(b.addr.port, "alice");
    const retry = await again.request({ type: "say", room: "dev", body: "hi", clientMsgId: "k" });
    assert.deepEqual(retry.result, { ...first.result, duplicate: true });
    const dmRetry = await again.request({ type: "dm", to: "bob", body: "psst", clientMsgId: "k" });
    assert.deepEqual(dmRetry.result, { id: dm.result.id, ts: dm.result.ts, duplicate: true });
    const conflict = await again.request({
      type: "say",
      room: "dev",
      body: "ho",
      clientMsgId: "k",
    });
    assert.equal(conflict.code, "msg_id_conflict");
    // Pipelined twice in one batch: posted once.
    again.sendRaw(
      concatBytes(
        [1, 2].map((n) =>
          encodeFrame({ type: "say", id: 900 + n, room: "dev", body: "twice", clientMsgId: "t" })
        ),
      ),
    );
    const acks = await Promise.all(
      [901, 902].map((id) => again.next((f) => f.type === "ack" && f.id === id)),
    );
    assert.equal(acks[0]!.result.id, acks[1]!.result.id);
    await again.request({ type: "say", room: "dev", body: "next" });
    await bob.next((f) => f.type === "message" && f.body === "next");
    assert.deepEqual(bob.all((f) => f.type === "message").map((f) => f.body), [
      "hi",
      "twice",
      "next",
    ]);
    assert.equal(bob.all((f) => f.type === "dm").length, 1);
    assert.deepEqual((await history(bob, "dev")).map((m) => m.body), ["hi", "twice", "next"]);
  },
});

Deno.test({
  name: "clientMsgId over Redis: only the latest msgIdsPerUser are kept, and they expire",
  ignore: !redisAvailable,
  async fn() {
    await using redis = await RedisServer.start();
    await using server = await listen({
      redis: redis.url,
      redisPrefix: "t:",
      msgIdsPerUser: 3,
    });
    await using alice = await joined(server.addr.port, "alice");
    for (const key of ["a", "b", "c", "d"]) {
      await alice.request({ type: "say", room: "dev", body: key, clientMsgId: key });
    }
    await alice.request({ type: "dm", to: "alice", body: "e", clientMsgId: "e" });
    const b = await alice.request({ type: "say", room: "dev", body: "b", clientMsgId: "b" });
    assert.equal(b.result.duplicate, undefined, "b is the fourth latest: forgotten");
    const d = await alice.request({ type: "say", room: "dev", body: "d", clientMsgId: "d" });
    assert.equal(d.result.duplicate, true);
    // What Redis holds for alice: at most 3 ids, expiring within the window.
    const conn = await RedisConnection.open(redis.url);
    try {
      const keys = new RedisKeys("t:");
      // Three ids and the count of those sent so far.
      assert.equal(await conn.command(["HLEN", keys.msgIds("alice")]), 4);
      assert.equal(await conn.command(["ZCARD", keys.msgIdTimes("alice")]), 3);
      const ttl = await conn.command<number>(["PTTL", keys.msgIds("alice")]);
      assert.ok(ttl > 0 && ttl <= 3_600_000, `ttl ${ttl}`);
    } finally {
      await conn.close();
    }
  },
});
