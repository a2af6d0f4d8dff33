/**
 * Search with `--redis` (docs/protocol.md section 24): two instances on one
 * real redis-server find what either posted, in the rooms one is in, newest
 * first, paged by cursor, with the same literal word rules as SQLite; only
 * each room's latest `--redis-search-scan` messages are searched, and DMs
 * are not.
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { type Frame, Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { listenRelaxed } from "./support/test_server.ts";

function instance(redis: RedisServer, options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000, ...options });
}

function bodies(reply: Frame): string[] {
  assert.equal(reply.type, "ack", JSON.stringify(reply));
  return reply.result.results.map((result: Frame) => result.body);
}

async function say(peer: Peer, room: string, body: string): Promise<void> {
  const ack = await peer.request({ type: "say", room, body });
  assert.equal(ack.type, "ack", JSON.stringify(ack));
}

Deno.test("redis search: two instances, the rooms one is in, newest first, paged", async () => {
  await using redis = await RedisServer.start();
  await using a = await instance(redis);
  await using b = await instance(redis);
  await using alice = await Peer.join(a.addr.port, "alice");
  await using bob = await Peer.join(b.addr.port, "bob");
  await alice.request({ type: "join", room: "dev" });
  await bob.request({ type: "join", room: "dev" });
  await bob.request({ type: "join", room: "hidden" });
  await say(alice, "dev", "the Déploy failed");
  await say(bob, "dev", "deploy again");
  await say(bob, "hidden", "deploy the secret");
  await say(alice, "dev", 'quoted "deploy" and NEAR');
  await say(alice, "dev", "deployment is not a match");

  const all = await alice.request({ type: "search", text: "deploy" });
  assert.deepEqual(bodies(all), ['quoted "deploy" and NEAR', "deploy again", "the Déploy failed"]);
  assert.deepEqual(all.result.results.map((r: Frame) => [r.room, r.from]), [
    ["dev", "alice"],
    ["dev", "bob"],
    ["dev", "alice"],
  ]);
  assert.deepEqual(bodies(await bob.request({ type: "search", text: "deploy" })), [
    'quoted "deploy" and NEAR',
    "deploy the secret",
    "deploy again",
    "the Déploy failed",
  ]);
  // Rights: not in the room is not_in_room; one room only with `room`.
  assert.equal(
    (await alice.request({ type: "search", text: "x", room: "hidden" })).code,
    "not_in_room",
  );
  assert.deepEqual(bodies(await bob.request({ type: "search", text: "deploy", room: "hidden" })), [
    "deploy the secret",
  ]);
  // Literal: operators are words.
  assert.deepEqual(bodies(await alice.request({ type: "search", text: "NEAR" })), [
    'quoted "deploy" and NEAR',
  ]);
  assert.deepEqual(bodies(await alice.request({ type: "search", text: "deploy -again" })), [
    "deploy again",
  ]);
  assert.equal((await alice.request({ type: "search", text: '"*"' })).code, "bad_request");

  // Pages, across instances: a cursor from one is good on the other.
  const first = await bob.request({ type: "search", text: "deploy", limit: 3 });
  assert.equal(first.result.results.length, 3);
  assert.equal(first.result.more, true);
  const rest = await bob.request({
    type: "search",
    text: "deploy",
    limit: 3,
    cursor: first.result.cursor,
  });
  assert.deepEqual(bodies(rest), ["the Déploy failed"]);
  assert.equal(rest.result.more, undefined);
  const bad = await bob.request({ type: "search", text: "deploy", cursor: "e12" });
  assert.equal(bad.code, "bad_request");
});

Deno.test("redis search: only each room's latest --redis-search-scan messages, and no DMs", async () => {
  await using redis = await RedisServer.start();
  await using a = await instance(redis, { redisSearchScan: 5 });
  await using b = await instance(redis, { redisSearchScan: 5 });
  await using alice = await Peer.join(a.addr.port, "alice");
  assert.equal((await alice.request({ type: "register", password: "alice-password" })).type, "ack");
  await using bob = await Peer.join(b.addr.port, "bob");
  await alice.request({ type: "join", room: "dev" });
  await say(alice, "dev", "ancient needle");
  for (let i = 0; i < 5; i++) await say(alice, "dev", `filler ${i}`);
  await say(alice, "dev", "recent needle");
  await bob.request({ type: "dm", to: "alice", body: "needle by dm" });
  await alice.next((f) => f.type === "dm");
  // The first message is the 7th newest: beyond the scan, so not found.
  assert.deepEqual(bodies(await alice.request({ type: "search", text: "needle" })), [
    "recent needle",
  ]);
});
