/**
 * Byte-array helpers shared by the server, the client, the bench and tests.
 *
 * @module
 */

/**
 * Joins `parts` into one new array; `size`, when the caller already knows
 * the total length, saves adding it up.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * console.log(concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)])); // Uint8Array(3) [ 1, 2, 3 ]
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
