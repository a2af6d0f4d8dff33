/**
 * Micro-benchmarks of validation (shared/validation.ts, shared/protocol.ts):
 * nicknames, message bodies and parsing a whole client frame.
 *
 * @module
 */
import { parseClientFrame } from "../shared/protocol.ts";
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
