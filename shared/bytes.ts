/**
 * Byte-array helpers shared by the server, the client, the bench and tests.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/**
 * Joins `parts` into one new array; `size`, when the caller already knows
 * the total length, saves adding it up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatBytes } from "./bytes.ts";
 * assert.deepEqual(concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)]), Uint8Array.of(1, 2, 3));
 * ```
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  size: number = parts.reduce((sum, part) => sum + part.length, 0),
): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * The length of `text` in UTF-8, in bytes, without encoding it (a lone
 * surrogate counts 3, as the U+FFFD an encoder writes for it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { utf8ByteLength } from "./bytes.ts";
 * assert.equal(utf8ByteLength("héllo 😀"), 11);
 * ```
 */
export function utf8ByteLength(text: string): number {
  // Native: a JavaScript loop over the code units costs 20 times as much.
  return Buffer.byteLength(text, "utf8");
}
