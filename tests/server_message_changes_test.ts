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
import { ServerProcess } from "./support/server_process.ts";
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
  await carol.waitFor(/! forbidden: Cannot delete message \d+: it is another's/);
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

Deno.test("rights: only the author edits; the author, an operator, the owner or a server admin deletes", async () => {
  await withDataDir(async (dir) => {
    await using server = await listen({ dataDir: dir, admins: ["root"] });
    for (const name of ["owner", "opal", "root", "alice", "bob"]) {
      await server.accounts.create(name, `${name} password`);
    }
    const as = (nick: string) => joined(server.addr.port, nick, { password: `${nick} password` });
    await using owner = await as("owner"); // creates #dev
    await using opal = await as("opal");
    await using root = await as("root");
    await using alice = await as("alice");
    await using bob = await as("bob");
    ok(await owner.request({ type: "op", room: "dev", nick: "opal" }));
    const words = await say(alice, "alice's words");
    for (const peer of [owner, opal, root, bob]) {
      refused(
        await peer.request({ type: "edit", room: "dev", target: words, body: "rewritten" }),
        "forbidden",
        /^Cannot edit message \d+: only its author can/,
      );
    }
    refused(
      await bob.request({ type: "delete", room: "dev", target: words }),
      "forbidden",
      /needs operator rights in the room/,
    );
    ok(await alice.request({ type: "edit", room: "dev", target: words, body: "alice's own" }));
    // Each who may delete does so once; a second delete finds nothing to delete.
    const targets = [await say(alice, "one"), await say(alice, "two"), await say(alice, "three")];
    for (const [index, peer] of [opal, owner, root].entries()) {
      const gone = ok(await peer.request({ type: "delete", room: "dev", target: targets[index] }));
      const event = await alice.next((f) => f.type === "delete" && f.id === gone.id);
      assert.equal(event.by, ["opal", "owner", "root"][index]);
    }
    ok(await alice.request({ type: "delete", room: "dev", target: words }));
    refused(
      await alice.request({ type: "delete", room: "dev", target: words }),
      "no_such_message",
      /^Cannot delete message \d+: it was deleted$/,
    );
    refused(
      await alice.request({ type: "edit", room: "dev", target: words, body: "back" }),
      "no_such_message",
      /it was deleted/,
    );
    refused(
      await bob.request({ type: "react", room: "dev", target: words, emoji: "👍" }),
      "no_such_message",
    );
    // A reply to a deleted message is allowed.
    ok(await bob.request({ type: "say", room: "dev", body: "what was it?", replyTo: words }));
  });
});

Deno.test("a guest's identity is its nickname: the same nickname later edits; another cannot", async () => {
  await using server = await listen();
  const port = server.addr.port;
  let guest = await joined(port, "Gus");
  const id = await say(guest, "first");
  await guest[Symbol.asyncDispose]();
  guest = await joined(port, "gus"); // same name key
  ok(await guest.request({ type: "edit", room: "dev", target: id, body: "still me" }));
  await using other = await joined(port, "gustav");
  refused(
    await other.request({ type: "edit", room: "dev", target: id, body: "not me" }),
    "forbidden",
  );
  await guest[Symbol.asyncDispose]();
});

Deno.test("unknown targets, change entries, other rooms, non-members and the muted are refused", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice"); // owner of #dev
  await using bob = await joined(port, "bob");
  await using eve = await Peer.join(port, "eve");
  const id = await say(bob, "hi");
  const edit = ok(await bob.request({ type: "edit", room: "dev", target: id, body: "hey" }));
  for (
    const request of [
      { type: "edit", room: "dev", target: edit.id, body: "x" },
      { type: "delete", room: "dev", target: edit.id },
      { type: "react", room: "dev", target: 999, emoji: "👍" },
      { type: "unreact", room: "dev", target: edit.id, emoji: "👍" },
      { type: "say", room: "dev", body: "re", replyTo: edit.id },
      { type: "say", room: "dev", body: "re", replyTo: 999 },
    ]
  ) refused(await bob.request(request), "no_such_message", /no such message in (#dev|this room)/);
  // Ids are per room: message 1 of #ops is not message 1 of #dev.
  ok(await bob.request({ type: "join", room: "ops" }));
  refused(
    await bob.request({ type: "say", room: "ops", body: "re", replyTo: id }),
    "no_such_message",
  );
  for (
    const request of [
      { type: "edit", room: "dev", target: id, body: "x" },
      { type: "delete", room: "dev", target: id },
      { type: "react", room: "dev", target: id, emoji: "👍" },
      { type: "unreact", room: "dev", target: id, emoji: "👍" },
    ]
  ) refused(await eve.request(request), "not_in_room");
  ok(await alice.request({ type: "mute", room: "dev", nick: "bob" }));
  for (
    const request of [
      { type: "edit", room: "dev", target: id, body: "x" },
      { type: "delete", room: "dev", target: id },
      { type: "react", room: "dev", target: id, emoji: "👍" },
      { type: "unreact", room: "dev", target: id, emoji: "👍" },
      { type: "say", room: "dev", body: "x", replyTo: id },
    ]
  ) {
    const reply = await bob.request(request);
    refused(reply, "muted");
    assert.ok(reply.retryAfterMs > 0);
  }
  // Bad fields are bad_request, before any of that.
  for (
    const request of [
      { type: "react", room: "dev", target: id, emoji: "ok" },
      { type: "react", room: "dev", target: id, emoji: "👍👍" },
      { type: "edit", room: "dev", target: 0, body: "x" },
      { type: "delete", room: "dev", target: "1" },
      { type: "say", room: "dev", body: "x", replyTo: -1 },
    ]
  ) refused(await eve.request(request), "bad_request");
  refused(await eve.request({ type: "edit", room: "dev", target: 1, body: " " }), "invalid_body");
});

Deno.test("reactions: once per user and emoji (a repeat is unchanged, no event); at most --max-reactions-per-message emoji", async () => {
  await using server = await listen({ maxReactionsPerMessage: 3 });
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  await using bob = await joined(port, "bob");
  const id = await say(alice, "vote");
  const first = ok(await bob.request({ type: "react", room: "dev", target: id, emoji: "👍" }));
  const again = ok(await bob.request({ type: "react", room: "dev", target: id, emoji: "👍" }));
  assert.deepEqual(Object.keys(again).sort(), ["ts", "unchanged"]);
  assert.equal(again.unchanged, true);
  const never = ok(await bob.request({ type: "unreact", room: "dev", target: id, emoji: "🎉" }));
  assert.equal(never.unchanged, true);
  ok(await alice.request({ type: "react", room: "dev", target: id, emoji: "👍" })); // same emoji
  ok(await alice.request({ type: "react", room: "dev", target: id, emoji: "🎉" }));
  ok(await alice.request({ type: "react", room: "dev", target: id, emoji: "❤️" }));
  refused(
    await bob.request({ type: "react", room: "dev", target: id, emoji: "🚀" }),
    "too_many_reactions",
    /3 different reactions/,
  );
  // One of those three is fine; taking one back makes room.
  ok(await bob.request({ type: "react", room: "dev", target: id, emoji: "🎉" }));
  ok(await alice.request({ type: "unreact", room: "dev", target: id, emoji: "❤️" }));
  ok(await bob.request({ type: "react", room: "dev", target: id, emoji: "🚀" }));
  await alice.request({ type: "ping" });
  // No event for what changed nothing: alice saw exactly the recorded ones.
  const reactions = alice.all((f) => f.type === "react" || f.type === "unreact");
  assert.deepEqual(reactions.map((f) => `${f.type} ${f.from} ${f.emoji}`), [
    "react bob 👍",
    "react alice 👍",
    "react alice 🎉",
    "react alice ❤️",
    "react bob 🎉",
    "unreact alice ❤️",
    "react bob 🚀",
  ]);
  assert.equal(reactions[0]!.id, first.id);
  const [message] = await latest(bob);
  assert.deepEqual(message!.reactions, [
    { emoji: "👍", count: 2, users: ["bob", "alice"] },
    { emoji: "🎉", count: 2, users: ["alice", "bob"] },
    { emoji: "🚀", count: 1, users: ["bob"] },
  ]);
});

Deno.test("history lists at most 20 users per emoji, with the full count", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  const id = await say(alice, "popular");
  const peers: Peer[] = [];
  try {
    for (let n = 0; n < 23; n++) {
      const peer = await joined(port, `fan${n}`);
      peers.push(peer);
      ok(await peer.request({ type: "react", room: "dev", target: id, emoji: "⭐" }));
    }
    const [message] = await latest(alice);
    assert.equal(message!.reactions[0].count, 23);
    assert.deepEqual(message!.reactions[0].users, peers.slice(0, 20).map((_, n) => `fan${n}`));
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("pipelined changes to one message are checked in order: acks and events follow the ids", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  await using bob = await joined(port, "bob");
  const id = await say(alice, "race");
  const sent = [
    { type: "react", room: "dev", target: id, emoji: "👍" },
    { type: "react", room: "dev", target: id, emoji: "👍" },
    { type: "unreact", room: "dev", target: id, emoji: "👍" },
    { type: "react", room: "dev", target: id, emoji: "👍" },
    { type: "say", room: "dev", body: "between" },
    { type: "delete", room: "dev", target: id },
    { type: "react", room: "dev", target: id, emoji: "🎉" },
  ];
  const replies = await Promise.all(sent.map((request) => bob.request(request)));
  assert.deepEqual(replies.map((r) => r.type), ["ack", "ack", "ack", "ack", "ack", "error", "ack"]);
  assert.equal(replies[1]!.result.unchanged, true);
  // Bob may not delete alice's message; his last reaction then stands.
  refused(replies[5]!, "forbidden");
  const ok2 = ok(await alice.request({ type: "delete", room: "dev", target: id }));
  refused(
    await bob.request({ type: "react", room: "dev", target: id, emoji: "🎉" }),
    "no_such_message",
    /it was deleted/,
  );
  await bob.next((f) => f.type === "delete" && f.id === ok2.id);
  const live = bob.all((f) => f.room === "dev" && f.type !== "join");
  const ids = live.map((f) => f.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.deepEqual(live.map((f) => f.type), [
    "message",
    "react",
    "unreact",
    "react",
    "message",
    "react",
    "delete",
  ]);
  // Acks came in the order sent, with ids in that order.
  const acked = replies.filter((r) => r.result?.id !== undefined).map((r) => r.result.id);
  assert.deepEqual(acked, [...acked].sort((a, b) => a - b));
});

/** Joins #dev again after `since`: the catch-up's entries (and the reply). */
async function catchUp(peer: Peer, since: number): Promise<Frame> {
  return ok(await peer.request({ type: "join", room: "dev", since }));
}

Deno.test("resume: a client back after a disconnect gets the missed messages and changes in id order, by join since and by history after", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  let bob = await joined(port, "bob");
  const old = await say(alice, "old words");
  const doomed = await say(bob, "doomed");
  const seen = ok(await bob.request({ type: "join", room: "dev" })).lastId;
  await bob[Symbol.asyncDispose]();
  // While bob is away.
  const edit = ok(
    await alice.request({ type: "edit", room: "dev", target: old, body: "new words" }),
  );
  const fresh = await say(alice, "fresh", { replyTo: old });
  const react = ok(
    await alice.request({ type: "react", room: "dev", target: doomed, emoji: "👀" }),
  );
  const gone = ok(await alice.request({ type: "delete", room: "dev", target: fresh }));
  const later = ok(await alice.request({ type: "edit", room: "dev", target: old, body: "newest" }));
  // alice (the owner) deletes bob's message too.
  const removed = ok(await alice.request({ type: "delete", room: "dev", target: doomed }));

  bob = await Peer.join(port, "bob");
  const result = await catchUp(bob, seen);
  assert.equal(result.lastId, removed.id);
  const summary = result.history.map((f: Frame) => [f.type, f.id, f.target ?? null]);
  assert.deepEqual(summary, [
    ["edit", edit.id, old],
    ["message", fresh, null],
    ["react", react.id, doomed],
    ["delete", gone.id, fresh],
    ["edit", later.id, old],
    ["delete", removed.id, doomed],
  ]);
  for (const entry of result.history) assert.equal(entry.history, true);
  // The message itself in its current state: deleted, so no words; its reply kept.
  assert.deepEqual(result.history[1], {
    type: "message",
    room: "dev",
    from: "alice",
    body: "",
    id: fresh,
    ts: result.history[1].ts,
    history: true,
    replyTo: old,
    deleted: { by: "alice", ts: gone.ts },
  });
  assert.equal(result.history[0].body, "new words");
  // history after gives the same, and paging by limit counts entries.
  const after = ok(await bob.request({ type: "history", room: "dev", after: seen, limit: 4 }));
  assert.deepEqual(after.messages, result.history.slice(0, 4));
  assert.equal(after.more, true);
  const rest = ok(
    await bob.request({ type: "history", room: "dev", after: after.messages[3].id, limit: 4 }),
  );
  assert.deepEqual(rest.messages, result.history.slice(4));
  assert.equal(rest.more, undefined);
  // A page of the latest: messages only, current state.
  const page = await latest(bob);
  assert.deepEqual(page.map((m) => [m.id, m.body]), [[old, "newest"], [doomed, ""], [fresh, ""]]);
  assert.equal(page[0]!.edited, later.ts);
  await bob[Symbol.asyncDispose]();
});

Deno.test("an edit's words are not given again once its message is deleted", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await joined(port, "alice");
  const id = await say(alice, "secret");
  const since = id;
  ok(await alice.request({ type: "edit", room: "dev", target: id, body: "secret two" }));
  ok(await alice.request({ type: "delete", room: "dev", target: id }));
  const entries = ok(await alice.request({ type: "history", room: "dev", after: since })).messages;
  assert.deepEqual(entries.map((f: Frame) => [f.type, f.body ?? null]), [
    ["edit", ""],
    ["delete", null],
  ]);
  // Also when the page holds the edit but not the deletion.
  const first = ok(
    await alice.request({ type: "history", room: "dev", after: since, limit: 1 }),
  ).messages;
  assert.equal(first[0].body, "");
  assert.ok(!JSON.stringify(await latest(alice)).includes("secret"));
});

Deno.test("SQLite: changes committed before a kill -9 are there after the restart, ids going on", async () => {
  await withDataDir(async (dir) => {
    const args = ["--data", dir, "--rate-burst", "1000", "--rate-per-second", "1000"];
    const first = await ServerProcess.start(args);
    let old = 0, reply = 0, since = 0;
    let last: Frame;
    try {
      await using alice = await joined(first.port, "alice");
      old = await say(alice, "before");
      since = old;
      ok(await alice.request({ type: "edit", room: "dev", target: old, body: "after" }));
      ok(await alice.request({ type: "react", room: "dev", target: old, emoji: "👍" }));
      reply = await say(alice, "answer", { replyTo: old });
      last = ok(await alice.request({ type: "delete", room: "dev", target: reply }));
    } finally {
      // Acked means committed: nothing is flushed on the way out.
      await first.stop("SIGKILL");
    }
    await using second = await ServerProcess.start(args);
    await using bob = await Peer.join(second.port, "bob");
    const result = await catchUp(bob, since);
    assert.deepEqual(result.history.map((f: Frame) => f.type), [
      "edit",
      "react",
      "message",
      "delete",
    ]);
    assert.equal(result.lastId, last.id);
    const page = await latest(bob);
    assert.deepEqual(page[0]!.reactions, [{ emoji: "👍", count: 1, users: ["alice"] }]);
    assert.equal(page[0]!.body, "after");
    assert.equal(page[1]!.replyTo, old);
    assert.deepEqual(page[1]!.deleted, { by: "alice", ts: last.ts });
    // The timeline goes on from the last id; the state is the stored one.
    const next = ok(await bob.request({ type: "react", room: "dev", target: old, emoji: "👍" }));
    assert.equal(next.id, last.id + 1);
    refused(
      await bob.request({ type: "react", room: "dev", target: reply, emoji: "👍" }),
      "no_such_message",
      /deleted/,
    );
    refused(
      await bob.request({ type: "edit", room: "dev", target: old, body: "mine now" }),
      "forbidden",
    );
  });
});

Deno.test({
  name:
    "Redis, two instances: changes reach the other instance in id order with messages, are checked atomically, and survive restarts",
  ignore: !redisAvailable,
  async fn() {
    await using redis = await RedisServer.start();
    const options = { redis: redis.url, redisPrefix: "t:", maxReactionsPerMessage: 2 };
    let since = 0;
    let old = 0;
    let lastId = 0;
    {
      await using a = await listen(options);
      await using b = await listen(options);
      await using alice = await joined(a.addr.port, "alice"); // owner
      await using bob = await joined(b.addr.port, "bob");
      old = await say(alice, "typo");
      since = old;
      await bob.next((f) => f.type === "message" && f.id === old);
      const burst = [
        { type: "edit", room: "dev", target: old, body: "fixed" },
        { type: "say", room: "dev", body: "second", replyTo: old },
        { type: "react", room: "dev", target: old, emoji: "👍" },
        { type: "react", room: "dev", target: old, emoji: "👍" },
        { type: "react", room: "dev", target: old, emoji: "🎉" },
        { type: "react", room: "dev", target: old, emoji: "🚀" },
        { type: "unreact", room: "dev", target: old, emoji: "🎉" },
        { type: "say", room: "dev", body: "dangling", replyTo: 999 },
      ];
      const replies = await Promise.all(burst.map((request) => alice.request(request)));
      assert.deepEqual(replies.map((r) => r.type === "ack" ? "ack" : r.code), [
        "ack",
        "ack",
        "ack",
        "ack",
        "ack",
        "too_many_reactions",
        "ack",
        "no_such_message",
      ]);
      assert.equal(replies[3]!.result.unchanged, true);
      const second = replies[1]!.result.id;
      // Bob, on the other instance, may neither edit nor delete alice's words; he may react.
      refused(
        await bob.request({ type: "edit", room: "dev", target: old, body: "bob's now" }),
        "forbidden",
        /only its author/,
      );
      refused(await bob.request({ type: "delete", room: "dev", target: old }), "forbidden");
      ok(await bob.request({ type: "react", room: "dev", target: old, emoji: "👍" }));
      ok(await bob.request({ type: "edit", room: "dev", target: await say(bob, "b"), body: "B" }));
      const gone = ok(await alice.request({ type: "delete", room: "dev", target: second }));
      refused(
        await bob.request({ type: "react", room: "dev", target: second, emoji: "👍" }),
        "no_such_message",
        /deleted/,
      );
      lastId = gone.id;
      await bob.next((f) => f.type === "delete" && f.id === gone.id);
      const live = bob.all((f) => f.room === "dev" && f.type !== "join" && f.id > old);
      const ids = live.map((f) => f.id);
      assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
      assert.deepEqual(live.map((f) => f.type), [
        "edit",
        "message",
        "react",
        "react",
        "unreact",
        "react",
        "message",
        "edit",
        "delete",
      ]);
      assert.equal(live[1]!.replyTo, old);
      // Both instances read the same state.
      assert.deepEqual(await latest(alice), await latest(bob));
    }
    // Both instances gone; new ones on the same Redis.
    await using c = await listen(options);
    await using carol = await Peer.join(c.addr.port, "carol");
    const result = await catchUp(carol, since);
    assert.equal(result.lastId, lastId);
    assert.deepEqual(result.history.map((f: Frame) => f.type), [
      "edit",
      "message",
      "react",
      "react",
      "unreact",
      "react",
      "message",
      "edit",
      "delete",
    ]);
    const page = await latest(carol);
    assert.deepEqual(page.map((m) => m.body), ["fixed", "", "B"]);
    assert.equal(page[0]!.edited !== undefined, true);
    assert.deepEqual(page[0]!.reactions, [{ emoji: "👍", count: 2, users: ["alice", "bob"] }]);
    assert.deepEqual(page[1]!.deleted?.by, "alice");
    assert.equal(page[1]!.replyTo, old);
    const next = ok(await carol.request({ type: "react", room: "dev", target: old, emoji: "🚀" }));
    assert.equal(next.id, lastId + 1);
  },
});
