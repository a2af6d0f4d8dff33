import assert from "node:assert/strict";
import { ChatError, ERROR_CODES, isErrorCode } from "../shared/errors.ts";
import {
  checkProtocolVersion,
  isClientMsgId,
  MAX_CLIENT_MSG_ID_LENGTH,
  parseClientFrame,
  parseServerFrame,
  PROTOCOL_MAJOR,
  PROTOCOL_VERSION,
  requestIdOf,
} from "../shared/protocol.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected ChatError, got ${error}`);
    return error.code;
  }
  assert.fail("expected a ChatError, nothing was thrown");
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected ChatError, got ${error}`);
    return error.message;
  }
  assert.fail("expected a ChatError, nothing was thrown");
}

const hello = {
  type: "hello",
  protocol: "1.0",
  client: "test",
  clientVersion: "0.1.0",
  nick: "alice",
};

// ---------------------------------------------------------------- parseClientFrame

Deno.test("parseClientFrame: a frame that is not a map is bad_frame", () => {
  for (const value of [null, undefined, 1, "hello", [], [hello], new Uint8Array([1])]) {
    assert.equal(codeOf(() => parseClientFrame(value)), "bad_frame", String(value));
  }
  assert.equal(messageOf(() => parseClientFrame([])), "Invalid frame: not a map");
});

Deno.test("parseClientFrame: a missing or non-string type is bad_frame", () => {
  assert.equal(codeOf(() => parseClientFrame({ id: 1 })), "bad_frame");
  assert.equal(codeOf(() => parseClientFrame({ type: 3, id: 1 })), "bad_frame");
  assert.equal(codeOf(() => parseClientFrame({ type: null, id: 1 })), "bad_frame");
});

Deno.test("parseClientFrame: hello, normalized and stripped of unknown fields", () => {
  assert.deepEqual(parseClientFrame({ ...hello, nick: "ａｌｉｃｅ", extra: true }), hello);
});

Deno.test("parseClientFrame: bad hello fields", () => {
  for (const key of ["protocol", "client", "clientVersion", "nick"]) {
    assert.equal(
      codeOf(() => parseClientFrame({ ...hello, [key]: undefined })),
      "bad_request",
      key,
    );
    assert.equal(codeOf(() => parseClientFrame({ ...hello, [key]: 7 })), "bad_request", key);
  }
  assert.equal(
    messageOf(() => parseClientFrame({ ...hello, client: 7 })),
    'Invalid hello frame: "client" must be a string',
  );
  assert.equal(
    codeOf(() => parseClientFrame({ ...hello, protocol: "1.0".repeat(6) })),
    "bad_request",
  );
  assert.equal(codeOf(() => parseClientFrame({ ...hello, client: "c".repeat(65) })), "bad_request");
  assert.equal(codeOf(() => parseClientFrame({ ...hello, nick: "1bad" })), "invalid_name");
  assert.equal(codeOf(() => parseClientFrame({ ...hello, nick: "a\u202Eb" })), "invalid_name");
  // The version string is not judged here: checkProtocolVersion does that.
  assert.equal(
    (parseClientFrame({ ...hello, protocol: "9.9" }) as { protocol: string }).protocol,
    "9.9",
  );
});

Deno.test("parseClientFrame: pong needs no id", () => {
  assert.deepEqual(parseClientFrame({ type: "pong" }), { type: "pong" });
  assert.deepEqual(parseClientFrame({ type: "pong", id: 5 }), { type: "pong" });
});

Deno.test("parseClientFrame: a request without a valid id is bad_request", () => {
  for (const id of [undefined, null, -1, 1.5, "1", 2 ** 53, Number.NaN]) {
    assert.equal(codeOf(() => parseClientFrame({ type: "rooms", id })), "bad_request", String(id));
  }
  assert.equal(
    messageOf(() => parseClientFrame({ type: "rooms" })),
    'Invalid rooms frame: "id" must be a non-negative integer',
  );
  assert.deepEqual(parseClientFrame({ type: "rooms", id: 0 }), { type: "rooms", id: 0 });
});

Deno.test("parseClientFrame: join, leave and who take a room, # dropped", () => {
  for (const type of ["join", "leave", "who"]) {
    assert.deepEqual(parseClientFrame({ type, id: 1, room: "#General", x: 1 }), {
      type,
      id: 1,
      room: "General",
    });
    assert.equal(codeOf(() => parseClientFrame({ type, id: 1 })), "bad_request", type);
    assert.equal(codeOf(() => parseClientFrame({ type, id: 1, room: 5 })), "bad_request", type);
    assert.equal(codeOf(() => parseClientFrame({ type, id: 1, room: "#" })), "invalid_room", type);
    assert.equal(codeOf(() => parseClientFrame({ type, id: 1, room: "a b" })), "invalid_room");
    // Over the generic string cap, before the room rules apply.
    assert.equal(
      codeOf(() => parseClientFrame({ type, id: 1, room: "r".repeat(257) })),
      "bad_request",
    );
  }
});

Deno.test("parseClientFrame: say", () => {
  assert.deepEqual(parseClientFrame({ type: "say", id: 2, room: "#r", body: "hi" }), {
    type: "say",
    id: 2,
    room: "r",
    body: "hi",
  });
  assert.deepEqual(
    parseClientFrame({ type: "say", id: 2, room: "r", body: "waves", action: true }),
    {
      type: "say",
      id: 2,
      room: "r",
      body: "waves",
      action: true,
    },
  );
  // action: false and null are the same as no action.
  assert.equal(
    "action" in parseClientFrame({ type: "say", id: 2, room: "r", body: "x", action: false }),
    false,
  );
  assert.equal(
    "action" in parseClientFrame({ type: "say", id: 2, room: "r", body: "x", action: null }),
    false,
  );
  assert.equal(
    codeOf(() => parseClientFrame({ type: "say", id: 2, room: "r", body: "x", action: "yes" })),
    "bad_request",
  );
  assert.equal(codeOf(() => parseClientFrame({ type: "say", id: 2, room: "r" })), "invalid_body");
  assert.equal(
    codeOf(() => parseClientFrame({ type: "say", id: 2, room: "r", body: "" })),
    "invalid_body",
  );
  assert.equal(
    codeOf(() => parseClientFrame({ type: "say", id: 2, room: "r", body: "\x1b[2J" })),
    "invalid_body",
  );
  assert.equal(codeOf(() => parseClientFrame({ type: "say", id: 2, body: "x" })), "bad_request");
  assert.equal(
    codeOf(() => parseClientFrame({ type: "say", id: 2, room: ".", body: "x" })),
    "invalid_room",
  );
});

Deno.test("parseClientFrame: maxBodyLength applies to say, dm and broadcast", () => {
  const options = { maxBodyLength: 3 };
  assert.equal(
    (parseClientFrame({ type: "say", id: 1, room: "r", body: "abc" }, options) as { body: string })
      .body,
    "abc",
  );
  for (
    const frame of [
      { type: "say", id: 1, room: "r", body: "abcd" },
      { type: "dm", id: 1, to: "bob", body: "abcd" },
      { type: "broadcast", id: 1, body: "abcd" },
    ]
  ) {
    assert.equal(codeOf(() => parseClientFrame(frame, options)), "invalid_body", frame.type);
    assert.doesNotThrow(() => parseClientFrame(frame));
  }
  // Without the option the default of 4000 applies.
  const long = { type: "broadcast", id: 1, body: "x".repeat(4001) };
  assert.equal(codeOf(() => parseClientFrame(long)), "invalid_body");
});

Deno.test("parseClientFrame: dm", () => {
  assert.deepEqual(parseClientFrame({ type: "dm", id: 3, to: "ＢＯＢ", body: "psst" }), {
    type: "dm",
    id: 3,
    to: "BOB",
    body: "psst",
  });
  assert.deepEqual(parseClientFrame({ type: "dm", id: 3, to: "bob", body: "nods", action: true }), {
    type: "dm",
    id: 3,
    to: "bob",
    body: "nods",
    action: true,
  });
  assert.equal(
    codeOf(() => parseClientFrame({ type: "dm", id: 3, to: "1bob", body: "x" })),
    "invalid_name",
  );
  assert.equal(codeOf(() => parseClientFrame({ type: "dm", id: 3, body: "x" })), "bad_request");
  assert.equal(
    codeOf(() => parseClientFrame({ type: "dm", id: 3, to: "bob", body: " " })),
    "invalid_body",
  );
});

Deno.test("parseClientFrame: say and dm keep a valid clientMsgId, refuse others", () => {
  const id = crypto.randomUUID();
  assert.deepEqual(
    parseClientFrame({ type: "say", id: 1, room: "dev", body: "hi", clientMsgId: id }),
    { type: "say", id: 1, room: "dev", body: "hi", clientMsgId: id },
  );
  assert.deepEqual(
    parseClientFrame({ type: "dm", id: 2, to: "bob", body: "hi", clientMsgId: "k:1/~!" }),
    { type: "dm", id: 2, to: "bob", body: "hi", clientMsgId: "k:1/~!" },
  );
  // Absent and null are the same: no id.
  assert.equal(
    "clientMsgId" in
      parseClientFrame({ type: "say", id: 1, room: "d", body: "x", clientMsgId: null }),
    false,
  );
  for (const bad of ["", " ", "a b", "ä", "x".repeat(MAX_CLIENT_MSG_ID_LENGTH + 1), 1, {}, true]) {
    assert.equal(isClientMsgId(bad), false, JSON.stringify(bad));
    const frame = { type: "say", id: 1, room: "dev", body: "hi", clientMsgId: bad };
    assert.equal(codeOf(() => parseClientFrame(frame)), "bad_request");
    assert.match(messageOf(() => parseClientFrame(frame)), /"clientMsgId" must be 1 to 64/);
  }
  assert.equal(isClientMsgId("~".repeat(MAX_CLIENT_MSG_ID_LENGTH)), true);
});

Deno.test("parseClientFrame: broadcast", () => {
  assert.deepEqual(parseClientFrame({ type: "broadcast", id: 4, body: "all hands", room: "r" }), {
    type: "broadcast",
    id: 4,
    body: "all hands",
  });
  assert.equal(codeOf(() => parseClientFrame({ type: "broadcast", id: 4 })), "invalid_body");
  assert.equal(
    codeOf(() => parseClientFrame({ type: "broadcast", id: 4, body: "a\u0000" })),
    "invalid_body",
  );
});

Deno.test("parseClientFrame: rooms and users carry an id and a cursor, ping only an id", () => {
  for (const type of ["rooms", "users", "ping"]) {
    assert.deepEqual(parseClientFrame({ type, id: 9, room: "r", body: "b" }), { type, id: 9 });
  }
  for (const type of ["rooms", "users"]) {
    assert.deepEqual(parseClientFrame({ type, id: 9, after: "#Dev", limit: 20 }), {
      type,
      id: 9,
      after: "#Dev",
      limit: 20,
    });
    assert.deepEqual(parseClientFrame({ type, id: 9, after: null, limit: null }), { type, id: 9 });
    assert.equal(codeOf(() => parseClientFrame({ type, id: 9, after: 3 })), "bad_request");
    assert.equal(codeOf(() => parseClientFrame({ type, id: 9, limit: 0 })), "bad_request");
    assert.equal(
      codeOf(() => parseClientFrame({ type, id: 9, after: "x".repeat(257) })),
      "bad_request",
    );
  }
  assert.deepEqual(parseClientFrame({ type: "who", id: 2, room: "#r", after: "bob", limit: 5 }), {
    type: "who",
    id: 2,
    room: "r",
    after: "bob",
    limit: 5,
  });
});

Deno.test("parseClientFrame: topic queries without a topic and sets with one", () => {
  assert.deepEqual(parseClientFrame({ type: "topic", id: 5, room: "#r" }), {
    type: "topic",
    id: 5,
    room: "r",
  });
  assert.deepEqual(parseClientFrame({ type: "topic", id: 5, room: "r", topic: null }), {
    type: "topic",
    id: 5,
    room: "r",
  });
  assert.deepEqual(parseClientFrame({ type: "topic", id: 5, room: "r", topic: "  Launch  " }), {
    type: "topic",
    id: 5,
    room: "r",
    topic: "Launch",
  });
  // An empty topic clears it: it is kept, not taken for a query.
  assert.deepEqual(parseClientFrame({ type: "topic", id: 5, room: "r", topic: "" }), {
    type: "topic",
    id: 5,
    room: "r",
    topic: "",
  });
  assert.equal(
    codeOf(() => parseClientFrame({ type: "topic", id: 5, room: "r", topic: "a\nb" })),
    "invalid_body",
  );
  assert.equal(
    codeOf(() => parseClientFrame({ type: "topic", id: 5, room: "r", topic: 1 })),
    "invalid_body",
  );
  assert.equal(codeOf(() => parseClientFrame({ type: "topic", id: 5, room: "#" })), "invalid_room");
});

Deno.test("parseClientFrame: nick", () => {
  assert.deepEqual(parseClientFrame({ type: "nick", id: 6, nick: "ｃａｒｏｌ" }), {
    type: "nick",
    id: 6,
    nick: "carol",
  });
  assert.equal(
    codeOf(() => parseClientFrame({ type: "nick", id: 6, nick: "car ol" })),
    "invalid_name",
  );
  assert.equal(
    codeOf(() => parseClientFrame({ type: "nick", id: 6, nick: "c\u200Bx" })),
    "invalid_name",
  );
  assert.equal(codeOf(() => parseClientFrame({ type: "nick", id: 6 })), "bad_request");
});

Deno.test("parseClientFrame: quit with and without a reason", () => {
  assert.deepEqual(parseClientFrame({ type: "quit", id: 7 }), { type: "quit", id: 7 });
  assert.deepEqual(parseClientFrame({ type: "quit", id: 7, reason: null }), {
    type: "quit",
    id: 7,
  });
  assert.deepEqual(parseClientFrame({ type: "quit", id: 7, reason: " bye " }), {
    type: "quit",
    id: 7,
    reason: "bye",
  });
  assert.equal(
    codeOf(() => parseClientFrame({ type: "quit", id: 7, reason: "a\x1bb" })),
    "invalid_body",
  );
});

Deno.test("parseClientFrame: an unknown request type is unknown_command", () => {
  assert.equal(codeOf(() => parseClientFrame({ type: "frobnicate", id: 1 })), "unknown_command");
  assert.equal(
    messageOf(() => parseClientFrame({ type: "launch", id: 1 })),
    'Unknown request type "launch"',
  );
  // Long type names are cut in the message.
  const message = messageOf(() => parseClientFrame({ type: "x".repeat(1000), id: 1 }));
  assert.equal(message, `Unknown request type "${"x".repeat(32)}"`);
  // Server-only frame types are not requests.
  assert.equal(codeOf(() => parseClientFrame({ type: "welcome", id: 1 })), "unknown_command");
});

// ---------------------------------------------------------------- requestIdOf

Deno.test("requestIdOf returns only non-negative safe integer ids", () => {
  assert.equal(requestIdOf({ type: "join", id: 3 }), 3);
  assert.equal(requestIdOf({ id: 0 }), 0);
  assert.equal(requestIdOf({ id: Number.MAX_SAFE_INTEGER }), Number.MAX_SAFE_INTEGER);
  for (const id of [-1, 1.5, "3", null, undefined, 2 ** 53, Infinity, true]) {
    assert.equal(requestIdOf({ id }), undefined, String(id));
  }
  for (const value of [null, 3, "id", [3], new Uint8Array([3])]) {
    assert.equal(requestIdOf(value), undefined);
  }
});

// ---------------------------------------------------------------- versions

Deno.test("checkProtocolVersion accepts any 1.x", () => {
  assert.equal(PROTOCOL_VERSION, "1.0");
  assert.equal(PROTOCOL_MAJOR, 1);
  for (const version of ["1.0", "1.1", "1.99"]) checkProtocolVersion(version);
});

Deno.test("checkProtocolVersion refuses other majors and malformed versions", () => {
  for (const version of ["2.0", "0.9", "10.0"]) {
    assert.equal(codeOf(() => checkProtocolVersion(version)), "unsupported_version", version);
  }
  assert.equal(
    messageOf(() => checkProtocolVersion("2.0")),
    "Unsupported protocol version 2.0: this server speaks 1.0",
  );
  for (const version of ["", "1", "1.0.0", "v1.0", "1.x", "one", " 1.0", "1.0\n"]) {
    assert.equal(codeOf(() => checkProtocolVersion(version)), "unsupported_version", version);
  }
  assert.match(messageOf(() => checkProtocolVersion("garbage")), /expected MAJOR\.MINOR/);
});

// ---------------------------------------------------------------- parseServerFrame

const serverFrames = [
  {
    type: "welcome",
    protocol: "1.0",
    server: "chat 0.1.0",
    session: "s1",
    nick: "alice",
    limits: {
      maxFrameBytes: 65536,
      maxBodyLength: 4000,
      maxQueueBytes: 1048576,
      rateBurst: 20,
      ratePerSecond: 5,
      heartbeatMs: 30000,
    },
  },
  { type: "ack", id: 1 },
  { type: "ack", id: 2, result: { room: "general", topic: "", members: ["alice"] } },
  { type: "error", id: 3, code: "rate_limited", message: "Slow down", retryAfterMs: 200 },
  { type: "error", code: "bad_frame", message: "Invalid frame: not a map" },
  { type: "message", room: "general", from: "bob", body: "hi", id: 17, ts: 1_700_000_000_000 },
  { type: "dm", from: "bob", to: "alice", body: "psst", id: 1, ts: 1, action: true },
  { type: "join", room: "general", nick: "bob", ts: 1 },
  { type: "leave", room: "general", nick: "bob", ts: 2, reason: "quit" },
  { type: "nick", from: "bob", to: "robert", ts: 3 },
  { type: "topic", room: "general", topic: "Launch", by: "alice", ts: 4 },
  { type: "notice", body: "Server restarting", ts: 5 },
  { type: "notice", body: "hello all", ts: 5, from: "alice" },
  { type: "ping" },
  { type: "bye", code: "server_shutdown", message: "Server shutting down" },
];

const OPTIONAL_FIELDS: Record<string, string[]> = {
  ack: ["result"],
  error: ["id", "retryAfterMs"],
  dm: ["action"],
  leave: ["reason"],
  notice: ["from"],
};

Deno.test("parseServerFrame accepts every known frame type as sent", () => {
  for (const frame of serverFrames) {
    assert.deepEqual(parseServerFrame(structuredClone(frame)), frame, frame.type);
  }
});

Deno.test("parseServerFrame: each required field missing or mistyped is bad_frame", () => {
  for (const frame of serverFrames) {
    for (const key of Object.keys(frame)) {
      if (key === "type") continue;
      const optional = (OPTIONAL_FIELDS[frame.type] ?? []).includes(key);
      const without: Record<string, unknown> = { ...frame };
      delete without[key];
      if (optional) {
        assert.doesNotThrow(() => parseServerFrame(without), `${frame.type}.${key}`);
        continue;
      }
      assert.equal(codeOf(() => parseServerFrame(without)), "bad_frame", `${frame.type}.${key}`);
      assert.equal(codeOf(() => parseServerFrame({ ...frame, [key]: null })), "bad_frame");
      const wrong = typeof (frame as Record<string, unknown>)[key] === "string" ? 1 : "1";
      assert.equal(codeOf(() => parseServerFrame({ ...frame, [key]: wrong })), "bad_frame");
    }
  }
  assert.equal(
    messageOf(() => parseServerFrame({ type: "message", room: "r", from: "b", body: "x", id: 1 })),
    'Invalid message frame: "ts" must be a number',
  );
});

Deno.test("parseServerFrame: an unknown type is skipped, not an error", () => {
  assert.equal(parseServerFrame({ type: "reaction", emoji: "👍" }), undefined);
  assert.equal(parseServerFrame({ type: "" }), undefined);
  // Names that exist on every object are not frame types either.
  for (const type of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.equal(parseServerFrame({ type }), undefined, type);
  }
});

Deno.test("parseServerFrame: not a map, or no string type, is bad_frame", () => {
  for (const value of [null, "ping", [{ type: "ping" }], {}, { type: 1 }]) {
    assert.equal(codeOf(() => parseServerFrame(value)), "bad_frame");
  }
});

Deno.test("parseServerFrame: an error with an unknown code reads as internal", () => {
  const frame = parseServerFrame({ type: "error", code: "brand_new_code", message: "?" });
  assert.deepEqual(frame, { type: "error", code: "internal", message: "?" });
});

// ---------------------------------------------------------------- errors

Deno.test("ChatError.toWire builds the error frame", () => {
  const error = new ChatError("rate_limited", "Slow down", { retryAfterMs: 250 });
  assert.deepEqual(error.toWire(4), {
    type: "error",
    id: 4,
    code: "rate_limited",
    message: "Slow down",
    retryAfterMs: 250,
  });
  assert.deepEqual(new ChatError("internal", "oops", { cause: new Error("x") }).toWire(), {
    type: "error",
    code: "internal",
    message: "oops",
  });
  assert.deepEqual(new ChatError("bad_frame", "b").toWire(0), {
    type: "error",
    id: 0,
    code: "bad_frame",
    message: "b",
  });
});

Deno.test("isErrorCode knows exactly the listed codes", () => {
  for (const code of ERROR_CODES) assert.ok(isErrorCode(code), code);
  for (const code of ["", "BAD_FRAME", "nope", 1, null]) assert.equal(isErrorCode(code), false);
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
});

Deno.test("parseClientFrame: nil in any optional request field is the same as leaving it out", () => {
  const frames: Record<string, unknown>[] = [
    {
      type: "hello",
      protocol: "1.0",
      client: "c",
      clientVersion: "1",
      nick: "a",
      password: null,
      resume: null,
    },
    { type: "join", id: 1, room: "r", since: null, key: null },
    { type: "say", id: 1, room: "r", body: "x", action: null, clientMsgId: null },
    { type: "dm", id: 1, to: "b", body: "x", action: null, clientMsgId: null },
    { type: "rooms", id: 1, after: null, limit: null },
    { type: "who", id: 1, room: "r", after: null, limit: null },
    { type: "topic", id: 1, room: "r", topic: null },
    { type: "quit", id: 1, reason: null },
    { type: "history", id: 1, room: "r", before: null, after: null, limit: null },
    { type: "dm_history", id: 1, with: "b", before: null, after: null, limit: null },
    { type: "kick", id: 1, room: "r", nick: "b", reason: null, durationMs: null },
    { type: "mode", id: 1, room: "r", inviteOnly: null, key: "k" },
  ];
  for (const frame of frames) {
    const parsed = parseClientFrame(frame) as Record<string, unknown>;
    for (const [key, value] of Object.entries(frame)) {
      if (value === null) assert.equal(key in parsed, false, `${frame.type}.${key}`);
    }
  }
  // mode.key: nil is a value of its own, removing the key.
  assert.equal(
    (parseClientFrame({ type: "mode", id: 1, room: "r", key: null }) as { key: unknown }).key,
    null,
  );
});
