import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { LogSampler } from "../server/limits/log_sampler.ts";
import { startHttp, WsPeer, wsUrl } from "./support/http_fixture.ts";
import { LogCapture } from "./support/log_capture.ts";
import { Peer } from "./support/peer.ts";

Deno.test("LogSampler: a key is logged once per interval, then with how many were not", () => {
  let now = 0;
  const sampler = new LogSampler({ intervalMs: 1000, maxKeys: 2, now: () => now });
  assert.equal(sampler.sample("a"), 0);
  assert.equal(sampler.sample("a"), undefined);
  assert.equal(sampler.sample("a"), undefined);
  assert.equal(sampler.sample("b"), 0);
  now = 1000;
  assert.equal(sampler.sample("a"), 2);
  assert.equal(sampler.sample("a"), undefined);
  // Memory is bounded: the oldest key is forgotten, and logged again at once.
  assert.equal(sampler.sample("c"), 0);
  assert.equal(sampler.sample("b"), 0);
});

Deno.test("a flood of refused connections from one address is one log line", async () => {
  await using logs = await LogCapture.start("warning");
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    maxConnectionsPerIp: 1,
  });
  await using alice = await Peer.join(server.addr.port, "alice");
  for (let i = 0; i < 20; i++) {
    await using refused = await Peer.connect(server.addr.port);
    refused.send({ type: "ping", id: 1 });
    assert.equal((await refused.next((f) => f.type === "bye")).code, "too_many_connections");
  }
  const lines = logs.lines.filter((line) => line.includes("Refused connection"));
  assert.deepEqual(lines, [
    "warning Refused connection from 127.0.0.1: Too many connections from 127.0.0.1: limit 1 per address",
  ]);
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
});

Deno.test("refusals over WebSocket and TCP take one path: the same bye, one log line for both", async () => {
  await using logs = await LogCapture.start("warning");
  await using http = await startHttp({ maxConnectionsPerIp: 1 });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  const refusals = () => logs.lines.filter((line) => line.includes("Refused connection"));
  const line =
    "warning Refused connection from 127.0.0.1: Too many connections from 127.0.0.1: limit 1 per address";
  await using web = await WsPeer.open(wsUrl(http));
  const webBye = await web.next((f) => f.type === "bye");
  assert.deepEqual(refusals(), [line]);
  await using tcp = await Peer.connect(http.server.addr.port);
  tcp.send({ type: "ping", id: 1 });
  const tcpBye = await tcp.next((f) => f.type === "bye");
  assert.deepEqual(tcpBye, webBye);
  // Sampled per address whatever the transport: the TCP refusal is counted, not logged.
  assert.deepEqual(refusals(), [line]);
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
});
