/**
 * Pure formatting of what the client shows: events as text lines or JSON
 * records, ack results, and a stable colour per nickname. Everything that
 * came over the wire passes through `sanitizeForTerminal` here, so no
 * caller can forget it.
 *
 * @module
 */
import { ChatError } from "../shared/errors.ts";
import {
  type DirectMessageEvent,
  type FileInfo,
  isReplyTo,
  type MessageChangeEvent,
  parseServerFrame,
  type Reply,
  type RequestBody,
  type ResultOf,
  type RoomMessageEvent,
  type TimelineEntry,
} from "../shared/protocol.ts";
import { nameKey, sanitizeForTerminal } from "../shared/validation.ts";
import { matchPieces } from "../shared/search_words.ts";
import { describeFile, formatFileSize } from "../shared/file_fields.ts";
import type { ClientEvent } from "./client_event.ts";
import {
  applyChange,
  type HeldMessage,
  isMessageChange,
  MessageLog,
  type Reaction,
} from "./message_changes.ts";

export { formatFileSize };

/** Colour support of the output: none, the 16 basic colours, or 256. */
export type ColorDepth = 0 | 16 | 256;

/** Options for the text formatters. */
export interface FormatOptions {
  /** The user's own nickname: tells sent DMs from received ones. */
  self?: string;
  /** Colour support; 0 (the default) writes no escape sequences. */
  color?: ColorDepth;
  /** Show times in UTC instead of local time (tests). */
  utc?: boolean;
  /** Keep newlines in bodies, indenting continuation lines; otherwise they show as `^J`. */
  multiline?: boolean;
  /** The messages held: what a reply quotes, what a change changes (section 21). */
  messages?: MessageLookup;
}

// Readable on dark and light backgrounds alike; no greys, no near-black blues.
const PALETTE_256 = [
  31,
  32,
  33,
  37,
  38,
  39,
  41,
  43,
  61,
  64,
  65,
  70,
  71,
  73,
  75,
  94,
  96,
  98,
  99,
  106,
  125,
  127,
  128,
  129,
  130,
  131,
  133,
  136,
  160,
  161,
  162,
  163,
  166,
  167,
  168,
  169,
  170,
  172,
  173,
  178,
  202,
  203,
  205,
  208,
] as const;
// SGR foreground codes: red, green, yellow, blue, magenta, cyan.
const PALETTE_16 = [31, 32, 33, 34, 35, 36] as const;

/**
 * A 32-bit FNV-1a hash of the nickname's case-insensitive key, so `Alice`
 * and `alice` (the same user) get the same colour in every run.
 */
function hashNick(nick: string): number {
  let hash = 0x811c9dc5;
  for (const char of nameKey(nick)) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The SGR parameters that colour `nick`, stable across runs; empty when
 * `depth` is 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nickColor } from "./format.ts";
 * assert.equal(nickColor("alice", 256) === nickColor("ALICE", 256), true);
 * assert.equal(nickColor("alice", 0), "");
 * ```
 */
export function nickColor(nick: string, depth: ColorDepth): string {
  if (depth === 0) return "";
  const hash = hashNick(nick);
  if (depth === 16) return String(PALETTE_16[hash % PALETTE_16.length]);
  return `38;5;${PALETTE_256[hash % PALETTE_256.length]}`;
}

/**
 * Wraps `text` in SGR parameters `sgr`; returns it unchanged when `sgr` is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { paint } from "./format.ts";
 * assert.equal(paint("hi", "1"), "\u001b[1mhi\u001b[0m");
 * ```
 */
export function paint(text: string, sgr: string): string {
  return sgr === "" ? text : `\x1b[${sgr}m${text}\x1b[0m`;
}

/**
 * `HH:MM:SS` for `ts` (ms since the epoch).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTime } from "./format.ts";
 * assert.equal(formatTime(Date.UTC(2024, 0, 1, 12, 34, 56), { utc: true }), "12:34:56");
 * ```
 */
export function formatTime(ts: number, options: { utc?: boolean } = {}): string {
  const date = new Date(ts);
  const parts = options.utc
    ? [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    : [date.getHours(), date.getMinutes(), date.getSeconds()];
  return parts.map((part) => String(part).padStart(2, "0")).join(":");
}

/**
 * `YYYY-MM-DD` for `ts` (ms since the epoch).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDate } from "./format.ts";
 * assert.equal(formatDate(Date.UTC(2024, 0, 1, 12, 34, 56), { utc: true }), "2024-01-01");
 * ```
 */
export function formatDate(ts: number, options: { utc?: boolean } = {}): string {
  const date = new Date(ts);
  const parts = options.utc
    ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate()];
  return parts.map((part, index) => String(part).padStart(index === 0 ? 4 : 2, "0")).join("-");
}

/**
 * A duration for people: `45s`, `9m 58s`, `2h 5m`, `3d 4h`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./format.ts";
 * assert.equal(formatDuration(598_000), "9m 58s");
 * ```
 */
export function formatDuration(ms: number): string {
  const total = Math.max(1, Math.ceil(ms / 1000));
  const [d, h, m, s] = [
    Math.floor(total / 86_400),
    Math.floor(total / 3600) % 24,
    Math.floor(total / 60) % 60,
    total % 60,
  ];
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return s > 0 ? `${m}m ${s}s` : `${m}m`;
  return `${s}s`;
}

/**
 * Describes an error for a person: the message and, for a server error,
 * its code, and when a retry can work (a mute's end, a rate limit).
 * Sanitized, since the message may come from the wire.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChatError } from "../shared/errors.ts";
 * import { describeError } from "./format.ts";
 * assert.equal(describeError(new ChatError("name_taken", "Nickname bob is already in use")), "Nickname bob is already in use (name_taken)");
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof ChatError) {
    const retry = error.retryAfterMs === undefined
      ? ""
      : `, ${error.code === "muted" ? "you can speak again" : "retry"} in ${
        formatDuration(error.retryAfterMs)
      }`;
    return sanitizeForTerminal(`${error.message} (${error.code}${retry})`);
  }
  if (isCaServerCertificate(error)) return CA_SERVER_CERTIFICATE;
  return sanitizeForTerminal(error instanceof Error ? error.message : String(error));
}

/** What is wrong when a TLS server shows a CA certificate as its own, in words. */
export const CA_SERVER_CERTIFICATE = "the server's TLS certificate is a CA certificate " +
  "(basicConstraints CA:TRUE), which TLS clients refuse as a server's own; no --ca helps: " +
  "the server needs a leaf certificate (CA:FALSE), see TLS in docs/operations.md";

/**
 * Whether `error` is rustls refusing a CA certificate as the server's
 * (`invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCaServerCertificate } from "./format.ts";
 * const error = new Error("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))");
 * assert.equal(isCaServerCertificate(error), true);
 * ```
 */
export function isCaServerCertificate(error: unknown): boolean {
  return error instanceof Error && /\bCaUsedAsEndEntity\b/.test(error.message);
}

/** Text from the wire made safe, on one line or indented continuation lines. */
function clean(text: string, options: FormatOptions): string {
  if (!options.multiline) return sanitizeForTerminal(text);
  return sanitizeForTerminal(text, { keepNewlines: true }).replace(/\r?\n/g, "\n    ");
}

function nick(name: string, options: FormatOptions): string {
  return paint(sanitizeForTerminal(name), nickColor(name, options.color ?? 0));
}

function room(name: string): string {
  return "#" + sanitizeForTerminal(name);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

function sameNick(a: string | undefined, b: string): boolean {
  return a !== undefined && nameKey(a) === nameKey(b);
}

// ------------------------------------------------------- message changes (section 21)

/** Where the formatters find the messages a reply quotes and a change changes. */
export interface MessageLookup {
  /** The message `id` of `room` as the client holds it, if it does. */
  get(room: string, id: number): HeldMessage | undefined;
}

/** Graphemes of a quoted message shown before `…`. */
const QUOTE_GRAPHEMES = 32;
const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The start of `body` on one line, cut with `…` after `length` graphemes
 * at most (at a word's end when it can).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstWords } from "./format.ts";
 * assert.equal(firstWords("hello\nthere, everyone", 14), "hello there,…");
 * ```
 */
export function firstWords(body: string, length: number = QUOTE_GRAPHEMES): string {
  const line = body.replace(/\s+/g, " ").trim();
  const clusters = [...graphemeSegmenter.segment(line)].map((part) => part.segment);
  if (clusters.length <= length) return line;
  const cut = clusters.slice(0, length + 1).join("");
  // At a word's end when one ends in the second half.
  const space = cut.lastIndexOf(" ");
  return (space > cut.length / 2 ? cut.slice(0, space) : cut.slice(0, -clusters[length]!.length))
    .trimEnd() + "…";
}

/**
 * A message quoted in a word: `alice: first words…`, or who deleted it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quoteMessage } from "./format.ts";
 * const message = { type: "message", room: "general", id: 41, from: "alice", body: "first words", ts: 0 } as const;
 * assert.equal(quoteMessage(message), "alice: first words");
 * ```
 */
export function quoteMessage(message: HeldMessage): string {
  const from = sanitizeForTerminal(message.from);
  if (message.deleted !== undefined) {
    return `${from}: [deleted by ${sanitizeForTerminal(message.deleted.by)}]`;
  }
  return `${from}: ${sanitizeForTerminal(firstWords(message.body))}`;
}

/**
 * A message's reactions: `👍 2  🎉 1`; "" for none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatReactions } from "./format.ts";
 * assert.equal(formatReactions([{ emoji: "👍", count: 2, users: ["a", "b"] }, { emoji: "🎉", count: 1, users: ["a"] }]), "👍 2  🎉 1");
 * ```
 */
export function formatReactions(reactions: readonly Reaction[] | undefined): string {
  return (reactions ?? []).map((reaction) =>
    `${sanitizeForTerminal(reaction.emoji)} ${reaction.count}`
  ).join("  ");
}

/** What a reply answers: `↪ alice: first words…` when held, else `↪ #41`. */
function replyQuote(room: string, replyTo: number, options: FormatOptions): string {
  const answered = options.messages?.get(room, replyTo);
  return `↪ ${answered === undefined ? `#${replyTo}` : quoteMessage(answered)}`;
}

/** A room message: `#42 <alice> text (edited 12:35:01)  👍 2`, a tombstone, a reply's quote. */
function messageText(message: RoomMessageEvent, options: FormatOptions): string {
  const dim = (text: string) => paint(text, options.color ? "2" : "");
  const quote = message.replyTo === undefined
    ? ""
    : `${dim(`(${replyQuote(message.room, message.replyTo, options)})`)} `;
  const body = message.deleted !== undefined
    ? dim(`[deleted by ${sanitizeForTerminal(message.deleted.by)}]`)
    : message.file !== undefined
    ? fileText(message.file, message.body, options)
    : clean(message.body, options);
  const edited = message.edited === undefined || message.deleted !== undefined
    ? ""
    : " " + dim(`(edited ${formatTime(message.edited, options)})`);
  const reactions = formatReactions(message.reactions);
  const said = message.action && message.deleted === undefined
    ? `* ${nick(message.from, options)} ${quote}${body}`
    : `<${nick(message.from, options)}> ${quote}${body}`;
  return `${room(message.room)} ${dim(`#${message.id}`)} ${said}${edited}${
    reactions === "" ? "" : `  ${reactions}`
  }`;
}

/**
 * A change as a line: `alice edited #42: new text`, `bob deleted #42
 * (alice: first words…)`, `bob reacted 👍 to #42 (alice: …): 👍 2  🎉 1`;
 * the quote and the reactions after it come from the message held before
 * the change (`options.messages`), the change applied.
 */
function changeText(change: MessageChangeEvent, options: FormatOptions): string {
  const held = options.messages?.get(change.room, change.target);
  const quote = held === undefined ? "" : ` (${quoteMessage(held)})`;
  const target = `#${change.target}`;
  const where = room(change.room);
  switch (change.type) {
    case "edit":
      return `${where} ${nick(change.from, options)} edited ${target}: ${
        clean(change.body, options)
      }`;
    case "delete":
      return `${where} ${nick(change.by, options)} deleted ${target}${quote}`;
    case "react":
    case "unreact": {
      const after = held === undefined ? undefined : applyChange(held, change) ?? held;
      const reactions = after === undefined ? "" : formatReactions(after.reactions);
      const emoji = sanitizeForTerminal(change.emoji);
      const did = change.type === "react" ? `reacted ${emoji} to` : `took back ${emoji} on`;
      return `${where} ${nick(change.from, options)} ${did} ${target}${quote}${
        reactions === "" ? "" : `: ${reactions}`
      }`;
    }
  }
}

/**
 * The lines of history items in order, each reply quoting and each change
 * describing the message as it stood then: the items before it in the
 * batch count, on top of what `options.messages` holds.
 */
function historyLines(
  items: ReadonlyArray<TimelineEntry | DirectMessageEvent>,
  options: FormatOptions,
): string[] {
  const batch = new MessageLog();
  const base = options.messages;
  const messages: MessageLookup = {
    get: (room, id) => batch.get(room, id) ?? base?.get(room, id),
  };
  return items.map((item) => {
    const line = formatEvent(item, { ...options, messages });
    if (isMessageChange(item) && batch.get(item.room, item.target) === undefined) {
      const held = base?.get(item.room, item.target);
      if (held !== undefined) batch.take(held);
    }
    if (item.type !== "dm") batch.take(item);
    return line;
  });
}

// Files (docs/protocol.md section 23).

/** `[file] report.pdf (1.2 MB, application/pdf) id ID`, and the caption when it is not the name. */
function fileText(file: FileInfo, body: string, options: FormatOptions): string {
  const line = sanitizeForTerminal(describeFile(file));
  return body === file.name ? line : `${line}: ${clean(body, options)}`;
}

/** The line without its timestamp. */
function eventText(event: ClientEvent, options: FormatOptions): string {
  const dim = (text: string) => paint(text, options.color ? "2" : "");
  switch (event.type) {
    case "message":
      return messageText(event, options);
    case "edit":
    case "delete":
    case "react":
    case "unreact":
      return changeText(event, options);
    case "dm": {
      const outgoing = sameNick(options.self, event.from) && !sameNick(options.self, event.to);
      const arrow = outgoing ? `-> ${nick(event.to, options)}` : `<- ${nick(event.from, options)}`;
      const body = event.file === undefined
        ? clean(event.body, options)
        : fileText(event.file, event.body, options);
      return event.action
        ? `${arrow}: * ${nick(event.from, options)} ${body}`
        : `${arrow}: ${body}`;
    }
    case "join":
      return dim(`--> ${nick(event.nick, options)} joined ${room(event.room)}`);
    case "leave": {
      const reason = event.reason ? clean(event.reason, { ...options, multiline: false }) : "";
      // Removed by someone else (kick, ban) or by the server: not something to miss.
      if (reason !== "" && sameNick(options.self, event.nick)) {
        return `-!- you are no longer in ${room(event.room)}: ${reason}`;
      }
      return dim(
        `<-- ${nick(event.nick, options)} left ${room(event.room)}${reason ? ` (${reason})` : ""}`,
      );
    }
    case "nick":
      return dim(`--- ${nick(event.from, options)} is now known as ${nick(event.to, options)}`);
    case "topic":
      return event.topic === ""
        ? dim(`--- ${nick(event.by, options)} cleared the topic of ${room(event.room)}`)
        : dim(
          `--- ${nick(event.by, options)} set the topic of ${room(event.room)}: ${
            clean(event.topic, options)
          }`,
        );
    // Away and typing (section 22).
    case "away":
      return event.message === undefined
        ? dim(`--- ${nick(event.nick, options)} is back`)
        : dim(`--- ${nick(event.nick, options)} is away: ${clean(event.message, options)}`);
    case "typing": {
      const where = event.room === undefined ? "" : ` in ${room(event.room)}`;
      const doing = { active: "is typing", paused: "paused typing", done: "stopped typing" }[
        event.state
      ];
      return dim(`--- ${nick(event.from, options)} ${doing}${where}`);
    }
    case "notice": {
      const where = event.room === undefined ? "" : `${room(event.room)}: `;
      if (event.away !== undefined && event.from !== undefined) {
        return `-!- ${nick(event.from, options)} is away: ${clean(event.away, options)}`;
      }
      if (event.unread !== undefined && event.unread.length > 0) {
        const counts = event.unread.map((entry) => `${nick(entry.peer, options)} (${entry.count})`);
        return `-!- unread direct messages from ${counts.join(", ")}: /dmhistory NICK shows them`;
      }
      return event.from === undefined
        ? `-!- ${where}${clean(event.body, options)}`
        : `-!- ${where}broadcast from ${nick(event.from, options)}: ${clean(event.body, options)}`;
    }
    case "bye":
      return `-!- server closed the connection: ${sanitizeForTerminal(event.message)} (${
        sanitizeForTerminal(event.code)
      })`;
    case "error":
      return `-!- error: ${sanitizeForTerminal(event.message)} (${
        sanitizeForTerminal(event.code)
      })`;
    case "reconnecting":
      return `-!- disconnected (${sanitizeForTerminal(event.reason)}); reconnecting in ${
        seconds(event.delayMs)
      } (attempt ${event.attempt})`;
    case "reply":
      if (event.error !== undefined) return `-!- error: ${describeError(event.error)}`;
      return formatResult(event.request, event.result, options).join("\n") ||
        `-!- ok: /${event.request.type}`;
    case "reconnected": {
      const rooms = event.rooms.length === 0
        ? ""
        : `; rejoined ${event.rooms.map(room).join(", ")}`;
      const failed = event.failed.map((failure) =>
        `; could not rejoin ${room(failure.room)}: ${sanitizeForTerminal(failure.message)}`
      ).join("");
      return `-!- reconnected${rooms}${failed}`;
    }
  }
}

/**
 * One event as a line of text, e.g. `[12:34:56] #general #42 <alice> hello`
 * (42: the message's id, for /edit, /reply and the like); messages from
 * history are dated and marked:
 * `[2024-01-01 12:34:56] (history) #general #42 <alice> hello`. An edited
 * message ends with `(edited 12:35:01)` and its reactions (`👍 2  🎉 1`), a
 * deleted one reads `[deleted by bob]`, a reply starts with what it answers
 * (`(↪ alice: first words…)`, from `options.messages`, else `(↪ #41)`);
 * a change reads `alice edited #42: new text`, `bob reacted 👍 to #42 …`.
 * Wire text is sanitized; with `multiline`, a body's newlines start
 * indented continuation lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvent } from "./format.ts";
 * const ts = Date.UTC(2024, 0, 1, 12, 34, 56);
 * const event = { type: "message", room: "general", from: "alice", body: "hi", id: 1, ts } as const;
 * assert.equal(formatEvent(event, { utc: true }), "[12:34:56] #general #1 <alice> hi");
 * ```
 */
export function formatEvent(event: ClientEvent, options: FormatOptions = {}): string {
  const dim = options.color ? "2" : "";
  // Said earlier, maybe days ago: dated and marked, never mistaken for live.
  if (
    (event.type === "message" || event.type === "dm" || isMessageChange(event)) && event.history
  ) {
    const when = `[${formatDate(event.ts, options)} ${formatTime(event.ts, options)}]`;
    return `${paint(`${when} (history)`, dim)} ${eventText(event, options)}`;
  }
  return `${paint(`[${formatTime(event.ts, options)}]`, dim)} ${eventText(event, options)}`;
}

/** One line of JSON output: the common fields are always present, `null` when they do not apply. */
export interface JsonRecord {
  /** The event or request type. */
  type: string;
  /** The room, without `#`. */
  room: string | null;
  /** Who it is from. */
  from: string | null;
  /** The text: message body, topic, leave reason, error message. */
  body: string | null;
  /** The message id (per room, or per server for DMs). */
  id: number | null;
  /** Server time for server events, client time otherwise, in ms since the epoch. */
  ts: number;
  /** The event's own fields. */
  [key: string]: unknown;
}

/**
 * An event as a JSON record with at least `type`, `room`, `from`, `body`,
 * `id` and `ts`, plus the event's own fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventToJson } from "./format.ts";
 * assert.deepEqual(eventToJson({ type: "join", room: "general", nick: "bob", ts: 1 }), { type: "join", room: "general", from: "bob", body: null, id: null, ts: 1, nick: "bob" });
 * ```
 */
export function eventToJson(event: ClientEvent): JsonRecord {
  // `type` first: easier to read when scanning output.
  const base = { type: event.type, room: null, from: null, body: null, id: null };
  switch (event.type) {
    case "message":
      return { ...base, ...event, action: event.action ?? false, history: event.history ?? false };
    case "dm":
      return { ...base, ...event, action: event.action ?? false, history: event.history ?? false };
    // Message changes (section 21).
    case "edit":
      return { ...base, ...event, history: event.history ?? false };
    case "delete":
      return { ...base, ...event, from: event.by, history: event.history ?? false };
    case "react":
    case "unreact":
      return { ...base, ...event, body: event.emoji, history: event.history ?? false };
    case "join":
      return { ...base, ...event, from: event.nick };
    case "leave":
      return { ...base, ...event, from: event.nick, body: event.reason ?? null };
    case "nick":
      return { ...base, ...event };
    case "topic":
      return { ...base, ...event, from: event.by, body: event.topic };
    case "notice":
      return { ...base, ...event, from: event.from ?? null };
    case "away":
      return { ...base, ...event, from: event.nick, body: event.message ?? null };
    case "typing":
      return { ...base, ...event, room: event.room ?? null };
    case "bye":
      return { ...base, ...event, body: event.message };
    case "error":
      return { ...base, ...event, body: event.message, id: event.id ?? null };
    case "reconnecting":
    case "reconnected":
      return { ...base, ...event, body: eventText(event, {}).replace(/^-!- /, "") };
    case "reply": {
      const { request, result, error, ...rest } = event;
      if (error !== undefined) {
        const code = error instanceof ChatError ? error.code : "disconnected";
        return { ...base, ...rest, request: request.type, body: error.message, code };
      }
      return { ...base, ...rest, request: request.type, result: result ?? null };
    }
  }
}

// JSON.stringify escapes C0 controls but not these, which could still reorder or hide text on a terminal.
const JSON_UNSAFE =
  /[\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060\u2066-\u2069\ufeff\u180e]/g;

/**
 * `record` as one line of JSON that is also safe to print to a terminal:
 * characters that could reorder or hide text are `\u` escaped (parsing
 * gives back the same value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonLine } from "./format.ts";
 * // The escape is spelled out: six characters, not the bidi override itself.
 * assert.equal(jsonLine({ body: "a\u202eb" }), '{"body":"a\\u202eb"}');
 * ```
 */
export function jsonLine(record: unknown): string {
  return JSON.stringify(record).replace(
    JSON_UNSAFE,
    (char) => "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

function text(value: string): string {
  return sanitizeForTerminal(value);
}

/** Default page size of `history` and `dm_history` on the server. */
const HISTORY_PAGE = 50;

/**
 * The messages of a `join`, `history` or `dm_history` result, checked like
 * any frame from the wire (anything malformed is skipped) and marked as
 * history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyMessages } from "./format.ts";
 * const item = { type: "message", room: "general", from: "bob", body: "hi", id: 1, ts: 0 };
 * assert.equal(historyMessages([item, { type: "message" }]).length, 1);
 * ```
 */
export function historyMessages(value: unknown): Array<RoomMessageEvent | DirectMessageEvent> {
  const messages: Array<RoomMessageEvent | DirectMessageEvent> = [];
  for (const item of Array.isArray(value) ? value : []) {
    let frame;
    try {
      frame = parseServerFrame(item);
    } catch {
      continue;
    }
    if (frame?.type === "message" || frame?.type === "dm") {
      messages.push({ ...frame, history: true });
    }
  }
  return messages;
}

/** The messages a reply carries (a join's history, a history page), marked as history. */
function messagesOf(reply: Reply): Array<TimelineEntry | DirectMessageEvent> {
  const messages: Array<TimelineEntry | DirectMessageEvent> = isReplyTo(reply, "join")
    ? reply.result.history
    : isReplyTo(reply, "history") || isReplyTo(reply, "dm_history")
    ? reply.result.messages
    : [];
  return messages.map((message) => ({ ...message, history: true }));
}

/** The ids a join result says are lost: `after`+1 to `oldest`-1. */
function gapOf(reply: Reply): { after: number; oldest: number } | undefined {
  if (!isReplyTo(reply, "join")) return undefined;
  const gap = reply.result.gap;
  return gap === undefined || gap.oldest <= gap.after + 1 ? undefined : gap;
}

function gapText(room: string, gap: { after: number; oldest: number }): string {
  const [first, last] = [gap.after + 1, gap.oldest - 1];
  return first === last
    ? `message ${first} of #${room} is too old to recover`
    : `messages ${first} to ${last} of #${room} are too old to recover`;
}

/** Where the next page of a history reply starts, if there is one, and how to ask for it. */
function nextPage(
  reply: Reply,
  messages: Array<{ id: number }>,
): { before?: number; after?: number; body: string } | undefined {
  const first = messages[0]?.id;
  const last = messages.at(-1)?.id;
  if (isReplyTo(reply, "join")) {
    // Replay after `since` was cut short: the rest is paged forwards.
    const after = last ?? reply.request.since;
    if (reply.result.more !== true || after === undefined) return undefined;
    return { after, body: `more missed messages in #${text(reply.result.room)}` };
  }
  if (isReplyTo(reply, "history")) {
    const { request, result } = reply;
    const room = `#${text(result.room)}`;
    if (request.after !== undefined) {
      return result.more === true && last !== undefined
        ? { after: last, body: `newer messages in ${room}: /history after ${last}` }
        : undefined;
    }
    // Room ids have no holes: anything above 1 means older ones were said.
    return first !== undefined && (result.more === true || first > 1)
      ? { before: first, body: `older messages in ${room}: /history before ${first}` }
      : undefined;
  }
  if (isReplyTo(reply, "dm_history")) {
    const { request, result } = reply;
    const peer = text(result.with);
    if (request.after !== undefined) {
      return result.more === true && last !== undefined
        ? { after: last, body: `newer messages with ${peer}: /dmhistory ${peer} after ${last}` }
        : undefined;
    }
    // DM ids are shared by every conversation: a full page is the only hint.
    return first !== undefined && (result.more === true || messages.length >= HISTORY_PAGE)
      ? { before: first, body: `older messages with ${peer}: /dmhistory ${peer} before ${first}` }
      : undefined;
  }
  return undefined;
}

/** The command that shows the next page of a list reply with `more`, after its last name. */
function morePage(
  result: { more?: true },
  last: string | undefined,
  command: (last: string) => string,
): string | undefined {
  return result.more === true && last !== undefined ? command(text(last)) : undefined;
}

// ------------------------------------------------------------ search (protocol section 24)

/** A search result's body with the words the search names marked (bold, underlined) in colour. */
function markedBody(body: string, search: string, options: FormatOptions): string {
  if (!options.color) return clean(body, options);
  return matchPieces(body, search)
    .map((piece) =>
      piece.match ? paint(clean(piece.text, options), "1;4") : clean(piece.text, options)
    )
    .join("");
}

/** One search result: when, where (room or DM partner), its id, who, and the body. */
function searchLine(
  found: ResultOf<"search">["results"][number],
  search: string,
  options: FormatOptions,
): string {
  const when = paint(
    `[${formatDate(found.ts, options)} ${formatTime(found.ts, options)}]`,
    options.color ? "2" : "",
  );
  const where = found.room === undefined
    ? `[with ${nick(found.with ?? "", options)}]`
    : room(found.room);
  const body = markedBody(found.body, search, options);
  const said = found.action
    ? `* ${nick(found.from, options)} ${body}`
    : `<${nick(found.from, options)}> ${body}`;
  // A room message by its id as /reply, /edit and /react name it (#42); a DM by its own id.
  return `${when} ${where} ${found.room === undefined ? `(${found.id})` : `#${found.id}`} ${said}`;
}

/** The command that asks for the page after `cursor` of the search `request`. */
function nextSearch(request: { text: string; room?: string }, cursor: string): string {
  const room = request.room === undefined ? "" : ` #${text(request.room.replace(/^#/, ""))}`;
  return `/search after:${text(cursor)} ${text(request.text)}${room}`;
}

/** The lines of a search reply: its results newest first, then how to get the next page. */
function searchLines(
  request: { text: string; room?: string; cursor?: string },
  result: ResultOf<"search">,
  options: FormatOptions,
): string[] {
  const where = request.room === undefined ? "" : ` in #${text(request.room.replace(/^#/, ""))}`;
  if (result.results.length === 0) {
    return [
      `no ${request.cursor === undefined ? "" : "more "}results for "${
        text(request.text)
      }"${where}`,
    ];
  }
  return [
    `search "${text(request.text)}"${where}:`,
    ...result.results.map((found) => searchLine(found, request.text, options)),
    ...(result.cursor === undefined ? [] : [`more results: ${nextSearch(request, result.cursor)}`]),
  ];
}

/** The JSON record of a search reply: the results, and the cursor of the next page. */
function searchRecord(
  request: { text: string; room?: string },
  result: ResultOf<"search">,
  ts: number,
): JsonRecord {
  return {
    type: "search",
    room: request.room?.replace(/^#/, "") ?? null,
    from: null,
    body: request.text,
    id: null,
    ts,
    results: result.results.map((found) => ({ action: false, ...found })),
    more: result.more === true,
    cursor: result.cursor ?? null,
    next: result.cursor === undefined ? null : nextSearch(request, result.cursor),
  };
}

/** What a `dm` ack with `stored: true` means to the sender. */
function storedText(request: { to: string }): string {
  return `${text(request.to)} is offline; they will get it at their next login`;
}

/** `request` with its result, typed together (the client checked the result against the request). */
function replyOf(request: RequestBody, result: object | undefined): Reply | undefined {
  return result === undefined ? undefined : { request, result } as Reply;
}

/**
 * The lines that show the result of a request: what reading requests read
 * (`rooms`, `who`, `users`, `topic` without text, `history`,
 * `dm_history`), the history a `join` brought (what is lost first, then
 * the messages, then how to page for more), a `dm` kept for someone
 * offline, a `register` done. Empty for other requests, whose effect shows
 * as events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatResult } from "./format.ts";
 * assert.deepEqual(formatResult({ type: "users" }, { users: ["alice", "bob"], total: 2 }), [
 *   "users online (2): alice, bob",
 * ]);
 * ```
 */
export function formatResult<B extends RequestBody>(
  request: B,
  result: ResultOf<B["type"]> | undefined,
  options: FormatOptions = {},
): string[] {
  const reply = replyOf(request, result);
  if (reply === undefined) return [];
  const names = (value: string[], away?: ReadonlyArray<{ nick: string; message: string }>) => {
    // Away ones with their message (section 22): `bob (away: lunch)`.
    const messages = new Map(away?.map((entry) => [entry.nick, entry.message]));
    return value.map((name) => {
      const message = messages.get(name);
      const shown = nick(text(name), options);
      return message === undefined ? shown : `${shown} (away: ${text(message)})`;
    }).join(", ");
  };
  if (isReplyTo(reply, "rooms")) {
    const { request, result } = reply;
    const rooms = result.rooms;
    if (rooms.length === 0) return [request.after === undefined ? "no rooms" : "no more rooms"];
    const next = morePage(result, rooms.at(-1)?.name, (last) => `/rooms after ${last}`);
    return [
      `rooms (${result.total}${next === undefined ? "" : ", this page"}):`,
      ...rooms.map((info) => {
        const topic = info.topic !== "" ? `: ${text(info.topic)}` : "";
        return `  #${text(info.name)} (${info.members})${topic}`;
      }),
      ...(next === undefined ? [] : [`more rooms: ${next}`]),
    ];
  }
  if (isReplyTo(reply, "who")) {
    const { members, total } = reply.result;
    const room = text(reply.result.room);
    const next = morePage(reply.result, members.at(-1), (last) => `/who ${room} after ${last}`);
    return [
      `#${room} (${total}): ${names(members, reply.result.away)}`,
      ...(next === undefined ? [] : [`more members: ${next}`]),
    ];
  }
  if (isReplyTo(reply, "users")) {
    const { users, total } = reply.result;
    const next = morePage(reply.result, users.at(-1), (last) => `/users after ${last}`);
    return [
      `users online (${total}): ${names(users, reply.result.away)}`,
      ...(next === undefined ? [] : [`more users: ${next}`]),
    ];
  }
  if (isReplyTo(reply, "topic")) {
    if (reply.request.topic !== undefined) return [];
    const { topic } = reply.result;
    const where = `#${text(reply.result.room)}`;
    return [topic === "" ? `${where} has no topic` : `topic of ${where}: ${text(topic)}`];
  }
  if (isReplyTo(reply, "join")) {
    const room = text(reply.result.room);
    const gap = gapOf(reply);
    const messages = messagesOf(reply);
    const next = nextPage(reply, messages);
    const topic = reply.result.topic !== ""
      ? [`topic of #${room}: ${text(reply.result.topic)}`]
      : [];
    return [
      ...(gap === undefined ? [] : [gapText(room, gap)]),
      ...historyLines(messages, options),
      ...(next === undefined ? [] : [`${next.body}: /history after ${next.after}`]),
      ...topic,
    ];
  }
  if (isReplyTo(reply, "history") || isReplyTo(reply, "dm_history")) {
    const messages = messagesOf(reply);
    if (messages.length === 0) {
      const paging = reply.request.before !== undefined || reply.request.after !== undefined;
      return [
        isReplyTo(reply, "history")
          ? `no ${paging ? "more " : ""}messages in #${text(reply.result.room)}`
          : `no ${paging ? "more " : ""}direct messages with ${text(reply.result.with)}`,
      ];
    }
    const next = nextPage(reply, messages);
    return [
      ...historyLines(messages, options),
      ...(next === undefined ? [] : [next.body]),
    ];
  }
  if (isReplyTo(reply, "dm")) {
    return reply.result.stored === true ? [storedText(reply.request)] : [];
  }
  if (isReplyTo(reply, "register")) {
    return [`registered ${text(reply.result.nick)}: log in with this password from now on`];
  }
  if (isReplyTo(reply, "away")) {
    const { away } = reply.result;
    return [away === undefined ? "you are back" : `you are away: ${text(away)}`];
  }
  if (isReplyTo(reply, "search")) return searchLines(reply.request, reply.result, options);
  // Message changes (section 21): the event shows the change; only "nothing to do" needs words.
  if ((isReplyTo(reply, "react") || isReplyTo(reply, "unreact")) && reply.result.unchanged) {
    const { type, emoji, target } = reply.request;
    return [
      type === "react"
        ? `you had already reacted ${text(emoji)} to #${target}`
        : `you had not reacted ${text(emoji)} to #${target}`,
    ];
  }
  return [];
}

/**
 * A JSON record for the ack of a reading request (see
 * {@linkcode formatResult}), or undefined for other requests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resultToJson } from "./format.ts";
 * assert.deepEqual(resultToJson({ type: "users" }, { users: ["bob"], total: 1 }, { now: 5 }), {
 *   type: "users",
 *   room: null,
 *   from: null,
 *   body: null,
 *   id: null,
 *   ts: 5,
 *   users: ["bob"],
 *   total: 1,
 * });
 * ```
 */
export function resultToJson<B extends RequestBody>(
  request: B,
  result: ResultOf<B["type"]> | undefined,
  options: { now?: number } = {},
): JsonRecord | undefined {
  const readsSomething = request.type === "rooms" || request.type === "who" ||
    request.type === "users" ||
    (request.type === "topic" && request.topic === undefined);
  if (!readsSomething) return undefined;
  const room = "room" in request ? request.room.replace(/^#/, "") : null;
  const head = { type: request.type, room, from: null, body: null, id: null };
  // Fields of ours win over the result's.
  return { ...head, ...result, type: request.type, ts: options.now ?? Date.now() };
}

/**
 * The JSON records for the result of any request: the record of
 * {@linkcode resultToJson} for reading requests; for `join`, `history`
 * and `dm_history` one record per message (as {@linkcode eventToJson}
 * makes them, with `history: true`), preceded by a `gap` record
 * (`after`, `oldest`: the ids in between are lost) and followed by a
 * `more` record (`before` or `after`: where the next page starts) when
 * those apply; a `stored` record (`to`) for a `dm` kept for someone
 * offline; a `register` record (`nick`). Empty for other requests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resultRecords } from "./format.ts";
 * const records = resultRecords({ type: "dm", to: "bob", body: "hi" }, { id: 7, ts: 1, stored: true });
 * assert.equal(records[0]?.type, "stored");
 * assert.equal(records[0]?.to, "bob");
 * ```
 */
export function resultRecords<B extends RequestBody>(
  request: B,
  result: ResultOf<B["type"]> | undefined,
  options: { now?: number } = {},
): JsonRecord[] {
  const reply = replyOf(request, result);
  if (reply === undefined) return [];
  const ts = options.now ?? Date.now();
  const head = { room: null, from: null, body: null, id: null, ts };
  if (isReplyTo(reply, "join") || isReplyTo(reply, "history") || isReplyTo(reply, "dm_history")) {
    const messages = messagesOf(reply);
    const room = isReplyTo(reply, "dm_history") ? null : reply.result.room;
    const gap = gapOf(reply);
    const next = nextPage(reply, messages);
    const joining = isReplyTo(reply, "join");
    return [
      ...(gap === undefined ? [] : [{
        ...head,
        type: "gap",
        room,
        body: gapText(text(room ?? ""), gap),
        after: gap.after,
        oldest: gap.oldest,
      }]),
      ...messages.map(eventToJson),
      ...(next === undefined || (!joining && reply.result.more !== true) ? [] : [{
        ...head,
        type: "more",
        room,
        body: joining ? `${next.body}: /history after ${next.after}` : next.body,
        ...(isReplyTo(reply, "dm_history") ? { with: reply.result.with } : {}),
        ...(next.before === undefined ? {} : { before: next.before }),
        ...(next.after === undefined ? {} : { after: next.after }),
      }]),
    ];
  }
  if (isReplyTo(reply, "dm")) {
    return reply.result.stored === true
      ? [{
        ...head,
        type: "stored",
        id: reply.result.id,
        body: storedText(reply.request),
        to: reply.request.to,
      }]
      : [];
  }
  if (isReplyTo(reply, "search")) return [searchRecord(reply.request, reply.result, ts)];
  if (isReplyTo(reply, "register")) {
    const body = formatResult(reply.request, reply.result)[0]!;
    return [{ ...head, type: "register", body, nick: reply.result.nick }];
  }
  const record = resultToJson(request, result, options);
  return record === undefined ? [] : [record];
}
