/**
 * The slash commands of message changes (docs/protocol.md section 21):
 * `/reply`, `/edit`, `/delete`, `/react`, `/unreact`, parsed into requests
 * of the current room, and the reaction emoji validator.
 */
import assert from "node:assert/strict";
import { type Command, parseCommand } from "../shared/commands.ts";
import { ChatError } from "../shared/errors.ts";
import { parseClientFrame } from "../shared/protocol.ts";
import { MAX_EMOJI_LENGTH, validateEmoji } from "../shared/validation.ts";

const inRoom = { currentRoom: "dev" };

function request(line: string): unknown {
  const command: Command = parseCommand(line, inRoom);
  assert.equal(command.kind, "request", line);
  return command.kind === "request" ? command.request : undefined;
}

function refused(line: string, code: string, context: { currentRoom?: string } = inRoom): void {
  assert.throws(() => parseCommand(line, context), (error: unknown) => {
    assert.ok(error instanceof ChatError);
    assert.equal(error.code, code, `${line}: ${error.message}`);
    return true;
  });
}

Deno.test("/reply ID TEXT is a say with replyTo in the current room, the text kept as typed", () => {
  assert.deepEqual(request("/reply 42 sure,  why not"), {
    type: "say",
    room: "dev",
    body: "sure,  why not",
    replyTo: 42,
  });
  assert.deepEqual(request("/reply #7 ok"), { type: "say", room: "dev", body: "ok", replyTo: 7 });
});

Deno.test("/edit ID TEXT, /delete ID: ids as lines show them, 42 or #42", () => {
  assert.deepEqual(request("/edit 42 fixed typo"), {
    type: "edit",
    room: "dev",
    target: 42,
    body: "fixed typo",
  });
  assert.deepEqual(request("/delete #42"), { type: "delete", room: "dev", target: 42 });
  assert.deepEqual(request("/DELETE 3"), { type: "delete", room: "dev", target: 3 });
});

Deno.test("/react ID EMOJI and /unreact ID EMOJI", () => {
  assert.deepEqual(request("/react 5 👍"), { type: "react", room: "dev", target: 5, emoji: "👍" });
  assert.deepEqual(request("/unreact #5 🇫🇷"), {
    type: "unreact",
    room: "dev",
    target: 5,
    emoji: "🇫🇷",
  });
});

Deno.test("change commands without their arguments, or with a bad id, are usage errors", () => {
  for (
    const line of [
      "/edit",
      "/edit 42",
      "/edit 42   ",
      "/edit x text",
      "/edit 0 text",
      "/edit -1 text",
      "/edit 4.5 text",
      "/edit 99999999999999999 text",
      "/delete",
      "/delete 4 5",
      "/delete ##4",
      "/react 4",
      "/react 4 👍 👎",
      "/unreact",
      "/reply 4",
      "/reply four hi",
    ]
  ) refused(line, "bad_request");
});

Deno.test("change commands need a current room", () => {
  for (const line of ["/edit 1 x", "/delete 1", "/react 1 👍", "/unreact 1 👍", "/reply 1 x"]) {
    refused(line, "not_in_room", {});
  }
});

Deno.test("the requests the commands build are valid frames", () => {
  for (const line of ["/edit 1 x", "/delete 1", "/react 1 👍", "/unreact 1 👍", "/reply 1 x"]) {
    const frame = { ...(request(line) as object), id: 1 };
    assert.deepEqual(parseClientFrame(frame), frame);
  }
});

Deno.test("validateEmoji takes one emoji: pictographs, skin tones, ZWJ sequences, flags, keycaps", () => {
  for (
    const emoji of [
      "👍",
      "👍🏽",
      "❤️",
      "❤",
      "👩‍💻",
      "👨‍👩‍👧‍👦",
      "🇫🇷",
      "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
      "1️⃣",
      "#️⃣",
      "©️",
    ]
  ) assert.equal(validateEmoji(emoji), emoji, emoji);
});

Deno.test("validateEmoji refuses text, two emoji, marks, half flags and long sequences", () => {
  for (
    const bad of [
      "",
      "a",
      "ok",
      "1",
      "👍👍",
      "👍 ",
      " 👍",
      "🇫",
      "👍\u0301",
      "e\u0301",
      "\u200D",
      "\uFE0F",
      "\u202E👍",
      "👍\n",
      "👩‍".repeat(12) + "👩",
    ]
  ) {
    assert.throws(() => validateEmoji(bad), { code: "bad_request" }, JSON.stringify(bad));
  }
  assert.throws(() => validateEmoji(5), { code: "bad_request" });
  const long = "👨‍👩‍👧‍👦".repeat(3);
  assert.ok(long.length > MAX_EMOJI_LENGTH);
  assert.throws(() => validateEmoji(long), { message: /exceeds limit 32/ });
});

Deno.test("a react frame with a bad emoji is bad_request, naming the field", () => {
  assert.throws(
    () => parseClientFrame({ type: "react", id: 1, room: "dev", target: 1, emoji: "yes" }),
    { code: "bad_request" },
  );
  assert.throws(
    () => parseClientFrame({ type: "edit", id: 1, room: "dev", target: 0, body: "x" }),
    { code: "bad_request", message: /"target" must be a message id/ },
  );
  assert.throws(
    () => parseClientFrame({ type: "say", id: 1, room: "dev", body: "x", replyTo: "4" }),
    { code: "bad_request" },
  );
});
