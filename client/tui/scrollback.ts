/**
 * A conversation's scrollback as terminal rows: each entry wrapped to the
 * pane's width with a hanging indent under the nickname column, day
 * separators, a line where replayed history ends, and the window of rows
 * the current scroll position shows. Pure, and cached per entry object.
 *
 * @module
 */
import { type ColorDepth, firstWords, formatReactions, nickColor } from "../format.ts";
import type { Conversation, Entry, MessageEntry } from "./conversation.ts";
import { alignRight, type Line, type Span, span, wrapLine } from "./styled_line.ts";
import { textWidth } from "./text_width.ts";

/** How rows are made. */
export interface ScrollbackStyle {
  /** Columns of the pane. */
  width: number;
  /** Colour support. */
  color: ColorDepth;
  /** Times and days in UTC instead of local time (tests). */
  utc?: boolean;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

function parts(ts: number, utc: boolean) {
  const date = new Date(ts);
  return utc
    ? {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth(),
      day: date.getUTCDate(),
      weekday: date.getUTCDay(),
      hours: date.getUTCHours(),
      minutes: date.getUTCMinutes(),
    }
    : {
      year: date.getFullYear(),
      month: date.getMonth(),
      day: date.getDate(),
      weekday: date.getDay(),
      hours: date.getHours(),
      minutes: date.getMinutes(),
    };
}

/**
 * The calendar day of `ts`, e.g. "Monday, 1 January 2024".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dayLabel } from "./scrollback.ts";
 * assert.equal(dayLabel(Date.UTC(2024, 0, 1, 12), { utc: true }), "Monday, 1 January 2024");
 * ```
 */
export function dayLabel(ts: number, options: { utc?: boolean } = {}): string {
  const { year, month, day, weekday } = parts(ts, options.utc ?? false);
  return `${DAYS[weekday]}, ${day} ${MONTHS[month]} ${year}`;
}

function clock(ts: number, utc: boolean): string {
  const { hours, minutes } = parts(ts, utc);
  return `${String(hours).padStart(2, "0")}:${String(minutes).padStart(2, "0")}`;
}

/** Width of the nickname column for a pane `width` wide. */
function nickColumn(width: number): number {
  return width >= 60 ? 12 : width >= 40 ? 9 : 6;
}

function sgr(color: ColorDepth, code: string): string {
  return color === 0 ? "" : code;
}

/** A rule across the pane with `label` in the middle. */
function rule(label: string, width: number, style: string): Span[] {
  const text = ` ${label} `;
  const side = Math.max(0, width - textWidth(text));
  const left = Math.floor(side / 2);
  return [
    { text: "─".repeat(left), sgr: style },
    span(text, style),
    { text: "─".repeat(side - left), sgr: style },
  ];
}

function names(list: readonly string[]): string {
  if (list.length <= 4) return list.join(", ");
  return `${list.slice(0, 3).join(", ")} and ${list.length - 3} others`;
}

/** The text of a folded membership line. */
function membershipText(entry: Extract<Entry, { kind: "membership" }>): string {
  // Per nickname, where it started and ended within the fold: what changed in between is noise.
  const spans = new Map<string, { first: boolean; last: boolean }>();
  for (const change of entry.changes) {
    const known = spans.get(change.nick);
    spans.set(change.nick, { first: known?.first ?? change.joined, last: change.joined });
  }
  const groups = { joined: [] as string[], left: [] as string[], cameWent: [] as string[] };
  const rejoined: string[] = [];
  for (const [nick, { first, last }] of spans) {
    if (first && last) groups.joined.push(nick);
    else if (!first && !last) groups.left.push(nick);
    else if (first) groups.cameWent.push(nick);
    else rejoined.push(nick);
  }
  const reasons = new Set(
    entry.changes.filter((change) => !change.joined && change.reason).map((change) =>
      change.reason
    ),
  );
  const texts: string[] = [];
  if (groups.joined.length > 0) texts.push(`${names(groups.joined)} joined`);
  if (groups.left.length > 0) {
    const why = reasons.size === 1 ? ` (${[...reasons][0]})` : "";
    texts.push(`${names(groups.left)} left${why}`);
  }
  if (rejoined.length > 0) texts.push(`${names(rejoined)} rejoined`);
  if (groups.cameWent.length > 0) texts.push(`${names(groups.cameWent)} came and went`);
  return texts.join(" · ");
}

function membershipMarker(entry: Extract<Entry, { kind: "membership" }>): string {
  const joins = entry.changes.some((change) => change.joined);
  const leaves = entry.changes.some((change) => !change.joined);
  return joins && leaves ? "<->" : joins ? "-->" : "<--";
}

// ------------------------------------------------------- message changes (section 21)

/** Graphemes of an answered message quoted above a reply. */
const QUOTE_GRAPHEMES = 40;

/** The parts of a room message that its changes and replies add. */
interface ChangeSpans {
  /** Above the text: `↪ alice: first words…` (or `↪ #41`, not held). */
  quote?: Span[];
  /** Instead of the text: `[deleted by bob]`. */
  tombstone?: Span;
  /** After the text: ` #42 (edited 12:35)`. */
  after: Span[];
  /** A row of its own: `👍 2  🎉 1`. */
  reactions?: Span[];
}

function changeSpans(
  entry: MessageEntry,
  quoted: MessageEntry | undefined,
  style: { color: ColorDepth; utc: boolean },
): ChangeSpans {
  const dim = sgr(style.color, "2");
  const parts: ChangeSpans = { after: [] };
  if (entry.replyTo !== undefined) {
    const what = quoted === undefined
      ? `#${entry.replyTo}`
      : quoted.deleted !== undefined
      ? `${quoted.from}: [deleted by ${quoted.deleted.by}]`
      : `${quoted.from}: ${firstWords(quoted.body, QUOTE_GRAPHEMES)}`;
    parts.quote = [span(`↪ ${what}`, dim)];
  }
  if (entry.deleted !== undefined) {
    parts.tombstone = span(`[deleted by ${entry.deleted.by}]`, dim);
  }
  // Only room messages can be named by /edit, /reply and the like.
  if (entry.room !== undefined && entry.id !== undefined) {
    parts.after.push(span(` #${entry.id}`, dim));
  }
  if (entry.edited !== undefined && entry.deleted === undefined) {
    parts.after.push(span(` (edited ${clock(entry.edited, style.utc)})`, dim));
  }
  const reactions = formatReactions(entry.reactions);
  if (reactions !== "") parts.reactions = [span(reactions, sgr(style.color, "33"))];
  return parts;
}

/**
 * The rows of one entry: `HH:MM  nick │ text`, continuation rows indented
 * under the text so a wrapped or multi-line message reads as one. A room
 * message shows its id after the text (` #42`), when it was edited, its
 * reactions on a row below, a tombstone for its text once deleted, and,
 * for a reply, the message it answers (`quoted`, when held) above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entryRows } from "./scrollback.ts";
 * import { lineText } from "./styled_line.ts";
 * const entry = { kind: "notice", ts: 0, text: "hello", tone: "info" } as const;
 * assert.deepEqual(entryRows(entry, { width: 40, color: 0, utc: true }).map(lineText), ["00:00        -- │ hello"]);
 * ```
 */
export function entryRows(
  entry: Entry,
  style: ScrollbackStyle,
  quoted?: MessageEntry,
): Span[][] {
  const { width, color } = style;
  const utc = style.utc ?? false;
  const column = nickColumn(width);
  const dim = sgr(color, "2");
  const time = span(clock(entry.ts, utc), entry.kind === "message" && entry.history ? dim : "");
  let marker: Span;
  let separator = span(" │ ", dim);
  const body: Line[] = [];
  switch (entry.kind) {
    case "message": {
      const mention = entry.mention && !entry.self;
      const nickStyle = mention
        ? sgr(color, "1;30;43")
        : [nickColor(entry.from, color), entry.self && color ? "1" : ""].filter(Boolean).join(";");
      if (mention) separator = span(" » ", sgr(color, "1;33"));
      const textStyle = mention ? sgr(color, "1") : entry.history ? dim : "";
      const lines = entry.body.split("\n");
      const changes = changeSpans(entry, quoted, { color, utc });
      if (changes.quote !== undefined) body.push(changes.quote);
      if (entry.deleted !== undefined) {
        marker = span(alignRight(entry.from, column), nickStyle);
        body.push([changes.tombstone!, ...changes.after]);
        if (changes.reactions !== undefined) body.push(changes.reactions);
        break;
      }
      if (entry.action) {
        marker = span(alignRight("*", column), nickStyle);
        const [first = "", ...rest] = lines;
        body.push([span(entry.from, nickColor(entry.from, color)), span(` ${first}`, textStyle)]);
        for (const line of rest) body.push([span(line, textStyle)]);
      } else {
        marker = span(alignRight(entry.from, column), nickStyle);
        for (const line of lines) body.push([span(line, textStyle)]);
      }
      // The id and the edit mark after the text, the reactions on a row of their own.
      body[body.length - 1] = [...body.at(-1)!, ...changes.after];
      if (changes.reactions !== undefined) body.push(changes.reactions);
      break;
    }
    case "membership":
      marker = span(alignRight(membershipMarker(entry), column), dim);
      body.push([span(membershipText(entry), dim)]);
      break;
    case "notice": {
      const tone = entry.tone === "error"
        ? sgr(color, "31")
        : entry.tone === "status"
        ? sgr(color, "33")
        : sgr(color, "36");
      marker = span(alignRight(entry.tone === "error" ? "!!" : "--", column), tone);
      for (const line of entry.text.split("\n")) body.push([span(line, "")]);
      break;
    }
  }
  const prefix: Span[] = [time, span(" "), marker, separator];
  const indent = textWidth(prefix.map((part) => part.text).join(""));
  const rows: Span[][] = [];
  const room = width - indent;
  if (room < 8) {
    // Too narrow for columns: one flowing line per body line.
    body.forEach((line, index) => {
      const head = index === 0 ? [...prefix] : [];
      rows.push(...wrapLine([...head, ...line], { width, indent: 2 }));
    });
    return rows;
  }
  body.forEach((line, index) => {
    const wrapped = wrapLine(line, { width: room });
    wrapped.forEach((row, rowIndex) => {
      const head = index === 0 && rowIndex === 0
        ? prefix
        : [span(" ".repeat(indent - 2)), span("│ ", dim)];
      rows.push([...head, ...row]);
    });
  });
  return rows;
}

const cache = new WeakMap<
  Entry,
  { key: string; quoted: MessageEntry | undefined; rows: Span[][] }
>();

function cachedRows(entry: Entry, style: ScrollbackStyle, quoted?: MessageEntry): Span[][] {
  const key = `${style.width}|${style.color}|${style.utc ?? false}`;
  const hit = cache.get(entry);
  // A reply is drawn again when the message it quotes changed (a new object).
  if (hit?.key === key && hit.quoted === quoted) return hit.rows;
  const rows = entryRows(entry, style, quoted);
  cache.set(entry, { key, quoted, rows });
  return rows;
}

function dayOf(ts: number, utc: boolean): string {
  const { year, month, day } = parts(ts, utc);
  return `${year}-${month}-${day}`;
}

/**
 * Every row of a conversation: a note on loading history at the top, a
 * day separator wherever the day changes, and a rule where replayed
 * history gives way to live messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Conversation } from "./conversation.ts";
 * import { conversationRows } from "./scrollback.ts";
 * import { lineText } from "./styled_line.ts";
 * const room = new Conversation("room", "general");
 * room.notice("hi", Date.UTC(2024, 0, 1));
 * // The day's rule, 40 columns wide.
 * assert.equal(
 *   conversationRows(room, { width: 40, color: 0, utc: true }).map(lineText)[0],
 *   "──────── Monday, 1 January 2024 ────────",
 * );
 * ```
 */
export function conversationRows(conversation: Conversation, style: ScrollbackStyle): Span[][] {
  const utc = style.utc ?? false;
  const dim = sgr(style.color, "2");
  const rows: Span[][] = [];
  // The server buffer has no history; a guest's DM conversation stays "unsupported".
  if (conversation.kind !== "server") {
    if (conversation.history === "loading") {
      rows.push(rule("loading older messages…", style.width, dim));
    } else if (conversation.history === "done") {
      rows.push(rule("beginning of history", style.width, dim));
    }
  }
  let day: string | undefined;
  let previous: Entry | undefined;
  for (const entry of conversation.entries) {
    const today = dayOf(entry.ts, utc);
    if (today !== day) {
      rows.push(rule(dayLabel(entry.ts, { utc }), style.width, dim));
      day = today;
    }
    if (isHistory(previous) && !isHistory(entry)) {
      rows.push(rule("end of history", style.width, dim));
    }
    const quoted = entry.kind === "message" && entry.replyTo !== undefined
      ? conversation.message(entry.replyTo)
      : undefined;
    rows.push(...cachedRows(entry, style, quoted));
    previous = entry;
  }
  return rows;
}

function isHistory(entry: Entry | undefined): entry is MessageEntry {
  return entry?.kind === "message" && entry.history;
}

/** The rows a pane shows and where that is in the whole. */
export interface ScrollWindow {
  /** Exactly `height` rows, blank ones on top when there are few. */
  rows: Span[][];
  /** The scroll position after clamping: rows back from the bottom. */
  scroll: number;
  /** The largest scroll position: rows above the window when at the top. */
  maxScroll: number;
}

/**
 * The `height` rows ending `scroll` rows above the bottom (clamped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scrollWindow } from "./scrollback.ts";
 * const rows = [1, 2, 3, 4].map((n) => [{ text: String(n), sgr: "" }]);
 * const window = scrollWindow(rows, { height: 2, scroll: 1 });
 * assert.deepEqual([window.rows.map((row) => row[0]!.text), window.maxScroll], [["2", "3"], 2]);
 * ```
 */
export function scrollWindow(
  rows: readonly Span[][],
  options: { height: number; scroll: number },
): ScrollWindow {
  const height = Math.max(0, options.height);
  const maxScroll = Math.max(0, rows.length - height);
  const scroll = Math.max(0, Math.min(options.scroll, maxScroll));
  const end = rows.length - scroll;
  const visible = rows.slice(Math.max(0, end - height), end);
  const blank: Span[][] = Array.from({ length: height - visible.length }, () => []);
  return { rows: [...blank, ...visible], scroll, maxScroll };
}
