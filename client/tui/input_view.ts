/**
 * The input area as rows: the prompt, the text wrapped at the edge and at
 * its line breaks, continuation rows marked, and where the cursor is, in
 * display columns (so it lands right after wide characters).
 *
 * @module
 */
import { type Span, span } from "./styled_line.ts";
import { textWidth } from "./text_width.ts";

/** The input's rows and cursor. */
export interface InputRows {
  /** Every row of the input, full width or less. */
  rows: Span[][];
  /** Row of the cursor within `rows`. */
  cursorRow: number;
  /** Column of the cursor. */
  cursorColumn: number;
}

/**
 * Lays the input out: `prompt` before the first row, a `↳` mark (or
 * spaces) as wide as the prompt before each further row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inputRows } from "./input_view.ts";
 * import { lineText } from "./styled_line.ts";
 * const laid = inputRows({ clusters: [..."hi\nyo"], cursor: 5, prompt: "> ", width: 20 });
 * assert.deepEqual([laid.rows.map(lineText), laid.cursorRow, laid.cursorColumn], [["> hi", "↳ yo"], 1, 4]);
 * ```
 */
export function inputRows(
  options: {
    clusters: readonly string[];
    cursor: number;
    prompt: string;
    width: number;
    promptStyle?: string;
  },
): InputRows {
  const promptWidth = textWidth(options.prompt);
  const room = Math.max(1, options.width - promptWidth - 1);
  const rows: Span[][] = [];
  let current = "";
  let used = 0;
  let cursorRow = 0;
  let cursorColumn = promptWidth;
  const head = (first: boolean) =>
    rows.length === 0 ? span(options.prompt, options.promptStyle ?? "") : span(
      first ? "↳".padEnd(promptWidth) : " ".repeat(promptWidth),
      options.promptStyle ?? "",
    );
  let lineStart = true;
  const push = () => {
    rows.push([head(lineStart), span(current)]);
    current = "";
    used = 0;
  };
  options.clusters.forEach((cluster, index) => {
    if (index === options.cursor) {
      cursorRow = rows.length;
      cursorColumn = promptWidth + used;
    }
    if (cluster === "\n") {
      push();
      lineStart = true;
      return;
    }
    const size = textWidth(cluster);
    if (used + size > room) {
      push();
      lineStart = false;
      if (index === options.cursor) {
        cursorRow = rows.length;
        cursorColumn = promptWidth;
      }
    }
    current += cluster;
    used += size;
  });
  if (options.cursor >= options.clusters.length) {
    cursorRow = rows.length;
    cursorColumn = promptWidth + used;
  }
  push();
  return { rows, cursorRow, cursorColumn };
}
