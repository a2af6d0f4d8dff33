/**
 * Connection caps across instances: `chat serve` processes on one Redis
 * count each other's connections, per address and in total, and stop
 * counting a dead instance's once it is reaped.
 */
import assert from "node:assert/strict";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";

const TTL_MS = 3000;

function startInstance(redis: RedisServer, caps: string[]): Promise<ServerProcess> {
  return ServerProcess.start([
    "--redis",
    redis.url,
    "--redis-presence-ttl-ms",
    String(TTL_MS),
    "--redis-command-timeout-ms",
    "500",
    "--no-discovery",
    ...caps,
  ]);
}

/** Connects and says hello as `nick`; resolves to the refusal's bye frame. */
async function refused(port: number, nick: string): Promise<Frame> {
  await using peer = await Peer.connect(port);
  peer.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick });
  const reply = await peer.next((f) => f.type === "bye" || f.type === "welcome");
  assert.equal(reply.type, "bye", `${nick} should have been refused`);
  return reply;
}

/** Retries joining as `nick` until admitted: a freed slot shows once its decrement lands. */
async function joinSoon(port: number, nick: string, ms = 5000): Promise<Peer> {
  const deadline = Date.now() + ms;
  while (true) {
    try {
      return await Peer.join(port, nick);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

Deno.test("the per-address cap counts every instance's connections", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis, ["--max-connections-per-ip", "3"]);
  await using b = await startInstance(redis, ["--max-connections-per-ip", "3"]);
  await using a1 = await Peer.join(a.port, "a1");
  const a2 = await Peer.join(a.port, "a2");
  await using b1 = await Peer.join(b.port, "b1");
  const bye = await refused(b.port, "b2");
  assert.equal(bye.code, "too_many_connections");
  assert.match(bye.message, /limit 3 per address/);
  // Also on the instance that has most of them.
  assert.equal((await refused(a.port, "a3")).code, "too_many_connections");

  await a2[Symbol.asyncDispose]();
  await using b2 = await joinSoon(b.port, "b2");
  assert.equal((await refused(a.port, "a4")).code, "too_many_connections");
  assert.ok(a1 && b1 && b2);
});

Deno.test("the total cap counts every instance's connections", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis, ["--max-connections", "3"]);
  await using b = await startInstance(redis, ["--max-connections", "3"]);
  await using a1 = await Peer.join(a.port, "a1");
  const a2 = await Peer.join(a.port, "a2");
  await using b1 = await Peer.join(b.port, "b1");
  const bye = await refused(b.port, "b2");
  assert.equal(bye.code, "too_many_connections");
  assert.match(bye.message, /Server full: 3 connections reached limit 3/);

  await a2[Symbol.asyncDispose]();
  await using b2 = await joinSoon(b.port, "b2");
  assert.ok(a1 && b1 && b2);
});

Deno.test("a killed instance's connections stop counting once it is reaped", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis, ["--max-connections-per-ip", "2"]);
  const b = await startInstance(redis, ["--max-connections-per-ip", "2"]);
  try {
    await using a1 = await Peer.join(a.port, "a1");
    const b1 = await Peer.join(b.port, "b1");
    assert.equal((await refused(a.port, "a2")).code, "too_many_connections");

    await b.stop("SIGKILL");
    await b1[Symbol.asyncDispose]();
    const killedAt = Date.now();
    // Within the TTL and a heartbeat, a reaps b and the slot is free again.
    await using a2 = await joinSoon(a.port, "a2", TTL_MS * 3);
    assert.ok(Date.now() - killedAt < TTL_MS * 2, "freed within the TTL and a heartbeat");
    assert.ok(a1 && a2);
  } finally {
    await b.stop("SIGKILL");
  }
});

Deno.test("Redis frozen: connections are admitted against this instance's counts alone, quickly", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis, ["--max-connections-per-ip", "2"]);
  await using a1 = await Peer.join(a.port, "a1");
  redis.pause();
  try {
    const started = Date.now();
    await using a2 = await Peer.connect(a.port);
    a2.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "a2" });
    // Admitted: hello itself fails on the frozen storage, not on the caps.
    const reply = await a2.next((f) => f.type !== "notice");
    assert.notEqual(reply.code, "too_many_connections");
    assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
    // The local cap still holds.
    assert.equal((await refused(a.port, "a3")).code, "too_many_connections");
  } finally {
    redis.resume();
  }
  assert.ok(a1);
});

Deno.test("the cap on connections not logged in counts every instance's", async () => {
  await using redis = await RedisServer.start();
  const caps = ["--max-handshakes-per-ip", "2", "--text-prompt-delay-ms", "100"];
  await using a = await startInstance(redis, caps);
  await using b = await startInstance(redis, caps);
  await using onA = await TextPeer.connect(a.port);
  await using onB = await TextPeer.connect(b.port);
  // Greeted: each instance has counted (and published) its peer.
  await onA.waitFor("Nickname: ");
  await onB.waitFor("Nickname: ");
  const bye = await refused(b.port, "b2");
  assert.equal(bye.code, "too_many_connections");
  assert.match(bye.message, /logging in from 127\.0\.0\.1: limit 2 per address/);
  assert.equal((await refused(a.port, "a2")).code, "too_many_connections");

  // Logged in on a: it still counts as a connection, no longer as a handshake.
  onA.write("alice\n");
  await onA.waitFor("Welcome, alice!");
  await using b2 = await joinSoon(b.port, "b2");
  assert.ok(b2);
});

Deno.test("Redis loses its data: handshakes not logged in are published again", async () => {
  await using redis = await RedisServer.start();
  const caps = ["--max-handshakes-per-ip", "2", "--text-prompt-delay-ms", "100"];
  await using a = await startInstance(redis, caps);
  await using b = await startInstance(redis, caps);
  await using onA = await TextPeer.connect(a.port);
  await onA.waitFor("Nickname: ");
  const flush = await new Deno.Command("redis-cli", {
    args: ["-p", String(redis.port), "FLUSHALL"],
    stdout: "null",
  }).output();
  assert.ok(flush.success);
  await using onB = await TextPeer.connect(b.port);
  await onB.waitFor("Nickname: ");
  // Once a has re-asserted its state (within a heartbeat), b counts a's peer again.
  const deadline = Date.now() + TTL_MS * 2;
  let reply: Frame;
  let attempt = 0;
  do {
    await using peer = await Peer.connect(b.port);
    const nick = `b${++attempt}`;
    peer.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick });
    reply = await peer.next((f) => f.type === "bye" || f.type === "welcome");
  } while (reply.type === "welcome" && Date.now() < deadline);
  assert.equal(reply.type, "bye");
  assert.match(reply.message, /logging in from 127\.0\.0\.1: limit 2 per address/);
});
