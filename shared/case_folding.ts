/**
 * Full Unicode case folding (the Unicode Standard's toCasefold: statuses C
 * and F of CaseFolding.txt, no Turkic special case): `ß` folds to `ss`, `İ`
 * to `i` + U+0307, `ς` to `σ`, Cherokee small letters to capitals. It is not
 * `toLowerCase`, which keeps `ß`, `ς` and Cherokee small letters. The data is
 * the Unicode version in {@linkcode CASE_FOLDING_UNICODE_VERSION}, generated
 * into `case_folding_data.ts`.
 *
 * @module
 */
import { CASE_FOLDING, CASE_FOLDING_UNICODE_VERSION } from "./case_folding_data.ts";

export { CASE_FOLDING_UNICODE_VERSION };

let folds: Map<number, string> | undefined;

// Parsed on first use: ~1,600 code points from ~500 entries.
function foldTable(): Map<number, string> {
  if (folds !== undefined) return folds;
  folds = new Map();
  for (const entry of CASE_FOLDING.split(";")) {
    const many = /^([0-9A-F]+)=(.+)$/.exec(entry);
    if (many !== null) {
      folds.set(
        parseInt(many[1]!, 16),
        String.fromCodePoint(...many[2]!.split(" ").map((part) => parseInt(part, 16))),
      );
      continue;
    }
    const run = /^([0-9A-F]+)(?:~([0-9A-F]+)(\/2)?)?([+-])([0-9A-F]+)$/.exec(entry);
    if (run === null) throw new SyntaxError(`Cannot read case folding entry ${entry}`);
    const first = parseInt(run[1]!, 16);
    const last = run[2] === undefined ? first : parseInt(run[2], 16);
    const step = run[3] === undefined ? 1 : 2;
    const offset = (run[4] === "-" ? -1 : 1) * parseInt(run[5]!, 16);
    for (let point = first; point <= last; point += step) {
      folds.set(point, String.fromCodePoint(point + offset));
    }
  }
  return folds;
}

// ASCII: folding is lowering A-Z.
// deno-lint-ignore no-control-regex -- the whole ASCII range, controls included
const ASCII = /^[\x00-\x7f]*$/;

/**
 * The full case folding of `text`, code point by code point. It does not
 * normalize: fold an NFKC string and normalize again when comparing (see
 * `nameKey` in validation.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caseFold } from "./case_folding.ts";
 * assert.equal(caseFold("Straße"), "strasse");
 * assert.equal(caseFold("İstanbul"), "i\u0307stanbul");
 * assert.equal(caseFold("ΣΊΣΥΦΟΣ"), caseFold("σίσυφος"));
 * ```
 */
export function caseFold(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  const table = foldTable();
  let out = "";
  // Copies unchanged stretches whole: most characters fold to themselves.
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    let point = text.charCodeAt(i);
    let width = 1;
    if (point >= 0xd800 && point <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        point = (point - 0xd800) * 0x400 + low - 0xdc00 + 0x10000;
        width = 2;
      }
    }
    const folded = table.get(point);
    if (folded !== undefined) {
      out += text.slice(from, i) + folded;
      from = i + width;
    }
    i += width - 1;
  }
  return from === 0 ? text : out + text.slice(from);
}
