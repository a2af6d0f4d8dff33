/**
 * Away state and typing across two instances on one real Redis
 * (docs/protocol.md, section 22): each instance's who and users see who is
 * away, away events reach the rooms of the user's sessions wherever they
 * are, a dm's away notice comes from either side, and typing crosses the
 * shared channel.
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

Deno.test("with --redis, away is seen on every instance and typing crosses between them", async () => {
  await using redis = await RedisServer.start();
  const instance = () => listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000 });
  await using a = await instance();
  await using b = await instance();
  await using alice = await Peer.join(a.addr.port, "alice");
  await using bob = await Peer.join(b.addr.port, "bob");
  await using carol = await Peer.join(b.addr.port, "carol");
  await ack(alice, { type: "join", room: "dev" });
  await ack(bob, { type: "join", room: "dev" });
  await alice.next((f) => f.type === "join" && f.nick === "bob");

  await ack(alice, { type: "away", message: "lunch" });
  const heard = await bob.next((f) => f.type === "away");
  assert.deepEqual([heard.nick, heard.message], ["alice", "lunch"]);
  const users = await ack(carol, { type: "users" });
  assert.deepEqual(users.result.away, [{ nick: "alice", message: "lunch" }]);
  const who = await ack(bob, { type: "who", room: "dev" });
  assert.deepEqual(who.result.away, [{ nick: "alice", message: "lunch" }]);

  // A dm from the other instance: the notice comes from Redis's record of alice.
  const sent = await ack(carol, { type: "dm", to: "alice", body: "there?" });
  const notice = carol.frames.findIndex((f) => f.type === "notice" && f.from === "alice");
  assert.ok(notice !== -1 && notice < carol.frames.indexOf(sent));
  assert.equal(carol.frames[notice]!.away, "lunch");
  // Carol shares no room with alice: her dm's answer came, the away event did not.
  assert.deepEqual(carol.all((f) => f.type === "away"), []);

  // Typing crosses too, throttled on the sender's instance; never to the sender.
  await ack(alice, { type: "typing", room: "dev", state: "active" });
  const typing = await bob.next((f) => f.type === "typing");
  assert.deepEqual([typing.room, typing.from, typing.state], ["dev", "alice", "active"]);
  assert.deepEqual(
    (await ack(alice, { type: "typing", room: "dev", state: "active" })).result,
    { throttled: true },
  );
  await ack(bob, { type: "typing", to: "alice", state: "active" });
  const dmTyping = await alice.next((f) => f.type === "typing");
  assert.deepEqual([dmTyping.from, dmTyping.to], ["bob", "alice"]);
  await ack(alice, { type: "say", room: "dev", body: "back soon" });
  await bob.next((f) => f.type === "message");
  assert.equal(bob.all((f) => f.type === "typing").length, 1);
  assert.deepEqual(alice.all((f) => f.type === "typing" && f.room !== undefined), []);

  await ack(alice, { type: "away" });
  assert.equal((await bob.next((f) => f.type === "away")).message, undefined);
  assert.equal((await ack(carol, { type: "users" })).result.away, undefined);
});

Deno.test("with --redis, an account's away state is the user's: its sessions on both instances share it, the rooms of either hear it, it ends with the last", async () => {
  await using redis = await RedisServer.start();
  const instance = () => listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000 });
  await using a = await instance();
  await using b = await instance();
  // Erin registers mid-session on a: that session is the account's first.
  const erinA = await Peer.join(a.addr.port, "erin");
  await ack(erinA, { type: "register", password: "correct horse" });
  const erinB = await Peer.join(b.addr.port, "erin", { password: "correct horse" });
  await using dave = await Peer.join(a.addr.port, "dave");
  await using bob = await Peer.join(b.addr.port, "bob");
  // Only erin's session on b is in #ops; dave, on a, is there too.
  await ack(erinB, { type: "join", room: "ops" });
  await ack(dave, { type: "join", room: "ops" });

  await ack(erinA, { type: "away", message: "in a meeting" });
  assert.equal((await dave.next((f) => f.type === "away")).message, "in a meeting");
  assert.equal((await erinB.next((f) => f.type === "away")).message, "in a meeting");
  // b knows it for erin's session there: a dm from bob gets the notice.
  await ack(bob, { type: "dm", to: "erin", body: "got a minute?" });
  const notice = await bob.next((f) => f.type === "notice");
  assert.equal(notice.away, "in a meeting");
  // Back from the other session.
  await ack(erinB, { type: "away" });
  assert.equal((await dave.next((f) => f.type === "away")).message, undefined);
  await ack(erinB, { type: "away", message: "gone home" });
  await dave.next((f) => f.type === "away");
  // One session goes: still away.
  await ack(erinB, { type: "quit" });
  await erinB[Symbol.asyncDispose]();
  assert.deepEqual((await ack(bob, { type: "users" })).result.away, [
    { nick: "erin", message: "gone home" },
  ]);
  // A new session on b learns the state at login: a dm from b gets the notice, and back
  // from it is a change the rooms hear.
  const erinC = await Peer.join(b.addr.port, "erin", { password: "correct horse" });
  await ack(erinC, { type: "join", room: "ops" });
  await ack(bob, { type: "dm", to: "erin", body: "still there?" });
  assert.equal((await bob.next((f) => f.type === "notice")).away, "gone home");
  await ack(erinC, { type: "away" });
  assert.equal((await dave.next((f) => f.type === "away")).message, undefined);
  await ack(erinC, { type: "away", message: "gone home" });
  await dave.next((f) => f.type === "away");

  // The last goes: not away at the next login.
  await ack(erinA, { type: "quit" });
  await erinA[Symbol.asyncDispose]();
  await ack(erinC, { type: "quit" });
  await erinC[Symbol.asyncDispose]();
  await using erin = await Peer.join(a.addr.port, "erin", { password: "correct horse" });
  assert.equal((await ack(bob, { type: "users" })).result.away, undefined);
  assert.equal((await ack(erin, { type: "who", room: "ops" })).result.away, undefined);
});
