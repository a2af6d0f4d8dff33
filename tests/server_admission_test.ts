/**
 * A connection's first moments over real TCP: its first byte decides its
 * mode (never a timer), a silent peer is greeted and then closed at the
 * handshake timeout, and connections that have not logged in are capped
 * per address.
 */
import assert from "node:assert/strict";
import { FrameConnection } from "../client/frame_connection.ts";
import { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { textGreeting } from "../server/session/text_session.ts";
import { encodeFrame } from "../shared/frame.ts";
import { MAX_GREETING_BYTES } from "../shared/greeting_filter.ts";
import { PROTOCOL_VERSION, type ServerFrame } from "../shared/protocol.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";

const GREETING = new TextDecoder().decode(textGreeting());

function listen(options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return ChatServer.listen({ host: "127.0.0.1", port: 0, textPromptDelayMs: 100, ...options });
}

function hello(nick: string): Uint8Array {
  return encodeFrame({
    type: "hello",
    protocol: PROTOCOL_VERSION,
    client: "test",
    clientVersion: "0",
    nick,
  });
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rejects if `promise` has not settled within `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the greeting holds no 0x00 byte and fits the greeting limit", () => {
  const bytes = textGreeting();
  assert.equal(bytes.indexOf(0), -1);
  assert.ok(bytes.length <= MAX_GREETING_BYTES, `${bytes.length} bytes`);
  assert.ok(GREETING.endsWith("Nickname: "));
});

Deno.test("join storm on a busy server: every framed client gets welcome", async () => {
  const clients = 200;
  await using server = await listen({
    maxConnectionsPerIp: clients,
    maxHandshakesPerIp: clients,
  });
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < clients; i++) {
    conns.push(await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
  }
  const peers = conns.map((conn) => new Peer(conn));
  try {
    // Every connection accepted: each waits for its first bytes.
    await waitUntil(() => server.stats.connections === clients);
    conns.forEach((conn, i) => conn.write(hello(`storm${i}`)).catch(() => {}));
    // The load itself, not a wait for anything: the event loop stays busy
    // past the prompt delay while every hello is already waiting, so each
    // connection's prompt timer is due before its read is seen.
    const busyUntil = performance.now() + 300;
    while (performance.now() < busyUntil) { /* busy */ }
    const replies = await Promise.all(
      peers.map((peer) => peer.next((f) => f.type === "welcome" || f.type === "bye")),
    );
    const refused = replies.filter((f) => f.type !== "welcome");
    assert.deepEqual(refused, [], `${refused.length} of ${clients} framed clients got no welcome`);
    // The race the storm is about did happen: the greeting went out first.
    const greeted = peers.filter((peer) => peer.greeting.discarded > 0).length;
    assert.ok(greeted > 0, "no client was greeted: the storm did not reach the prompt delay");
    assert.equal(server.stats.handshakes, 0);
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("a framed client whose hello comes after the greeting is served as framed", async () => {
  await using server = await listen();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  // Read the whole greeting before saying anything, as a slow client would.
  const buffer = new Uint8Array(MAX_GREETING_BYTES);
  let greeting = "";
  while (!greeting.endsWith("Nickname: ")) {
    const count = await conn.read(buffer.subarray(greeting.length));
    assert.notEqual(count, null, `closed after ${JSON.stringify(greeting)}`);
    greeting = new TextDecoder().decode(buffer.subarray(0, greeting.length + count!));
  }
  assert.equal(greeting, GREETING);
  await using peer = new Peer(conn);
  peer.sendRaw(hello("late"));
  assert.equal((await peer.next((f) => f.type === "welcome" || f.type === "bye")).type, "welcome");
  assert.equal((await peer.request({ type: "join", room: "dev" })).type, "ack");
});

Deno.test("the client skips the greeting of a server it was slow to greet", async () => {
  await using server = await listen();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  let arrived: () => void = () => {};
  const greeted = new Promise<void>((resolve) => arrived = resolve);
  // The real client over the real socket; the wrapper only tells when bytes came.
  const connection = new FrameConnection({
    read: async (buffer) => {
      const count = await conn.read(buffer);
      arrived();
      return count;
    },
    write: (data) => conn.write(data),
    close: () => conn.close(),
  });
  const frames: ServerFrame[] = [];
  const ended = connection.run((frame) => frames.push(frame));
  await within(5000, greeted, "greeting");
  connection.send({
    type: "hello",
    protocol: PROTOCOL_VERSION,
    client: "test",
    clientVersion: "0",
    nick: "slowpoke",
  });
  await waitUntil(() => frames.some((f) => f.type === "welcome") || connection.closed);
  assert.deepEqual(frames.map((f) => f.type), ["welcome"]);
  connection.close();
  assert.equal((await ended).reason, "connection closed");
});

Deno.test("a silent peer is greeted, then closed at the handshake timeout with a closing line", async () => {
  await using server = await listen({ handshakeTimeoutMs: 400, textHandshakeTimeoutMs: 60_000 });
  const started = Date.now();
  await using peer = await TextPeer.connect(server.addr.port);
  await within(5000, peer.closed, "closing a silent peer");
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 350, `closed after ${elapsed} ms`);
  assert.equal(
    peer.text,
    GREETING + "*** Closing: handshake_timeout: Nothing received within 400 ms\r\n",
  );
  await waitUntil(() => server.stats.connections === 0);
});

Deno.test("a silent peer is closed at the handshake timeout even before the greeting", async () => {
  await using server = await listen({ handshakeTimeoutMs: 200, textPromptDelayMs: 5000 });
  await using peer = await TextPeer.connect(server.addr.port);
  await within(5000, peer.closed, "closing a silent peer");
  assert.equal(peer.text, "*** Closing: handshake_timeout: Nothing received within 200 ms\r\n");
});

Deno.test("an nc user is greeted once, logs in and chats", async () => {
  await using server = await listen({ handshakeTimeoutMs: 300, textHandshakeTimeoutMs: 60_000 });
  await using framed = await Peer.join(server.addr.port, "framed");
  await framed.request({ type: "join", room: "general" });
  await using nc = await TextPeer.connect(server.addr.port);
  await nc.waitFor("Nickname: ");
  nc.write("carol\n");
  await nc.waitFor("Welcome, carol!");
  assert.equal(nc.text.split("plain-text mode").length, 2, "one banner");
  assert.ok(nc.text.startsWith(GREETING));
  nc.write("/join general\nhello from nc\n");
  const message = await framed.next((f) => f.type === "message");
  assert.deepEqual([message.from, message.body], ["carol", "hello from nc"]);
});

Deno.test("an nc user who typed a nickname has the plain-text login timeout for the password", async () => {
  await using server = await listen({
    handshakeTimeoutMs: 300,
    textHandshakeTimeoutMs: 60_000,
    kdfLogN: 10,
    // The login deadlines are checked at each tick: every 100 ms with this.
    heartbeatMs: 100,
  });
  await server.accounts.create("dora", "correct horse battery");
  await using nc = await TextPeer.connect(server.addr.port);
  await nc.waitFor("Nickname: ");
  nc.write("dora\n");
  await nc.waitFor("Password for dora: ");
  // A person looking for the password: longer than the framed handshake timeout.
  await new Promise((resolve) => setTimeout(resolve, 600));
  nc.write("correct horse battery\n");
  await nc.waitFor("Welcome, dora!");
});

Deno.test("a silent peer does not hold up shutdown", async () => {
  const server = await listen({ handshakeTimeoutMs: 30_000 });
  const peer = await TextPeer.connect(server.addr.port);
  await peer.waitFor("Nickname: ");
  await within(5000, server.shutdown(), "shutdown");
  await peer.closed;
  assert.equal(peer.text, GREETING + "*** Closing: server_shutdown: Server is shutting down\r\n");
});

/** Connects and says hello as `nick`; resolves to the reply (welcome, or bye when refused). */
async function helloReply(port: number, nick: string): Promise<Frame> {
  await using peer = await Peer.connect(port);
  peer.sendRaw(hello(nick));
  return await peer.next((f) => f.type === "welcome" || f.type === "bye");
}

Deno.test("connections not logged in are capped per address; logged-in ones are not", async () => {
  await using server = await listen({ maxHandshakesPerIp: 2, maxConnectionsPerIp: 10 });
  const port = server.addr.port;
  // Logged in: they do not count against the handshake cap.
  const members: Peer[] = [];
  for (let i = 0; i < 4; i++) members.push(await Peer.join(port, `member${i}`));
  try {
    await using silent = await TextPeer.connect(port);
    await using typing = await TextPeer.connect(port);
    await typing.waitFor("Nickname: ");
    typing.write("t"); // Bytes, but no login yet.
    await waitUntil(() => server.stats.handshakes === 2);
    const refused = await helloReply(port, "third");
    assert.equal(refused.type, "bye");
    assert.equal(refused.code, "too_many_connections");
    assert.equal(
      refused.message,
      "Too many connections logging in from 127.0.0.1: limit 2 per address",
    );
    // Logged in: its slot among the handshakes is free.
    typing.write("ype\n");
    await typing.waitFor("Welcome, type!");
    assert.equal((await helloReply(port, "fourth")).type, "welcome");
    // A peer that leaves before logging in frees its slot too.
    await waitUntil(() => server.stats.handshakes === 1);
    await using another = await TextPeer.connect(port);
    await waitUntil(() => server.stats.handshakes === 2);
    assert.equal((await helloReply(port, "fifth")).code, "too_many_connections");
    silent.close();
    await silent.closed;
    await waitUntil(() => server.stats.handshakes === 1);
    assert.equal((await helloReply(port, "sixth")).type, "welcome");
    assert.ok(another);
  } finally {
    for (const member of members) await member[Symbol.asyncDispose]();
  }
});
