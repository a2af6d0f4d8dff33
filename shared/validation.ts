// deno-lint-ignore-file no-control-regex -- matching control characters is this module's job
/**
 * Validation of names and text shared by server and client: nicknames, room
 * names, message bodies and topics. Each function returns the normalized
 * value or throws a {@linkcode ChatError} naming what is wrong.
 *
 * @module
 */
import { ChatError } from "./errors.ts";

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
 * import { validateNick } from "./validation.ts";
 * console.log(validateNick("ａｌｉｃｅ")); // "alice"
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
  return nick;
}

/**
 * The case-insensitive identity of a nickname or room name: two names with
 * the same key are the same user or room.
 *
 * @example
 * ```ts
 * import { nameKey } from "./validation.ts";
 * console.log(nameKey("Alice") === nameKey("ＡＬＩＣＥ")); // true
 * ```
 */
export function nameKey(name: string): string {
  return name.normalize("NFKC").toLowerCase().normalize("NFKC");
}

/**
 * Validates a room name (a leading `#` is accepted and dropped) and returns
 * it in NFKC form without the `#`.
 *
 * @example
 * ```ts
 * import { validateRoom } from "./validation.ts";
 * console.log(validateRoom("#general")); // "general"
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
 * import { validateBody } from "./validation.ts";
 * console.log(validateBody("hello\tworld")); // "hello\tworld"
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
 * import { validateTopic } from "./validation.ts";
 * console.log(validateTopic("Release day")); // "Release day"
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

/**
 * Makes text from the wire safe to write to a terminal: control characters
 * (escape sequences included), bidi controls and zero-width characters become
 * visible escapes such as `^[` or `<U+202E>`. Newline and tab are kept only
 * when `keepNewlines` is set.
 *
 * @example
 * ```ts
 * import { sanitizeForTerminal } from "./validation.ts";
 * console.log(sanitizeForTerminal("\x1b[2Jhi")); // "^[[2Jhi"
 * ```
 */
export function sanitizeForTerminal(
  text: string,
  options: { keepNewlines?: boolean } = {},
): string {
  return text.replace(
    /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF\u180E]/gu,
    (char) => {
      if (options.keepNewlines && (char === "\n" || char === "\t")) return char;
      const code = char.codePointAt(0)!;
      if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
      if (code === 0x7f) return "^?";
      return `<${codePoint(char)}>`;
    },
  );
}
