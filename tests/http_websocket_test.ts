/**
 * GET /ws over a real WebSocket: the same frames as TCP, one binary message
 * per frame, the same validation, limits, rate limits and connection caps,
 * and the same bye on shutdown.
 */
import assert from "node:assert/strict";
import { encodeFrame } from "../shared/frame.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { type HttpFixture, startHttp, WsPeer, wsUrl } from "./support/http_fixture.ts";
import { Peer, TextPeer } from "./support/peer.ts";

Deno.test("a WebSocket session talks with TCP sessions in one room, one message per frame", async () => {
  await using http = await startHttp();
  await using web = await WsPeer.join(wsUrl(http), "webby");
  await using tcp = await Peer.join(http.server.addr.port, "alice");
  const joined = await web.request({ type: "join", room: "general" });
  assert.equal(joined.type, "ack");
  await tcp.request({ type: "join", room: "general" });
  await web.next((f) => f.type === "join" && f.nick === "alice");
  const ack = await web.request({ type: "say", room: "general", body: "from the browser" });
  assert.equal(ack.result.id, 1);
  const message = await tcp.next((f) => f.type === "message");
  assert.deepEqual([message.from, message.body], ["webby", "from the browser"]);
  await tcp.request({ type: "say", room: "general", body: "from the terminal" });
  assert.equal((await web.next((f) => f.type === "message" && f.from === "alice")).id, 2);
  // Several frames queued in one turn still arrive as separate messages (WsPeer checks).
  const acks = await Promise.all(
    Array.from(
      { length: 5 },
      (_, i) => web.request({ type: "say", room: "general", body: `${i}` }),
    ),
  );
  assert.deepEqual(acks.map((a) => a.result.id), [3, 4, 5, 6, 7]);
  assert.deepEqual(http.server.broker.metrics.connectionsOpen.get("ws"), 1);
  const who = await web.request({ type: "users" });
  assert.deepEqual(who.result.users, ["alice", "webby"]);
});

Deno.test("bad WebSocket input ends the session with the matching bye: too large, not one frame, text", async () => {
  await using http = await startHttp({ maxFrameBytes: 1024 });
  const url = wsUrl(http);
  {
    await using web = await WsPeer.join(url, "big");
    web.send({ type: "say", id: 1, room: "general", body: "x".repeat(2000) });
    assert.equal((await web.next((f) => f.type === "bye")).code, "frame_too_large");
    await web.closed;
  }
  {
    await using web = await WsPeer.join(url, "two");
    const two = new Uint8Array([
      ...encodeFrame({ type: "ping", id: 1 }),
      ...encodeFrame({ type: "ping", id: 2 }),
    ]);
    web.socket.send(two);
    assert.equal((await web.next((f) => f.type === "bye")).code, "bad_frame");
    await web.closed;
  }
  {
    await using web = await WsPeer.open(url);
    web.socket.send(new Uint8Array([0, 0, 0, 9, 1]));
    assert.equal((await web.next((f) => f.type === "bye")).code, "bad_frame");
  }
  {
    await using web = await WsPeer.open(url);
    web.socket.send("hello");
    assert.equal((await web.next((f) => f.type === "bye")).code, "bad_frame");
  }
  {
    // Frames are validated as on TCP: a bad nickname in hello is an error reply.
    await using web = await WsPeer.open(url);
    web.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "bad nick" });
    assert.equal((await web.next((f) => f.type === "error")).code, "invalid_name");
    web.send({ type: "hello", protocol: "9.0", client: "t", clientVersion: "0", nick: "ok" });
    assert.equal((await web.next((f) => f.type === "bye")).code, "unsupported_version");
  }
  // Every one of them is gone from the caps.
  for (let i = 0; i < 100 && http.server.stats.connections > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(http.server.stats.connections, 0);
});

Deno.test("WebSocket sessions share the rate limit and the connection caps with TCP", async () => {
  await using http = await startHttp({ rateBurst: 2, ratePerSecond: 0.5, maxConnectionsPerIp: 2 });
  await using web = await WsPeer.join(wsUrl(http), "hasty");
  const replies = [];
  for (let i = 0; i < 3; i++) replies.push(await web.request({ type: "ping" }));
  // hello took one of the two tokens.
  assert.deepEqual(replies.map((r) => r.type), ["ack", "error", "error"]);
  assert.equal(replies[2]!.code, "rate_limited");
  await using tcp = await Peer.join(http.server.addr.port, "second");
  // A third connection from 127.0.0.1, over WebSocket, is over the per-address cap.
  await using third = await WsPeer.open(wsUrl(http));
  const bye = await third.next((f) => f.type === "bye");
  assert.equal(bye.code, "too_many_connections");
  assert.equal(await third.closed, 1013);
  assert.equal(tcp.frames.some((f) => f.type === "bye"), false);
});

Deno.test("shutdown says bye to WebSocket sessions before the HTTP listener stops", async () => {
  const http = await startHttp();
  const web = await WsPeer.join(wsUrl(http), "leaver");
  await web.request({ type: "join", room: "general" });
  await http.server.shutdown();
  assert.equal((await web.next((f) => f.type === "bye")).code, "server_shutdown");
  await web.closed;
  await assert.rejects(fetch(`${http.base}/healthz`));
});

Deno.test("WebSocket sessions not logged in count against the handshake cap with TCP", async () => {
  await using http = await startHttp({ maxHandshakesPerIp: 2 });
  await using silentWeb = await WsPeer.open(wsUrl(http));
  await using silentTcp = await TextPeer.connect(http.server.addr.port);
  await waitForHandshakes(http, 2);
  await using third = await WsPeer.open(wsUrl(http));
  const bye = await third.next((f) => f.type === "bye");
  assert.equal(bye.code, "too_many_connections");
  assert.match(bye.message, /logging in from 127\.0\.0\.1: limit 2 per address/);
  // The silent WebSocket logs in: its place among the handshakes is free.
  silentWeb.send({
    type: "hello",
    protocol: PROTOCOL_VERSION,
    client: "test",
    clientVersion: "0",
    nick: "late",
  });
  assert.equal((await silentWeb.next((f) => f.type === "welcome")).nick, "late");
  await waitForHandshakes(http, 1);
  await using fourth = await WsPeer.join(wsUrl(http), "fourth");
  assert.ok(silentTcp && fourth);
});

async function waitForHandshakes(http: HttpFixture, count: number): Promise<void> {
  for (let i = 0; i < 300 && http.server.stats.handshakes !== count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(http.server.stats.handshakes, count);
}
