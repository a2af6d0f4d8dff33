/**
 * Message changes (docs/protocol.md section 21) over real TCP: edit,
 * delete, react, unreact and reply between two framed clients and a
 * plain-text one; who may do what; the reaction limit; history in current
 * state and catch-up with change entries; a real SQLite file across a
 * restart; two instances on a real Redis. Every frame the peers receive is
 * checked against the protocol's JSON Schema (tests/support/peer.ts).
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { hasRedisServer, RedisServer } from "./support/redis_server.ts";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";

const redisAvailable = await hasRedisServer();

function listen(options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return listenRelaxed({ textPromptDelayMs: 50, ...options });
}

async function joined(
  port: number,
  nick: string,
  options: { room?: string; password?: string } = {},
): Promise<Peer> {
  const peer = await Peer.join(
    port,
    nick,
    options.password === undefined ? {} : { password: options.password },
  );
  const ack = await peer.request({ type: "join", room: options.room ?? "dev" });
  assert.equal(ack.type, "ack", JSON.stringify(ack));
  return peer;
}

async function say(peer: Peer, body: string, extra: Record<string, unknown> = {}): Promise<number> {
  const ack = await peer.request({ type: "say", room: "dev", body, ...extra });
  assert.equal(ack.type, "ack", JSON.stringify(ack));
  return ack.result.id;
}

function ok(reply: Frame): Frame {
  assert.equal(reply.type, "ack", JSON.stringify(reply));
  return reply.result ?? {};
}

function refused(reply: Frame, code: string, message?: RegExp): void {
  assert.equal(reply.type, "error", JSON.stringify(reply));
  assert.equal(reply.code, code, reply.message);
  if (message !== undefined) assert.match(reply.message, message);
}

/** The latest page of history of #dev: messages in their current state. */
async function latest(peer: Peer): Promise<Frame[]> {
  return ok(await peer.request({ type: "history", room: "dev" })).messages;
}

Deno.test("edit, delete, react, unreact and reply reach both framed clients and the plain-text one, in id order", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  await using bob = await joined(port, "bob");
  await using carol = await TextPeer.connect(port);
  await carol.waitFor("Nickname:");
  carol.write("carol\n/join dev\n");
  await carol.waitFor("Now talking in #dev");

  const hi = await say(alice, "hello wrld");
  await carol.waitFor(`#dev #${hi} <alice> hello wrld`);
  const edit = ok(
    await alice.request({ type: "edit", room: "dev", target: hi, body: "hello world" }),
  );
  assert.equal(edit.id, hi + 1);
  const reply = await say(bob, "hi alice", { replyTo: hi });
  const react = ok(await bob.request({ type: "react", room: "dev", target: hi, emoji: "👍" }));
  carol.write(`/react ${hi} 🎉\n`);
  await carol.waitFor(`* carol reacted 🎉 to #${hi}`);
  const unreact = ok(await bob.request({ type: "unreact", room: "dev", target: hi, emoji: "👍" }));
  carol.write(`/reply #${hi} me too\n/delete ${reply}\n`);
  await carol.waitFor(`<carol> (re #${hi}) me too`);
  await carol.waitFor(/! forbidden: Cannot delete message \d+: it is bob's/);
  const deleted = ok(await bob.request({ type: "delete", room: "dev", target: reply }));

  // Everyone saw the same timeline, in id order, the one who changed included.
  for (const peer of [alice, bob]) {
    await peer.next((f) => f.type === "delete" && f.id === deleted.id);
    const timeline = peer.all((f) =>
      ["message", "edit", "delete", "react", "unreact"].includes(f.type) && f.room === "dev"
    );
    const ids = timeline.map((f) => f.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.deepEqual(timeline.map((f) => f.type), [
      "message",
      "edit",
      "message",
      "react",
      "react",
      "unreact",
      "message",
      "delete",
    ]);
    assert.deepEqual(timeline[1], {
      type: "edit",
      room: "dev",
      id: edit.id,
      target: hi,
      from: "alice",
      body: "hello world",
      ts: edit.ts,
    });
    assert.equal(timeline[2]!.replyTo, hi);
    assert.deepEqual(timeline[3], {
      type: "react",
      room: "dev",
      id: react.id,
      target: hi,
      from: "bob",
      emoji: "👍",
      ts: react.ts,
    });
    assert.equal(timeline[5]!.id, unreact.id);
    assert.deepEqual(timeline[7], {
      type: "delete",
      room: "dev",
      id: deleted.id,
      target: reply,
      by: "bob",
      ts: deleted.ts,
    });
  }
  await carol.waitFor(`* alice edited #${hi}: hello world`);
  await carol.waitFor(`* bob deleted #${reply}`);
  await carol.waitFor(`* bob took back 👍 from #${hi}`);

  // History: messages only, in their current state.
  const page = await latest(alice);
  assert.deepEqual(page.map((m) => m.type), ["message", "message", "message"]);
  assert.deepEqual(page[0], {
    type: "message",
    room: "dev",
    from: "alice",
    body: "hello world",
    id: hi,
    ts: page[0]!.ts,
    history: true,
    edited: edit.ts,
    reactions: [{ emoji: "🎉", count: 1, users: ["carol"] }],
  });
  assert.deepEqual(page[1], {
    type: "message",
    room: "dev",
    from: "bob",
    body: "",
    id: reply,
    ts: page[1]!.ts,
    history: true,
    replyTo: hi,
    deleted: { by: "bob", ts: deleted.ts },
  });
  assert.equal(page[2]!.replyTo, hi);
  carol.write("/history\n");
  await carol.waitFor(`(history) #dev #${hi} <alice> hello world (edited)  [🎉 1]`);
  await carol.waitFor(`(history) #dev #${reply} (deleted by bob)`);
});
