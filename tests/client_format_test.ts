import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { ConnectionClosedError } from "../client/connection_closed_error.ts";
import {
  describeError,
  eventToJson,
  formatEvent,
  formatResult,
  formatTime,
  jsonLine,
  nickColor,
  paint,
  resultToJson,
} from "../client/format.ts";

// Built from strings: the linter rightly dislikes control characters in regex literals.
const SGR = new RegExp("\x1b\\[[0-9;]*m", "g");
const UNSAFE = new RegExp("[\x00-\x1f\x7f-\x9f\u202e\u2028]");
const withoutSgr = (text: string) => text.replace(SGR, "");

const TS = Date.UTC(2024, 0, 1, 12, 34, 56);
const UTC = { utc: true } as const;

Deno.test("formatTime pads hours, minutes and seconds", () => {
  assert.equal(formatTime(Date.UTC(2024, 0, 1, 1, 2, 3), UTC), "01:02:03");
  assert.equal(formatTime(TS, UTC), "12:34:56");
});

Deno.test("formatEvent shows room messages and actions", () => {
  assert.equal(
    formatEvent(
      { type: "message", room: "general", from: "alice", body: "hello", id: 1, ts: TS },
      UTC,
    ),
    "[12:34:56] #general <alice> hello",
  );
  assert.equal(
    formatEvent({
      type: "message",
      room: "general",
      from: "alice",
      body: "waves",
      id: 2,
      ts: TS,
      action: true,
    }, UTC),
    "[12:34:56] #general * alice waves",
  );
});

Deno.test("formatEvent shows direct messages by direction", () => {
  const dm = { type: "dm", from: "alice", to: "bob", body: "hi", id: 1, ts: TS } as const;
  assert.equal(formatEvent(dm, { ...UTC, self: "bob" }), "[12:34:56] <- alice: hi");
  assert.equal(formatEvent(dm, { ...UTC, self: "alice" }), "[12:34:56] -> bob: hi");
  // Nicknames compare case-insensitively, as the server does.
  assert.equal(formatEvent(dm, { ...UTC, self: "ALICE" }), "[12:34:56] -> bob: hi");
  assert.equal(
    formatEvent({ ...dm, action: true }, { ...UTC, self: "bob" }),
    "[12:34:56] <- alice: * alice hi",
  );
});

Deno.test("formatEvent shows joins, leaves, nick and topic changes, notices", () => {
  const cases: Array<[ClientEvent, string]> = [
    [{ type: "join", room: "general", nick: "alice", ts: TS }, "--> alice joined #general"],
    [{ type: "leave", room: "general", nick: "alice", ts: TS }, "<-- alice left #general"],
    [
      { type: "leave", room: "general", nick: "alice", ts: TS, reason: "quit" },
      "<-- alice left #general (quit)",
    ],
    [{ type: "nick", from: "alice", to: "alicia", ts: TS }, "--- alice is now known as alicia"],
    [
      { type: "topic", room: "general", topic: "Release day", by: "bob", ts: TS },
      "--- bob set the topic of #general: Release day",
    ],
    [
      { type: "topic", room: "general", topic: "", by: "bob", ts: TS },
      "--- bob cleared the topic of #general",
    ],
    [{ type: "notice", body: "Server restarting", ts: TS }, "-!- Server restarting"],
    [{ type: "notice", body: "lunch", from: "carol", ts: TS }, "-!- broadcast from carol: lunch"],
  ];
  for (const [event, text] of cases) assert.equal(formatEvent(event, UTC), `[12:34:56] ${text}`);
});

Deno.test("formatEvent shows connection state changes", () => {
  assert.equal(
    formatEvent({
      type: "reconnecting",
      attempt: 2,
      delayMs: 1500,
      reason: "server closed the connection",
      ts: TS,
    }, UTC),
    "[12:34:56] -!- disconnected (server closed the connection); reconnecting in 1.5s (attempt 2)",
  );
  assert.equal(
    formatEvent({
      type: "reconnected",
      attempt: 2,
      rooms: ["general", "random"],
      failed: [],
      ts: TS,
    }, UTC),
    "[12:34:56] -!- reconnected; rejoined #general, #random",
  );
  assert.equal(
    formatEvent(
      { type: "bye", code: "server_shutdown", message: "Server shutting down", ts: TS },
      UTC,
    ),
    "[12:34:56] -!- server closed the connection: Server shutting down (server_shutdown)",
  );
});

Deno.test("formatEvent neutralizes escape sequences and invisible characters from the wire", () => {
  const hostile = "\x1b[2J\x1b]0;owned\x07hi\u202egnp.exe";
  const line = formatEvent(
    { type: "message", room: "gen\x1b[31m", from: "eve\x1b[1m", body: hostile, id: 1, ts: TS },
    UTC,
  );
  assert.equal(line.includes("\x1b"), false);
  assert.equal(line.includes("\x07"), false);
  assert.equal(line.includes("\u202e"), false);
  assert.equal(line, "[12:34:56] #gen^[[31m <eve^[[1m> ^[[2J^[]0;owned^Ghi<U+202E>gnp.exe");
});

Deno.test("formatEvent sanitizes every wire field, not just bodies", () => {
  const events: ClientEvent[] = [
    { type: "dm", from: "e\x1bve", to: "b\x1bob", body: "x", id: 1, ts: TS },
    { type: "join", room: "r\x1b", nick: "n\x1b", ts: TS },
    { type: "leave", room: "r", nick: "n", ts: TS, reason: "r\x1b" },
    { type: "nick", from: "a\x1b", to: "b\x1b", ts: TS },
    { type: "topic", room: "r", topic: "t\x1b", by: "b\x1b", ts: TS },
    { type: "notice", body: "n\x1b", from: "f\x1b", ts: TS },
    { type: "bye", code: "internal", message: "m\x1b", ts: TS },
    { type: "error", code: "internal", message: "m\x1b", ts: TS },
    { type: "reconnecting", attempt: 1, delayMs: 1, reason: "r\x1b", ts: TS },
    {
      type: "reconnected",
      attempt: 1,
      rooms: ["r\x1b"],
      failed: [{ room: "f\x1b", message: "m\x1b" }],
      ts: TS,
    },
  ];
  for (const event of events) {
    for (const color of [0, 16, 256] as const) {
      const line = formatEvent(event, { ...UTC, color, self: "b\x1bob" });
      // Only our own colour sequences may remain.
      const withoutOurColours = withoutSgr(line);
      assert.equal(
        withoutOurColours.includes("\x1b"),
        false,
        `${event.type}: ${JSON.stringify(line)}`,
      );
    }
  }
});

Deno.test("formatEvent keeps a body on one line unless multiline is asked for", () => {
  const event = {
    type: "message",
    room: "general",
    from: "alice",
    body: "one\ntwo\tthree",
    id: 1,
    ts: TS,
  } as const;
  assert.equal(formatEvent(event, UTC), "[12:34:56] #general <alice> one^Jtwo^Ithree");
  assert.equal(
    formatEvent(event, { ...UTC, multiline: true }),
    "[12:34:56] #general <alice> one\n    two\tthree",
  );
  // A carriage return could overwrite the line: it stays visible even in multiline.
  assert.equal(
    formatEvent({ ...event, body: "a\rb" }, { ...UTC, multiline: true }).endsWith("a^Mb"),
    true,
  );
});

Deno.test("formatEvent colours nicknames only when asked", () => {
  const event = {
    type: "message",
    room: "general",
    from: "alice",
    body: "hi",
    id: 1,
    ts: TS,
  } as const;
  assert.equal(formatEvent(event, { ...UTC, color: 0 }).includes("\x1b"), false);
  const coloured = formatEvent(event, { ...UTC, color: 256 });
  assert.ok(coloured.includes(paint("alice", nickColor("alice", 256))));
});

Deno.test("nickColor is stable, case-insensitive and spreads nicknames over the palette", () => {
  assert.equal(nickColor("alice", 256), nickColor("alice", 256));
  assert.equal(nickColor("Alice", 256), nickColor("aLICE", 256));
  assert.equal(nickColor("ａｌｉｃｅ", 256), nickColor("alice", 256));
  assert.equal(nickColor("alice", 0), "");
  assert.match(nickColor("alice", 256), /^38;5;\d+$/);
  assert.match(nickColor("alice", 16), /^3[1-6]$/);
  const colours = new Set(
    ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi"].map((n) =>
      nickColor(n, 256)
    ),
  );
  assert.ok(colours.size >= 5, `only ${colours.size} colours for 8 nicknames`);
});

Deno.test("nickColor values are pinned so colours do not change between releases", () => {
  // FNV-1a of the name key: changing the hash or the palette re-colours every user.
  assert.deepEqual(["alice", "bob", "carol"].map((nick) => nickColor(nick, 256)), [
    "38;5;94",
    "38;5;125",
    "38;5;128",
  ]);
  assert.deepEqual(["alice", "bob", "carol"].map((nick) => nickColor(nick, 16)), [
    "36",
    "33",
    "33",
  ]);
});

Deno.test("eventToJson always has type, room, from, body, id and ts", () => {
  const events: ClientEvent[] = [
    { type: "message", room: "general", from: "alice", body: "hi", id: 3, ts: TS },
    { type: "dm", from: "alice", to: "bob", body: "hi", id: 4, ts: TS },
    { type: "join", room: "general", nick: "alice", ts: TS },
    { type: "leave", room: "general", nick: "alice", ts: TS },
    { type: "nick", from: "alice", to: "alicia", ts: TS },
    { type: "topic", room: "general", topic: "t", by: "bob", ts: TS },
    { type: "notice", body: "n", ts: TS },
    { type: "bye", code: "server_shutdown", message: "bye", ts: TS },
    { type: "reconnecting", attempt: 1, delayMs: 100, reason: "gone", ts: TS },
    { type: "reconnected", attempt: 1, rooms: ["general"], failed: [], ts: TS },
    { type: "reply", request: { type: "users" }, result: { users: [] }, ts: TS },
  ];
  for (const event of events) {
    const record = eventToJson(event);
    assert.equal(Object.keys(record)[0], "type");
    for (const key of ["type", "room", "from", "body", "id", "ts"]) {
      assert.ok(key in record, `${event.type} lacks ${key}`);
    }
    assert.equal(record.type, event.type);
    assert.equal(record.ts, TS);
  }
});

Deno.test("eventToJson maps each event's fields onto the common ones", () => {
  assert.deepEqual(
    eventToJson({ type: "message", room: "general", from: "alice", body: "hi", id: 3, ts: TS }),
    {
      type: "message",
      room: "general",
      from: "alice",
      body: "hi",
      id: 3,
      ts: TS,
      action: false,
    },
  );
  assert.deepEqual(
    eventToJson({ type: "dm", from: "alice", to: "bob", body: "hi", id: 4, ts: TS, action: true }),
    {
      type: "dm",
      room: null,
      from: "alice",
      to: "bob",
      body: "hi",
      id: 4,
      ts: TS,
      action: true,
    },
  );
  assert.deepEqual(
    eventToJson({ type: "leave", room: "general", nick: "bob", ts: TS, reason: "quit" }),
    {
      type: "leave",
      room: "general",
      from: "bob",
      body: "quit",
      id: null,
      nick: "bob",
      reason: "quit",
      ts: TS,
    },
  );
  const failed = eventToJson({
    type: "reply",
    request: { type: "join", room: "x" },
    error: new ChatError("invalid_room", "bad room"),
    ts: TS,
  });
  assert.equal(failed.code, "invalid_room");
  assert.equal(failed.body, "bad room");
  assert.equal(failed.request, "join");
});

Deno.test("jsonLine escapes characters that could reorder text, and round-trips", () => {
  const record = { type: "message", body: "a\u202eb\x1b[2Jc\u2028d\u0085" };
  const line = jsonLine(record);
  assert.equal(UNSAFE.test(line), false);
  assert.deepEqual(JSON.parse(line), record);
  assert.equal(line.includes("\n"), false);
});

Deno.test("formatResult lists rooms, members, users and topics", () => {
  assert.deepEqual(
    formatResult({ type: "rooms" }, {
      rooms: [{ name: "general", members: 2, topic: "hi" }, {
        name: "random",
        members: 1,
        topic: "",
      }],
    }),
    ["rooms (2):", "  #general (2): hi", "  #random (1)"],
  );
  assert.deepEqual(formatResult({ type: "rooms" }, { rooms: [] }), ["no rooms"]);
  assert.deepEqual(
    formatResult({ type: "who", room: "general" }, { room: "general", members: ["alice", "bob"] }),
    [
      "#general (2): alice, bob",
    ],
  );
  assert.deepEqual(formatResult({ type: "users" }, { users: ["alice"] }), [
    "users online (1): alice",
  ]);
  assert.deepEqual(
    formatResult({ type: "topic", room: "general" }, { room: "general", topic: "" }),
    [
      "#general has no topic",
    ],
  );
  assert.deepEqual(
    formatResult({ type: "topic", room: "general" }, { room: "general", topic: "Release" }),
    [
      "topic of #general: Release",
    ],
  );
  // Setting a topic shows as the topic event instead.
  assert.deepEqual(
    formatResult({ type: "topic", room: "general", topic: "x" }, { room: "general", topic: "x" }),
    [],
  );
  assert.deepEqual(
    formatResult({ type: "say", room: "general", body: "x" }, { id: 1, ts: TS }),
    [],
  );
});

Deno.test("formatResult sanitizes names and topics from the wire", () => {
  const lines = [
    ...formatResult({ type: "rooms" }, {
      rooms: [{ name: "a\x1b[2J", members: 1, topic: "t\u202e" }],
    }),
    ...formatResult({ type: "who", room: "r" }, { room: "r\x1b", members: ["m\x1b]0;x\x07"] }),
    ...formatResult({ type: "users" }, { users: ["u\x1b"] }, { color: 256 }),
  ];
  for (const line of lines) {
    assert.equal(withoutSgr(line).includes("\x1b"), false, line);
  }
  assert.equal(lines.join("").includes("\u202e"), false);
});

Deno.test("formatResult tolerates missing or odd results", () => {
  assert.deepEqual(formatResult({ type: "rooms" }, undefined), ["no rooms"]);
  assert.deepEqual(formatResult({ type: "users" }, { users: "nope" }), ["users online (0): "]);
  assert.deepEqual(formatResult({ type: "rooms" }, { rooms: ["general"] }), [
    "rooms (1):",
    "  #general",
  ]);
});

Deno.test("resultToJson gives records for reading requests only", () => {
  assert.deepEqual(
    resultToJson({ type: "who", room: "#general" }, { room: "general", members: ["bob"] }, {
      now: TS,
    }),
    {
      type: "who",
      room: "general",
      from: null,
      body: null,
      id: null,
      members: ["bob"],
      ts: TS,
    },
  );
  assert.equal(resultToJson({ type: "join", room: "general" }, { room: "general" }), undefined);
  assert.equal(resultToJson({ type: "topic", room: "general", topic: "x" }, {}), undefined);
  assert.equal(resultToJson({ type: "users" }, { users: [] }, { now: TS })?.type, "users");
});

Deno.test("describeError names server error codes and sanitizes", () => {
  assert.equal(
    describeError(new ChatError("name_taken", "Nickname bob is already in use")),
    "Nickname bob is already in use (name_taken)",
  );
  assert.equal(describeError(new ConnectionClosedError("gone\x1b[2J")), "gone^[[2J");
  assert.equal(describeError("plain"), "plain");
});
