/**
 * The confusable skeleton of Unicode Technical Standard #39, section 4:
 * two strings that look alike (`аlice` with a Cyrillic а, and `alice`;
 * `rn` and `m`) have the same skeleton. The data is confusables.txt of the
 * Unicode version in {@linkcode TR39_UNICODE_VERSION}, generated into
 * `tr39_data.ts`.
 *
 * @module
 */
import { CONFUSABLE_PROTOTYPES, TR39_UNICODE_VERSION } from "./tr39_data.ts";

export { TR39_UNICODE_VERSION };

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;

let prototypes: Map<number, string> | undefined;

// Parsed on first use: ~6,500 entries, a millisecond.
function prototypeTable(): Map<number, string> {
  if (prototypes !== undefined) return prototypes;
  prototypes = new Map();
  for (const entry of CONFUSABLE_PROTOTYPES.split(";")) {
    const [source, target] = entry.split(">");
    const codePoints = target!.split(" ").map((part) => parseInt(part, 16));
    prototypes.set(parseInt(source!, 16), String.fromCodePoint(...codePoints));
  }
  return prototypes;
}

/**
 * The skeleton of `text` (UTS #39, section 4): NFD, default-ignorable code
 * points removed, each code point replaced by its prototype, NFD again. It
 * is for comparing, not for display: `skeleton("m")` is `"rn"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { skeleton } from "./confusables.ts";
 * assert.equal(skeleton("\u0430lice") === skeleton("alice"), true); // Cyrillic а
 * assert.equal(skeleton("paypa1"), "paypal");
 * ```
 */
export function skeleton(text: string): string {
  const table = prototypeTable();
  let out = "";
  for (const char of text.normalize("NFD")) {
    if (DEFAULT_IGNORABLE.test(char)) continue;
    out += table.get(char.codePointAt(0)!) ?? char;
  }
  return out.normalize("NFD");
}
