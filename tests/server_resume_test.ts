/**
 * Resume tokens: a client whose connection died silently (the server still
 * holds it) takes its nickname back at once by giving the token of its
 * last `welcome`, and keeps a guest's rights; nobody else can.
 */
import assert from "node:assert/strict";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { type Frame, Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { listenRelaxed as listen } from "./support/test_server.ts";

/** Connects and says hello with `fields`; resolves to the peer and its welcome or error. */
async function hello(
  port: number,
  nick: string,
  fields: Record<string, unknown> = {},
): Promise<{ peer: Peer; reply: Frame }> {
  const peer = await Peer.connect(port);
  peer.send({
    type: "hello",
    protocol: PROTOCOL_VERSION,
    client: "test",
    clientVersion: "0",
    nick,
    ...fields,
  });
  const reply = await peer.next((f) => f.type === "welcome" || f.type === "error");
  return { peer, reply };
}

Deno.test("resume: the token of the last welcome takes over a session the server still holds", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice");
  const first = await hello(port, "bob");
  await using ghost = first.peer;
  const token = first.reply.resume;
  assert.match(token, /^[0-9a-f-]{36}$/);
  await ghost.request({ type: "join", room: "den" });
  await alice.request({ type: "join", room: "den" });

  // Without the token, or with another, the nickname is taken.
  const plain = await hello(port, "bob");
  assert.equal(plain.reply.code, "name_taken");
  await plain.peer[Symbol.asyncDispose]();
  const wrong = await hello(port, "bob", { resume: "A".repeat(24) });
  assert.equal(wrong.reply.code, "name_taken");
  await wrong.peer[Symbol.asyncDispose]();

  const second = await hello(port, "bob", { resume: token });
  await using bob = second.peer;
  assert.equal(second.reply.type, "welcome");
  assert.equal(second.reply.nick, "bob");
  // A new token each time: the old one has done its job.
  assert.notEqual(second.reply.resume, token);
  const bye = await ghost.next((f) => f.type === "bye");
  assert.equal(bye.code, "replaced");
  await ghost.closed;
  const leave = await alice.next((f) => f.type === "leave" && f.nick === "bob");
  assert.equal(leave.reason, "reconnected");
  // Still the guest who made the room: its ownership did not lapse.
  await bob.request({ type: "join", room: "den" });
  assert.equal((await bob.request({ type: "topic", room: "den", topic: "bob's" })).type, "ack");

  const reused = await hello(port, "bob", { resume: token });
  assert.equal(reused.reply.code, "name_taken");
  await reused.peer[Symbol.asyncDispose]();
});

Deno.test("resume: a malformed token is refused; a token for another nickname takes nothing", async () => {
  await using server = await listen();
  const port = server.addr.port;
  const bad = await hello(port, "bob", { resume: "not a token!" });
  assert.equal(bad.reply.code, "bad_request");
  await bad.peer[Symbol.asyncDispose]();
  const first = await hello(port, "bob");
  await using ghost = first.peer;
  const other = await hello(port, "carol", { resume: first.reply.resume });
  await using carol = other.peer;
  assert.equal(other.reply.type, "welcome");
  // bob's session is untouched.
  assert.equal((await ghost.request({ type: "ping" })).type, "ack");
  assert.equal((await carol.request({ type: "users" })).result.users.length, 2);
});

Deno.test("resume: an account that allows one session takes its lingering session over", async () => {
  await using server = await listen({ sessions: "refuse" });
  const port = server.addr.port;
  await server.accounts.create("alice", "correct horse");
  const first = await hello(port, "alice", { password: "correct horse" });
  await using ghost = first.peer;
  const refused = await hello(port, "alice", { password: "correct horse" });
  assert.equal(refused.reply.code, "name_taken");
  await refused.peer[Symbol.asyncDispose]();
  const second = await hello(port, "alice", {
    password: "correct horse",
    resume: first.reply.resume,
  });
  await using alice = second.peer;
  assert.equal(second.reply.type, "welcome");
  assert.equal((await ghost.next((f) => f.type === "bye")).code, "replaced");
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
});

Deno.test("resume: over Redis, a session held by another instance is taken over", async () => {
  await using redis = await RedisServer.start();
  await using a = await listen({ redis: redis.url, redisPresenceTtlMs: 3000 });
  await using b = await listen({ redis: redis.url, redisPresenceTtlMs: 3000 });
  await using alice = await Peer.join(b.addr.port, "alice");
  const first = await hello(a.addr.port, "bob");
  await using ghost = first.peer;
  await ghost.request({ type: "join", room: "den" });
  await alice.request({ type: "join", room: "den" });
  const second = await hello(b.addr.port, "bob", { resume: first.reply.resume });
  await using bob = second.peer;
  assert.equal(second.reply.type, "welcome", JSON.stringify(second.reply));
  assert.equal((await ghost.next((f) => f.type === "bye")).code, "replaced");
  await bob.request({ type: "join", room: "den" });
  assert.equal((await bob.request({ type: "topic", room: "den", topic: "bob's" })).type, "ack");
});
