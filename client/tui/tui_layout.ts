/**
 * Where each pane of the full-screen client goes for a terminal size: a
 * title row, the conversation list, the scrollback and the people list side
 * by side, a status row and the input rows. Side panes give way on narrow
 * terminals.
 *
 * @module
 */

/** Pane sizes, in terminal cells. */
export interface TuiLayout {
  /** Terminal columns. */
  columns: number;
  /** Terminal rows. */
  rows: number;
  /** Columns of the conversation list; 0 when hidden. */
  leftWidth: number;
  /** Columns of the scrollback. */
  mainWidth: number;
  /** Columns of the people list; 0 when hidden. */
  rightWidth: number;
  /** Rows of the three side-by-side panes. */
  bodyHeight: number;
  /** Rows of the input. */
  inputRows: number;
}

/** Most rows the input grows to for a multi-line message. */
export const MAX_INPUT_ROWS = 6;

/**
 * The layout for a `columns` × `rows` terminal with `inputRows` rows of input
 * wanted. A side pane takes its width plus one column for its border.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeLayout } from "./tui_layout.ts";
 * const layout = computeLayout({ columns: 120, rows: 40, inputRows: 1 });
 * assert.deepEqual([layout.leftWidth, layout.mainWidth, layout.rightWidth, layout.bodyHeight], [18, 82, 18, 37]);
 * ```
 */
export function computeLayout(
  options: { columns: number; rows: number; inputRows: number },
): TuiLayout {
  const columns = Math.max(options.columns, 1);
  const rows = Math.max(options.rows, 1);
  const leftWidth = columns >= 80 ? 18 : columns >= 56 ? 14 : 0;
  const rightWidth = columns >= 100 ? 18 : columns >= 72 ? 14 : 0;
  const borders = (leftWidth > 0 ? 1 : 0) + (rightWidth > 0 ? 1 : 0);
  const mainWidth = Math.max(1, columns - leftWidth - rightWidth - borders);
  // Title and status take a row each; the scrollback keeps at least one row when it can.
  const inputRows = Math.max(1, Math.min(options.inputRows, MAX_INPUT_ROWS, rows - 3));
  const bodyHeight = Math.max(0, rows - 2 - inputRows);
  return { columns, rows, leftWidth, mainWidth, rightWidth, bodyHeight, inputRows };
}
