/**
 * Every request the server committed is answered before the connection
 * ends: after the client half-closes, at shutdown, and before a flood
 * disconnect. Over real TCP against an in-process server with a real SQLite
 * file; the SIGTERM cases run `chat serve` as a subprocess.
 */
import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { concatBytes } from "../shared/bytes.ts";
import { encodeFrame } from "../shared/frame.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";

function listen(options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return ChatServer.listen({ host: "127.0.0.1", port: 0, textPromptDelayMs: 100, ...options });
}

/** Messages stored in `room`, read by a fresh peer. */
async function stored(port: number, room: string): Promise<Frame[]> {
  await using reader = await Peer.join(port, `reader${crypto.randomUUID().slice(0, 8)}`);
  const messages: Frame[] = [];
  let after = 0;
  await reader.request({ type: "join", room });
  while (true) {
    const page = await reader.request({ type: "history", room, after, limit: 500 });
    messages.push(...page.result.messages);
    if (page.result.messages.length === 0 || page.result.more !== true) break;
    after = page.result.messages.at(-1).id;
  }
  return messages;
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("half-close after 200 pipelined says: every say is acked, then bye quit", async () => {
  await using server = await listen({ rateBurst: 1000, ratePerSecond: 1000 });
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice");
  assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
  for (let i = 0; i < 200; i++) {
    alice.send({ type: "say", id: 1000 + i, room: "dev", body: `line ${i}` });
  }
  // shutdown(SHUT_WR), as `nc -N` does at the end of its input.
  await alice.conn.closeWrite();
  await alice.next((f) => f.type === "bye");
  await alice.closed;
  const acks = alice.all((f) => f.type === "ack" && f.id >= 1000);
  assert.equal(acks.length, 200, `acks: ${acks.length}`);
  assert.deepEqual(acks.map((f) => f.id), [...Array(200).keys()].map((i) => 1000 + i));
  const last = alice.frames.at(-1)!;
  assert.equal(last.type, "bye");
  assert.equal(last.code, "quit");
  const messages = await stored(port, "dev");
  assert.equal(messages.length, 200);
  assert.deepEqual(acks.map((f) => f.result.id), messages.map((m) => m.id));
});

Deno.test("half-close in plain text: every line accepted is shown before the connection ends", async () => {
  await using server = await listen({ rateBurst: 1000, ratePerSecond: 1000 });
  const port = server.addr.port;
  await using text = await TextPeer.connect(port);
  const lines = [...Array(200).keys()].map((i) => `line ${i}`);
  // What `printf 'tina\n/join dev\nline 0\n...' | nc -N host port` sends.
  text.write(["tina", "/join dev", ...lines].join("\n") + "\n");
  await text.conn.closeWrite();
  await text.waitFor("*** Closing: ");
  await text.closed;
  const shown = text.text.split("\r\n").filter((line) => /<tina> line \d+$/.test(line));
  assert.equal(shown.length, 200, text.text.slice(-500));
  assert.match(text.text, /\*\*\* Closing: quit: Connection closed\r\n$/);
  assert.equal((await stored(port, "dev")).length, 200);
});

Deno.test("half-close: a last line without its newline is still handled", async () => {
  await using server = await listen();
  await using text = await TextPeer.connect(server.addr.port);
  text.write("tina\n/join dev\nno newline here");
  await text.conn.closeWrite();
  await text.waitFor("*** Closing: ");
  await text.closed;
  assert.match(text.text, /<tina> no newline here\r\n/);
});

Deno.test("shutdown: every message stored is acked before bye server_shutdown", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-acks-" });
  try {
    // Commits wait for the next write tick (200 ms), so says are always in flight.
    const server = await listen({
      dataDir,
      rateBurst: 100_000,
      ratePerSecond: 100_000,
      writeCoalesceMs: 200,
      writeCoalesceFromFrames: 0,
    });
    const alice = await Peer.join(server.addr.port, "alice");
    assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
    // Keep says coming until the server is going away, so some are in flight then.
    let sent = 0;
    let stop = false;
    const sender = (async () => {
      while (!stop) {
        for (let i = 0; i < 50; i++) {
          alice.send({ type: "say", id: 1000 + sent, room: "dev", body: `m${sent}` });
          sent++;
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    await alice.next((f) => f.type === "message" && f.body === "m100");
    // Says read and waiting for their commit: without the drain, their acks are lost.
    await waitUntil(() => server.broker.pendingWrites >= 100);
    await server.shutdown();
    stop = true;
    await sender;
    await alice.next((f) => f.type === "bye");
    await alice.closed;
    const byeAt = alice.frames.findIndex((f) => f.type === "bye");
    assert.equal(alice.frames[byeAt]?.code, "server_shutdown");
    assert.equal(alice.frames.length, byeAt + 1, "nothing after bye");
    const acked = new Set(
      alice.frames.slice(0, byeAt).filter((f) => f.type === "ack").map((f) => f.result.id),
    );
    const store = SqliteStore.open(dataDir);
    const messages = await store.history("dev", { after: 0, limit: 1_000_000 });
    await store.close();
    assert.ok(messages.length > 100 && messages.length < sent, `${messages.length} of ${sent}`);
    const unacked = messages.filter((m) => !acked.has(m.id)).map((m) => m.id);
    assert.deepEqual(unacked, [], `${unacked.length} of ${messages.length} stored, never acked`);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("flood: every say committed before the flood disconnect is acked before bye flood", async () => {
  // Default limits: a burst of 20 tokens, disconnected after 50 refusals.
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice");
  assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
  const says = [...Array(71).keys()].map((i) =>
    encodeFrame({ type: "say", id: 1000 + i, room: "dev", body: `m${i}` })
  );
  alice.sendRaw(concatBytes(says));
  await alice.next((f) => f.type === "bye");
  await alice.closed;
  const byeAt = alice.frames.findIndex((f) => f.type === "bye");
  assert.equal(alice.frames[byeAt]?.code, "flood");
  assert.equal(alice.frames.length, byeAt + 1, "nothing after bye");
  const before = alice.frames.slice(0, byeAt);
  const acks = before.filter((f) => f.type === "ack" && f.id >= 1000);
  const messages = await stored(port, "dev");
  assert.ok(messages.length >= 18, `${messages.length} stored`);
  assert.deepEqual(acks.map((f) => f.result.id), messages.map((m) => m.id));
  assert.ok(before.some((f) => f.type === "error" && f.code === "rate_limited"));
});

Deno.test("flood in plain text: the lines accepted are shown before the closing line", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using text = await TextPeer.connect(port);
  text.write("tina\n/join dev\n");
  await text.waitFor("Now talking in #dev");
  text.write([...Array(80).keys()].map((i) => `line ${i}\n`).join(""));
  await text.waitFor("*** Closing: ");
  await text.closed;
  const shown = text.text.split("\r\n").filter((line) => /<tina> line \d+$/.test(line));
  const messages = await stored(port, "dev");
  assert.ok(messages.length >= 18, `${messages.length} stored`);
  assert.equal(shown.length, messages.length, text.text);
  assert.match(text.text, /! rate_limited: /);
  assert.match(text.text, /\*\*\* Closing: flood: Too many requests over the rate limit\r\n$/);
});

Deno.test("invalid frames count against the rate limit and end in bye flood", async () => {
  await using server = await listen({ rateBurst: 5, ratePerSecond: 1, floodStrikes: 10 });
  await using mallory = await Peer.join(server.addr.port, "mallory");
  // Each refused by validation: no room, an unknown type, not a map.
  const invalid = [
    ...[...Array(20).keys()].map((i) => encodeFrame({ type: "say", id: 100 + i })),
    ...[...Array(20).keys()].map((i) => encodeFrame({ type: "frobnicate", id: 200 + i })),
    ...[...Array(20).keys()].map(() => encodeFrame([1, 2, 3])),
  ];
  mallory.sendRaw(concatBytes(invalid));
  await mallory.next((f) => f.type === "bye");
  await mallory.closed;
  const errors = mallory.all((f) => f.type === "error");
  assert.ok(errors.some((f) => f.code === "invalid_body"));
  assert.ok(errors.some((f) => f.code === "rate_limited"));
  assert.equal(mallory.frames.at(-1)?.type, "bye");
  assert.equal(mallory.frames.at(-1)?.code, "flood");
});

Deno.test("pongs count against the rate limit too: a flood of them ends in bye flood", async () => {
  await using server = await listen({ rateBurst: 5, ratePerSecond: 1, floodStrikes: 10 });
  await using mallory = await Peer.join(server.addr.port, "mallory");
  mallory.sendRaw(concatBytes([...Array(100).keys()].map(() => encodeFrame({ type: "pong" }))));
  const bye = await mallory.next((f) => f.type === "bye");
  assert.equal(bye.code, "flood");
  // Never answered, even when over the rate.
  assert.deepEqual(mallory.all((f) => f.type === "error"), []);
});

Deno.test("invalid lines in plain text count against the rate limit and end in a flood close", async () => {
  await using server = await listen({ rateBurst: 5, ratePerSecond: 1, floodStrikes: 10 });
  await using text = await TextPeer.connect(server.addr.port);
  text.write("mallory\n");
  await text.waitFor("Welcome");
  text.write("/frobnicate\n".repeat(30));
  await text.waitFor("*** Closing: ");
  await text.closed;
  assert.match(text.text, /! unknown_command: /);
  assert.match(text.text, /! rate_limited: /);
  assert.match(text.text, /\*\*\* Closing: flood: /);
});
