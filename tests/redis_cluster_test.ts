/**
 * Several real `chat serve` processes over one real `redis-server`: users
 * on different instances are in one chat, and it holds up when an instance
 * dies, when Redis restarts and when Redis freezes.
 */
import assert from "node:assert/strict";
import { encodeFrame } from "../shared/frame.ts";
import { type Frame, Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";

const TTL_MS = 3000;
const TIMEOUT_MS = 500;

function startInstance(redis: RedisServer, extra: string[] = []): Promise<ServerProcess> {
  return ServerProcess.start([
    "--redis",
    redis.url,
    "--redis-presence-ttl-ms",
    String(TTL_MS),
    "--redis-command-timeout-ms",
    String(TIMEOUT_MS),
    "--no-discovery",
    "--kdf-cost",
    "10",
    "--rate-burst",
    "1000",
    "--rate-per-second",
    "1000",
    ...extra,
  ]);
}

const ids = (messages: Frame[]) => messages.map((m) => m.id);

/** Retries `attempt` until it returns a frame that is an ack, for at most `ms`. */
async function untilAck(attempt: () => Promise<Frame>, ms = 10_000): Promise<Frame> {
  const deadline = Date.now() + ms;
  while (true) {
    const reply = await attempt();
    if (reply.type === "ack") return reply;
    if (Date.now() > deadline) throw new Error(`no ack within ${ms} ms: ${JSON.stringify(reply)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test("users on three instances share rooms, messages in one id order, DMs, lists, names and moderation", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  await using b = await startInstance(redis);
  await using c = await startInstance(redis);
  await using alice = await Peer.join(a.port, "alice");
  await using bob = await Peer.join(b.port, "bob");
  await using carol = await Peer.join(c.port, "carol");

  // Joins are seen across instances; the member list is the cluster's.
  assert.deepEqual((await alice.request({ type: "join", room: "dev" })).result.members, ["alice"]);
  const bobJoin = await bob.request({ type: "join", room: "Dev" });
  assert.equal(bobJoin.result.room, "dev");
  assert.deepEqual(bobJoin.result.members, ["alice", "bob"]);
  await alice.next((f) => f.type === "join" && f.nick === "bob");
  await carol.request({ type: "join", room: "dev" });
  await alice.next((f) => f.type === "join" && f.nick === "carol");
  await bob.next((f) => f.type === "join" && f.nick === "carol");

  // Everyone sends at once: one id sequence, delivered to all in that order.
  const senders = [alice, bob, carol];
  const acks = await Promise.all(
    senders.flatMap((peer, p) =>
      Array.from(
        { length: 10 },
        (_, i) => peer.request({ type: "say", room: "dev", body: `m${p}-${i}` }),
      )
    ),
  );
  assert.ok(acks.every((ack) => ack.type === "ack"));
  assert.deepEqual(acks.map((ack) => ack.result.id).sort((x, y) => x - y), range(1, 30));
  for (const peer of senders) {
    const got: Frame[] = [];
    for (let i = 0; i < 30; i++) got.push(await peer.next((f) => f.type === "message"));
    assert.deepEqual(ids(got), range(1, 30), "every member sees every message, in id order");
  }

  // Lists are cluster-wide.
  assert.deepEqual((await carol.request({ type: "who", room: "dev" })).result.members, [
    "alice",
    "bob",
    "carol",
  ]);
  assert.deepEqual((await alice.request({ type: "users" })).result.users, [
    "alice",
    "bob",
    "carol",
  ]);
  const rooms = (await bob.request({ type: "rooms" })).result.rooms;
  assert.deepEqual(rooms, [{ name: "dev", members: 3, topic: "" }]);

  // History written on one instance is read on another.
  await using dave = await Peer.join(c.port, "dave");
  const daveJoin = await dave.request({ type: "join", room: "dev" });
  assert.deepEqual(ids(daveJoin.result.history), range(1, 30));
  assert.equal(daveJoin.result.lastId, 30);
  const page = await dave.request({ type: "history", room: "dev", before: 11, limit: 5 });
  assert.deepEqual(ids(page.result.messages), [6, 7, 8, 9, 10]);

  // Room settings changed on one instance hold on the others.
  assert.equal((await alice.request({ type: "topic", room: "dev", topic: "Ship it" })).type, "ack");
  assert.equal((await carol.next((f) => f.type === "topic")).topic, "Ship it");
  assert.equal((await bob.request({ type: "topic", room: "dev" })).result.topic, "Ship it");

  // DMs reach the other instance; the sender's sessions get the echo.
  const dm = await bob.request({ type: "dm", to: "Carol", body: "psst" });
  assert.equal(dm.type, "ack");
  assert.equal(dm.result.stored, undefined);
  const received = await carol.next((f) => f.type === "dm");
  assert.deepEqual([received.from, received.body, received.id], ["bob", "psst", dm.result.id]);
  await bob.next((f) => f.type === "dm" && f.id === dm.result.id);
  assert.equal((await alice.request({ type: "dm", to: "nobody", body: "x" })).code, "no_such_user");

  // Nicknames are unique across instances, case-insensitively.
  await assert.rejects(Peer.join(c.port, "ALICE"), /name_taken/);
  const rename = await bob.request({ type: "nick", nick: "robert" });
  assert.equal(rename.type, "ack");
  assert.equal((await alice.next((f) => f.type === "nick")).to, "robert");
  await carol.next((f) => f.type === "nick" && f.from === "bob");
  assert.equal((await carol.request({ type: "nick", nick: "Robert" })).code, "name_taken");
  await using newBob = await Peer.join(a.port, "bob");
  assert.deepEqual((await carol.request({ type: "who", room: "dev" })).result.members, [
    "alice",
    "carol",
    "dave",
    "robert",
  ]);

  // A ban on one instance removes the user on another and keeps them out.
  assert.equal((await alice.request({ type: "ban", room: "dev", nick: "robert" })).type, "ack");
  const banned = await bob.next((f) => f.type === "leave" && f.nick === "robert");
  assert.match(banned.reason, /banned by alice/);
  await carol.next((f) => f.type === "leave" && f.nick === "robert");
  assert.equal((await bob.request({ type: "join", room: "dev" })).code, "banned");

  // Leaving is seen everywhere; the room forgets the member.
  await dave.request({ type: "leave", room: "dev" });
  await alice.next((f) => f.type === "leave" && f.nick === "dave");
  assert.deepEqual((await alice.request({ type: "who", room: "dev" })).result.members, [
    "alice",
    "carol",
  ]);
  await newBob.request({ type: "quit" });
  await dave.request({ type: "quit" });
  await alice.request({ type: "quit" });
});

Deno.test("lists page across instances by name key, each reply within a small frame cap", async () => {
  await using redis = await RedisServer.start();
  const small = ["--max-frame-bytes", "4096"];
  await using a = await startInstance(redis, small);
  await using b = await startInstance(redis, small);
  const peers: Peer[] = [];
  try {
    // 30 nicknames of 128 bytes (4-byte letters), half on each instance.
    const nicks = Array.from(
      { length: 30 },
      (_, i) => `${i % 2 ? "N" : "n"}${String(i).padStart(2, "0")}${"\u{20731}".repeat(29)}`,
    );
    for (const [index, nick] of nicks.entries()) {
      const peer = await Peer.join(index % 2 ? b.port : a.port, nick);
      peers.push(peer);
      assert.equal((await peer.request({ type: "join", room: "crowd" })).type, "ack");
    }
    await using late = await Peer.join(a.port, "late");
    const everyone = [...nicks.map((nick) => nick.toLowerCase()), "late"].sort();
    const shown = (names: string[]) => names.map((name) => name.toLowerCase());
    const joined = await late.request({ type: "join", room: "crowd" });
    assert.ok(encodeFrame(joined).length - 4 <= 4096);
    assert.equal(joined.result.membersMore, true);
    let expectedTotal = 31;
    const pages = async (request: Record<string, unknown>, list: string) => {
      const names: string[] = [];
      for (let after: string | undefined, more = true; more;) {
        const reply = await late.request({ ...request, ...(after ? { after } : {}) });
        assert.ok(encodeFrame(reply).length - 4 <= 4096, JSON.stringify(reply).slice(0, 200));
        names.push(...reply.result[list]);
        assert.equal(reply.result.total, expectedTotal);
        more = reply.result.more === true;
        after = names.at(-1);
      }
      return names;
    };
    assert.deepEqual(shown(await pages({ type: "who", room: "crowd" }, "members")), everyone);
    assert.deepEqual(shown(await pages({ type: "users" }, "users")), everyone);
    const few = await late.request({ type: "who", room: "crowd", after: nicks[0], limit: 2 });
    const at = everyone.indexOf(shown([nicks[0]!])[0]!);
    assert.deepEqual(shown(few.result.members), everyone.slice(at + 1, at + 3));
    // Who leaves or renames is paged as the change says, on every instance.
    await peers[1]!.request({ type: "leave", room: "crowd" });
    await late.next((f) => f.type === "leave" && f.nick === nicks[1]);
    const renamed = await peers[2]!.request({ type: "nick", nick: "zed" });
    assert.equal(renamed.type, "ack");
    await late.next((f) => f.type === "nick" && f.to === "zed");
    const gone = shown([nicks[1]!, nicks[2]!]);
    expectedTotal = 30;
    const after = shown(await pages({ type: "who", room: "crowd", limit: 7 }, "members"));
    assert.deepEqual(after, [...everyone.filter((name) => !gone.includes(name)), "zed"].sort());
    // Rooms carry their sizes from Redis, paged the same way.
    const rooms = await late.request({ type: "rooms", limit: 1 });
    assert.deepEqual(rooms.result, {
      rooms: [{ name: "crowd", members: 30, topic: "" }],
      total: 1,
    });
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("accounts and offline DMs work across instances", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  await using b = await startInstance(redis);
  {
    await using erin = await Peer.join(a.port, "erin");
    assert.equal((await erin.request({ type: "register", password: "correct horse" })).type, "ack");
    await erin.request({ type: "quit" });
    await erin.closed;
  }
  // Registered on a: on b the name needs its password.
  await assert.rejects(Peer.join(b.port, "erin"), /auth_required/);
  await using frank = await Peer.join(b.port, "frank");
  const stored = await frank.request({ type: "dm", to: "erin", body: "while you were out" });
  assert.equal(stored.result.stored, true);
  await using erin = await Peer.join(a.port, "erin", { password: "correct horse" });
  const pending = await erin.next((f) => f.type === "dm");
  assert.deepEqual([pending.body, pending.history], ["while you were out", true]);
  const unread = await erin.next((f) => f.type === "notice" && f.unread !== undefined);
  assert.deepEqual(unread.unread, [{ peer: "frank", count: 1 }]);
  // A second session of the account on the other instance shares the name.
  await using erin2 = await Peer.join(b.port, "erin", { password: "correct horse" });
  assert.deepEqual((await frank.request({ type: "users" })).result.users, ["erin", "frank"]);
  const live = await frank.request({ type: "dm", to: "erin", body: "both of you" });
  assert.equal(live.result.stored, undefined);
  await erin.next((f) => f.type === "dm" && f.body === "both of you");
  await erin2.next((f) => f.type === "dm" && f.body === "both of you");
  // The second session joins a room the first is in (on the other instance):
  // it hears its own join, the room sees none.
  await frank.request({ type: "join", room: "ops" });
  await erin.request({ type: "join", room: "ops" });
  await frank.next((f) => f.type === "join" && f.nick === "erin");
  await erin2.request({ type: "join", room: "ops" });
  assert.deepEqual(
    erin2.all((f) => f.type === "join" || f.type === "ack").slice(-2).map((f) => f.type),
    ["join", "ack"],
  );
  await frank.request({ type: "ping" });
  assert.equal(frank.all((f) => f.type === "join" && f.nick === "erin").length, 1);
});

Deno.test("an instance killed: its users go offline within the TTL, its clients resume elsewhere without gaps", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  const b = await startInstance(redis);
  try {
    await using alice = await Peer.join(a.port, "alice");
    const bob = await Peer.join(b.port, "bob");
    await alice.request({ type: "join", room: "dev" });
    await bob.request({ type: "join", room: "dev" });
    for (let i = 1; i <= 3; i++) await alice.request({ type: "say", room: "dev", body: `m${i}` });
    let seen = 0;
    for (let i = 0; i < 3; i++) seen = (await bob.next((f) => f.type === "message")).id;
    assert.equal(seen, 3);

    await b.stop("SIGKILL");
    await bob[Symbol.asyncDispose]();
    const killedAt = Date.now();
    for (let i = 4; i <= 6; i++) {
      assert.equal((await alice.request({ type: "say", room: "dev", body: `m${i}` })).type, "ack");
    }
    // Reaped by the surviving instance: the room sees bob leave.
    const left = await alice.next((f) => f.type === "leave" && f.nick === "bob", TTL_MS * 3);
    assert.equal(left.reason, "server lost");
    assert.ok(Date.now() - killedAt < TTL_MS * 2, "offline within the TTL and a heartbeat");
    assert.deepEqual((await alice.request({ type: "users" })).result.users, ["alice"]);
    assert.deepEqual((await alice.request({ type: "who", room: "dev" })).result, {
      room: "dev",
      members: ["alice"],
      total: 1,
    });

    // Bob's client reconnects to the other instance and resumes with since.
    await using bob2 = await Peer.join(a.port, "bob");
    const resumed = await bob2.request({ type: "join", room: "dev", since: seen });
    assert.deepEqual(ids(resumed.result.history), [4, 5, 6]);
    assert.equal(resumed.result.lastId, 6);
    assert.equal(resumed.result.gap, undefined);
    await alice.request({ type: "say", room: "dev", body: "m7" });
    assert.equal((await bob2.next((f) => f.type === "message")).id, 7);
  } finally {
    await b.stop("SIGKILL");
  }
});

Deno.test("Redis restarts: instances reconnect and resubscribe, clients get a notice, acknowledged messages stay, ids go on", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  await using b = await startInstance(redis);
  await using alice = await Peer.join(a.port, "alice");
  await using bob = await Peer.join(b.port, "bob");
  await alice.request({ type: "join", room: "dev" });
  await bob.request({ type: "join", room: "dev" });
  for (let i = 1; i <= 3; i++) await alice.request({ type: "say", room: "dev", body: `m${i}` });

  // A clean restart (append-only file flushed): nothing acknowledged is lost.
  await redis.restart("SIGTERM");
  const notice = await alice.next((f) => f.type === "notice" && /unreachable/.test(f.body));
  assert.match(notice.body, /storage/);
  const after = await untilAck(() => bob.request({ type: "say", room: "dev", body: "m4" }));
  assert.equal(after.result.id, 4);
  await alice.next((f) => f.type === "notice" && /back/.test(f.body), 10_000);
  const live: Frame[] = [];
  while (live.length < 4) live.push(await alice.next((f) => f.type === "message"));
  assert.deepEqual(ids(live), [1, 2, 3, 4]);
  const history = await bob.request({ type: "history", room: "dev" });
  assert.deepEqual(ids(history.result.messages), [1, 2, 3, 4]);
  assert.deepEqual((await bob.request({ type: "users" })).result.users, ["alice", "bob"]);

  // A crash right after acks may lose the last second (appendfsync everysec),
  // but ids never go back: instances raise the sequence to what they delivered.
  await untilAck(() => alice.request({ type: "say", room: "dev", body: "m5" }));
  await redis.restart("SIGKILL");
  const next = await untilAck(() => alice.request({ type: "say", room: "dev", body: "m6" }));
  assert.ok(next.result.id > 5, `id ${next.result.id} after 5`);
  await bob.next((f) => f.type === "message" && f.id === next.result.id, 10_000);
  assert.deepEqual((await alice.request({ type: "who", room: "dev" })).result.members, [
    "alice",
    "bob",
  ]);
});

Deno.test("Redis frozen: sends fail fast with a storage error, nothing piles up, and recover", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  await using alice = await Peer.join(a.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  assert.equal((await alice.request({ type: "say", room: "dev", body: "before" })).type, "ack");

  redis.pause();
  try {
    const started = Date.now();
    const first = await alice.request({ type: "say", room: "dev", body: "frozen" });
    assert.equal(first.code, "storage");
    assert.match(first.message, /did not answer within 500 ms/);
    assert.ok(Date.now() - started < TIMEOUT_MS * 4, `failed after ${Date.now() - started} ms`);
    // While Redis stays silent, further sends fail at once instead of queuing.
    const quick = Date.now();
    const more = await Promise.all(
      Array.from({ length: 50 }, () => alice.request({ type: "say", room: "dev", body: "x" })),
    );
    assert.ok(more.every((reply) => reply.code === "storage"));
    assert.ok(Date.now() - quick < TIMEOUT_MS * 2, `50 refusals took ${Date.now() - quick} ms`);
    assert.equal((await alice.request({ type: "ping" })).type, "ack", "the session stays usable");
  } finally {
    redis.resume();
  }
  const back = await untilAck(() => alice.request({ type: "say", room: "dev", body: "after" }));
  assert.ok(back.result.id >= 2);
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
