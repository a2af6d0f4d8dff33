/**
 * What the full-screen client shows, computed from a {@linkcode TuiModel}:
 * every pane's rows cut to their exact widths, the status line and where
 * the cursor goes. Pure, so tests read the screen without a terminal and
 * the Ink components only place rows.
 *
 * @module
 */
import { nameKey, sanitizeForTerminal } from "../../shared/validation.ts";
import { nickColor } from "../format.ts";
import { inputRows } from "./input_view.ts";
import { fitLine, lineText, type Span, span, truncate } from "./styled_line.ts";
import { textWidth } from "./text_width.ts";
import type { TuiLayout } from "./tui_layout.ts";
import type { TuiModel } from "./tui_model.ts";

/** One frame of the full-screen client. */
export interface TuiView {
  /** Pane sizes. */
  layout: TuiLayout;
  /** The top row: the conversation and its topic. */
  title: Span[];
  /** The conversation list, `bodyHeight` rows of `leftWidth`. */
  left: Span[][];
  /** The scrollback, `bodyHeight` rows of `mainWidth`. */
  main: Span[][];
  /** The people in the conversation, `bodyHeight` rows of `rightWidth`. */
  right: Span[][];
  /** The status row. */
  status: Span[];
  /** The input rows. */
  input: Span[][];
  /** Where the terminal cursor goes, from the top left (0-based). */
  cursor: { x: number; y: number };
}

function sgr(model: TuiModel, code: string): string {
  return model.color === 0 ? "" : code;
}

function conversationLabel(model: TuiModel, index: number): string {
  const conversation = model.conversations[index]!;
  return conversation.kind === "room"
    ? `#${conversation.name}`
    : conversation.kind === "dm"
    ? `@${conversation.name}`
    : conversation.name;
}

function leftPane(model: TuiModel, layout: TuiLayout): Span[][] {
  const width = layout.leftWidth;
  if (width === 0) return [];
  const rows: Span[][] = [fitLine([span("conversations", sgr(model, "1"))], width)];
  model.conversations.forEach((conversation, index) => {
    const active = index === model.activeIndex;
    const number = index < 9 ? String(index + 1) : index === 9 ? "0" : " ";
    const unread = conversation.unread > 0 ? String(conversation.unread) : "";
    const flag = conversation.mention && !active ? "!" : "";
    const tail = unread === "" && flag === "" ? "" : ` ${unread}${flag}`;
    const marker = active ? "▸" : " ";
    const room = width - 3 - textWidth(tail);
    const label = truncate(conversationLabel(model, index), room);
    const style = active
      ? sgr(model, "7")
      : conversation.mention
      ? sgr(model, "1;35")
      : unread !== ""
      ? sgr(model, "1")
      : !conversation.joined
      ? sgr(model, "2")
      : "";
    const pad = " ".repeat(Math.max(0, room - textWidth(label)));
    rows.push(fitLine([span(`${marker}${number} ${label}${pad}${tail}`, style)], width, style));
  });
  return pad(rows, layout.bodyHeight, width);
}

function rightPane(model: TuiModel, layout: TuiLayout): Span[][] {
  const width = layout.rightWidth;
  if (width === 0) return [];
  const active = model.active;
  const members = active.kind === "dm" ? [active.name, model.nick] : [...active.members];
  const header = active.kind === "server"
    ? ""
    : active.kind === "room" && !active.joined
    ? "not joined"
    : `${members.length} ${members.length === 1 ? "person" : "people"}`;
  const rows: Span[][] = [fitLine([span(header, sgr(model, "1"))], width)];
  const self = nameKey(model.nick);
  const room = Math.max(0, layout.bodyHeight - 1);
  const shown = members.length > room ? members.slice(0, Math.max(0, room - 1)) : members;
  for (const member of shown) {
    const style = [nickColor(member, model.color), nameKey(member) === self ? "1" : ""]
      .filter(Boolean).join(";");
    rows.push(fitLine([span(` ${truncate(member, width - 1)}`, style)], width));
  }
  if (shown.length < members.length) {
    rows.push(fitLine([span(` … ${members.length - shown.length} more`, sgr(model, "2"))], width));
  }
  return pad(rows, layout.bodyHeight, width);
}

function pad(rows: Span[][], height: number, width: number): Span[][] {
  const out = rows.slice(0, height);
  while (out.length < height) out.push(fitLine([], width));
  return out;
}

function titleRow(model: TuiModel, layout: TuiLayout): Span[] {
  const active = model.active;
  const style = sgr(model, "7");
  const name = active.kind === "room"
    ? `#${active.name}${active.joined ? "" : " (not joined)"}`
    : active.kind === "dm"
    ? `@${active.name}: direct messages`
    : `${active.name}: server messages`;
  const topic = active.kind === "room" && active.topic !== "" ? ` — ${active.topic}` : "";
  return fitLine([span(` ${name}${topic}`, style)], layout.columns, style);
}

function statusRow(model: TuiModel, layout: TuiLayout, window: { scroll: number }): Span[] {
  const base = sgr(model, "7");
  const connection = model.connection;
  const parts: Span[] = [span(` ${model.server} │ ${model.nick} │ `, base)];
  if (connection.state === "connected") {
    parts.push(span("connected", sgr(model, "7;32")));
    if (connection.rttMs !== undefined) parts.push(span(` │ rtt ${connection.rttMs} ms`, base));
  } else if (connection.state === "reconnecting") {
    parts.push(span(`reconnecting (${connection.detail ?? ""})`, sgr(model, "7;33")));
  } else {
    const why = connection.detail === undefined ? "" : `: ${connection.detail}`;
    parts.push(span(`disconnected${why}`, sgr(model, "7;31")));
  }
  const active = model.active;
  if (window.scroll > 0) {
    const news = active.newBelow > 0 ? `, ${active.newBelow} new below` : "";
    parts.push(span(` │ scrolled back ${window.scroll} lines${news} (Esc: newest)`, base));
  }
  // Section 22: who is typing here, until they stop, send, or 6 s pass.
  const typing = model.typing;
  if (typing.length > 0) {
    const who = typing.length > 2
      ? `${typing.length} people are typing`
      : `${typing.join(" and ")} ${typing.length === 1 ? "is" : "are"} typing`;
    parts.push(span(` │ ${sanitizeForTerminal(who)}`, sgr(model, "7;36")));
  }
  const elsewhere = model.conversations.filter((conversation) => conversation.mention).length;
  if (elsewhere > 0) parts.push(span(` │ mentioned in ${elsewhere}`, sgr(model, "7;35")));
  if (!model.mouse) parts.push(span(" │ mouse off", base));
  return fitLine(parts, layout.columns, base);
}

/**
 * The frame for the model's current state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TuiModel } from "./tui_model.ts";
 * import { buildView, screenText } from "./tui_view.ts";
 * const model = new TuiModel({ nick: "alice", server: "localhost:7007", columns: 60, rows: 10 });
 * const view = buildView(model);
 * assert.equal(screenText(view).length, 10);
 * ```
 */
export function buildView(model: TuiModel): TuiView {
  const layout = model.layout;
  const window = model.window();
  const main = window.rows.map((row) => fitLine(row, layout.mainWidth));
  let input: Span[][];
  let cursor: { x: number; y: number };
  const inputTop = layout.rows - layout.inputRows;
  const paste = model.pendingPaste;
  const secret = model.secretPrompt;
  if (secret !== undefined) {
    // Nothing of the password shows, not even its length.
    input = [fitLine([span(secret, sgr(model, "1"))], layout.columns)];
    cursor = { x: Math.min(textWidth(secret), layout.columns - 1), y: inputTop };
  } else if (paste !== undefined) {
    const count = paste.split("\n").length;
    const style = sgr(model, "1;33");
    input = [
      fitLine([
        span(
          `Paste ${count} lines to ${model.prompt.trim()}? y: ${count} messages · m: one message · e: edit · n: cancel`,
          style,
        ),
      ], layout.columns),
    ];
    cursor = { x: 0, y: inputTop };
  } else {
    const laid = inputRows({
      clusters: model.input.clusters,
      cursor: model.input.cursor,
      prompt: model.prompt,
      width: layout.columns,
      promptStyle: sgr(model, "1"),
    });
    // Keep the cursor's row in sight when the text is taller than the input area.
    const first = Math.max(
      0,
      Math.min(laid.cursorRow - layout.inputRows + 1, laid.rows.length - layout.inputRows),
    );
    const visible = laid.rows.slice(first, first + layout.inputRows);
    input = visible.map((row) => fitLine(row, layout.columns));
    while (input.length < layout.inputRows) input.push(fitLine([], layout.columns));
    cursor = {
      x: Math.min(laid.cursorColumn, layout.columns - 1),
      y: inputTop + laid.cursorRow - first,
    };
  }
  return {
    layout,
    title: titleRow(model, layout),
    left: leftPane(model, layout),
    main,
    right: rightPane(model, layout),
    status: statusRow(model, layout, window),
    input,
    cursor,
  };
}

/**
 * The frame as plain text rows, panes joined by `│` borders: what a
 * terminal shows, without colours (tests).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TuiModel } from "./tui_model.ts";
 * import { buildView, screenText } from "./tui_view.ts";
 * const model = new TuiModel({ nick: "alice", server: "localhost:7007", columns: 60, rows: 10 });
 * assert.equal(screenText(buildView(model)).at(-1), "[localhost:7007]".padEnd(60));
 * ```
 */
export function screenText(view: TuiView): string[] {
  const rows = [lineText(view.title)];
  for (let index = 0; index < view.layout.bodyHeight; index++) {
    const parts: string[] = [];
    if (view.layout.leftWidth > 0) parts.push(lineText(view.left[index] ?? []));
    parts.push(lineText(view.main[index] ?? []));
    if (view.layout.rightWidth > 0) parts.push(lineText(view.right[index] ?? []));
    rows.push(parts.join("│"));
  }
  rows.push(lineText(view.status));
  rows.push(...view.input.map(lineText));
  return rows;
}
