import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { encodeFrame } from "../shared/frame.ts";
import { Peer, TextPeer } from "./support/peer.ts";

function listen(options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return ChatServer.listen({ host: "127.0.0.1", port: 0, textPromptDelayMs: 100, ...options });
}

Deno.test("many clients in a room all receive every message in order with monotonic ids", async () => {
  await using server = await listen({ rateBurst: 1000, ratePerSecond: 1000 });
  const port = server.addr.port;
  const peers: Peer[] = [];
  for (let i = 0; i < 20; i++) peers.push(await Peer.join(port, `user${i}`));
  try {
    for (const peer of peers) {
      assert.equal((await peer.request({ type: "join", room: "#lobby" })).type, "ack");
    }
    const sent: number[] = [];
    for (let i = 0; i < 50; i++) {
      const sender = peers[i % 5]!;
      const ack = await sender.request({ type: "say", room: "lobby", body: `message ${i}` });
      assert.equal(ack.type, "ack");
      sent.push(ack.result.id);
    }
    assert.deepEqual(sent, Array.from({ length: 50 }, (_, i) => i + 1));
    for (const peer of peers) {
      const bodies: string[] = [];
      const ids: number[] = [];
      for (let i = 0; i < 50; i++) {
        const event = await peer.next((f) => f.type === "message");
        bodies.push(event.body);
        ids.push(event.id);
        assert.equal(event.room, "lobby");
        assert.equal(typeof event.ts, "number");
      }
      assert.deepEqual(bodies, Array.from({ length: 50 }, (_, i) => `message ${i}`));
      assert.deepEqual(ids, sent);
    }
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("join and leave events reach the room; who, rooms and users list members", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  await using bob = await Peer.join(server.addr.port, "bob");
  const joined = await alice.request({ type: "join", room: "dev" });
  assert.deepEqual(
    [joined.result.room, joined.result.topic, joined.result.members, joined.result.history],
    ["dev", "", ["alice"], []],
  );
  assert.deepEqual((await bob.request({ type: "join", room: "DEV" })).result.members, [
    "alice",
    "bob",
  ]);
  const join = await alice.next((f) => f.type === "join" && f.nick === "bob");
  assert.equal(join.room, "dev");
  assert.deepEqual((await alice.request({ type: "who", room: "dev" })).result, {
    room: "dev",
    members: ["alice", "bob"],
    total: 2,
  });
  assert.deepEqual((await alice.request({ type: "rooms" })).result, {
    rooms: [{ name: "dev", members: 2, topic: "" }],
    total: 1,
  });
  assert.deepEqual((await alice.request({ type: "users" })).result, {
    users: ["alice", "bob"],
    total: 2,
  });
  assert.equal((await bob.request({ type: "leave", room: "dev" })).type, "ack");
  const leave = await alice.next((f) => f.type === "leave");
  assert.equal(leave.nick, "bob");
  const notIn = await bob.request({ type: "say", room: "dev", body: "hi" });
  assert.equal(notIn.code, "not_in_room");
  bob.close();
  await bob.closed;
  assert.equal((await alice.request({ type: "who", room: "nowhere" })).code, "no_such_room");
});

Deno.test("disconnecting leaves every room with a leave event", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  const bob = await Peer.join(server.addr.port, "bob");
  await alice.request({ type: "join", room: "dev" });
  await bob.request({ type: "join", room: "dev" });
  await bob[Symbol.asyncDispose]();
  const leave = await alice.next((f) => f.type === "leave");
  assert.equal(leave.nick, "bob");
  assert.deepEqual((await alice.request({ type: "users" })).result.users, ["alice"]);
});

Deno.test("direct messages reach the recipient and echo to the sender; unknown users are refused", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  await using bob = await Peer.join(server.addr.port, "bob");
  const ack = await alice.request({ type: "dm", to: "BOB", body: "psst", action: false });
  assert.equal(ack.type, "ack");
  const received = await bob.next((f) => f.type === "dm");
  assert.equal(received.from, "alice");
  assert.equal(received.to, "bob");
  assert.equal(received.body, "psst");
  assert.equal(received.id, ack.result.id);
  assert.equal((await alice.next((f) => f.type === "dm")).body, "psst");
  const missing = await alice.request({ type: "dm", to: "carol", body: "hi" });
  assert.equal(missing.code, "no_such_user");
  assert.match(missing.message, /carol/);
});

Deno.test("/me actions, topics and nick changes are delivered as typed events", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  await using bob = await Peer.join(server.addr.port, "bob");
  await alice.request({ type: "join", room: "dev" });
  await bob.request({ type: "join", room: "dev" });
  await alice.request({ type: "say", room: "dev", body: "waves", action: true });
  const action = await bob.next((f) => f.type === "message");
  assert.equal(action.action, true);
  await alice.request({ type: "topic", room: "dev", topic: "Release day" });
  const topic = await bob.next((f) => f.type === "topic");
  assert.deepEqual([topic.topic, topic.by], ["Release day", "alice"]);
  assert.equal((await bob.request({ type: "topic", room: "dev" })).result.topic, "Release day");
  const renamed = await alice.request({ type: "nick", nick: "alicia" });
  assert.equal(renamed.result.nick, "alicia");
  const nick = await bob.next((f) => f.type === "nick");
  assert.deepEqual([nick.from, nick.to], ["alice", "alicia"]);
  assert.equal((await alice.request({ type: "nick", nick: "BOB" })).code, "name_taken");
  const refused = await alice.request({ type: "broadcast", body: "maintenance at noon" });
  assert.equal(refused.code, "forbidden");
  assert.match(refused.message, /server admin/);
});

Deno.test("nicknames are unique case-insensitively after NFKC", async () => {
  await using server = await listen();
  await using _alice = await Peer.join(server.addr.port, "Alice");
  await using clash = await Peer.connect(server.addr.port);
  clash.send({
    type: "hello",
    protocol: "1.0",
    client: "t",
    clientVersion: "0",
    nick: "ＡＬＩＣＥ",
  });
  const refused = await clash.next();
  assert.equal(refused.code, "name_taken");
  // The connection stays open for another try.
  clash.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "alice2" });
  assert.equal((await clash.next()).type, "welcome");
});

Deno.test("hello is required first, and an unknown major version is refused", async () => {
  await using server = await listen();
  await using early = await Peer.connect(server.addr.port);
  early.send({ type: "join", id: 1, room: "dev" });
  const error = await early.next();
  assert.deepEqual([error.code, error.id], ["hello_required", 1]);
  await early.closed;
  await using future = await Peer.connect(server.addr.port);
  future.send({ type: "hello", protocol: "2.0", client: "t", clientVersion: "0", nick: "neo" });
  const refused = await future.next();
  assert.equal(refused.code, "unsupported_version");
  assert.match(refused.message, /2\.0/);
  await future.closed;
});

Deno.test("bad requests get an error naming the request id and the connection goes on", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  assert.equal((await alice.request({ type: "join", room: "bad room!" })).code, "invalid_room");
  assert.equal(
    (await alice.request({ type: "dm", to: "x\u202Ey", body: "hi" })).code,
    "invalid_name",
  );
  await alice.request({ type: "join", room: "dev" });
  assert.equal(
    (await alice.request({ type: "say", room: "dev", body: "a\u0007b" })).code,
    "invalid_body",
  );
  assert.equal(
    (await alice.request({ type: "say", room: "dev", body: "x".repeat(4001) })).code,
    "invalid_body",
  );
  assert.equal((await alice.request({ type: "launch" })).code, "unknown_command");
  alice.send({ type: "say", room: "dev" });
  assert.equal((await alice.next((f) => f.type === "error")).code, "bad_request");
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
});

Deno.test("an oversized frame is refused from its header, before the payload is sent", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 70_000);
  alice.sendRaw(header);
  const error = await alice.next((f) => f.type === "error");
  assert.equal(error.code, "frame_too_large");
  assert.equal(error.message, "Cannot decode frame: length 70000 exceeds limit 65536");
  const bye = await alice.next((f) => f.type === "bye");
  assert.equal(bye.code, "frame_too_large");
  await alice.closed;
});

Deno.test("the frame cap is configurable", async () => {
  await using server = await listen({ maxFrameBytes: 1024 });
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  alice.send({ type: "say", id: 9, room: "dev", body: "x".repeat(2000) });
  assert.equal((await alice.next((f) => f.type === "error")).code, "frame_too_large");
  await alice.closed;
});

Deno.test("garbage and mutated frames only ever produce typed errors; the server stays up", async () => {
  await using server = await listen({ rateBurst: 10_000, ratePerSecond: 10_000 });
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 40; round++) {
    await using peer = await Peer.join(server.addr.port, `fuzz${round}`);
    const valid = encodeFrame({ type: "say", id: 1, room: "dev", body: "hello" });
    const mutated = valid.slice();
    for (let i = 0; i < 3; i++) {
      mutated[4 + Math.floor(random() * (mutated.length - 4))] = Math.floor(random() * 256);
    }
    const junk = new Uint8Array(Math.floor(random() * 40) + 1).map(() =>
      Math.floor(random() * 256)
    );
    const payload = round % 2 === 0 ? mutated : junk;
    const frame = new Uint8Array(4 + payload.length);
    new DataView(frame.buffer).setUint32(0, round % 2 === 0 ? payload.length - 4 : payload.length);
    frame.set(round % 2 === 0 ? payload.subarray(4) : payload, 4);
    peer.sendRaw(round % 2 === 0 ? frame.subarray(0, payload.length) : frame);
    peer.send({ type: "ping", id: 77 });
    // Either the frame was understood enough to answer, or the connection ended with a typed error.
    try {
      const reply = await peer.next(
        (f) => f.type === "ack" && f.id === 77 || f.type === "bye",
        3000,
      );
      if (reply.type === "bye") assert.match(reply.code, /^[a-z_]+$/);
    } catch (error) {
      assert.match(String(error), /connection closed/);
    }
  }
  await using survivor = await Peer.join(server.addr.port, "survivor");
  assert.equal((await survivor.request({ type: "ping" })).type, "ack");
});

Deno.test("rate limit: excess requests get rate_limited with retry-after; sustained abuse disconnects", async () => {
  await using server = await listen({ rateBurst: 3, ratePerSecond: 1, floodStrikes: 5 });
  await using alice = await Peer.join(server.addr.port, "alice");
  // hello used one token.
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
  const limited = await alice.request({ type: "ping" });
  assert.equal(limited.code, "rate_limited");
  assert.ok(
    limited.retryAfterMs > 0 && limited.retryAfterMs <= 1000,
    `retryAfterMs ${limited.retryAfterMs}`,
  );
  for (let i = 0; i < 10; i++) alice.send({ type: "ping", id: 100 + i });
  const bye = await alice.next((f) => f.type === "bye");
  assert.equal(bye.code, "flood");
  await alice.closed;
});

Deno.test("a client that stops reading is dropped as a slow consumer while others keep receiving", async () => {
  await using server = await listen({
    rateBurst: 100_000,
    ratePerSecond: 100_000,
    maxQueueBytes: 256 * 1024,
  });
  const port = server.addr.port;
  await using sender = await Peer.join(port, "sender");
  await using reader = await Peer.join(port, "reader");
  // A raw connection that says hello, joins, then never reads again.
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await stalled.write(
      encodeFrame({
        type: "hello",
        protocol: "1.0",
        client: "t",
        clientVersion: "0",
        nick: "stalled",
      }),
    );
    await stalled.write(encodeFrame({ type: "join", id: 1, room: "dev" }));
    await sender.request({ type: "join", room: "dev" });
    await reader.request({ type: "join", room: "dev" });
    await sender.next((f) => f.type === "join" && f.nick === "reader");
    const body = "y".repeat(3900);
    let sent = 0;
    let dropped = false;
    // Batches the live reader keeps up with; the stalled one fills its socket and then its queue.
    for (let batch = 0; batch < 200 && !dropped; batch++) {
      for (let i = 0; i < 50; i++) {
        sender.send({ type: "say", id: 1000 + sent++, room: "dev", body });
      }
      for (let i = 0; i < 50; i++) await reader.next((f) => f.type === "message", 10_000);
      dropped = reader.all((f) => f.type === "leave" && f.nick === "stalled").length > 0;
    }
    assert.ok(dropped, `stalled reader not dropped after ${sent} messages`);
    const leave = await reader.next((f) => f.type === "leave");
    assert.equal(leave.reason, "slow consumer");
    // The room goes on for everyone else.
    const after = await sender.request({ type: "say", room: "dev", body: "still here" });
    assert.equal(after.type, "ack");
    assert.equal((await reader.next((f) => f.type === "message")).body, "still here");
    assert.deepEqual((await reader.request({ type: "who", room: "dev" })).result.members, [
      "reader",
      "sender",
    ]);
  } finally {
    stalled.close();
  }
});

Deno.test("connection caps per IP and in total are enforced with a clear reason", async () => {
  await using server = await listen({ maxConnectionsPerIp: 2 });
  await using a = await Peer.join(server.addr.port, "a");
  await using b = await Peer.join(server.addr.port, "b");
  await using c = await Peer.connect(server.addr.port);
  c.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "c" });
  const bye = await c.next();
  assert.equal(bye.type, "bye");
  assert.equal(bye.code, "too_many_connections");
  assert.match(bye.message, /limit 2 per address/);
  await c.closed;
  b.close();
  await b.closed;
  // A freed slot can be used again.
  await waitUntil(() => server.stats.connections === 1);
  await using d = await Peer.join(server.addr.port, "d");
  assert.equal((await a.request({ type: "users" })).result.users.length, 2);
  await using total = await listen({ maxConnections: 1 });
  await using first = await Peer.join(total.addr.port, "first");
  await using text = await TextPeer.connect(total.addr.port);
  text.write("second\n");
  await text.waitFor(/too_many_connections: Server full/);
  assert.equal((await first.request({ type: "ping" })).type, "ack");
  void d;
});

Deno.test("handshake timeout closes a connection that never says hello", async () => {
  await using server = await listen({ handshakeTimeoutMs: 300 });
  await using peer = await Peer.connect(server.addr.port);
  peer.sendRaw(new Uint8Array([0, 0])); // framed mode, but no hello
  const bye = await peer.next((f) => f.type === "bye", 5000);
  assert.equal(bye.code, "handshake_timeout");
  await peer.closed;
});

Deno.test("heartbeat: a peer that never answers pings is dropped within three intervals", async () => {
  await using server = await listen({ heartbeatMs: 100 });
  await using alice = await Peer.join(server.addr.port, "alice");
  await using bob = await Peer.join(server.addr.port, "bob");
  await alice.request({ type: "join", room: "dev" });
  await bob.request({ type: "join", room: "dev" });
  assert.equal((await bob.next((f) => f.type === "ping", 2000)).type, "ping");
  // alice answers pings; bob stays silent.
  const started = Date.now();
  const answering = setInterval(() => alice.send({ type: "pong" }), 50);
  try {
    const leave = await alice.next((f) => f.type === "leave" && f.nick === "bob", 3000);
    assert.match(leave.reason, /no reply to pings/);
    assert.ok(Date.now() - started < 1500, "dropped within a few intervals");
    assert.equal((await alice.request({ type: "ping" })).type, "ack");
  } finally {
    clearInterval(answering);
  }
  await bob.closed;
});

Deno.test("heartbeat: a silent peer is dropped after 3 intervals, not 3 to 4, whatever its phase", async () => {
  await using server = await listen({ heartbeatMs: 1000 });
  // Four silent peers, a quarter interval apart: checked only once an
  // interval, some would last up to 4 intervals.
  const peers: Peer[] = [];
  const drops: Promise<number>[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      const peer = await Peer.join(server.addr.port, `silent${i}`);
      peers.push(peer);
      const spokeAt = Date.now();
      drops.push(peer.closed.then(() => Date.now() - spokeAt));
    }
    const silences = await Promise.all(drops);
    for (const silence of silences) {
      assert.ok(silence >= 2900, `dropped after ${silence} ms of silence, before 3 intervals`);
      // At most 3 intervals plus a quarter (the check's period), plus room for
      // a loaded machine; checked once an interval, one of the four would
      // last past 3.75 intervals.
      assert.ok(silence < 3700, `dropped after ${silence} ms of silence: ${silences.join(", ")}`);
    }
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("plain-text mode: prompt, nickname, slash commands, messages, sanitized output", async () => {
  await using server = await listen({ textPromptDelayMs: 50 });
  await using framed = await Peer.join(server.addr.port, "framed");
  await framed.request({ type: "join", room: "general" });
  await using text = await TextPeer.connect(server.addr.port);
  // Nothing typed yet: the server prompts after a short silence.
  await text.waitFor("Nickname: ");
  text.write("carol\r\n");
  await text.waitFor("Welcome, carol!");
  text.write("/join general\r\nhello from nc\r\n");
  const message = await framed.next((f) => f.type === "message");
  assert.deepEqual([message.from, message.body], ["carol", "hello from nc"]);
  await framed.request({ type: "say", room: "general", body: "hi \u202E carol" });
  await text.waitFor("<framed> hi <U+202E> carol");
  assert.ok(!text.text.includes("\u202E"), "no raw bidi override reaches the text client");
  text.write("/who\n/bogus\n" + "z".repeat(20_000) + "\n/users\n");
  await text.waitFor("--- In #general: carol framed");
  await text.waitFor("! unknown_command");
  await text.waitFor("! frame_too_large: Line exceeds limit of 16384 bytes");
  await text.waitFor("--- Online: carol framed");
  text.write("/quit\n");
  await text.closed;
});

Deno.test("plain-text mode works for a client that types before any prompt", async () => {
  await using server = await listen({ textPromptDelayMs: 5000 });
  await using text = await TextPeer.connect(server.addr.port);
  text.write("dave\n/join dev\n/me waves\n");
  await text.waitFor("* dave waves");
});

Deno.test("shutdown tells every client, flushes and closes", async () => {
  const server = await listen();
  const alice = await Peer.join(server.addr.port, "alice");
  const text = await TextPeer.connect(server.addr.port);
  text.write("tina\n");
  await text.waitFor("Welcome");
  await server.shutdown();
  assert.equal((await alice.next((f) => f.type === "bye")).code, "server_shutdown");
  await alice.closed;
  await text.closed;
  assert.match(text.text, /Closing: server_shutdown/);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
});

async function waitUntil(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
