// deno-lint-ignore-file no-control-regex -- matching control characters is this module's job
/**
 * Validation of names and text shared by server and client: nicknames, room
 * names, message bodies and topics. Each function returns the normalized
 * value or throws a {@linkcode ChatError} naming what is wrong.
 *
 * @module
 */
import { ChatError } from "./errors.ts";
import { skeleton, TR39_UNICODE_VERSION } from "./confusables.ts";
import { CASE_FOLDING_UNICODE_VERSION, caseFold } from "./case_folding.ts";
import { isIdentifierAllowed, mixedScripts } from "./identifier_profile.ts";

/** Longest nickname, in code points after NFKC. */
export const MAX_NICK_LENGTH = 32;
/** Longest room name, in code points after NFKC (without the leading `#`). */
export const MAX_ROOM_LENGTH = 64;
/** Default longest message body, in code points. */
export const DEFAULT_MAX_BODY_LENGTH = 4000;
/** Longest room topic, in code points. */
export const MAX_TOPIC_LENGTH = 390;

// Characters that can reorder or hide text on screen: bidi embeddings,
// overrides and isolates, and zero-width characters.
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const ZERO_WIDTH = /[\u200B-\u200D\u2060\uFEFF\u180E]/u;
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/u;
const CONTROL_EXCEPT_NEWLINE_TAB = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/u;
const NICK = /^[\p{L}_][\p{L}\p{N}_\-\[\]\\`^{}|]*$/u;
const ROOM = /^[\p{L}\p{N}_][\p{L}\p{N}_\-.]*$/u;

function codePoint(char: string): string {
  return "U+" + char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
}

function rejectInvisible(kind: string, code: "invalid_name" | "invalid_room", text: string): void {
  for (
    const [pattern, what] of [[CONTROL, "a control character"], [BIDI, "a bidi control"], [
      ZERO_WIDTH,
      "a zero-width character",
    ]] as const
  ) {
    const found = pattern.exec(text);
    if (found) {
      throw new ChatError(code, `Invalid ${kind}: contains ${what} ${codePoint(found[0])}`);
    }
  }
}

// ASCII letters, digits and the punctuation our name rules allow: nothing to check further.
const ASCII = /^[\x20-\x7e]*$/;
// Invisible although a letter to the name rules: Hangul fillers (U+3164, U+115F, U+1160, U+FFA0)
// and other Default_Ignorable_Code_Points.
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/**
 * Refuses what UTS #39 keeps out of identifiers: code points whose
 * Identifier_Status is not Allowed (the ASCII punctuation of our name rules
 * aside), and scripts mixed beyond the Highly Restrictive level.
 */
function rejectUnsafe(kind: string, code: "invalid_name" | "invalid_room", name: string): void {
  if (ASCII.test(name)) return;
  for (const char of name) {
    const point = char.codePointAt(0)!;
    if (point < 0x80 || isIdentifierAllowed(point)) continue;
    if (INVISIBLE.test(char)) {
      throw new ChatError(
        code,
        `Invalid ${kind}: contains the invisible character ${codePoint(char)}`,
      );
    }
    throw new ChatError(
      code,
      `Invalid ${kind}: ${
        codePoint(char)
      } is not allowed in names (Unicode TR39 restricts it in identifiers)`,
    );
  }
  const scripts = mixedScripts(name);
  if (scripts !== undefined) {
    throw new ChatError(
      code,
      `Invalid ${kind} "${name}": mixes the scripts ${scripts.join(" and ")}; use one script`,
    );
  }
}

function length(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * Validates a nickname and returns it in NFKC form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateNick } from "./validation.ts";
 * assert.equal(validateNick("ａｌｉｃｅ"), "alice");
 * ```
 */
export function validateNick(input: unknown): string {
  if (typeof input !== "string") {
    throw new ChatError("invalid_name", "Invalid nickname: not a string");
  }
  rejectInvisible("nickname", "invalid_name", input);
  const nick = input.normalize("NFKC");
  rejectInvisible("nickname", "invalid_name", nick);
  const size = length(nick);
  if (size === 0) throw new ChatError("invalid_name", "Invalid nickname: empty");
  if (size > MAX_NICK_LENGTH) {
    throw new ChatError(
      "invalid_name",
      `Invalid nickname: ${size} characters exceeds limit ${MAX_NICK_LENGTH}`,
    );
  }
  if (!NICK.test(nick)) {
    throw new ChatError(
      "invalid_name",
      `Invalid nickname "${nick}": use letters, digits and _-[]\\\`^{}|, starting with a letter or _`,
    );
  }
  rejectUnsafe("nickname", "invalid_name", nick);
  return nick;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * The case-insensitive identity of a nickname or room name: two names with
 * the same key are the same user or room.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameKey } from "./validation.ts";
 * assert.equal(nameKey("Alice") === nameKey("ＡＬＩＣＥ"), true);
 * ```
 */
export function nameKey(name: string): string {
  // ASCII is its own NFKC, and folds by lowering A-Z: the common case, without the tables.
  if (ASCII_ONLY.test(name)) return name.toLowerCase();
  return caseFold(name.normalize("NFKC")).normalize("NFKC");
}

/**
 * The identity of a name's look: two nicknames (or room names) with the same
 * lookalike key are confusable on screen, such as `alice` and `аlice` (a
 * Cyrillic а), `Ian` and `lan`, or `jim` and `jirn`, so only one of them may
 * be in use. It is the UTS #39 skeleton of the name as spelled (case
 * matters to the eye: `I` looks like `l`), then case-folded like
 * {@linkcode nameKey}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lookalikeKey } from "./validation.ts";
 * assert.equal(lookalikeKey("\u0430lice") === lookalikeKey("alice"), true);
 * assert.equal(lookalikeKey("Ian") === lookalikeKey("lan"), true);
 * ```
 */
export function lookalikeKey(name: string): string {
  return nameKey(skeleton(name.normalize("NFKC")));
}

/**
 * Changes whenever {@linkcode nameKey} may give other keys (new Unicode
 * data, a changed rule): stores re-key what they keep by name key (see
 * server/store/name_key_migration.ts). Before version 1 a key was
 * `toLowerCase`, not case folding; stores without a version were keyed so.
 */
export const NAME_KEY_VERSION = `nfkc-casefold-${CASE_FOLDING_UNICODE_VERSION}.1`;

/**
 * Changes whenever {@linkcode lookalikeKey} may give other keys (new Unicode
 * data, a changed rule, a new {@linkcode NAME_KEY_VERSION}): stores that
 * index lookalike keys recompute them.
 */
export const LOOKALIKE_KEY_VERSION = `tr39-${TR39_UNICODE_VERSION}.1/${NAME_KEY_VERSION}`;

/**
 * Validates a room name (a leading `#` is accepted and dropped) and returns
 * it in NFKC form without the `#`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateRoom } from "./validation.ts";
 * assert.equal(validateRoom("#general"), "general");
 * ```
 */
export function validateRoom(input: unknown): string {
  if (typeof input !== "string") {
    throw new ChatError("invalid_room", "Invalid room name: not a string");
  }
  rejectInvisible("room name", "invalid_room", input);
  const room = input.normalize("NFKC").replace(/^#/, "");
  rejectInvisible("room name", "invalid_room", room);
  const size = length(room);
  if (size === 0) throw new ChatError("invalid_room", "Invalid room name: empty");
  if (size > MAX_ROOM_LENGTH) {
    throw new ChatError(
      "invalid_room",
      `Invalid room name: ${size} characters exceeds limit ${MAX_ROOM_LENGTH}`,
    );
  }
  if (!ROOM.test(room)) {
    throw new ChatError(
      "invalid_room",
      `Invalid room name "${room}": use letters, digits and _-., starting with a letter, digit or _`,
    );
  }
  rejectUnsafe("room name", "invalid_room", room);
  return room;
}

/** Options for {@linkcode validateBody}. */
export interface BodyOptions {
  /** Longest body, in code points. */
  maxLength?: number;
}

/**
 * Validates a message body: not empty, at most `maxLength` code points, and
 * no C0/C1 control characters other than newline and tab.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateBody } from "./validation.ts";
 * assert.equal(validateBody("hello\tworld"), "hello\tworld");
 * ```
 */
export function validateBody(input: unknown, options: BodyOptions = {}): string {
  const maxLength = options.maxLength ?? DEFAULT_MAX_BODY_LENGTH;
  if (typeof input !== "string") {
    throw new ChatError("invalid_body", "Invalid message: not a string");
  }
  if (input.trim().length === 0) throw new ChatError("invalid_body", "Invalid message: empty");
  // Cheap bound first so a huge body is refused without walking it.
  if (input.length > maxLength * 2 || length(input) > maxLength) {
    throw new ChatError(
      "invalid_body",
      `Invalid message: ${length(input)} characters exceeds limit ${maxLength}`,
    );
  }
  const found = CONTROL_EXCEPT_NEWLINE_TAB.exec(input);
  if (found) {
    throw new ChatError(
      "invalid_body",
      `Invalid message: contains control character ${codePoint(found[0])}`,
    );
  }
  return input;
}

/**
 * Validates a room topic: one line, at most {@linkcode MAX_TOPIC_LENGTH}
 * code points, no control characters. An empty topic clears it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTopic } from "./validation.ts";
 * assert.equal(validateTopic("Release day"), "Release day");
 * ```
 */
export function validateTopic(input: unknown): string {
  if (typeof input !== "string") throw new ChatError("invalid_body", "Invalid topic: not a string");
  const size = length(input);
  if (size > MAX_TOPIC_LENGTH) {
    throw new ChatError(
      "invalid_body",
      `Invalid topic: ${size} characters exceeds limit ${MAX_TOPIC_LENGTH}`,
    );
  }
  const found = CONTROL.exec(input);
  if (found) {
    throw new ChatError(
      "invalid_body",
      `Invalid topic: contains control character ${codePoint(found[0])}`,
    );
  }
  return input.trim();
}

/** Longest reaction emoji, in UTF-16 code units (section 21). */
export const MAX_EMOJI_LENGTH = 32;

const GRAPHEMES = new Intl.Segmenter("en", { granularity: "grapheme" });
const FLAG = /^\p{Regional_Indicator}{2}$/u;
const KEYCAP = /^[0-9#*]\uFE0F?\u20E3$/u;
// A pictographic sequence: an Extended_Pictographic first, then only what emoji are built of:
// more pictographs, skin tones, presentation selectors, zero-width joiners, tag characters
// (subdivision flags) and the keycap mark. No combining marks, so no zalgo on a reaction.
const PICTOGRAPHIC =
  /^\p{Extended_Pictographic}[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0E\uFE0F\u200D\u20E3\u{E0020}-\u{E007F}]*$/u;

/**
 * Validates a reaction: exactly one grapheme cluster (as `Intl.Segmenter`
 * splits text) that is an emoji, that is an Extended_Pictographic sequence, a
 * flag (two regional indicators) or a keycap (`1️⃣`), and at most
 * {@linkcode MAX_EMOJI_LENGTH} UTF-16 code units. Returned as sent (no
 * normalization: `❤` and `❤️` are two reactions). Throws `bad_request`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateEmoji } from "./validation.ts";
 * assert.equal(validateEmoji("👍🏽"), "👍🏽");
 * assert.throws(() => validateEmoji("ok"), { code: "bad_request" });
 * ```
 */
export function validateEmoji(input: unknown): string {
  if (typeof input !== "string") {
    throw new ChatError("bad_request", "Invalid emoji: not a string");
  }
  if (input.length === 0) throw new ChatError("bad_request", "Invalid emoji: empty");
  if (input.length > MAX_EMOJI_LENGTH) {
    throw new ChatError(
      "bad_request",
      `Invalid emoji: ${input.length} UTF-16 code units exceeds limit ${MAX_EMOJI_LENGTH}`,
    );
  }
  let clusters = 0;
  for (const _ of GRAPHEMES.segment(input)) clusters++;
  if (clusters !== 1) {
    throw new ChatError(
      "bad_request",
      `Invalid emoji: ${clusters} characters (grapheme clusters); a reaction is exactly one emoji`,
    );
  }
  if (!PICTOGRAPHIC.test(input) && !FLAG.test(input) && !KEYCAP.test(input)) {
    throw new ChatError(
      "bad_request",
      `Invalid emoji "${sanitizeForTerminal(input)}": not an emoji (a pictograph, flag or keycap)`,
    );
  }
  return input;
}

/**
 * What {@linkcode sanitizeForTerminal} makes visible: C0 and C1 controls,
 * bidi controls, line and paragraph separators, and every
 * Default_Ignorable_Code_Point (zero-width characters, the soft hyphen,
 * U+034F, invisible operators U+2061–U+2064, Hangul fillers, tag characters
 * U+E0000–U+E007F, ...) except the emoji and text presentation selectors
 * U+FE0E and U+FE0F, which emoji need. (U+200D, the zero-width joiner, is
 * shown as well, as it always was: 👩‍💻 reads `👩<U+200D>💻`.)
 */
const HIDDEN_CHARACTERS =
  /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029\u180E\p{Default_Ignorable_Code_Point}]/gu;

/**
 * Makes text from the wire safe to write to a terminal: control characters
 * (escape sequences included), bidi controls and invisible characters (see
 * {@linkcode HIDDEN_CHARACTERS}) become visible escapes such as `^[` or
 * `<U+202E>`. Newline and tab are kept only when `keepNewlines` is set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeForTerminal } from "./validation.ts";
 * assert.equal(sanitizeForTerminal("\x1b[2Jhi"), "^[[2Jhi");
 * assert.equal(sanitizeForTerminal("soft\u00ADhyphen"), "soft<U+00AD>hyphen");
 * ```
 */
export function sanitizeForTerminal(
  text: string,
  options: { keepNewlines?: boolean } = {},
): string {
  return text.replace(HIDDEN_CHARACTERS, (char) => {
    if (options.keepNewlines && (char === "\n" || char === "\t")) return char;
    if (char === "\uFE0E" || char === "\uFE0F") return char; // presentation selectors
    const code = char.codePointAt(0)!;
    if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
    if (code === 0x7f) return "^?";
    return `<${codePoint(char)}>`;
  });
}

// ---------------------------------------------------------------- away messages (section 22)

/** Longest away message the wire carries, in code points; servers may allow fewer (`--max-away-length`). */
export const MAX_AWAY_LENGTH = 1000;

/** The away message of `/away` without one (docs/protocol.md, section 22). */
export const DEFAULT_AWAY_MESSAGE = "away";

/**
 * Validates an away message: a string of at most `maxLength` code points
 * ({@linkcode MAX_AWAY_LENGTH} by default) without control characters;
 * trimmed, and an empty one is {@linkcode DEFAULT_AWAY_MESSAGE}. Throws
 * `invalid_body`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateAwayMessage } from "./validation.ts";
 * assert.equal(validateAwayMessage("  lunch "), "lunch");
 * assert.equal(validateAwayMessage(""), "away");
 * assert.throws(() => validateAwayMessage("x".repeat(11), { maxLength: 10 }), { code: "invalid_body" });
 * ```
 */
export function validateAwayMessage(
  input: unknown,
  options: { maxLength?: number } = {},
): string {
  if (typeof input !== "string") {
    throw new ChatError("invalid_body", "Invalid away message: not a string");
  }
  const maxLength = options.maxLength ?? MAX_AWAY_LENGTH;
  const size = length(input);
  if (size > maxLength) {
    throw new ChatError(
      "invalid_body",
      `Invalid away message: ${size} characters exceeds limit ${maxLength}`,
    );
  }
  const found = CONTROL.exec(input);
  if (found) {
    throw new ChatError(
      "invalid_body",
      `Invalid away message: contains control character ${codePoint(found[0])}`,
    );
  }
  return input.trim() || DEFAULT_AWAY_MESSAGE;
}
