/**
 * Finds a MessagePack `str` (value or map key) whose bytes are not
 * well-formed UTF-8. @msgpack/msgpack decodes strings leniently (under 200
 * bytes with its own decoder, which turns an overlong `C0 AF` into "/" and
 * `ED A0 80` into a lone surrogate; longer ones with a non-fatal
 * TextDecoder, which makes U+FFFD), so the bytes are checked here, where
 * they still are bytes.
 *
 * @module
 */
import { invalidUtf8Offset } from "./utf8.ts";

/**
 * The offset in `payload` of the first byte of a string that is not
 * well-formed UTF-8, or -1 when every string in it is. `payload` must hold
 * one MessagePack value that decoded without error (so lengths are within
 * the payload); anything else ends the walk at the first byte it cannot
 * read, returning -1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encode } from "@msgpack/msgpack";
 * import { invalidStringOffset } from "./msgpack_strings.ts";
 * assert.equal(invalidStringOffset(encode({ type: "say", body: "hé" })), -1);
 * // {"body": "\xC0\xAF"}: a fixmap, fixstr "body", fixstr of two bytes, the overlong form.
 * const bad = Uint8Array.of(0x81, 0xa4, 0x62, 0x6f, 0x64, 0x79, 0xa2, 0xc0, 0xaf);
 * assert.equal(invalidStringOffset(bad), 7);
 * ```
 */
export function invalidStringOffset(payload: Uint8Array): number {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let position = 0;
  // Values still to read: one, plus the elements of every container opened.
  let pending = 1;
  while (pending > 0 && position < payload.length) {
    pending--;
    const head = payload[position]!;
    let skip = 1;
    let text = -1;
    if (head <= 0x7f || head >= 0xe0) {
      // positive and negative fixint
    } else if (head <= 0x8f) {
      pending += 2 * (head & 0x0f);
    } else if (head <= 0x9f) {
      pending += head & 0x0f;
    } else if (head <= 0xbf) {
      text = head & 0x1f;
    } else {
      if (!fits(payload, position, SIZE_BYTES[head - 0xc0]!)) return -1;
      switch (head) {
        case 0xc4: // bin 8
          skip = 2 + payload[position + 1]!;
          break;
        case 0xc5: // bin 16
          skip = 3 + view.getUint16(position + 1);
          break;
        case 0xc6: // bin 32
          skip = 5 + view.getUint32(position + 1);
          break;
        case 0xc7: // ext 8
          skip = 3 + payload[position + 1]!;
          break;
        case 0xc8: // ext 16
          skip = 4 + view.getUint16(position + 1);
          break;
        case 0xc9: // ext 32
          skip = 6 + view.getUint32(position + 1);
          break;
        case 0xd9: // str 8
          skip = 2;
          text = payload[position + 1]!;
          break;
        case 0xda: // str 16
          skip = 3;
          text = view.getUint16(position + 1);
          break;
        case 0xdb: // str 32
          skip = 5;
          text = view.getUint32(position + 1);
          break;
        case 0xdc: // array 16
          skip = 3;
          pending += view.getUint16(position + 1);
          break;
        case 0xdd: // array 32
          skip = 5;
          pending += view.getUint32(position + 1);
          break;
        case 0xde: // map 16
          skip = 3;
          pending += 2 * view.getUint16(position + 1);
          break;
        case 0xdf: // map 32
          skip = 5;
          pending += 2 * view.getUint32(position + 1);
          break;
        default:
          // nil, booleans, numbers and fixext: a fixed size.
          skip = FIXED_BYTES[head - 0xc0]!;
          if (skip === 0) return -1; // 0xc1 is never used
      }
    }
    if (text >= 0) {
      const start = position + skip;
      const bytes = payload.subarray(start, start + text);
      // Most strings are ASCII: skip the call when every byte is.
      if (!isAscii(bytes)) {
        const offset = invalidUtf8Offset(bytes);
        if (offset !== -1) return start + offset;
      }
      skip += text;
    }
    position += skip;
  }
  return -1;
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

function fits(payload: Uint8Array, position: number, size: number): boolean {
  return position + size <= payload.length;
}

// For heads 0xC0–0xDF: bytes of the head and its length field (what must fit before reading it).
// deno-fmt-ignore
const SIZE_BYTES = [
  1, 1, 1, 1, 2, 3, 5, 2, 3, 5, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 5, 3, 5, 3, 5,
];

// For heads 0xC0–0xDF of a fixed size: their whole size (0 where not fixed or unused).
// deno-fmt-ignore
const FIXED_BYTES = [
  1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 5, 9, 2, 3, 5, 9,
  2, 3, 5, 9, 3, 4, 6, 10, 18, 0, 0, 0, 0, 0, 0, 0,
];
