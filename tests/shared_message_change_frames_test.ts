/**
 * Conformance of the frames of message changes (docs/protocol.md section
 * 21): the requests, events and results as the validators of
 * shared/protocol.ts and docs/protocol.schema.json (checked by Ajv) have
 * them, accepting and refusing the same; and the byte budget of a reply
 * (server/chat/reply_fit.ts) bounding their encoded size.
 */
import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { encodeFrame } from "../shared/frame.ts";
import { parseAck, parseClientFrame, parseServerFrame } from "../shared/protocol.ts";
import { eventBytes } from "../server/chat/reply_fit.ts";
import { schemaProblem, serverFrameProblem } from "./support/conformance.ts";

const GOOD_REQUESTS: Array<Record<string, unknown>> = [
  { type: "say", id: 1, room: "dev", body: "sure", replyTo: 41 },
  { type: "edit", id: 2, room: "#dev", target: 42, body: "fixed" },
  { type: "delete", id: 3, room: "dev", target: 42 },
  { type: "react", id: 4, room: "dev", target: 42, emoji: "👍🏽" },
  { type: "react", id: 5, room: "dev", target: 42, emoji: "🇺🇦" },
  { type: "unreact", id: 6, room: "dev", target: 42, emoji: "1️⃣" },
  { type: "say", id: 7, room: "dev", body: "plain", replyTo: null },
];

const BAD_REQUESTS: Array<Record<string, unknown>> = [
  { type: "say", id: 1, room: "dev", body: "x", replyTo: 0 },
  { type: "say", id: 1, room: "dev", body: "x", replyTo: 1.5 },
  { type: "edit", id: 2, room: "dev", body: "x" },
  { type: "edit", id: 2, room: "dev", target: -3, body: "x" },
  { type: "delete", id: 3, room: "dev", target: "42" },
  { type: "delete", id: 3, room: "dev" },
  { type: "react", id: 4, room: "dev", target: 42 },
  { type: "react", id: 4, room: "dev", target: 42, emoji: 7 },
  { type: "react", id: 4, room: "dev", target: 42, emoji: "x".repeat(33) },
];

Deno.test("change requests: the server and the schema accept and refuse the same", () => {
  for (const frame of GOOD_REQUESTS) {
    const shown = JSON.stringify(frame);
    const parsed = parseClientFrame(structuredClone(frame)) as Record<string, unknown>;
    assert.equal(schemaProblem(`request.${frame.type}`, frame), undefined, shown);
    assert.equal(schemaProblem("ClientFrame", frame), undefined, shown);
    assert.equal(schemaProblem(`request.${frame.type}`, parsed), undefined, shown);
  }
  for (const frame of BAD_REQUESTS) {
    const shown = JSON.stringify(frame);
    assert.throws(
      () => parseClientFrame(structuredClone(frame)),
      (error: unknown) => error instanceof ChatError && error.code === "bad_request",
      shown,
    );
    assert.notEqual(schemaProblem(`request.${frame.type}`, frame), undefined, shown);
  }
  // An emoji the schema's length allows may still not be one: the server has the last word.
  assert.throws(
    () => parseClientFrame({ type: "react", id: 1, room: "dev", target: 1, emoji: "ok" }),
    { code: "bad_request" },
  );
});

const EVENTS: Array<Record<string, unknown>> = [
  { type: "edit", room: "dev", id: 43, target: 42, from: "alice", body: "fixed", ts: 5 },
  { type: "delete", room: "dev", id: 44, target: 42, by: "op", ts: 6, history: true },
  { type: "react", room: "dev", id: 45, target: 41, from: "bob", emoji: "👍", ts: 7 },
  { type: "unreact", room: "dev", id: 46, target: 41, from: "bob", emoji: "👍", ts: 8 },
  {
    type: "message",
    room: "dev",
    from: "alice",
    body: "",
    id: 42,
    ts: 1,
    history: true,
    replyTo: 40,
    deleted: { by: "op", ts: 6 },
  },
  {
    type: "message",
    room: "dev",
    from: "bob",
    body: "edited",
    id: 41,
    ts: 1,
    history: true,
    edited: 3,
    reactions: [{ emoji: "🎉", count: 25, users: ["ann", "cy"] }],
  },
];

Deno.test("change events and the new message fields conform, and read back as sent", () => {
  for (const event of EVENTS) {
    const shown = JSON.stringify(event);
    assert.equal(serverFrameProblem(event), undefined, shown);
    assert.equal(schemaProblem("ChatEvent", event), undefined, shown);
    assert.deepEqual(parseServerFrame(structuredClone(event)), event, shown);
  }
  for (
    const bad of [
      { ...EVENTS[0], target: "42" },
      { ...EVENTS[1], by: undefined },
      { ...EVENTS[2], emoji: 1 },
      { ...EVENTS[5], reactions: [{ emoji: "🎉", users: [] }] },
      { ...EVENTS[4], deleted: { by: "op" } },
    ]
  ) {
    const frame = JSON.parse(JSON.stringify(bad));
    assert.notEqual(serverFrameProblem(frame), undefined, JSON.stringify(frame));
    assert.throws(() => parseServerFrame(frame), { code: "bad_frame" });
  }
});

Deno.test("change results and history items of every type conform", () => {
  const results: Array<[string, Record<string, unknown>]> = [
    ["edit", { id: 43, ts: 5 }],
    ["delete", { id: 44, ts: 6 }],
    ["react", { id: 45, ts: 7 }],
    ["react", { ts: 7, unchanged: true }],
    ["unreact", { ts: 8, unchanged: true }],
    ["history", { room: "dev", messages: EVENTS.map((e) => ({ ...e, history: true })) }],
    [
      "join",
      { room: "dev", topic: "", members: ["bob"], lastId: 46, history: EVENTS.slice(0, 4) },
    ],
  ];
  for (const [type, result] of results) {
    const shown = `${type} ${JSON.stringify(result)}`;
    assert.equal(schemaProblem(`result.${type}`, result), undefined, shown);
    const ack = parseAck({ type: "ack", id: 1, result }, { type: type as "edit" });
    assert.deepEqual(ack.result, result, shown);
  }
  assert.notEqual(schemaProblem("result.react", { id: 1 }), undefined);
  assert.notEqual(schemaProblem("result.edit", { ts: 1 }), undefined);
});

Deno.test("eventBytes bounds the encoded size of change events and of messages with reactions", () => {
  const crowded = {
    type: "message" as const,
    room: "dev",
    from: "alice",
    body: "popular",
    id: 41,
    ts: 1_764_700_000_000,
    history: true as const,
    replyTo: 12_345_678,
    edited: 1_764_700_000_000,
    reactions: Array.from({ length: 20 }, (_, n) => ({
      emoji: ["👍", "👨‍👩‍👧‍👦", "🇺🇦", "1️⃣"][n % 4]!,
      count: 1_000_000 + n,
      users: Array.from({ length: 20 }, (_, u) => `user${u}_${"x".repeat(20)}`),
    })),
  };
  const events = [...EVENTS, crowded, { ...EVENTS[4], deleted: { by: "ø".repeat(32), ts: 1e12 } }];
  for (const event of events) {
    const encoded = encodeFrame(event).length;
    assert.ok(
      eventBytes(event as never) >= encoded,
      `${event.type}: eventBytes ${eventBytes(event as never)} < ${encoded} encoded`,
    );
  }
});
