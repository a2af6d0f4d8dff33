/**
 * Display width of text on a terminal: East Asian wide characters and emoji
 * take two columns, combining marks none. Measured per grapheme cluster with
 * the same `string-width` Ink lays out with, so our columns and Ink's agree.
 *
 * @module
 */
import stringWidth from "string-width";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Splits `text` into grapheme clusters: what a person sees as one character,
 * so a cursor or a line break never splits an emoji or a letter with accents.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphemes } from "./text_width.ts";
 * assert.deepEqual(graphemes("e\u0301👍🏽x"), ["e\u0301", "👍🏽", "x"]);
 * ```
 */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) out.push(segment);
  return out;
}

/**
 * Columns `text` takes on a terminal (no escape sequences expected).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textWidth } from "./text_width.ts";
 * assert.equal(textWidth("日本"), 4);
 * assert.equal(textWidth("a😀"), 3);
 * ```
 */
export function textWidth(text: string): number {
  return stringWidth(text);
}

/**
 * The longest start of `text` that fits in `width` columns, and its width.
 * A wide character that would straddle the edge is left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitWidth } from "./text_width.ts";
 * assert.deepEqual(fitWidth("日本語", 5), { text: "日本", width: 4 });
 * ```
 */
export function fitWidth(text: string, width: number): { text: string; width: number } {
  let used = 0;
  let out = "";
  for (const cluster of graphemes(text)) {
    const size = textWidth(cluster);
    if (used + size > width) break;
    out += cluster;
    used += size;
  }
  return { text: out, width: used };
}
