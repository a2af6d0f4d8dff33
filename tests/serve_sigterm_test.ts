/**
 * SIGTERM to a `chat serve` subprocess while a client streams says: every
 * message stored is acked before the bye, and after the restart a retry of
 * every say under its `clientMsgId` posts each message exactly once. With a
 * real SQLite file, and over a real Redis. The bundled client, restarted
 * under, resends what was in flight and posts it once too.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../client/chat_client.ts";
import { type Frame, Peer } from "./support/peer.ts";
import { freePort, hasRedisServer, RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";

const redisAvailable = await hasRedisServer();
const FAST = ["--no-discovery", "--rate-burst", "100000", "--rate-per-second", "100000"];

/** Every message of `room`, oldest first, read page by page by a fresh peer. */
async function stored(port: number, room: string): Promise<Frame[]> {
  await using reader = await Peer.join(port, `reader${crypto.randomUUID().slice(0, 8)}`);
  assert.equal((await reader.request({ type: "join", room })).type, "ack");
  const messages: Frame[] = [];
  let after = 0;
  while (true) {
    const page = await reader.request({ type: "history", room, after, limit: 500 });
    messages.push(...page.result.messages);
    if (page.result.more !== true) break;
    after = page.result.messages.at(-1).id;
  }
  return messages;
}

/** A say numbered `n`: request id, body and clientMsgId all follow from it. */
function say(n: number): Record<string, unknown> {
  return { type: "say", id: 1000 + n, room: "dev", body: `m${n}`, clientMsgId: `k${n}` };
}

/** Waits until nothing accepts connections on `port` (the server has begun to shut down). */
async function refusing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`port ${port} still accepts connections`);
}

/**
 * After the shutdown: what alice got before her bye is checked against
 * what the server stored, then every say is retried on `port` under its
 * clientMsgId; each message is then stored exactly once.
 */
async function checkAndRetry(alice: Peer, sent: number, port: number): Promise<void> {
  const byeAt = alice.frames.findIndex((f) => f.type === "bye");
  assert.equal(alice.frames[byeAt]?.code, "server_shutdown");
  assert.equal(alice.frames.length, byeAt + 1, "nothing after bye");
  const acks = new Map<number, Frame>();
  for (const frame of alice.frames.slice(0, byeAt)) {
    if (frame.type === "ack" && frame.id >= 1000) acks.set(frame.id - 1000, frame.result);
  }
  const before = await stored(port, "dev");
  assert.ok(before.length > 0 && before.length < sent, `${before.length} of ${sent} stored`);
  const unacked = before.filter((m) => !acks.has(Number(m.body.slice(1))));
  assert.deepEqual(unacked.map((m) => m.body), [], "stored but never acked");

  // The client cannot tell what got in without an ack: it sends everything again.
  await using again = await Peer.join(port, "alice");
  assert.equal((await again.request({ type: "join", room: "dev" })).type, "ack");
  const retries = [];
  for (let n = 0; n < sent; n++) {
    again.send(say(n));
    retries.push(again.next((f) => f.type === "ack" && f.id === 1000 + n, 20_000));
  }
  const answers = await Promise.all(retries);
  for (const [n, first] of acks) {
    assert.deepEqual(answers[n]!.result, { id: first.id, ts: first.ts, duplicate: true }, `m${n}`);
  }
  const after = await stored(port, "dev");
  assert.deepEqual(
    after.map((m) => m.body).sort(),
    [...Array(sent).keys()].map((n) => `m${n}`).sort(),
    "every say stored exactly once",
  );
}

/**
 * Streams says from `alice` until `stop()` (which resolves to how many went
 * out); `sent()` is how many went out so far, `reached(n)` resolves once `n` have.
 */
function stream(alice: Peer): {
  sent: () => number;
  reached: (n: number) => Promise<void>;
  stop: () => Promise<number>;
} {
  let sent = 0;
  let stopping = false;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const running = (async () => {
    while (!stopping) {
      for (let i = 0; i < 5; i++) alice.send(say(sent++));
      for (const waiter of waiters.filter((w) => w.n <= sent)) waiter.resolve();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  return {
    sent: () => sent,
    reached: (n) => new Promise((resolve) => waiters.push({ n, resolve })),
    stop: async () => {
      stopping = true;
      await running;
      return sent;
    },
  };
}

Deno.test("SIGTERM while says stream in: each stored one is acked before bye, retries post none twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-sigterm-" });
  const port = freePort();
  // Commits wait for the next write tick (200 ms): says are in flight at any moment.
  const args = ["--data", dir, "--port", String(port), ...FAST];
  const coalesced = ["--write-coalesce-ms", "200", "--write-coalesce-from", "0"];
  let server = await ServerProcess.start([...args, ...coalesced]);
  try {
    const alice = await Peer.join(port, "alice");
    assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
    const streaming = stream(alice);
    await alice.next((f) => f.type === "message" && f.body === "m100", 20_000);
    // Echoes come at a commit tick: signal well after it, while says wait for the next.
    await streaming.reached(streaming.sent() + 250);
    assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
    const sent = await streaming.stop();
    await alice.closed;
    server = await ServerProcess.start(args);
    await checkAndRetry(alice, sent, port);
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "SIGTERM over Redis with commits in flight: each stored one is acked before bye",
  ignore: !redisAvailable,
  async fn() {
    await using redis = await RedisServer.start();
    const port = freePort();
    const args = ["--redis", redis.url, "--port", String(port), ...FAST];
    let server = await ServerProcess.start([...args, "--redis-command-timeout-ms", "20000"]);
    try {
      const alice = await Peer.join(port, "alice");
      assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
      for (let n = 0; n < 20; n++) alice.send(say(n));
      await alice.next((f) => f.type === "ack" && f.id === 1019);
      await using bob = await Peer.join(port, "bob");
      // Redis frozen: the says sent now are read and wait for their commit.
      redis.pause();
      let sent = 20;
      for (; sent < 60; sent++) alice.send(say(sent));
      // A round trip that needs no Redis: the server has read what came before it.
      assert.equal((await bob.request({ type: "ping" })).type, "ack");
      server.child.kill("SIGTERM");
      await refusing(port);
      redis.resume();
      assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
      await alice.closed;
      server = await ServerProcess.start(args);
      await checkAndRetry(alice, sent, port);
    } finally {
      redis.resume();
      await server.stop("SIGKILL");
    }
  },
});

Deno.test("the bundled client resends the says a shutdown left unanswered; each is posted once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-sigterm-" });
  const port = freePort();
  const args = ["--data", dir, "--port", String(port), ...FAST];
  let server = await ServerProcess.start(args);
  const client = await ChatClient.connect({
    port,
    nick: "alice",
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  try {
    await client.request({ type: "join", room: "dev" });
    const says: Promise<unknown>[] = [];
    const send = (n: number) =>
      says.push(client.request({ type: "say", room: "dev", body: `m${n}` }));
    for (let n = 0; n < 150; n++) send(n);
    await says[100];
    server.child.kill("SIGTERM");
    // Sent while the server stops reading: they get no answer there.
    for (let n = 150; n < 300; n++) send(n);
    assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
    server = await ServerProcess.start(args);
    const results = await Promise.all(says);
    assert.equal(results.length, 300);
    const bodies = (await stored(port, "dev")).map((m) => m.body);
    assert.deepEqual(bodies.sort(), [...Array(300).keys()].map((n) => `m${n}`).sort());
  } finally {
    await client.close();
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
