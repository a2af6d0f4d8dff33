/**
 * Micro-benchmarks of validation (shared/validation.ts, shared/protocol.ts):
 * nicknames, message bodies, parsing a whole client frame, and what a client
 * checks of the frames it receives.
 *
 * @module
 */
import { parseAck, parseClientFrame, parseServerFrame } from "../shared/protocol.ts";
import { validateBody, validateNick } from "../shared/validation.ts";

const ASCII_64 = "The quick brown fox jumps over the lazy dog, then sits down. ok!";
const UNICODE_64 = "Ünïcödé bödy with émojis 🎉🎉 and ｆｕｌｌｗｉｄｔｈ text, 64 chars or so…";
const LONG = "lorem ipsum ".repeat(333);

Deno.bench("validateNick: ascii", { group: "nick", baseline: true }, () => {
  validateNick("alice_42");
});

Deno.bench("validateNick: fullwidth (NFKC changes it)", { group: "nick" }, () => {
  validateNick("ａｌｉｃｅ");
});

Deno.bench("validateBody: 64 ascii characters", { group: "body", baseline: true }, () => {
  validateBody(ASCII_64);
});

Deno.bench("validateBody: 64 non-ascii characters", { group: "body" }, () => {
  validateBody(UNICODE_64);
});

Deno.bench("validateBody: ~4000 characters", { group: "body" }, () => {
  validateBody(LONG);
});

Deno.bench("parseClientFrame: say, 64-byte body", { group: "frame", baseline: true }, () => {
  parseClientFrame({ type: "say", id: 7, room: "#general", body: ASCII_64 });
});

Deno.bench("parseClientFrame: hello", { group: "frame" }, () => {
  parseClientFrame({
    type: "hello",
    protocol: "1.0",
    client: "bench",
    clientVersion: "0",
    nick: "alice",
  });
});

Deno.bench("parseClientFrame: join", { group: "frame" }, () => {
  parseClientFrame({ type: "join", id: 8, room: "general" });
});

const HISTORY_ITEM = { type: "message", room: "general", from: "alice", body: ASCII_64, ts: 1 };
const JOIN_RESULT = {
  room: "general",
  topic: "",
  members: Array.from({ length: 50 }, (_, i) => `user${i}`),
  lastId: 50,
  history: Array.from({ length: 50 }, (_, i) => ({ ...HISTORY_ITEM, id: i + 1, history: true })),
};

Deno.bench("parseServerFrame: message (what a client checks per event)", {
  group: "server frame",
  baseline: true,
}, () => {
  parseServerFrame({ ...HISTORY_ITEM, id: 7 });
});

Deno.bench("parseAck: join with 50 members and 50 messages", { group: "server frame" }, () => {
  parseAck({ type: "ack", id: 1, result: JOIN_RESULT }, { type: "join" });
});
