/**
 * The words of a search (docs/protocol.md section 24), shared by the
 * server, which matches with them, and the clients, which mark the matches:
 * runs of letters, digits and private-use characters, folded to lower case
 * without accents (as SQLite's FTS5 `unicode61 remove_diacritics 2` reads them).
 *
 * @module
 */

// Letters, digits and private-use characters make words (unicode61's default).
const WORD = /[\p{L}\p{N}\p{Co}]+/gu;
// The same with combining marks, to find words in text as written (not yet folded).
const WRITTEN_WORD = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{M}]*/gu;
const MARKS = /\p{M}/gu;

/** `text` folded as words are compared: lower case, accents removed. */
function fold(text: string): string {
  return text.normalize("NFD").replace(MARKS, "").toLowerCase();
}

/**
 * The words of `text`, folded: lower case, accents removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { searchWords } from "./search_words.ts";
 * assert.deepEqual(searchWords('Déjà-vu "NEAR" *x*'), ["deja", "vu", "near", "x"]);
 * ```
 */
export function searchWords(text: string): string[] {
  return fold(text).match(WORD) ?? [];
}

/**
 * `body` cut into pieces, each marked when it is a word the search `text`
 * names (to show matches); the pieces put together are `body`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchPieces } from "./search_words.ts";
 * assert.deepEqual(matchPieces("The Café opens", "cafe"), [
 *   { text: "The ", match: false },
 *   { text: "Café", match: true },
 *   { text: " opens", match: false },
 * ]);
 * ```
 */
export function matchPieces(body: string, text: string): Array<{ text: string; match: boolean }> {
  const wanted = new Set(searchWords(text));
  const pieces: Array<{ text: string; match: boolean }> = [];
  let at = 0;
  for (const found of body.matchAll(WRITTEN_WORD)) {
    if (!searchWords(found[0]).some((word) => wanted.has(word))) continue;
    if (found.index > at) pieces.push({ text: body.slice(at, found.index), match: false });
    pieces.push({ text: found[0], match: true });
    at = found.index + found[0].length;
  }
  if (at < body.length || pieces.length === 0) pieces.push({ text: body.slice(at), match: false });
  return pieces;
}
