/**
 * Away state and typing indicators (docs/protocol.md, section 22) over real
 * sockets: two framed clients and a plain-text one. Every frame the framed
 * peers receive is checked against docs/protocol.schema.json (the peers'
 * conformance check), so these are the conformance tests of the new frames.
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { parseClientFrame } from "../shared/protocol.ts";
import { schemaProblem } from "./support/conformance.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { listenRelaxed } from "./support/test_server.ts";

async function withServer(
  options: Partial<ServerOptions>,
  test: (server: ChatServer) => Promise<void>,
): Promise<void> {
  await using server = await listenRelaxed(options);
  await test(server);
}

async function textLogin(port: number, nick: string): Promise<TextPeer> {
  const text = await TextPeer.connect(port);
  text.write(`${nick}\n`);
  await text.waitFor(`Welcome, ${nick}!`);
  return text;
}

async function ack(peer: Peer, request: Record<string, unknown>): Promise<Frame> {
  const reply = await peer.request(request);
  assert.equal(reply.type, "ack", JSON.stringify(reply));
  return reply;
}

/** Index in `peer.frames` of the first frame matching `match` (-1: none). */
function indexOf(peer: Peer, match: (frame: Frame) => boolean): number {
  return peer.frames.findIndex(match);
}

Deno.test("away and back: the user's sessions and its rooms hear it, who and users show it, others hear nothing", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    await using dave = await Peer.join(port, "dave");
    await using carol = await textLogin(port, "carol");
    await ack(alice, { type: "join", room: "dev" });
    await ack(bob, { type: "join", room: "dev" });
    carol.write("/join dev\n");
    await carol.waitFor("Now talking in #dev");

    const reply = await ack(alice, { type: "away", message: "  lunch  " });
    assert.deepEqual(reply.result, { away: "lunch" });
    // Queued before the ack, to the user itself too.
    const own = indexOf(alice, (f) => f.type === "away");
    assert.ok(own !== -1 && own < indexOf(alice, (f) => f.type === "ack" && f.id === reply.id));
    const heard = await bob.next((f) => f.type === "away");
    assert.equal(heard.nick, "alice");
    assert.equal(heard.message, "lunch");
    assert.equal(typeof heard.ts, "number");
    await carol.waitFor("--- alice is away: lunch");

    const who = await ack(bob, { type: "who", room: "dev" });
    assert.deepEqual(who.result.away, [{ nick: "alice", message: "lunch" }]);
    const users = await ack(dave, { type: "users" });
    assert.deepEqual(users.result.away, [{ nick: "alice", message: "lunch" }]);
    carol.write("/who\n/users\n");
    await carol.waitFor(/In #dev: .*alice \(away: lunch\)/);
    await carol.waitFor(/Online: .*alice \(away: lunch\)/);

    // Dave shares no room with alice: a DM after the away reaches him, the away did not.
    await ack(alice, { type: "dm", to: "dave", body: "hi" });
    await dave.next((f) => f.type === "dm");
    assert.deepEqual(dave.all((f) => f.type === "away"), []);

    // The same state again tells nobody; back has no message.
    await ack(alice, { type: "away", message: "lunch" });
    const back = await ack(alice, { type: "away" });
    assert.deepEqual(back.result, {});
    const backEvent = await bob.next((f) => f.type === "away");
    assert.equal(backEvent.message, undefined);
    assert.equal(bob.all((f) => f.type === "away").length, 2);
    await carol.waitFor("--- alice is back");
    const after = await ack(bob, { type: "who", room: "dev" });
    assert.equal(after.result.away, undefined);

    // Plain text: /away without a message is "away"; /back.
    carol.write("/away\n");
    await carol.waitFor("--- You are away: away");
    assert.equal((await bob.next((f) => f.type === "away")).nick, "carol");
    carol.write("/back\n");
    await carol.waitFor("--- You are back");
    carol.close();
  });
});

Deno.test("a dm to a user away: the sender gets the away message as a notice before the ack", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    await ack(alice, { type: "away", message: "on a plane" });
    const sent = await ack(bob, { type: "dm", to: "ALICE", body: "ping?" });
    const noticeAt = indexOf(bob, (f) => f.type === "notice" && f.away !== undefined);
    assert.ok(noticeAt !== -1, "a notice");
    assert.ok(noticeAt < indexOf(bob, (f) => f.type === "ack" && f.id === sent.id));
    const notice = bob.frames[noticeAt]!;
    assert.equal(notice.from, "alice");
    assert.equal(notice.away, "on a plane");
    assert.equal(notice.body, "alice is away: on a plane");
    // The recipient gets the dm, and no notice; a dm to oneself gets none either.
    await alice.next((f) => f.type === "dm");
    await ack(alice, { type: "dm", to: "alice", body: "note to self" });
    assert.deepEqual(alice.all((f) => f.type === "notice"), []);
    // Back: no more notices.
    await ack(alice, { type: "away" });
    await ack(bob, { type: "dm", to: "alice", body: "welcome back" });
    assert.equal(bob.all((f) => f.type === "notice").length, 1);
  });
});

Deno.test("away: the message has a length limit, changes are limited per minute, the state ends with the last session", async () => {
  await withServer({ maxAwayLength: 10, awayChangesPerMinute: 2 }, async (server) => {
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    const long = await alice.request({ type: "away", message: "x".repeat(11) });
    assert.equal(long.code, "invalid_body");
    const control = await alice.request({ type: "away", message: "a\u0007b" });
    assert.equal(control.code, "invalid_body");
    const notString = await alice.request({ type: "away", message: 5 });
    assert.equal(notString.code, "invalid_body");
    await ack(alice, { type: "away", message: "1234567890" });
    await ack(alice, { type: "away" });
    // Two changes a minute: the third is refused, the state stays as it is.
    const third = await alice.request({ type: "away", message: "again" });
    assert.equal(third.code, "rate_limited");
    assert.ok(third.retryAfterMs > 0 && third.retryAfterMs <= 30_000, `${third.retryAfterMs}`);
    // Asking for the state one has is free.
    await ack(alice, { type: "away" });
    const users = await ack(bob, { type: "users" });
    assert.equal(users.result.away, undefined);

    // Away ends when the user's last session goes: a new zed is not away.
    const zed = await Peer.join(port, "zed");
    await ack(zed, { type: "away", message: "gone" });
    assert.deepEqual((await ack(bob, { type: "users" })).result.away, [
      { nick: "zed", message: "gone" },
    ]);
    await ack(zed, { type: "quit" });
    await zed[Symbol.asyncDispose]();
    await using again = await Peer.join(port, "zed");
    assert.equal((await ack(bob, { type: "users" })).result.away, undefined);
    assert.equal((await ack(again, { type: "away" })).type, "ack");
  });
});

Deno.test("typing in a room: relayed to the other members, not to the sender, throttled, done let through once", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    await using carol = await textLogin(port, "carol");
    await ack(alice, { type: "join", room: "dev" });
    await ack(bob, { type: "join", room: "dev" });
    carol.write("/join dev\n");
    await carol.waitFor("Now talking in #dev");

    assert.deepEqual(
      (await ack(alice, { type: "typing", room: "dev", state: "active" })).result,
      {},
    );
    const typing = await bob.next((f) => f.type === "typing");
    assert.equal(typing.room, "dev");
    assert.equal(typing.from, "alice");
    assert.equal(typing.state, "active");
    assert.equal(typing.to, undefined);
    // Too soon: acked, relayed to nobody.
    const again = await ack(alice, { type: "typing", room: "#DEV", state: "active" });
    assert.deepEqual(again.result, { throttled: true });
    const paused = await ack(alice, { type: "typing", room: "dev", state: "paused" });
    assert.deepEqual(paused.result, { throttled: true });
    // A done right after is relayed (once), so that bob's indicator goes.
    assert.deepEqual((await ack(alice, { type: "typing", room: "dev", state: "done" })).result, {});
    const done = await ack(alice, { type: "typing", room: "dev", state: "done" });
    assert.deepEqual(done.result, { throttled: true });
    await ack(alice, { type: "say", room: "dev", body: "hello" });
    await bob.next((f) => f.type === "message");
    assert.deepEqual(bob.all((f) => f.type === "typing").map((f) => f.state), ["active", "done"]);
    assert.deepEqual(alice.all((f) => f.type === "typing"), []);

    // Plain text sees typing only once it asks.
    await carol.waitFor("<alice> hello");
    assert.ok(!carol.text.includes("is typing"), carol.text);
    carol.write("/typing on\n");
    await carol.waitFor("--- Showing who is typing");
    await ack(bob, { type: "typing", room: "dev", state: "active" });
    await carol.waitFor("--- bob is typing in #dev");
    carol.write("/typing off\n/typing maybe\n");
    await carol.waitFor("! bad_request: Usage: /typing on|off");
    carol.close();
  });
});

Deno.test("typing a dm: relayed to the recipient's sessions; to someone offline no_such_user", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    await ack(alice, { type: "typing", to: "BOB", state: "active" });
    const typing = await bob.next((f) => f.type === "typing");
    assert.deepEqual(
      { from: typing.from, to: typing.to, state: typing.state, room: typing.room },
      { from: "alice", to: "bob", state: "active", room: undefined },
    );
    // Another conversation has its own throttle.
    await ack(bob, { type: "typing", to: "alice", state: "active" });
    await alice.next((f) => f.type === "typing");
    const offline = await alice.request({ type: "typing", to: "nobody", state: "active" });
    assert.equal(offline.code, "no_such_user");
    // To oneself: nobody to tell.
    assert.deepEqual(
      (await ack(alice, { type: "typing", to: "alice", state: "active" })).result,
      {},
    );
  });
});

Deno.test("typing is refused where one may not speak: not a member, muted; bad frames are bad_request", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    await ack(alice, { type: "join", room: "dev" });
    const outsider = await bob.request({ type: "typing", room: "dev", state: "active" });
    assert.equal(outsider.code, "not_in_room");
    await ack(bob, { type: "join", room: "dev" });
    await ack(alice, { type: "mute", room: "dev", nick: "bob" });
    const muted = await bob.request({ type: "typing", room: "dev", state: "active" });
    assert.equal(muted.code, "muted");
    assert.ok(muted.retryAfterMs > 0);
    for (
      const frame of [
        { type: "typing", state: "active" },
        { type: "typing", room: "dev", to: "alice", state: "active" },
        { type: "typing", room: "dev", state: "typing" },
        { type: "typing", room: "dev" },
      ]
    ) {
      const refused = await bob.request(frame);
      assert.equal(refused.code, "bad_request", JSON.stringify(frame));
    }
    await ack(alice, { type: "say", room: "dev", body: "after" });
    await bob.next((f) => f.type === "message");
    assert.deepEqual(alice.all((f) => f.type === "typing"), []);
  });
});

Deno.test("the new requests as the schema and the validators have them", () => {
  for (
    const frame of [
      { type: "away", id: 1, message: "lunch" },
      { type: "away", id: 2 },
      { type: "typing", id: 3, room: "dev", state: "active" },
      { type: "typing", id: 4, to: "bob", state: "done" },
    ]
  ) {
    assert.equal(schemaProblem(`request.${frame.type}`, frame), undefined, JSON.stringify(frame));
    assert.doesNotThrow(() => parseClientFrame(frame));
  }
  assert.deepEqual(parseClientFrame({ type: "away", id: 5, message: " " }), {
    type: "away",
    id: 5,
    message: "away",
  });
  assert.deepEqual(parseClientFrame({ type: "away", id: 6, message: null }), {
    type: "away",
    id: 6,
  });
  assert.notEqual(
    schemaProblem("request.typing", { type: "typing", id: 7, state: "x" }),
    undefined,
  );
});
