import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import type { ResultOf, RoomMessageEvent } from "../shared/protocol.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { ConnectionClosedError } from "../client/connection_closed_error.ts";
import {
  describeError,
  eventToJson,
  formatDate,
  formatDuration,
  formatEvent,
  formatResult,
  formatTime,
  historyMessages,
  jsonLine,
  nickColor,
  paint,
  resultRecords,
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
    "[12:34:56] #general #1 <alice> hello",
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
    "[12:34:56] #general #2 * alice waves",
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
  assert.equal(line, "[12:34:56] #gen^[[31m #1 <eve^[[1m> ^[[2J^[]0;owned^Ghi<U+202E>gnp.exe");
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
  assert.equal(formatEvent(event, UTC), "[12:34:56] #general #1 <alice> one^Jtwo^Ithree");
  assert.equal(
    formatEvent(event, { ...UTC, multiline: true }),
    "[12:34:56] #general #1 <alice> one\n    two\tthree",
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
    { type: "reply", request: { type: "users" }, result: { users: [], total: 0 }, ts: TS },
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
      history: false,
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
      history: false,
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
      total: 2,
    }),
    ["rooms (2):", "  #general (2): hi", "  #random (1)"],
  );
  assert.deepEqual(formatResult({ type: "rooms" }, { rooms: [], total: 0 }), ["no rooms"]);
  assert.deepEqual(
    formatResult({ type: "who", room: "general" }, {
      room: "general",
      members: ["alice", "bob"],
      total: 2,
    }),
    [
      "#general (2): alice, bob",
    ],
  );
  assert.deepEqual(formatResult({ type: "users" }, { users: ["alice"], total: 1 }), [
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

Deno.test("formatResult counts a list's total and says how to get the next page", () => {
  assert.deepEqual(
    formatResult({ type: "rooms" }, {
      rooms: [{ name: "art", members: 1, topic: "" }, { name: "dev", members: 4, topic: "" }],
      total: 1200,
      more: true,
    }),
    ["rooms (1200, this page):", "  #art (1)", "  #dev (4)", "more rooms: /rooms after dev"],
  );
  assert.deepEqual(formatResult({ type: "rooms", after: "zed" }, { rooms: [], total: 3 }), [
    "no more rooms",
  ]);
  assert.deepEqual(
    formatResult({ type: "who", room: "dev" }, {
      room: "dev",
      members: ["alice", "bob"],
      total: 40,
      more: true,
    }),
    ["#dev (40): alice, bob", "more members: /who dev after bob"],
  );
  assert.deepEqual(
    formatResult({ type: "users", after: "bob" }, { users: ["carol"], total: 3 }),
    ["users online (3): carol"],
  );
  assert.deepEqual(
    formatResult({ type: "users" }, { users: ["alice"], total: 3, more: true }),
    ["users online (3): alice", "more users: /users after alice"],
  );
});

Deno.test("formatResult sanitizes names and topics from the wire", () => {
  const lines = [
    ...formatResult({ type: "rooms" }, {
      rooms: [{ name: "a\x1b[2J", members: 1, topic: "t\u202e" }],
      total: 1,
    }),
    ...formatResult({ type: "who", room: "r" }, {
      room: "r\x1b",
      members: ["m\x1b]0;x\x07"],
      total: 1,
    }),
    ...formatResult({ type: "users" }, { users: ["u\x1b"], total: 1 }, { color: 256 }),
  ];
  for (const line of lines) {
    assert.equal(withoutSgr(line).includes("\x1b"), false, line);
  }
  assert.equal(lines.join("").includes("\u202e"), false);
});

Deno.test("formatResult shows nothing for a request without a result (it failed)", () => {
  // Results are checked against their request when the ack arrives (parseAck), so
  // the formatter never sees an odd one; a failed request has none.
  assert.deepEqual(formatResult({ type: "rooms" }, undefined), []);
});

Deno.test("resultToJson gives records for reading requests only", () => {
  assert.deepEqual(
    resultToJson({ type: "who", room: "#general" }, {
      room: "general",
      members: ["bob"],
      total: 1,
    }, {
      now: TS,
    }),
    {
      type: "who",
      room: "general",
      from: null,
      body: null,
      id: null,
      members: ["bob"],
      total: 1,
      ts: TS,
    },
  );
  assert.equal(resultToJson({ type: "join", room: "general" }, joined()), undefined);
  assert.equal(
    resultToJson({ type: "topic", room: "general", topic: "x" }, { room: "general", topic: "x" }),
    undefined,
  );
  assert.equal(
    resultToJson({ type: "users" }, { users: [], total: 0 }, { now: TS })?.type,
    "users",
  );
});

Deno.test("describeError names server error codes and sanitizes", () => {
  assert.equal(
    describeError(new ChatError("name_taken", "Nickname bob is already in use")),
    "Nickname bob is already in use (name_taken)",
  );
  assert.equal(describeError(new ConnectionClosedError("gone\x1b[2J")), "gone^[[2J");
  assert.equal(describeError("plain"), "plain");
  // rustls's name for a CA certificate shown as a server's, as a reconnect reports it.
  const ca = describeError(
    new Deno.errors.InvalidData("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))"),
  );
  assert.match(
    ca,
    /^the server's TLS certificate is a CA certificate \(basicConstraints CA:TRUE\)/,
  );
  assert.doesNotMatch(ca, /CaUsedAsEndEntity/);
});

const message = (
  id: number,
  body: string,
  extra: Partial<RoomMessageEvent> = {},
): RoomMessageEvent => ({
  type: "message",
  room: "general",
  from: "alice",
  body,
  id,
  ts: TS,
  ...extra,
});

/** A join result as the server sends it, with `fields` set. */
function joined(fields: Partial<ResultOf<"join">> = {}): ResultOf<"join"> {
  return { room: "general", topic: "", members: ["alice"], lastId: 0, history: [], ...fields };
}

Deno.test("formatDate and formatDuration", () => {
  assert.equal(formatDate(TS, UTC), "2024-01-01");
  assert.equal(formatDate(Date.UTC(987, 11, 31), UTC), "0987-12-31");
  assert.equal(formatDuration(400), "1s");
  assert.equal(formatDuration(45_000), "45s");
  assert.equal(formatDuration(598_000), "9m 58s");
  assert.equal(formatDuration(600_000), "10m");
  assert.equal(formatDuration(2 * 3_600_000 + 5 * 60_000), "2h 5m");
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
});

Deno.test("formatEvent dates and marks messages from history", () => {
  assert.equal(
    formatEvent({ ...message(1, "hi"), history: true } as ClientEvent, UTC),
    "[2024-01-01 12:34:56] (history) #general #1 <alice> hi",
  );
  assert.equal(
    formatEvent(
      { type: "dm", from: "bob", to: "alice", body: "psst", id: 9, ts: TS, history: true },
      { ...UTC, self: "alice" },
    ),
    "[2024-01-01 12:34:56] (history) <- bob: psst",
  );
  // Live ones stay as they were.
  assert.equal(
    formatEvent(message(1, "hi") as ClientEvent, UTC),
    "[12:34:56] #general #1 <alice> hi",
  );
});

Deno.test("formatEvent shows a notice's room, unread counts, and removals from a room", () => {
  assert.equal(
    formatEvent({ type: "notice", body: "alice kicked bob: spam", room: "general", ts: TS }, UTC),
    "[12:34:56] -!- #general: alice kicked bob: spam",
  );
  assert.equal(
    formatEvent({
      type: "notice",
      body: "3 unread direct message(s): bob (2), carol (1)",
      unread: [{ peer: "bob", count: 2 }, { peer: "carol", count: 1 }],
      ts: TS,
    }, UTC),
    "[12:34:56] -!- unread direct messages from bob (2), carol (1): /dmhistory NICK shows them",
  );
  const kicked = {
    type: "leave",
    room: "general",
    nick: "bob",
    reason: "kicked by alice: spam",
    ts: TS,
  } as const;
  assert.equal(
    formatEvent(kicked, { ...UTC, self: "BOB" }),
    "[12:34:56] -!- you are no longer in #general: kicked by alice: spam",
  );
  // Others see the usual line; our own /leave has no reason and reads as before.
  assert.equal(
    formatEvent(kicked, { ...UTC, self: "carol" }),
    "[12:34:56] <-- bob left #general (kicked by alice: spam)",
  );
  assert.equal(
    formatEvent({ type: "leave", room: "general", nick: "bob", ts: TS }, { ...UTC, self: "bob" }),
    "[12:34:56] <-- bob left #general",
  );
});

Deno.test("historyMessages keeps well-formed messages and marks them as history", () => {
  const messages = historyMessages([
    message(1, "one"),
    { type: "message", room: "general" },
    "junk",
    { type: "topic", room: "general", topic: "t", by: "x", ts: TS },
    { type: "dm", from: "bob", to: "alice", body: "hi", id: 4, ts: TS },
  ]);
  assert.deepEqual(messages.map((m) => [m.type, m.id, m.history]), [
    ["message", 1, true],
    ["dm", 4, true],
  ]);
  assert.deepEqual(historyMessages(undefined), []);
});

Deno.test("formatResult shows a join's lost ids, its history, how to page, and the topic", () => {
  const lines = formatResult({ type: "join", room: "general", since: 2 }, {
    room: "general",
    topic: "Release day",
    members: ["alice", "bob"],
    lastId: 90,
    history: [message(8, "eight"), message(9, "nine")],
    gap: { after: 2, oldest: 8 },
    more: true,
  }, UTC);
  assert.deepEqual(lines, [
    "messages 3 to 7 of #general are too old to recover",
    "[2024-01-01 12:34:56] (history) #general #8 <alice> eight",
    "[2024-01-01 12:34:56] (history) #general #9 <alice> nine",
    "more missed messages in #general: /history after 9",
    "topic of #general: Release day",
  ]);
  assert.deepEqual(
    formatResult({ type: "join", room: "general" }, joined({ gap: { after: 4, oldest: 6 } })),
    ["message 5 of #general is too old to recover"],
  );
  assert.deepEqual(formatResult({ type: "join", room: "general" }, joined()), []);
});

Deno.test("formatResult shows history pages with a hint for the next one", () => {
  const page = { room: "general", messages: [message(41, "a"), message(42, "b")] };
  assert.deepEqual(formatResult({ type: "history", room: "general" }, page, UTC), [
    "[2024-01-01 12:34:56] (history) #general #41 <alice> a",
    "[2024-01-01 12:34:56] (history) #general #42 <alice> b",
    "older messages in #general: /history before 41",
  ]);
  assert.deepEqual(
    formatResult({ type: "history", room: "general", after: 40 }, { ...page, more: true }, UTC)
      .at(-1),
    "newer messages in #general: /history after 42",
  );
  assert.equal(
    formatResult({ type: "history", room: "general", after: 40 }, page, UTC).length,
    2,
  );
  // The first message of the room: nothing older to ask for.
  assert.equal(
    formatResult({ type: "history", room: "general" }, {
      room: "general",
      messages: [message(1, "a")],
    }).length,
    1,
  );
  assert.deepEqual(
    formatResult({ type: "history", room: "general" }, { room: "general", messages: [] }),
    ["no messages in #general"],
  );
  assert.deepEqual(
    formatResult({ type: "history", room: "general", before: 1 }, {
      room: "general",
      messages: [],
    }),
    ["no more messages in #general"],
  );
  assert.deepEqual(
    formatResult({ type: "dm_history", with: "bob" }, { with: "bob", messages: [] }),
    ["no direct messages with bob"],
  );
  const dms: ResultOf<"dm_history"> = {
    with: "bob",
    more: true,
    messages: [{ type: "dm", from: "bob", to: "alice", body: "hi", id: 70, ts: TS }],
  };
  assert.deepEqual(
    formatResult({ type: "dm_history", with: "bob" }, dms, { ...UTC, self: "alice" }),
    [
      "[2024-01-01 12:34:56] (history) <- bob: hi",
      "older messages with bob: /dmhistory bob before 70",
    ],
  );
});

Deno.test("formatResult says a DM waits for someone offline, and a registration", () => {
  assert.deepEqual(
    formatResult({ type: "dm", to: "bob", body: "hi" }, { id: 3, ts: TS, stored: true }),
    ["bob is offline; they will get it at their next login"],
  );
  assert.deepEqual(formatResult({ type: "dm", to: "bob", body: "hi" }, { id: 3, ts: TS }), []);
  const registered = formatResult({ type: "register", password: "hunter22" }, { nick: "alice" });
  assert.deepEqual(registered, ["registered alice: log in with this password from now on"]);
});

Deno.test("resultRecords gives a record per history message, plus gap, more and stored records", () => {
  const records = resultRecords(
    { type: "join", room: "#general", since: 2 },
    joined({ history: [message(8, "eight")], gap: { after: 2, oldest: 8 }, more: true }),
    { now: TS },
  );
  assert.deepEqual(records.map((record) => [record.type, record.room, record.id, record.body]), [
    ["gap", "general", null, "messages 3 to 7 of #general are too old to recover"],
    ["message", "general", 8, "eight"],
    ["more", "general", null, "more missed messages in #general: /history after 8"],
  ]);
  assert.equal(records[1]!.history, true);
  assert.deepEqual([records[0]!.after, records[0]!.oldest, records[2]!.after], [2, 8, 8]);
  for (const record of records) {
    for (const key of ["type", "room", "from", "body", "id", "ts"]) assert.ok(key in record);
  }

  const page = resultRecords({ type: "history", room: "general", before: 50 }, {
    room: "general",
    messages: [message(48, "x"), message(49, "y")],
    more: true,
  }, { now: TS });
  assert.deepEqual(page.map((record) => [record.type, record.id, record.before]), [
    ["message", 48, undefined],
    ["message", 49, undefined],
    ["more", null, 48],
  ]);
  // Without the server saying so, JSON claims no more.
  assert.equal(
    resultRecords({ type: "history", room: "general" }, {
      room: "general",
      messages: [message(48, "x")],
    }).length,
    1,
  );

  const stored = resultRecords({ type: "dm", to: "bob", body: "hi" }, {
    id: 7,
    ts: TS,
    stored: true,
  }, {
    now: TS,
  });
  assert.deepEqual(stored, [{
    type: "stored",
    room: null,
    from: null,
    body: "bob is offline; they will get it at their next login",
    id: 7,
    ts: TS,
    to: "bob",
  }]);
  const registered = resultRecords({ type: "register", password: "hunter22" }, { nick: "alice" });
  assert.equal(registered[0]!.type, "register");
  assert.equal(registered[0]!.nick, "alice");
  assert.equal(JSON.stringify(registered).includes("hunter22"), false);
  assert.deepEqual(resultRecords({ type: "users" }, { users: [], total: 0 }, { now: TS }), [
    { type: "users", room: null, from: null, body: null, id: null, ts: TS, users: [], total: 0 },
  ]);
  assert.deepEqual(
    resultRecords({ type: "say", room: "general", body: "x" }, { id: 1, ts: TS }),
    [],
  );
});

Deno.test("describeError says when a mute ends or a retry can work", () => {
  assert.equal(
    describeError(
      new ChatError("muted", "You are muted in #general until 2024-01-01T12:44:54.000Z", {
        retryAfterMs: 598_000,
      }),
    ),
    "You are muted in #general until 2024-01-01T12:44:54.000Z (muted, you can speak again in 9m 58s)",
  );
  assert.equal(
    describeError(new ChatError("rate_limited", "Too fast", { retryAfterMs: 1500 })),
    "Too fast (rate_limited, retry in 2s)",
  );
  assert.equal(
    describeError(new ChatError("banned", "You are banned from #ops")),
    "You are banned from #ops (banned)",
  );
});

// ---- away and typing (docs/protocol.md, section 22)

Deno.test("formatEvent shows away, back, typing and the away notice; eventToJson keeps their fields", () => {
  const cases: Array<[ClientEvent, string]> = [
    [{ type: "away", nick: "bob", message: "lunch", ts: TS }, "--- bob is away: lunch"],
    [{ type: "away", nick: "bob", ts: TS }, "--- bob is back"],
    [
      { type: "typing", room: "dev", from: "bob", state: "active", ts: TS },
      "--- bob is typing in #dev",
    ],
    [{ type: "typing", from: "bob", to: "alice", state: "done", ts: TS }, "--- bob stopped typing"],
    [
      { type: "notice", body: "bob is away: lunch", from: "bob", away: "lunch", ts: TS },
      "-!- bob is away: lunch",
    ],
  ];
  for (const [event, text] of cases) assert.equal(formatEvent(event, UTC), `[12:34:56] ${text}`);
  assert.deepEqual(
    eventToJson({ type: "typing", from: "bob", to: "alice", state: "paused", ts: TS }),
    {
      type: "typing",
      room: null,
      from: "bob",
      body: null,
      id: null,
      ts: TS,
      to: "alice",
      state: "paused",
    },
  );
  assert.deepEqual(eventToJson({ type: "away", nick: "bob", message: "lunch", ts: TS }), {
    type: "away",
    room: null,
    from: "bob",
    body: "lunch",
    id: null,
    ts: TS,
    nick: "bob",
    message: "lunch",
  });
});

Deno.test("formatResult shows who is away in who and users pages, and the away ack", () => {
  assert.deepEqual(
    formatResult({ type: "users" }, {
      users: ["alice", "bob"],
      total: 2,
      away: [{ nick: "bob", message: "lunch" }],
    }),
    ["users online (2): alice, bob (away: lunch)"],
  );
  assert.deepEqual(
    formatResult({ type: "who", room: "dev" }, {
      room: "dev",
      members: ["bob"],
      total: 1,
      away: [{ nick: "bob", message: "brb" }],
    }),
    ["#dev (1): bob (away: brb)"],
  );
  assert.deepEqual(formatResult({ type: "away", message: "x" }, { away: "x" }), [
    "you are away: x",
  ]);
  assert.deepEqual(formatResult({ type: "away" }, {}), ["you are back"]);
});
