/**
 * A guest that registers its nickname mid-session (docs/protocol.md,
 * section 5) with several instances on one real Redis: the claim of the
 * nickname becomes the account's, so a second session of the account on
 * another instance is admitted while the first is still connected, as it
 * is on one instance.
 */
import assert from "node:assert/strict";
import { type Frame, Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { listenRelaxed } from "./support/test_server.ts";

async function ack(peer: Peer, request: Record<string, unknown>): Promise<Frame> {
  const reply = await peer.request(request);
  assert.equal(reply.type, "ack", JSON.stringify(reply));
  return reply;
}

Deno.test("with --redis, a guest that registers shares its nickname with the account's sessions on another instance", async () => {
  await using redis = await RedisServer.start();
  const instance = () => listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000 });
  await using a = await instance();
  await using b = await instance();
  await using erin = await Peer.join(a.addr.port, "erin");
  await using frank = await Peer.join(b.addr.port, "frank");
  await ack(frank, { type: "join", room: "ops" });
  await ack(erin, { type: "join", room: "ops" });
  await frank.next((f) => f.type === "join" && f.nick === "erin");
  await ack(erin, { type: "register", password: "correct horse" });

  // Erin's first session is still connected on a: a second one on b shares the name.
  await using erin2 = await Peer.join(b.addr.port, "erin", { password: "correct horse" });
  await using erin3 = await Peer.join(a.addr.port, "erin", { password: "correct horse" });
  assert.deepEqual((await ack(frank, { type: "users" })).result.users, ["erin", "frank"]);
  // Every instance sees erin as the account now: a dm reaches all its sessions.
  const live = await ack(frank, { type: "dm", to: "erin", body: "all of you" });
  assert.equal(live.result.stored, undefined);
  for (const session of [erin, erin2, erin3]) {
    await session.next((f) => f.type === "dm" && f.body === "all of you");
  }
  // The second session joins the room the first is in: the room sees no second join.
  await ack(erin2, { type: "join", room: "ops" });
  await ack(frank, { type: "ping" });
  assert.equal(frank.all((f) => f.type === "join" && f.nick === "erin").length, 1);

  // A guest still cannot take the name anywhere, and a wrong password fails.
  await assert.rejects(Peer.join(b.addr.port, "erin"), /auth_required/);
  await assert.rejects(Peer.join(b.addr.port, "erin", { password: "wrong" }), /auth_failed/);
});

Deno.test("with --redis and --sessions refuse, a registered guest's account refuses a second session elsewhere as one already logged in", async () => {
  await using redis = await RedisServer.start();
  const instance = () =>
    listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000, sessions: "refuse" });
  await using a = await instance();
  await using b = await instance();
  await using erin = await Peer.join(a.addr.port, "erin");
  await ack(erin, { type: "register", password: "correct horse" });
  await assert.rejects(
    Peer.join(b.addr.port, "erin", { password: "correct horse" }),
    /name_taken .*already logged in elsewhere \(one session per account\)/,
  );
});

Deno.test("on one instance, a guest that registers shares its nickname with a second session of the account", async () => {
  await using server = await listenRelaxed();
  await using erin = await Peer.join(server.addr.port, "erin");
  await ack(erin, { type: "register", password: "correct horse" });
  await using erin2 = await Peer.join(server.addr.port, "erin", { password: "correct horse" });
  await using frank = await Peer.join(server.addr.port, "frank");
  assert.deepEqual((await ack(frank, { type: "users" })).result.users, ["erin", "frank"]);
  await ack(frank, { type: "dm", to: "erin", body: "both of you" });
  await erin.next((f) => f.type === "dm" && f.body === "both of you");
  await erin2.next((f) => f.type === "dm" && f.body === "both of you");
});
