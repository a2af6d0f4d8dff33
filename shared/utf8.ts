/**
 * Strict UTF-8 checking: the well-formed byte sequences of the Unicode
 * Standard (chapter 3, table 3-7), so no overlong forms, no encoded
 * surrogates (U+D800–U+DFFF) and nothing above U+10FFFF. The platform's
 * `TextDecoder` only says yes or no (fatal) or hides the fault (non-fatal,
 * U+FFFD); this says where the fault is, for the error message.
 *
 * @module
 */
import { ChatError } from "./errors.ts";

/**
 * The offset of the first byte of `bytes` that does not begin a well-formed
 * UTF-8 sequence (the lead byte of a broken or truncated one), or -1 when
 * all of `bytes` is well-formed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invalidUtf8Offset } from "./utf8.ts";
 * assert.equal(invalidUtf8Offset(new TextEncoder().encode("héllo")), -1);
 * assert.equal(invalidUtf8Offset(Uint8Array.of(0x61, 0xc0, 0xaf)), 1); // an overlong "/"
 * assert.equal(invalidUtf8Offset(Uint8Array.of(0xed, 0xa0, 0x80)), 0); // the surrogate U+D800
 * ```
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  const end = bytes.length;
  let i = 0;
  while (i < end) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    // 0x80–0xC1: a continuation byte, or the lead of an overlong 2-byte form.
    if (lead < 0xc2) return i;
    if (lead < 0xe0) {
      if (i + 1 >= end || !isContinuation(bytes[i + 1]!)) return i;
      i += 2;
      continue;
    }
    if (lead < 0xf0) {
      // E0 needs A0–BF (no overlong forms); ED needs 80–9F (no surrogates).
      const second = bytes[i + 1];
      const low = lead === 0xe0 ? 0xa0 : 0x80;
      const high = lead === 0xed ? 0x9f : 0xbf;
      if (
        i + 2 >= end || second === undefined || second < low || second > high ||
        !isContinuation(bytes[i + 2]!)
      ) {
        return i;
      }
      i += 3;
      continue;
    }
    if (lead < 0xf5) {
      // F0 needs 90–BF (no overlong forms); F4 needs 80–8F (nothing above U+10FFFF).
      const second = bytes[i + 1];
      const low = lead === 0xf0 ? 0x90 : 0x80;
      const high = lead === 0xf4 ? 0x8f : 0xbf;
      if (
        i + 3 >= end || second === undefined || second < low || second > high ||
        !isContinuation(bytes[i + 2]!) || !isContinuation(bytes[i + 3]!)
      ) {
        return i;
      }
      i += 4;
      continue;
    }
    // F5–FF never occur in UTF-8.
    return i;
  }
  return -1;
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * The `invalid_utf8` error for text whose bytes are not well-formed UTF-8:
 * `what` names the text, `bytes` and `offset` say where the fault is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { invalidUtf8Error } from "./utf8.ts";
 * const error = invalidUtf8Error("Line", Uint8Array.of(0x61, 0xc0, 0xaf), 1);
 * assert.equal(error.message, "Line is not valid UTF-8: byte 0xC0 at offset 1");
 * ```
 */
export function invalidUtf8Error(what: string, bytes: Uint8Array, offset: number): ChatError {
  const byte = bytes[offset]!.toString(16).toUpperCase().padStart(2, "0");
  return new ChatError(
    "invalid_utf8",
    `${what} is not valid UTF-8: byte 0x${byte} at offset ${offset}`,
  );
}

/**
 * The first lone surrogate in `text` as `U+D800`, or undefined when `text`
 * is well-formed Unicode. UTF-8 cannot encode a lone surrogate, so a string
 * holding one (JSON's `"\ud800"` makes such strings) is refused like bytes
 * that are not UTF-8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loneSurrogate } from "./utf8.ts";
 * assert.equal(loneSurrogate("a\ud800b"), "U+D800");
 * assert.equal(loneSurrogate("👩‍💻"), undefined);
 * ```
 */
export function loneSurrogate(text: string): string | undefined {
  if (text.isWellFormed()) return undefined;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return "U+" + unit.toString(16).toUpperCase();
  }
  return undefined;
}
