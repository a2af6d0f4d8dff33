/**
 * docs/protocol.schema.json: generated from shared/protocol.ts and up to
 * date, in agreement with the validators it was made from (checked by Ajv,
 * an implementation of JSON Schema of its own), and used by the test peers
 * to refuse any frame from a server that does not conform.
 */
import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { encodeFrame } from "../shared/frame.ts";
import {
  parseAck,
  parseClientFrame,
  parseServerFrame,
  protocolJsonSchema,
  REQUEST_TYPES,
} from "../shared/protocol.ts";
import { renderProtocolSchema } from "../shared/protocol_schema.ts";
import { ConformanceCheck, schemaProblem, serverFrameProblem } from "./support/conformance.ts";
import { Peer } from "./support/peer.ts";

const ROOT = new URL("..", import.meta.url);

Deno.test("docs/protocol.schema.json is generated from shared/protocol.ts and up to date", async () => {
  const formatter = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "json", "-"],
    cwd: ROOT.pathname,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = formatter.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderProtocolSchema()));
  await writer.close();
  const expected = new TextDecoder().decode((await formatter.output()).stdout);
  const actual = await Deno.readTextFile(new URL("docs/protocol.schema.json", ROOT));
  assert.ok(actual === expected, "docs/protocol.schema.json is stale: run `deno task docs:schema`");
});

Deno.test("the schema has a request and a result for every request type", () => {
  const { $defs } = protocolJsonSchema();
  for (const type of REQUEST_TYPES) {
    assert.ok($defs[`request.${type}`], type);
    assert.ok($defs[`result.${type}`], type);
  }
  // 26, away and typing (section 22), search (section 24), message changes (section 21),
  // files (section 23).
  assert.equal(REQUEST_TYPES.length, 39);
});

// Requests as clients send them (before normalization): valid for both.
const GOOD_REQUESTS: Array<Record<string, unknown>> = [
  { type: "hello", protocol: "1.0", client: "c", clientVersion: "1", nick: "ａｌｉｃｅ" },
  { type: "hello", protocol: "1.0", client: "c", clientVersion: "1", nick: "a", password: "pw" },
  { type: "pong" },
  { type: "join", id: 1, room: "#general", since: 4, key: "k" },
  { type: "leave", id: 2, room: "dev" },
  { type: "say", id: 3, room: "dev", body: "hi\tthere", action: false, clientMsgId: "m-1" },
  { type: "dm", id: 4, to: "bob", body: "psst", action: true },
  { type: "broadcast", id: 5, body: "all hands" },
  { type: "rooms", id: 6, after: "dev", limit: 10 },
  { type: "who", id: 7, room: "dev", limit: 1 },
  { type: "users", id: 8 },
  { type: "topic", id: 9, room: "dev", topic: "" },
  { type: "topic", id: 9, room: "dev", topic: null },
  { type: "nick", id: 10, nick: "carol" },
  { type: "ping", id: 11 },
  { type: "quit", id: 12, reason: "lunch" },
  { type: "history", id: 13, room: "dev", before: 10, limit: 50 },
  { type: "dm_history", id: 14, with: "bob", after: 0 },
  { type: "read", id: 15, with: "bob", upTo: 12 },
  { type: "register", id: 16, password: "correct horse" },
  { type: "kick", id: 17, room: "dev", nick: "mallory", reason: "spam" },
  { type: "mute", id: 18, room: "dev", nick: "mallory", durationMs: 60000 },
  { type: "mode", id: 19, room: "dev", inviteOnly: true, key: null },
  // Section 22.
  { type: "away", id: 20, message: "lunch" },
  { type: "away", id: 21, message: null },
  { type: "typing", id: 22, room: "#dev", state: "active" },
  { type: "typing", id: 23, to: "bob", state: "paused" },
  { type: "search", id: 20, text: 'deploy "failed" -x', room: "#dev", cursor: "e4", limit: 5 },
  { type: "search", id: 21, text: "x", room: null, cursor: null },
  // Files (section 23).
  {
    type: "upload_begin",
    id: 20,
    name: "r.pdf",
    size: 9,
    mediaType: "application/pdf",
    room: "dev",
  },
  {
    type: "upload_begin",
    id: 21,
    name: "a",
    size: 1,
    to: "bob",
    sha256: "a".repeat(64),
    body: "x",
  },
  {
    type: "upload_chunk",
    id: 22,
    upload: "AAAAAAAAAAAAAAAAAAAAAA",
    offset: 0,
    data: Uint8Array.of(1),
  },
  { type: "upload_end", id: 23, upload: "AAAAAAAAAAAAAAAAAAAAAA" },
  { type: "upload_cancel", id: 24, upload: "AAAAAAAAAAAAAAAAAAAAAA" },
  { type: "download", id: 25, file: "AAAAAAAAAAAAAAAAAAAAAA", offset: 10 },
  { type: "file_url", id: 26, file: "AAAAAAAAAAAAAAAAAAAAAA" },
];

// Refused by the server with bad_request, and by the schema.
const BAD_REQUESTS: Array<Record<string, unknown>> = [
  { type: "join", id: -1, room: "dev" },
  { type: "join", id: 1, room: 5 },
  { type: "join", id: 1, room: "r".repeat(257) },
  { type: "join", id: 1, room: "dev", since: 1.5 },
  { type: "say", id: 3, room: "dev", body: "x", action: "yes" },
  { type: "say", id: 3, room: "dev", body: "x", clientMsgId: "has space" },
  { type: "rooms", id: 6, limit: 0 },
  { type: "read", id: 15, with: "bob" },
  { type: "register", id: 16 },
  { type: "mute", id: 18, room: "dev", nick: "m", durationMs: 0 },
  { type: "mode", id: 19, room: "dev", key: "k".repeat(65) },
  { type: "search", id: 20 },
  { type: "search", id: 20, text: "x".repeat(1025) },
  { type: "search", id: 20, text: "x", limit: 0 },
  { type: "search", id: 20, text: "x", cursor: 5 },
  { type: "hello", protocol: "1.0", client: "c", clientVersion: "1", nick: "a", resume: "short" },
  // Section 22.
  { type: "typing", id: 22, room: "dev", state: "typing" },
  { type: "typing", id: 22, to: "bob" },
  { type: "upload_begin", id: 20, name: "a", size: -1, room: "dev" },
  { type: "upload_begin", id: 20, name: "a", size: 1, room: "dev", sha256: "XYZ" },
  { type: "upload_chunk", id: 22, upload: "no spaces allowed", offset: 0, data: Uint8Array.of(1) },
  { type: "download", id: 25, file: "AAAAAAAAAAAAAAAAAAAAAA", offset: -1 },
];

function clientDef(frame: Record<string, unknown>): string {
  return frame.type === "hello" || frame.type === "pong"
    ? `client.${frame.type}`
    : `request.${frame.type}`;
}

Deno.test("requests: the server and the schema accept and refuse the same", () => {
  for (const frame of GOOD_REQUESTS) {
    assert.doesNotThrow(() => parseClientFrame(structuredClone(frame)), JSON.stringify(frame));
    assert.equal(schemaProblem(clientDef(frame), frame), undefined, JSON.stringify(frame));
    assert.equal(schemaProblem("ClientFrame", frame), undefined, JSON.stringify(frame));
  }
  for (const frame of BAD_REQUESTS) {
    assert.throws(
      () => parseClientFrame(structuredClone(frame)),
      (error: unknown) => error instanceof ChatError && error.code === "bad_request",
      JSON.stringify(frame),
    );
    assert.notEqual(schemaProblem(clientDef(frame), frame), undefined, JSON.stringify(frame));
  }
  // What the server normalizes comes out valid too (names in NFKC, no #).
  for (const frame of GOOD_REQUESTS) {
    const parsed = parseClientFrame(structuredClone(frame)) as Record<string, unknown>;
    assert.equal(schemaProblem(clientDef(frame), parsed), undefined, JSON.stringify(parsed));
  }
});

const message = { type: "message", room: "dev", from: "bob", body: "hi", id: 1, ts: 1 };
const GOOD_SERVER_FRAMES: Array<Record<string, unknown>> = [
  {
    type: "welcome",
    protocol: "1.0",
    server: "chat/0.1.0",
    session: "s",
    nick: "alice",
    limits: {
      maxFrameBytes: 65536,
      maxBodyLength: 4000,
      maxQueueBytes: 1048576,
      rateBurst: 20,
      ratePerSecond: 0.5,
      heartbeatMs: 0,
    },
    account: { admin: false },
    resume: "abcdefghijklmnop",
  },
  { type: "ack", id: 1, result: {} },
  { type: "error", id: 2, code: "rate_limited", message: "Slow down", retryAfterMs: 20 },
  { type: "error", code: "bad_frame", message: "?" },
  { ...message, action: true, history: true },
  { type: "dm", from: "bob", to: "alice", body: "psst", id: 3, ts: 4 },
  { ...message, file: { id: "AAAAAAAAAAAAAAAAAAAAAA", name: "r.pdf", size: 9, type: "a/b" } },
  { type: "join", room: "dev", nick: "bob", ts: 1 },
  { type: "leave", room: "dev", nick: "bob", ts: 1, reason: "quit" },
  { type: "nick", from: "bob", to: "robert", ts: 1 },
  { type: "topic", room: "dev", topic: "", by: "alice", ts: 1 },
  { type: "notice", body: "1 unread", ts: 1, unread: [{ peer: "bob", count: 1 }], room: "dev" },
  { type: "ping" },
  { type: "bye", code: "quit", message: "Goodbye" },
  // Section 22.
  { type: "away", nick: "bob", message: "lunch", ts: 1 },
  { type: "away", nick: "bob", ts: 1 },
  { type: "typing", room: "dev", from: "bob", state: "active", ts: 1 },
  { type: "typing", from: "bob", to: "alice", state: "done", ts: 1 },
  { type: "notice", body: "bob is away: lunch", ts: 1, from: "bob", away: "lunch" },
];

const BAD_SERVER_FRAMES: Array<Record<string, unknown>> = [
  { type: "ack" },
  { type: "ack", id: 1, result: [] },
  { type: "error", id: 2, message: "no code" },
  { ...message, ts: "now" },
  { ...message, action: "yes" },
  { ...message, file: { id: "A", name: "r.pdf", size: "9", type: "a/b" } },
  { type: "notice", body: "x", ts: 1, unread: [{ peer: "bob" }] },
  { type: "welcome", protocol: "1.0", server: "s", session: "s", nick: "a", limits: {} },
  // Section 22.
  { type: "away", message: "lunch", ts: 1 },
  { type: "typing", room: "dev", from: "bob", ts: 1 },
];

Deno.test("server frames: the client and the schema accept and refuse the same", () => {
  for (const frame of GOOD_SERVER_FRAMES) {
    assert.deepEqual(parseServerFrame(structuredClone(frame)), frame, JSON.stringify(frame));
    assert.equal(serverFrameProblem(frame), undefined, JSON.stringify(frame));
  }
  for (const frame of BAD_SERVER_FRAMES) {
    assert.throws(
      () => parseServerFrame(structuredClone(frame)),
      (error: unknown) => error instanceof ChatError && error.code === "bad_frame",
      JSON.stringify(frame),
    );
    assert.notEqual(serverFrameProblem(frame), undefined, JSON.stringify(frame));
  }
  // Fields a newer server adds: dropped by the client, named by the schema (1.0 has none).
  assert.deepEqual(parseServerFrame({ type: "ping", extra: 1 }), { type: "ping" });
  assert.match(serverFrameProblem({ type: "ping", extra: 1 })!, /additional properties/);
});

Deno.test("parseAck checks a result against the request it answers, as the schema does", () => {
  const join = {
    room: "dev",
    topic: "",
    members: ["alice"],
    lastId: 1,
    history: [{ ...message, history: true }],
    gap: { after: 0, oldest: 1 },
  };
  const ack = parseAck({ type: "ack", id: 1, result: join }, { type: "join" });
  assert.deepEqual(ack.result, join);
  assert.equal(ack.result.history[0]?.body, "hi");
  assert.equal(schemaProblem("result.join", join), undefined);
  assert.deepEqual(parseAck({ type: "ack", id: 2 }, { type: "quit" }).result, {});
  const search = {
    results: [
      { room: "dev", id: 4, from: "bob", body: "deploy", ts: 1, action: true },
      { with: "bob", id: 9, from: "alice", body: "deploy?", ts: 2 },
    ],
    more: true,
    cursor: "e4",
  };
  assert.deepEqual(
    parseAck({ type: "ack", id: 4, result: search }, { type: "search" }).result,
    search,
  );
  assert.equal(schemaProblem("result.search", search), undefined);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["join", { ...join, lastId: "1" }, /"lastId" must be a number/],
    ["join", { ...join, history: [{ ...message, ts: null }] }, /"history\[0\]\.ts"/],
    ["rooms", { rooms: [{ name: "dev", members: 1 }], total: 1 }, /"rooms\[0\]\.topic"/],
    ["who", { room: "dev", members: [], total: 0, more: false }, /"more" must be true/],
    ["mode", { room: "dev", inviteOnly: true }, /"hasKey"/],
    ["kick", { room: "dev" }, /Invalid kick result: "nick" must be a string/],
    [
      "search",
      { results: [{ room: "dev", id: 0, from: "a", body: "b", ts: 1 }] },
      /"results\[0\]\.id"/,
    ],
    ["search", { results: [], more: false }, /"more" must be true/],
  ];
  for (const [type, result, message] of cases) {
    assert.throws(
      () => parseAck({ type: "ack", id: 3, result }, { type: type as "join" }),
      (error: unknown) =>
        error instanceof ChatError && error.code === "bad_frame" && message.test(error.message),
      type,
    );
    assert.notEqual(schemaProblem(`result.${type}`, result), undefined, type);
  }
});

Deno.test("ConformanceCheck: an ack is held to the result of the request with its id", () => {
  const check = new ConformanceCheck();
  check.sent({ type: "users", id: 1 });
  check.sent({ type: "who", id: 2, room: "dev" });
  check.received({ type: "error", id: 2, code: "no_such_room", message: "No room #dev" });
  check.received({ type: "ack", id: 1, result: { users: ["alice"], total: 1 } });
  check.assertConforms();
  check.sent({ type: "users", id: 1 });
  check.received({ type: "ack", id: 1, result: { users: ["alice"] } });
  assert.throws(() => check.assertConforms(), /result\.users must have required property 'total'/);
  const events = new ConformanceCheck();
  events.received({ type: "message", room: "dev", from: "bob", body: "hi", id: 0, ts: 1 });
  assert.throws(() => events.assertConforms(), /event\.message\/id must be >= 1/);
});

Deno.test("Peer fails the test on a frame from the server that does not conform", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  // Disposed by hand below: its disposal is what must fail.
  const peer = await Peer.connect(listener.addr.port);
  using conn = await accepted;
  await conn.write(encodeFrame({ type: "ping" }));
  assert.deepEqual(await peer.next(), { type: "ping" });
  // An event without its ts.
  await conn.write(encodeFrame({ type: "join", room: "dev", nick: "bob" }));
  await assert.rejects(
    () => peer.next(() => false, 2000),
    /event\.join must have required property 'ts'/,
  );
  await assert.rejects(() => peer[Symbol.asyncDispose](), /does not match/);
});
