/**
 * What a search's text means, the same in every store: words, each a run of
 * letters and digits, compared case-insensitively and without accents (as
 * SQLite's FTS5 `unicode61 remove_diacritics 2` tokenizer reads them). The
 * text is split at whitespace into terms; a term with punctuation inside
 * (`foo-bar`, `don't`) is its words in sequence. A message matches when its
 * body holds every term. Nothing in the text is syntax: quotes, `*`, `-`,
 * `NEAR`, `AND` and `OR` are words or separators like any other.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { searchWords } from "../../shared/search_words.ts";

export { searchWords };

/** A term: words that must follow one another in a body. */
export type SearchTerm = readonly string[];

/** The limits on a search's text. */
export interface SearchTextLimits {
  /** Longest text, in code points. */
  maxLength: number;
  /** Most terms (words separated by whitespace). */
  maxTerms: number;
}

/**
 * Parses a search's text into terms; `bad_request` when it is too long, has
 * too many terms, or has no word at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSearchText } from "./search_text.ts";
 * const limits = { maxLength: 200, maxTerms: 8 };
 * assert.deepEqual(parseSearchText('deploy "fail*" foo-bar', limits), [
 *   ["deploy"],
 *   ["fail"],
 *   ["foo", "bar"],
 * ]);
 * assert.throws(() => parseSearchText('"*"', limits), { code: "bad_request" });
 * ```
 */
export function parseSearchText(text: string, limits: SearchTextLimits): SearchTerm[] {
  const length = [...text].length;
  if (length > limits.maxLength) {
    throw new ChatError(
      "bad_request",
      `Cannot search for ${length} characters: at most ${limits.maxLength}`,
    );
  }
  const terms = text.split(/\s+/u).map(searchWords).filter((words) => words.length > 0);
  if (terms.length === 0) {
    throw new ChatError("bad_request", "Cannot search for that: give at least one word");
  }
  if (terms.length > limits.maxTerms) {
    throw new ChatError(
      "bad_request",
      `Cannot search for ${terms.length} words at once: at most ${limits.maxTerms}`,
    );
  }
  return terms;
}

/**
 * An FTS5 string: in double quotes, a double quote doubled. Inside one,
 * nothing is syntax to FTS5.
 */
export function ftsString(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * The FTS5 MATCH expression for `terms` in column `body`, among rows whose
 * column `scope` holds one of `scopes`: every part quoted, so whatever the
 * user typed is only ever words.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ftsMatch } from "./search_text.ts";
 * assert.equal(
 *   ftsMatch([["near"], ["a", "b"]], ["r61"]),
 *   '{body} : ("near" "a b") AND {scope} : ("r61")',
 * );
 * ```
 */
export function ftsMatch(terms: readonly SearchTerm[], scopes: readonly string[]): string {
  const phrases = terms.map((words) => ftsString(words.join(" "))).join(" ");
  return `{body} : (${phrases}) AND {scope} : (${scopes.map(ftsString).join(" OR ")})`;
}

/**
 * Whether `body` holds every term, as the FTS5 index would find it (the
 * Redis store scans bodies with it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bodyMatches } from "./search_text.ts";
 * assert.equal(bodyMatches("The Café is open", [["cafe"], ["is", "open"]]), true);
 * assert.equal(bodyMatches("open is the cafe", [["is", "open"]]), false);
 * assert.equal(bodyMatches("cafeteria", [["cafe"]]), false);
 * ```
 */
export function bodyMatches(body: string, terms: readonly SearchTerm[]): boolean {
  if (body === "") return false;
  const words = searchWords(body);
  return terms.every((term) => holdsRun(words, term));
}

function holdsRun(words: readonly string[], run: SearchTerm): boolean {
  for (let start = 0; start + run.length <= words.length; start++) {
    if (run.every((word, offset) => words[start + offset] === word)) return true;
  }
  return false;
}
