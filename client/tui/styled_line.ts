/**
 * Lines of styled text as plain data: what the view model produces and the
 * Ink components print. Every span's text is sanitized when the span is
 * made, so nothing from the wire can reach the terminal as a control code.
 *
 * @module
 */
import { sanitizeForTerminal } from "../../shared/validation.ts";
import { paint } from "../format.ts";
import { fitWidth, graphemes, textWidth } from "./text_width.ts";

/** A run of text in one style; `sgr` is SGR parameters ("" for none). */
export interface Span {
  /** Printable text: no control characters. */
  readonly text: string;
  /** SGR parameters such as "1" or "38;5;166"; "" for the default style. */
  readonly sgr: string;
}

/** One terminal row's worth of spans. */
export type Line = readonly Span[];

/**
 * Makes a span, sanitizing `text` (tabs become spaces, controls visible
 * escapes) so no caller can let an escape sequence through.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { span } from "./styled_line.ts";
 * assert.deepEqual(span("\x1b[2Jhi", "1"), { text: "^[[2Jhi", sgr: "1" });
 * ```
 */
export function span(text: string, sgr = ""): Span {
  return { text: sanitizeForTerminal(text.replace(/\t/g, "  ")), sgr };
}

/**
 * Columns a line takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineWidth, span } from "./styled_line.ts";
 * assert.equal(lineWidth([span("ab"), span("日")]), 4);
 * ```
 */
export function lineWidth(line: Line): number {
  let width = 0;
  for (const part of line) width += textWidth(part.text);
  return width;
}

/**
 * The plain text of a line, without styles (tests, notifications).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineText, span } from "./styled_line.ts";
 * assert.equal(lineText([span("a", "1"), span("b")]), "ab");
 * ```
 */
export function lineText(line: Line): string {
  return line.map((part) => part.text).join("");
}

/**
 * Cuts or pads `line` to exactly `width` columns (a wide character that
 * would straddle the edge becomes a space), padding in `fill` style.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitLine, lineText, span } from "./styled_line.ts";
 * assert.equal(lineText(fitLine([span("日本語")], 5)), "日本 ");
 * ```
 */
export function fitLine(line: Line, width: number, fill = ""): Span[] {
  const out: Span[] = [];
  let used = 0;
  for (const part of line) {
    if (used >= width) break;
    const size = textWidth(part.text);
    if (used + size <= width) {
      if (part.text !== "") out.push(part);
      used += size;
      continue;
    }
    const fitted = fitWidth(part.text, width - used);
    if (fitted.text !== "") out.push({ text: fitted.text, sgr: part.sgr });
    used += fitted.width;
    break;
  }
  if (used < width) out.push({ text: " ".repeat(width - used), sgr: fill });
  return out;
}

/**
 * Pads `text` on the left to `width` columns, or cuts it with an ellipsis.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { alignRight } from "./styled_line.ts";
 * assert.equal(alignRight("bob", 5), "  bob");
 * assert.equal(alignRight("bartholomew", 5), "bart…");
 * ```
 */
export function alignRight(text: string, width: number): string {
  const size = textWidth(text);
  if (size <= width) return " ".repeat(width - size) + text;
  const fitted = fitWidth(text, width - 1);
  // A wide character cut at the edge leaves one column: pad where the padding goes anyway.
  return " ".repeat(width - 1 - fitted.width) + fitted.text + "…";
}

/**
 * Cuts `text` to `width` columns with an ellipsis when it is longer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { truncate } from "./styled_line.ts";
 * assert.equal(truncate("general-chat", 8), "general…");
 * ```
 */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  if (textWidth(text) <= width) return text;
  return fitWidth(text, width - 1).text + "…";
}

/** Options for {@linkcode wrapLine}. */
export interface WrapOptions {
  /** Columns available. */
  width: number;
  /** Columns of indent on continuation rows. Default 0. */
  indent?: number;
}

/**
 * Wraps a styled line into rows of at most `width` columns, breaking after
 * spaces where it can and inside words only when a word is too long;
 * continuation rows start with `indent` spaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineText, span, wrapLine } from "./styled_line.ts";
 * const rows = wrapLine([span("hello big world")], { width: 9, indent: 2 });
 * // A space a row breaks after stays on it and counts: "hello big " is 10 columns.
 * assert.deepEqual(rows.map(lineText), ["hello ", "  big ", "  world"]);
 * ```
 */
export function wrapLine(line: Line, options: WrapOptions): Span[][] {
  const width = Math.max(options.width, 2);
  const indent = Math.min(options.indent ?? 0, Math.floor(width / 2));
  // Grapheme by grapheme with its style; rows are cut from this list.
  const cells: Array<{ text: string; sgr: string; width: number }> = [];
  for (const part of line) {
    for (const cluster of graphemes(part.text)) {
      cells.push({ text: cluster, sgr: part.sgr, width: textWidth(cluster) });
    }
  }
  const rows: Span[][] = [];
  let start = 0;
  while (true) {
    const room = rows.length === 0 ? width : width - indent;
    let used = 0;
    let end = start;
    let lastBreak = -1;
    while (end < cells.length && used + cells[end]!.width <= room) {
      used += cells[end]!.width;
      if (cells[end]!.text === " ") lastBreak = end + 1;
      end++;
    }
    if (end < cells.length && lastBreak > start) end = lastBreak;
    // A cell wider than the room (never with width >= 2) must still move on.
    if (end === start && start < cells.length) end = start + 1;
    const row: Span[] = rows.length === 0 || indent === 0
      ? []
      : [{ text: " ".repeat(indent), sgr: "" }];
    for (let index = start; index < end; index++) {
      const cell = cells[index]!;
      const last = row.at(-1);
      if (last !== undefined && last.sgr === cell.sgr && index !== start) {
        row[row.length - 1] = { text: last.text + cell.text, sgr: cell.sgr };
      } else {
        row.push({ text: cell.text, sgr: cell.sgr });
      }
    }
    rows.push(row);
    start = end;
    if (start >= cells.length) break;
    // Spaces at a break are swallowed, not carried to the next row.
    while (start < cells.length && cells[start]!.text === " ") start++;
    if (start >= cells.length) break;
  }
  return rows;
}

/**
 * A line as the text a terminal gets: each span wrapped in its SGR.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderLine, span } from "./styled_line.ts";
 * assert.equal(renderLine([span("a", "1"), span("b")]), "\u001b[1ma\u001b[0mb");
 * ```
 */
export function renderLine(line: Line): string {
  return line.map((part) => paint(part.text, part.sgr)).join("");
}
