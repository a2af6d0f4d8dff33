/**
 * ChatClient against a scripted in-process server over real TCP, so each
 * protocol situation (refusals, errors, goodbyes, drops) can be staged exactly.
 */
import assert from "node:assert/strict";
import { ChatClient, type ChatClientOptions } from "../client/chat_client.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { ConnectionClosedError } from "../client/connection_closed_error.ts";
import { runPiped } from "../client/piped_mode.ts";
import { ReadMarker } from "../client/read_marker.ts";
import { ChatError } from "../shared/errors.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { PROTOCOL_VERSION, type ServerLimits } from "../shared/protocol.ts";
import { VERSION } from "../shared/version.ts";

// deno-lint-ignore no-explicit-any
type Frame = Record<string, any>;

const LIMITS: ServerLimits = {
  maxFrameBytes: 65536,
  maxBodyLength: 4000,
  maxQueueBytes: 1 << 20,
  rateBurst: 1000,
  ratePerSecond: 1000,
  heartbeatMs: 0,
};

/** One accepted connection, seen from the server side. */
class FakePeer {
  readonly conn: Deno.TcpConn;
  readonly received: Frame[] = [];
  readonly done: Promise<void>;
  #scanned = 0;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder();
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        for (const value of decoder.push(buffer.subarray(0, count))) {
          this.received.push(value as Frame);
        }
        this.#wake?.();
      }
    } catch {
      // Closed under us.
    } finally {
      this.close();
      this.#wake?.();
    }
  }

  /** The next received frame (after the ones already taken) matching `predicate`. */
  async next(predicate: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#scanned < this.received.length) {
        const frame = this.received[this.#scanned++]!;
        if (predicate(frame)) return frame;
      }
      if (this.#closed) throw new Error("peer closed while waiting for a frame");
      if (Date.now() > deadline) throw new Error("timed out waiting for a frame");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, 50);
      });
      clearTimeout(timer);
    }
  }

  send(frame: Frame): void {
    if (this.#closed) return;
    const bytes = encodeFrame(frame);
    // Small frames: one write is enough on loopback.
    void this.conn.write(bytes).catch(() => {});
  }

  /** Waits for hello and answers welcome (with `fields` added); returns the hello. */
  async welcome(limits: Partial<ServerLimits> = {}, fields: Frame = {}): Promise<Frame> {
    const hello = await this.next((frame) => frame.type === "hello");
    this.send({
      type: "welcome",
      protocol: PROTOCOL_VERSION,
      server: "fake/0",
      session: "s1",
      nick: hello.nick,
      limits: { ...LIMITS, ...limits },
      ...fields,
    });
    return hello;
  }

  /**
   * Waits for a request of `type` and acks it with the result a server
   * would send (docs/protocol.md, section 8), `result` set on top.
   */
  async ack(type: string, result: Frame = {}): Promise<Frame> {
    const request = await this.next((frame) => frame.type === type);
    this.send({ type: "ack", id: request.id, result: { ...resultFor(request), ...result } });
    return request;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** The least result a server sends for `request`: what section 8 says it holds. */
function resultFor(request: Frame): Frame {
  const room = typeof request.room === "string" ? request.room.replace(/^#/, "") : "";
  switch (request.type) {
    case "join":
      return { room, topic: "", members: [], lastId: 0, history: [] };
    case "leave":
      return { room };
    case "who":
      return { room, members: [], total: 0 };
    case "users":
      return { users: [], total: 0 };
    case "rooms":
      return { rooms: [], total: 0 };
    case "topic":
      return { room, topic: request.topic ?? "" };
    case "say":
    case "dm":
      return { id: 1, ts: 1 };
    case "broadcast":
    case "ping":
      return { ts: 1 };
    case "nick":
    case "register":
      return { nick: request.nick ?? "alice" };
    case "read":
      return { with: request.with, upTo: request.upTo };
    case "history":
      return { room, messages: [] };
    case "dm_history":
      return { with: request.with, messages: [] };
    default:
      return {};
  }
}

/** A listener that hands out accepted connections in order. */
class FakeServer implements AsyncDisposable {
  readonly listener: Deno.TcpListener;
  readonly peers: FakePeer[] = [];
  #accepting: Promise<void>;
  #taken = 0;
  #wake: (() => void) | undefined;

  constructor(listener: Deno.TcpListener) {
    this.listener = listener;
    this.#accepting = this.#accept();
  }

  static start(port = 0): FakeServer {
    return new FakeServer(Deno.listen({ hostname: "127.0.0.1", port }));
  }

  get port(): number {
    return this.listener.addr.port;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        this.peers.push(new FakePeer(conn));
        this.#wake?.();
      }
    } catch {
      // Listener closed.
    }
  }

  /** The next connection not yet taken. */
  async nextPeer(timeoutMs = 5000): Promise<FakePeer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#taken >= this.peers.length) {
      if (Date.now() > deadline) throw new Error("timed out waiting for a connection");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, 50);
      });
      clearTimeout(timer);
    }
    return this.peers[this.#taken++]!;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    await this.#accepting;
    for (const peer of this.peers) peer.close();
    await Promise.all(this.peers.map((peer) => peer.done));
  }
}

/** Connects a client while the fake server completes the handshake. */
async function connect(
  server: FakeServer,
  options: Partial<ChatClientOptions> = {},
  limits: Partial<ServerLimits> = {},
): Promise<{ client: ChatClient; peer: FakePeer; hello: Frame }> {
  const connecting = ChatClient.connect({
    hostname: "127.0.0.1",
    port: server.port,
    nick: "alice",
    reconnect: { initialDelayMs: 10, maxDelayMs: 40 },
    closeTimeoutMs: 200,
    ...options,
  });
  const peer = await server.nextPeer();
  const hello = await peer.welcome(limits);
  return { client: await connecting, peer, hello };
}

/** Collects events into an array until the client closes. */
function collect(client: ChatClient): { events: ClientEvent[]; done: Promise<void> } {
  const events: ClientEvent[] = [];
  const done = (async () => {
    for await (const event of client) events.push(event);
  })();
  return { events, done };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("ChatClient says hello with protocol, client name, version and nick", async () => {
  await using server = FakeServer.start();
  const { client, hello } = await connect(server, { nick: "ａｌｉｃｅ" });
  assert.deepEqual(hello, {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    client: "chat",
    clientVersion: VERSION,
    nick: "ａｌｉｃｅ",
  });
  assert.equal(client.state, "connected");
  assert.equal(client.welcome.server, "fake/0");
  await client.close();
  assert.equal(client.state, "closed");
  assert.equal(await client.closed, undefined);
});

Deno.test("ChatClient.connect rejects with the server's error on a refused hello", async () => {
  await using server = FakeServer.start();
  const connecting = ChatClient.connect({ port: server.port, nick: "alice" });
  const peer = await server.nextPeer();
  await peer.next((frame) => frame.type === "hello");
  peer.send({ type: "error", code: "name_taken", message: "Nickname alice is already in use" });
  await assert.rejects(connecting, (error: unknown) => {
    assert.ok(error instanceof ChatError);
    assert.equal(error.code, "name_taken");
    assert.equal(error.message, "Nickname alice is already in use");
    return true;
  });
  // The client hangs up itself: the server does not close after name_taken.
  await peer.done;
});

Deno.test("ChatClient.connect refuses a server with another major protocol version", async () => {
  await using server = FakeServer.start();
  const connecting = ChatClient.connect({ port: server.port, nick: "alice" });
  const peer = await server.nextPeer();
  await peer.next((frame) => frame.type === "hello");
  peer.send({
    type: "welcome",
    protocol: "2.0",
    server: "future",
    session: "s",
    nick: "alice",
    limits: LIMITS,
  });
  await assert.rejects(connecting, (error: unknown) => {
    assert.ok(error instanceof ChatError);
    assert.equal(error.code, "unsupported_version");
    assert.match(error.message, /server speaks protocol 2\.0/);
    return true;
  });
  await peer.done;
});

Deno.test("ChatClient sends the password in hello when given one", async () => {
  await using server = FakeServer.start();
  const { client, hello } = await connect(server, { password: "s3cret" });
  assert.equal(hello.password, "s3cret");
  await client.close();
});

Deno.test("ChatClient.connect rejects when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(ChatClient.connect({ port, nick: "alice" }), Deno.errors.ConnectionRefused);
});

Deno.test("ChatClient.connect times out without a welcome", async () => {
  await using server = FakeServer.start();
  const connecting = ChatClient.connect({ port: server.port, nick: "alice", helloTimeoutMs: 100 });
  await server.nextPeer();
  await assert.rejects(connecting, ConnectionClosedError);
});

Deno.test("ChatClient.request resolves on its ack and rejects on its error, with increasing ids", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = client.request({ type: "join", room: "#General" });
  const join = await peer.ack("join", { room: "General", topic: "", members: ["alice"] });
  assert.deepEqual(await joined, {
    room: "General",
    topic: "",
    members: ["alice"],
    lastId: 0,
    history: [],
  });
  assert.deepEqual(client.rooms, ["General"]);

  const first = client.request({ type: "say", room: "nope", body: "hi" });
  const second = client.request({ type: "users" });
  const say = await peer.next((frame) => frame.type === "say");
  const users = await peer.next((frame) => frame.type === "users");
  assert.ok(say.id > join.id && users.id > say.id);
  // Replies out of order still reach the right request.
  peer.send({ type: "ack", id: users.id, result: { users: ["alice"], total: 1 } });
  peer.send({ type: "error", id: say.id, code: "not_in_room", message: "You are not in #nope" });
  assert.deepEqual(await second, { users: ["alice"], total: 1 });
  await assert.rejects(
    first,
    (error: unknown) => error instanceof ChatError && error.code === "not_in_room",
  );
  await client.close();
});

Deno.test("ChatClient answers ping with pong and yields events in order", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { events, done } = collect(client);
  peer.send({ type: "ping" });
  await peer.next((frame) => frame.type === "pong");
  peer.send({ type: "message", room: "general", from: "bob", body: "one", id: 1, ts: 1 });
  peer.send({ type: "join", room: "general", nick: "carol", ts: 2 });
  peer.send({ type: "notice", body: "hello all", ts: 3 });
  peer.send({ type: "future_frame_type", x: 1 });
  peer.send({ type: "message", room: "general", from: "bob", body: "two", id: 2, ts: 4 });
  await until(() => events.length === 4);
  await client.close();
  await done;
  assert.deepEqual(events.map((event) => event.type), ["message", "join", "notice", "message"]);
});

Deno.test("ChatClient tracks its nickname and rooms from acks and events", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const renamed = client.request({ type: "nick", nick: "Alicia" });
  await peer.ack("nick", { nick: "Alicia" });
  await renamed;
  assert.equal(client.nick, "Alicia");
  const joined = client.request({ type: "join", room: "general" });
  await peer.ack("join", { room: "general" });
  await joined;
  // Renamed and removed by the server, not by our request.
  const { events, done } = collect(client);
  peer.send({ type: "nick", from: "alicia", to: "Ally", ts: 1 });
  peer.send({ type: "leave", room: "general", nick: "Ally", ts: 2, reason: "kicked" });
  await until(() => events.length === 2);
  assert.equal(client.nick, "Ally");
  assert.deepEqual(client.rooms, []);
  await client.close();
  await done;
});

Deno.test("ChatClient.close sends quit with the reason and ends the event stream", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { done } = collect(client);
  const closing = client.close("bye now");
  const quit = await peer.next((frame) => frame.type === "quit");
  assert.equal(quit.reason, "bye now");
  peer.send({ type: "bye", code: "server_shutdown", message: "Goodbye" });
  peer.close();
  await closing;
  await done;
  await assert.rejects(client.request({ type: "users" }), ConnectionClosedError);
});

Deno.test("ChatClient works with await using", async () => {
  await using server = FakeServer.start();
  let peer: FakePeer;
  {
    const connected = await connect(server);
    peer = connected.peer;
    await using _client = connected.client;
  }
  await peer.next((frame) => frame.type === "quit");
});

Deno.test("ChatClient reconnects after a drop, rejoins its rooms and says so", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = Promise.all([
    client.request({ type: "join", room: "general" }),
    client.request({ type: "join", room: "random" }),
  ]);
  await peer.ack("join", { room: "general" });
  await peer.ack("join", { room: "random" });
  await joined;
  const { events, done } = collect(client);

  peer.send({ type: "bye", code: "slow_consumer", message: "Too slow" });
  peer.close();
  const second = await server.nextPeer();
  const hello = await second.welcome();
  assert.equal(hello.nick, "alice");
  const rejoins = [
    await second.ack("join", { room: "general" }),
    await second.ack("join", { room: "random" }),
  ];
  assert.deepEqual(rejoins.map((frame) => frame.room), ["general", "random"]);
  await until(() => events.some((event) => event.type === "reconnected"));
  assert.equal(client.state, "connected");

  const types = events.map((event) => event.type);
  assert.deepEqual(types.slice(0, 2), ["bye", "reconnecting"]);
  const reconnected = events.find((event) => event.type === "reconnected");
  assert.deepEqual(reconnected?.type === "reconnected" && reconnected.rooms, ["general", "random"]);

  // Requests work on the new connection.
  const users = client.request({ type: "users" });
  await second.ack("users", { users: ["alice"], total: 1 });
  assert.deepEqual(await users, { users: ["alice"], total: 1 });
  await client.close();
  await done;
});

Deno.test("ChatClient rejoins with since and shows the messages it missed", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = client.request({ type: "join", room: "general" });
  await peer.ack("join", { room: "general", lastId: 5, history: [] });
  await joined;
  const { events, done } = collect(client);
  peer.send({ type: "message", room: "general", from: "bob", body: "six", id: 6, ts: 6 });
  await until(() => events.length === 1);
  peer.close();

  const second = await server.nextPeer();
  await second.welcome();
  const rejoin = await second.next((frame) => frame.type === "join");
  assert.equal(rejoin.since, 6);
  const missed = [7, 8].map((id) => ({
    type: "message",
    room: "general",
    from: "bob",
    body: `missed ${id}`,
    id,
    ts: id,
    history: true,
  }));
  second.send({
    type: "ack",
    id: rejoin.id,
    result: { room: "general", topic: "", members: ["alice"], lastId: 8, history: missed },
  });
  second.send({ type: "message", room: "general", from: "bob", body: "live", id: 9, ts: 9 });
  await until(() => events.some((event) => event.type === "message" && event.body === "live"));
  const shown = events.map((event) =>
    event.type === "message" ? event.body : event.type === "reconnected" ? "reconnected" : null
  ).filter((text) => text !== null);
  assert.deepEqual(shown, ["six", "missed 7", "missed 8", "reconnected", "live"]);
  await client.close();
  await done;
});

Deno.test("ChatClient refuses a result that is not what the request gets, with bad_frame", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = client.request({ type: "join", room: "general" });
  const join = await peer.next((frame) => frame.type === "join");
  // No lastId, no history: not a join result (section 8).
  peer.send({ type: "ack", id: join.id, result: { room: "general", topic: "", members: [] } });
  await assert.rejects(joined, (error: unknown) => {
    assert.ok(error instanceof ChatError);
    assert.equal(error.code, "bad_frame");
    assert.match(error.message, /Invalid join result: "lastId" must be a number/);
    return true;
  });
  // Not joined, and the session goes on.
  assert.deepEqual(client.rooms, []);
  const users = client.request({ type: "users" });
  await peer.ack("users", { users: ["alice"], total: 1 });
  assert.deepEqual(await users, { users: ["alice"], total: 1 });
  await client.close();
});

Deno.test("ChatClient rejoins rooms a shutting-down server said it left, but not a room it was kicked from", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  for (const room of ["general", "random", "ops"]) {
    const joined = client.request({ type: "join", room });
    await peer.ack("join", { room });
    await joined;
  }
  const { events, done } = collect(client);
  peer.send({ type: "leave", room: "ops", nick: "alice", ts: 1, reason: "kicked by bob" });
  peer.send({ type: "notice", room: "ops", body: "bob kicked alice", ts: 1 });
  // What a server shutting down sends: a leave for each room, then bye.
  peer.send({
    type: "leave",
    room: "general",
    nick: "alice",
    ts: 2,
    reason: "Server is shutting down",
  });
  peer.send({
    type: "leave",
    room: "random",
    nick: "alice",
    ts: 2,
    reason: "Server is shutting down",
  });
  peer.send({ type: "bye", code: "server_shutdown", message: "Server is shutting down" });
  peer.close();
  const second = await server.nextPeer();
  await second.welcome();
  await second.ack("join", { room: "general" });
  await second.ack("join", { room: "random" });
  await until(() => events.some((event) => event.type === "reconnected"));
  assert.deepEqual(client.rooms.toSorted(), ["general", "random"]);
  assert.equal(second.received.filter((frame) => frame.type === "join").length, 2);
  await client.close();
  await done;
});

Deno.test("ChatClient does not rejoin a room it was kicked from just before a shutdown", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  for (const room of ["general", "ops"]) {
    const joined = client.request({ type: "join", room });
    await peer.ack("join", { room });
    await joined;
  }
  const { events, done } = collect(client);
  // The kick is the last thing before the shutdown's leaves: its reason tells it apart.
  peer.send({ type: "leave", room: "ops", nick: "alice", ts: 1, reason: "kicked by bob" });
  peer.send({
    type: "leave",
    room: "general",
    nick: "alice",
    ts: 2,
    reason: "Server is shutting down",
  });
  peer.send({ type: "bye", code: "server_shutdown", message: "Server is shutting down" });
  peer.close();
  const second = await server.nextPeer();
  await second.welcome();
  await second.ack("join", { room: "general" });
  await until(() => events.some((event) => event.type === "reconnected"));
  assert.deepEqual(client.rooms, ["general"]);
  assert.equal(second.received.filter((frame) => frame.type === "join").length, 1);
  await client.close();
  await done;
});

Deno.test("ChatClient says what a rejoin could not replay: lost ids, and more to page for", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = client.request({ type: "join", room: "general" });
  await peer.ack("join", { room: "general", lastId: 2, history: [] });
  await joined;
  const { events, done } = collect(client);
  peer.close();
  const second = await server.nextPeer();
  await second.welcome();
  const rejoin = await second.next((frame) => frame.type === "join");
  assert.equal(rejoin.since, 2);
  const replayed = [8, 9].map((id) => ({
    type: "message",
    room: "general",
    from: "bob",
    body: `m${id}`,
    id,
    ts: id,
    history: true,
  }));
  second.send({
    type: "ack",
    id: rejoin.id,
    result: {
      room: "general",
      topic: "",
      members: ["alice"],
      lastId: 20,
      history: replayed,
      gap: { after: 2, oldest: 8 },
      more: true,
    },
  });
  await until(() => events.some((event) => event.type === "reconnected"));
  const shown = events.flatMap((event) =>
    event.type === "notice"
      ? [`notice #${event.room}: ${event.body}`]
      : event.type === "message"
      ? [event.body]
      : []
  );
  assert.deepEqual(shown, [
    "notice #general: Messages 3 to 7 of #general are too old to recover",
    "m8",
    "m9",
    "notice #general: More was missed in #general than the server replays at once: /history after 9",
  ]);
  // The next rejoin asks from what was actually delivered.
  second.close();
  const third = await server.nextPeer();
  await third.welcome();
  assert.equal((await third.next((frame) => frame.type === "join")).since, 9);
  await client.close();
  await done;
});

Deno.test("ChatClient logs in with the password it registered when it reconnects", async () => {
  await using server = FakeServer.start();
  const { client, peer, hello } = await connect(server);
  assert.equal("password" in hello, false);
  assert.equal(client.hasAccount, false);
  const registered = client.request({ type: "register", password: "hunter22" });
  await peer.ack("register", { nick: "alice" });
  await registered;
  assert.equal(client.hasAccount, true);
  const { done } = collect(client);
  peer.close();
  const second = await server.nextPeer();
  const again = await second.next((frame) => frame.type === "hello");
  assert.equal(again.password, "hunter22");
  second.send({
    type: "welcome",
    protocol: PROTOCOL_VERSION,
    server: "fake/0",
    session: "s2",
    nick: "alice",
    limits: LIMITS,
    account: { admin: false },
  });
  await until(() => client.state === "connected");
  assert.equal(client.hasAccount, true);
  await client.close();
  await done;
});

Deno.test("ChatClient keeps the leaves caused by its own quit out of the event stream", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = client.request({ type: "join", room: "general" });
  await peer.ack("join", { room: "general" });
  await joined;
  const { events, done } = collect(client);
  peer.send({ type: "leave", room: "general", nick: "bob", ts: 1, reason: "quit" });
  await until(() => events.length === 1);
  const closing = client.close();
  await peer.next((frame) => frame.type === "quit");
  peer.send({ type: "leave", room: "general", nick: "alice", ts: 2, reason: "quit" });
  peer.send({ type: "bye", code: "quit", message: "Goodbye" });
  peer.close();
  await closing;
  await done;
  assert.deepEqual(events.map((event) => event.type === "leave" && event.nick), ["bob"]);
});

Deno.test("ReadMarker tells an account's server the newest DM shown per peer, once", async () => {
  await using server = FakeServer.start();
  const connecting = ChatClient.connect({ port: server.port, nick: "alice", reconnect: false });
  const peer = await server.nextPeer();
  await peer.next((frame) => frame.type === "hello");
  peer.send({
    type: "welcome",
    protocol: PROTOCOL_VERSION,
    server: "fake/0",
    session: "s1",
    nick: "alice",
    limits: LIMITS,
    account: { admin: false },
  });
  const client = await connecting;
  const marker = new ReadMarker(client, { delayMs: 10 });
  const dm = (id: number, from: string, to: string) =>
    ({ type: "dm", from, to, body: "x", id, ts: id, history: true }) as const;
  for (
    const event of [dm(3, "bob", "alice"), dm(5, "bob", "alice"), dm(4, "carol", "alice")]
  ) {
    marker.shown(event);
  }
  // Our own messages, echoed, are not something to read.
  marker.shown(dm(6, "alice", "bob"));
  const reads = [
    await peer.ack("read", { with: "bob", upTo: 5 }),
    await peer.ack("read", { with: "carol", upTo: 4 }),
  ];
  assert.deepEqual(reads.map((frame) => [frame.with, frame.upTo]), [["bob", 5], ["carol", 4]]);
  marker.shown(dm(5, "bob", "alice"));
  await marker.flush();
  assert.equal(peer.received.filter((frame) => frame.type === "read").length, 2);
  // A view that knows what is on screen says so directly (the full-screen client).
  marker.read("bob", 4);
  marker.read("alice", 9);
  marker.read("Bob", 8);
  const direct = await peer.ack("read", { with: "Bob", upTo: 8 });
  assert.deepEqual([direct.with, direct.upTo], ["Bob", 8]);
  await marker.flush();
  assert.equal(peer.received.filter((frame) => frame.type === "read").length, 3);
  await client.close();
});

Deno.test("ChatClient fails unsafe requests in flight at a drop and replays safe ones", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { done } = collect(client);
  const topic = client.request({ type: "topic", room: "general", topic: "maybe set" });
  const who = client.request({ type: "who", room: "general" });
  await peer.next((frame) => frame.type === "who");
  peer.close();

  await assert.rejects(topic, (error: unknown) => {
    assert.ok(error instanceof ConnectionClosedError);
    assert.match(error.message, /topic #general/);
    return true;
  });
  // Sent while reconnecting: waits for the new connection.
  const users = client.request({ type: "users" });
  const second = await server.nextPeer();
  await second.welcome();
  await second.ack("who", { room: "general", members: ["alice"], total: 1 });
  await second.ack("users", { users: ["alice"], total: 1 });
  assert.deepEqual(await who, { room: "general", members: ["alice"], total: 1 });
  assert.deepEqual(await users, { users: ["alice"], total: 1 });
  // The topic was not sent twice.
  assert.equal(second.received.some((frame) => frame.type === "topic"), false);
  await client.close();
  await done;
});

Deno.test("ChatClient sends says and DMs with a clientMsgId and resends them under it after a drop", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { done } = collect(client);
  const say = client.request({ type: "say", room: "general", body: "maybe delivered" });
  const dm = client.request({ type: "dm", to: "bob", body: "psst" });
  const own = client.request({ type: "say", room: "general", body: "mine", clientMsgId: "k-1" });
  const sent = [
    await peer.next((frame) => frame.type === "say"),
    await peer.next((frame) => frame.type === "dm"),
    await peer.next((frame) => frame.type === "say"),
  ];
  const ids = sent.map((frame) => frame.clientMsgId);
  assert.match(ids[0], /^[0-9a-f-]{36}$/);
  assert.match(ids[1], /^[0-9a-f-]{36}$/);
  assert.notEqual(ids[0], ids[1]);
  assert.equal(ids[2], "k-1");
  peer.close();

  const second = await server.nextPeer();
  await second.welcome();
  const resent = [
    await second.next((frame) => frame.type === "say"),
    await second.next((frame) => frame.type === "dm"),
    await second.next((frame) => frame.type === "say"),
  ];
  assert.deepEqual(resent.map((frame) => frame.clientMsgId), ids);
  assert.deepEqual(resent.map((frame) => frame.body), ["maybe delivered", "psst", "mine"]);
  for (const frame of resent) {
    second.send({ type: "ack", id: frame.id, result: { id: 7, ts: 1, duplicate: true } });
  }
  assert.deepEqual(await say, { id: 7, ts: 1, duplicate: true });
  assert.deepEqual(await dm, { id: 7, ts: 1, duplicate: true });
  assert.deepEqual(await own, { id: 7, ts: 1, duplicate: true });
  await client.close();
  await done;
});

Deno.test("ChatClient reconnects with the resume token of its last welcome", async () => {
  await using server = FakeServer.start();
  const connecting = ChatClient.connect({
    hostname: "127.0.0.1",
    port: server.port,
    nick: "alice",
    reconnect: { initialDelayMs: 10, maxDelayMs: 40 },
    closeTimeoutMs: 200,
  });
  const peer = await server.nextPeer();
  const first = await peer.welcome({}, { resume: "first-token-0123456789" });
  assert.equal(first.resume, undefined, "the first hello has no token to give");
  const client = await connecting;
  peer.close();
  const second = await server.nextPeer();
  assert.equal(
    (await second.welcome({}, { resume: "second-token-012345678" })).resume,
    "first-token-0123456789",
  );
  await until(() => client.state === "connected");
  second.close();
  const third = await server.nextPeer();
  assert.equal((await third.welcome()).resume, "second-token-012345678");
  await client.close();
});

Deno.test("ChatClient stops when a new connection took its session over", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  peer.send({ type: "bye", code: "replaced", message: "A new connection took this session over" });
  peer.close();
  const error = await client.closed;
  assert.ok(error instanceof ChatError);
  assert.equal(error.code, "replaced");
  assert.equal(server.peers.length, 1);
});

Deno.test("ChatClient does not reconnect after a fatal goodbye", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { events, done } = collect(client);
  peer.send({ type: "bye", code: "bad_frame", message: "Cannot decode frame" });
  peer.close();
  const error = await client.closed;
  assert.ok(error instanceof ChatError);
  assert.equal(error.code, "bad_frame");
  await done;
  assert.deepEqual(events.map((event) => event.type), ["bye"]);
  assert.equal(client.state, "closed");
  assert.equal(server.peers.length, 1);
});

Deno.test("ChatClient stops reconnecting on a fatal hello error", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { done } = collect(client);
  peer.close();
  const second = await server.nextPeer();
  await second.next((frame) => frame.type === "hello");
  second.send({
    type: "error",
    code: "unsupported_version",
    message: "Unsupported protocol version",
  });
  const error = await client.closed;
  assert.ok(error instanceof ChatError);
  assert.equal(error.code, "unsupported_version");
  await done;
});

Deno.test("ChatClient gives up after maxAttempts and reports why", async () => {
  const server = FakeServer.start();
  const { client, peer } = await connect(server, {
    reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 },
  });
  const { events, done } = collect(client);
  const pending = client.request({ type: "users" });
  await peer.next((frame) => frame.type === "users");
  // Nothing listens any more.
  await server[Symbol.asyncDispose]();
  const error = await client.closed;
  assert.ok(error instanceof ConnectionClosedError);
  assert.match(error.message, /Gave up reconnecting after 3 attempts/);
  await assert.rejects(pending, ConnectionClosedError);
  await done;
  assert.deepEqual(events.filter((event) => event.type === "reconnecting").length, 3);
});

Deno.test("ChatClient with reconnect off closes on a drop", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server, { reconnect: false });
  const { done } = collect(client);
  peer.close();
  const error = await client.closed;
  assert.ok(error instanceof ConnectionClosedError);
  await done;
});

Deno.test("ChatClient retries a rate-limited or server_busy request after the delay asked for", async () => {
  for (const code of ["rate_limited", "server_busy"]) {
    await using server = FakeServer.start();
    const { client, peer } = await connect(server);
    const users = client.request({ type: "users" });
    const first = await peer.next((frame) => frame.type === "users");
    const refusedAt = Date.now();
    peer.send({ type: "error", id: first.id, code, message: "Slow down", retryAfterMs: 60 });
    const retry = await peer.next((frame) => frame.type === "users");
    assert.ok(Date.now() - refusedAt >= 50, "retried too early");
    assert.notEqual(retry.id, first.id);
    peer.send({ type: "ack", id: retry.id, result: { users: [], total: 0 } });
    assert.deepEqual(await users, { users: [], total: 0 });
    await client.close();
  }
});

Deno.test("ChatClient paces requests to the announced rate", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server, {}, { rateBurst: 3, ratePerSecond: 20 });
  const started = Date.now();
  const requests = Array.from({ length: 5 }, () => client.request({ type: "ping" }));
  for (let i = 0; i < 5; i++) await peer.ack("ping");
  await Promise.all(requests);
  // Two at once, then three at ~20/s: at least ~140 ms.
  assert.ok(Date.now() - started >= 120, `took ${Date.now() - started} ms`);
  await client.close();
});

Deno.test("ChatClient drops a silent connection after a few heartbeats", async () => {
  await using server = FakeServer.start();
  const { client } = await connect(server, {}, { heartbeatMs: 40 });
  const { events, done } = collect(client);
  // The fake server never pings: the client must notice and reconnect.
  const second = await server.nextPeer();
  await second.welcome();
  await until(() => events.some((event) => event.type === "reconnected"));
  await client.close();
  await done;
});

Deno.test("ChatClient reports replies as events when asked, in order with other events", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { events, done } = collect(client);
  const request = { type: "who", room: "general" } as const;
  const who = client.request(request, { replyEvent: true });
  const frame = await peer.next((f) => f.type === "who");
  peer.send({ type: "message", room: "general", from: "bob", body: "before", id: 1, ts: 1 });
  peer.send({
    type: "ack",
    id: frame.id,
    result: { room: "general", members: ["alice", "bob"], total: 2 },
  });
  peer.send({ type: "message", room: "general", from: "bob", body: "after", id: 2, ts: 2 });
  await who;
  await until(() => events.length === 3);
  assert.deepEqual(events.map((event) => event.type), ["message", "reply", "message"]);
  const reply = events[1];
  assert.ok(reply?.type === "reply");
  assert.equal(reply.request, request);
  assert.deepEqual(reply.result, { room: "general", members: ["alice", "bob"], total: 2 });
  await client.close();
  await done;
});

Deno.test("ChatClient surfaces error frames without an id as events", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { events, done } = collect(client);
  peer.send({ type: "error", code: "bad_request", message: "Something odd" });
  await until(() => events.length === 1);
  assert.equal(events[0]?.type, "error");
  await client.close();
  await done;
});

/** An input stream the test writes lines into. */
function input(): {
  stream: ReadableStream<Uint8Array>;
  write: (line: string) => Promise<void>;
  end: () => Promise<void>;
} {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  return {
    stream: readable,
    write: (line) => writer.write(new TextEncoder().encode(line + "\n")),
    end: () => writer.close().catch(() => {}),
  };
}

/** Runs piped mode on `client` in room general, over input the test writes; what it printed. */
function piped(
  client: ChatClient,
): {
  lines: ReturnType<typeof input>;
  output: string[];
  errors: string[];
  running: Promise<number>;
} {
  const lines = input();
  const output: string[] = [];
  const errors: string[] = [];
  const running = runPiped(client, {
    input: lines.stream,
    room: "general",
    output: (line) => output.push(line),
    errors: (line) => errors.push(line),
  });
  return { lines, output, errors, running };
}

Deno.test("runPiped prints replies in order with events and exits 0", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const lines = input();
  const output: string[] = [];
  const errors: string[] = [];
  const running = runPiped(client, {
    input: lines.stream,
    room: "general",
    json: true,
    output: (line) => output.push(line),
    errors: (line) => errors.push(line),
  });
  await peer.ack("join", { room: "general" });
  await lines.write("/who");
  const who = await peer.next((frame) => frame.type === "who");
  peer.send({ type: "message", room: "general", from: "carol", body: "first", id: 1, ts: 1 });
  peer.send({
    type: "ack",
    id: who.id,
    result: { room: "general", members: ["alice", "carol"], total: 2 },
  });
  await lines.end();
  await peer.ack("ping");
  await peer.next((frame) => frame.type === "quit");
  peer.close();
  assert.equal(await running, 0);
  assert.deepEqual(errors, []);
  assert.deepEqual(output.map((line) => JSON.parse(line).type), ["message", "who"]);
});

Deno.test("runPiped sends a say lost in a drop again under its clientMsgId and exits 0", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { lines, errors, running } = piped(client);
  await peer.ack("join", { room: "general" });
  await lines.write("maybe lost");
  const first = await peer.next((frame) => frame.type === "say");
  peer.close();
  const second = await server.nextPeer();
  await second.welcome();
  await second.ack("join", { room: "general" });
  const again = await second.next((frame) => frame.type === "say");
  assert.equal(again.body, "maybe lost");
  assert.equal(again.clientMsgId, first.clientMsgId);
  second.send({ type: "ack", id: again.id, result: { id: 1, ts: 1, duplicate: true } });
  await lines.end();
  await second.ack("ping");
  await second.next((frame) => frame.type === "quit");
  second.close();
  assert.equal(await running, 0);
  assert.deepEqual(errors, []);
});

Deno.test("runPiped reports a request lost in a drop and exits 1", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { lines, output, errors, running } = piped(client);
  await peer.ack("join", { room: "general" });
  await lines.write("/topic maybe set");
  await peer.next((frame) => frame.type === "topic");
  peer.close();
  const second = await server.nextPeer();
  await second.welcome();
  await second.ack("join", { room: "general" });
  await lines.write("after");
  await second.ack("say", { id: 2, ts: 2 });
  await lines.end();
  await second.ack("ping");
  await second.next((frame) => frame.type === "quit");
  second.close();
  assert.equal(await running, 1);
  assert.equal(errors.length, 1);
  assert.match(
    errors[0]!,
    /^chat: line 1: Connection lost before the server confirmed topic #general/,
  );
  assert.ok(output.some((line) => line.includes("reconnecting in")));
  assert.ok(output.some((line) => line.includes("reconnected; rejoined #general")));
});

Deno.test("runPiped stops reading and exits 1 when the connection ends for good", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const lines = input();
  const errors: string[] = [];
  const running = runPiped(client, {
    input: lines.stream,
    output: () => {},
    errors: (line) => errors.push(line),
  });
  peer.send({ type: "bye", code: "bad_frame", message: "Cannot decode frame" });
  peer.close();
  // The input stays open: runPiped must not wait for it.
  assert.equal(await running, 1);
  assert.deepEqual(errors, ["chat: Cannot decode frame (bad_frame)"]);
  await lines.end();
});

// ---------------------------------------------------------------- message changes (section 21)

Deno.test("ChatClient resumes after the last timeline entry, a change to a message included", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const joined = client.request({ type: "join", room: "general" });
  await peer.ack("join", { room: "general", lastId: 5, history: [] });
  await joined;
  const { events, done } = collect(client);
  peer.send({ type: "message", room: "general", from: "bob", body: "six", id: 6, ts: 6 });
  // Changes take the room's next ids too: the last one seen is what a rejoin resumes after.
  peer.send({
    type: "react",
    room: "general",
    id: 7,
    target: 6,
    from: "carol",
    emoji: "👍",
    ts: 7,
  });
  await until(() => events.length === 2);
  peer.close();

  const second = await server.nextPeer();
  await second.welcome();
  const rejoin = await second.next((frame) => frame.type === "join");
  assert.equal(rejoin.since, 7);
  // Catch-up holds changes as well as messages, in id order.
  const missed = [
    { type: "edit", room: "general", id: 8, target: 6, from: "bob", body: "6", ts: 8 },
    { type: "message", room: "general", from: "bob", body: "nine", id: 9, ts: 9 },
    { type: "delete", room: "general", id: 10, target: 9, by: "bob", ts: 10 },
  ].map((entry) => ({ ...entry, history: true }));
  second.send({
    type: "ack",
    id: rejoin.id,
    result: { room: "general", topic: "", members: ["alice"], lastId: 10, history: missed },
  });
  await until(() => events.some((event) => event.type === "reconnected"));
  assert.deepEqual(
    events.filter((event) => event.type !== "reconnecting").map((event) => [
      event.type,
      "id" in event ? event.id : null,
      "history" in event ? event.history === true : false,
    ]),
    [
      ["message", 6, false],
      ["react", 7, false],
      ["edit", 8, true],
      ["message", 9, true],
      ["delete", 10, true],
      ["reconnected", null, false],
    ],
  );
  second.close();
  const third = await server.nextPeer();
  await third.welcome();
  assert.equal((await third.next((frame) => frame.type === "join")).since, 10);
  await client.close();
  await done;
});

Deno.test("ChatClient sends a react again after a drop (the second is unchanged), not an edit", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const react = client.request({ type: "react", room: "general", target: 6, emoji: "👍" });
  const edit = client.request({ type: "edit", room: "general", target: 6, body: "again?" });
  await peer.next((frame) => frame.type === "edit");
  peer.close();
  await assert.rejects(edit, (error) => {
    assert.ok(error instanceof ConnectionClosedError);
    assert.match(error.message, /edit of message 6 in #general; it may not have been delivered/);
    return true;
  });
  const second = await server.nextPeer();
  await second.welcome();
  const resent = await second.next((frame) => frame.type === "react");
  assert.deepEqual([resent.target, resent.emoji], [6, "👍"]);
  second.send({ type: "ack", id: resent.id, result: { ts: 1, unchanged: true } });
  assert.deepEqual(await react, { ts: 1, unchanged: true });
  await client.close();
});

Deno.test("runPiped --json sends the change commands and writes each change event as JSON", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const lines = input();
  const output: string[] = [];
  const errors: string[] = [];
  const running = runPiped(client, {
    input: lines.stream,
    room: "general",
    json: true,
    output: (line) => output.push(line),
    errors: (line) => errors.push(line),
  });
  await peer.ack("join", { room: "general", lastId: 1 });
  peer.send({ type: "message", room: "general", from: "bob", body: "hi", id: 1, ts: 1 });
  await lines.write("/reply #1 hello bob");
  const reply = await peer.ack("say", { id: 2, ts: 2 });
  assert.deepEqual([reply.body, reply.replyTo], ["hello bob", 1]);
  peer.send({
    type: "message",
    room: "general",
    from: "alice",
    body: "hello bob",
    id: 2,
    ts: 2,
    replyTo: 1,
  });
  await lines.write("/react 1 👍");
  const react = await peer.ack("react", { id: 3, ts: 3 });
  assert.deepEqual([react.target, react.emoji], [1, "👍"]);
  peer.send({
    type: "react",
    room: "general",
    id: 3,
    target: 1,
    from: "alice",
    emoji: "👍",
    ts: 3,
  });
  await lines.write("/edit 2 hello, bob");
  const edit = await peer.ack("edit", { id: 4, ts: 4 });
  assert.deepEqual([edit.target, edit.body], [2, "hello, bob"]);
  peer.send({
    type: "edit",
    room: "general",
    id: 4,
    target: 2,
    from: "alice",
    body: "hello, bob",
    ts: 4,
  });
  peer.send({ type: "delete", room: "general", id: 5, target: 1, by: "bob", ts: 5 });
  peer.send({
    type: "unreact",
    room: "general",
    id: 6,
    target: 1,
    from: "carol",
    emoji: "🎉",
    ts: 6,
  });
  await lines.end();
  await peer.ack("ping");
  await peer.next((frame) => frame.type === "quit");
  peer.close();
  assert.equal(await running, 0, errors.join("\n"));
  const records = output.map((line) => JSON.parse(line));
  assert.deepEqual(
    records.map((record) => [record.type, record.id, record.from, record.target ?? null]),
    [
      ["message", 1, "bob", null],
      ["message", 2, "alice", null],
      ["react", 3, "alice", 1],
      ["edit", 4, "alice", 2],
      ["delete", 5, "bob", 1],
      ["unreact", 6, "carol", 1],
    ],
  );
  assert.equal(records[1].replyTo, 1);
  assert.equal(records[2].emoji, "👍");
  assert.equal(records[3].body, "hello, bob");
  assert.equal(records[4].by, "bob");
});

Deno.test("runPiped text output quotes replies and shows changes with the message they change", async () => {
  await using server = FakeServer.start();
  const { client, peer } = await connect(server);
  const { lines, output, errors, running } = piped(client);
  await peer.ack("join", { room: "general", lastId: 0 });
  const frames = [
    { type: "message", room: "general", from: "bob", body: "lunch at noon?", id: 1, ts: 1 },
    { type: "message", room: "general", from: "carol", body: "yes", id: 2, ts: 2, replyTo: 1 },
    { type: "react", room: "general", id: 3, target: 1, from: "carol", emoji: "👍", ts: 3 },
    { type: "edit", room: "general", id: 4, target: 1, from: "bob", body: "lunch at one?", ts: 4 },
    { type: "message", room: "general", from: "dave", body: "ok", id: 5, ts: 5, replyTo: 1 },
    // A change to a message this client never had: shown, with the id alone.
    { type: "delete", room: "general", id: 6, target: 99, by: "root", ts: 6 },
  ];
  for (const frame of frames) peer.send(frame);
  await lines.end();
  await peer.ack("ping");
  await peer.next((frame) => frame.type === "quit");
  peer.close();
  assert.equal(await running, 0, errors.join("\n"));
  assert.deepEqual(output.map((line) => line.replace(/^\[\d\d:\d\d:\d\d\] /, "")), [
    "#general #1 <bob> lunch at noon?",
    "#general #2 <carol> (↪ bob: lunch at noon?) yes",
    "#general carol reacted 👍 to #1 (bob: lunch at noon?): 👍 1",
    "#general bob edited #1: lunch at one?",
    "#general #5 <dave> (↪ bob: lunch at one?) ok",
    "#general root deleted #99",
  ]);
});
