/**
 * Pure formatting of what the client shows: events as text lines or JSON
 * records, ack results, and a stable colour per nickname. Everything that
 * came over the wire passes through `sanitizeForTerminal` here, so no
 * caller can forget it.
 *
 * @module
 */
import { ChatError } from "../shared/errors.ts";
import type { RequestBody } from "../shared/protocol.ts";
import { nameKey, sanitizeForTerminal } from "../shared/validation.ts";
import type { ClientEvent } from "./client_event.ts";
import type { RequestResult } from "./chat_client.ts";

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
 * import { nickColor } from "./format.ts";
 * console.log(nickColor("alice", 256) === nickColor("ALICE", 256)); // true
 * console.log(nickColor("alice", 0)); // ""
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
 * import { paint } from "./format.ts";
 * console.log(JSON.stringify(paint("hi", "1"))); // "\u001b[1mhi\u001b[0m"
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
 * import { formatTime } from "./format.ts";
 * console.log(formatTime(Date.UTC(2024, 0, 1, 12, 34, 56), { utc: true })); // "12:34:56"
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
 * Describes an error for a person: the message and, for a server error,
 * its code. Sanitized, since the message may come from the wire.
 *
 * @example
 * ```ts
 * import { ChatError } from "../shared/errors.ts";
 * import { describeError } from "./format.ts";
 * console.log(describeError(new ChatError("name_taken", "Nickname bob is already in use")));
 * // "Nickname bob is already in use (name_taken)"
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof ChatError) return sanitizeForTerminal(`${error.message} (${error.code})`);
  return sanitizeForTerminal(error instanceof Error ? error.message : String(error));
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

/** The line without its timestamp. */
function eventText(event: ClientEvent, options: FormatOptions): string {
  const dim = (text: string) => paint(text, options.color ? "2" : "");
  switch (event.type) {
    case "message":
      return event.action
        ? `${room(event.room)} * ${nick(event.from, options)} ${clean(event.body, options)}`
        : `${room(event.room)} <${nick(event.from, options)}> ${clean(event.body, options)}`;
    case "dm": {
      const outgoing = sameNick(options.self, event.from) && !sameNick(options.self, event.to);
      const arrow = outgoing ? `-> ${nick(event.to, options)}` : `<- ${nick(event.from, options)}`;
      const body = clean(event.body, options);
      return event.action
        ? `${arrow}: * ${nick(event.from, options)} ${body}`
        : `${arrow}: ${body}`;
    }
    case "join":
      return dim(`--> ${nick(event.nick, options)} joined ${room(event.room)}`);
    case "leave": {
      const reason = event.reason
        ? ` (${clean(event.reason, { ...options, multiline: false })})`
        : "";
      return dim(`<-- ${nick(event.nick, options)} left ${room(event.room)}${reason}`);
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
    case "notice":
      return event.from === undefined
        ? `-!- ${clean(event.body, options)}`
        : `-!- broadcast from ${nick(event.from, options)}: ${clean(event.body, options)}`;
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
 * One event as a line of text, e.g. `[12:34:56] #general <alice> hello`.
 * Wire text is sanitized; with `multiline`, a body's newlines start
 * indented continuation lines.
 *
 * @example
 * ```ts
 * import { formatEvent } from "./format.ts";
 * const ts = Date.UTC(2024, 0, 1, 12, 34, 56);
 * const event = { type: "message", room: "general", from: "alice", body: "hi", id: 1, ts } as const;
 * console.log(formatEvent(event, { utc: true }));
 * // "[12:34:56] #general <alice> hi"
 * ```
 */
export function formatEvent(event: ClientEvent, options: FormatOptions = {}): string {
  const time = `[${formatTime(event.ts, options)}]`;
  return `${paint(time, options.color ? "2" : "")} ${eventText(event, options)}`;
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
 * import { eventToJson } from "./format.ts";
 * console.log(eventToJson({ type: "join", room: "general", nick: "bob", ts: 1 }));
 * // { type: "join", room: "general", from: "bob", body: null, id: null, ts: 1, nick: "bob" }
 * ```
 */
export function eventToJson(event: ClientEvent): JsonRecord {
  // `type` first: easier to read when scanning output.
  const base = { type: event.type, room: null, from: null, body: null, id: null };
  switch (event.type) {
    case "message":
      return { ...base, ...event, action: event.action ?? false };
    case "dm":
      return { ...base, ...event, action: event.action ?? false };
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
 * import { jsonLine } from "./format.ts";
 * console.log(jsonLine({ body: "a\u202eb" })); // {"body":"a\u202eb"} with the escape spelled out
 * ```
 */
export function jsonLine(record: unknown): string {
  return JSON.stringify(record).replace(
    JSON_UNSAFE,
    (char) => "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string {
  return sanitizeForTerminal(typeof value === "string" ? value : String(value ?? ""));
}

/**
 * The lines that show the result of a request people ask in order to read
 * something (`rooms`, `who`, `users`, `topic` without text); empty for
 * other requests, whose effect shows as events.
 *
 * @example
 * ```ts
 * import { formatResult } from "./format.ts";
 * console.log(formatResult({ type: "users" }, { users: ["alice", "bob"] }));
 * // ["users online (2): alice, bob"]
 * ```
 */
export function formatResult(
  request: RequestBody,
  result: RequestResult,
  options: FormatOptions = {},
): string[] {
  const names = (value: unknown) => list(value).map((name) => nick(text(name), options)).join(", ");
  switch (request.type) {
    case "rooms": {
      const rooms = list(result?.rooms);
      if (rooms.length === 0) return ["no rooms"];
      return [
        `rooms (${rooms.length}):`,
        ...rooms.map((entry) => {
          const info =
            (typeof entry === "object" && entry !== null ? entry : { name: entry }) as Record<
              string,
              unknown
            >;
          const topic = typeof info.topic === "string" && info.topic !== ""
            ? `: ${text(info.topic)}`
            : "";
          const count = typeof info.members === "number" ? ` (${info.members})` : "";
          return `  #${text(info.name)}${count}${topic}`;
        }),
      ];
    }
    case "who": {
      const members = list(result?.members);
      return [`#${text(result?.room ?? request.room)} (${members.length}): ${names(members)}`];
    }
    case "users": {
      const users = list(result?.users);
      return [`users online (${users.length}): ${names(users)}`];
    }
    case "topic": {
      if (request.topic !== undefined) return [];
      const topic = typeof result?.topic === "string" ? result.topic : "";
      const where = `#${text(result?.room ?? request.room)}`;
      return [topic === "" ? `${where} has no topic` : `topic of ${where}: ${text(topic)}`];
    }
    default:
      return [];
  }
}

/**
 * A JSON record for the ack of a reading request (see
 * {@linkcode formatResult}), or undefined for other requests.
 *
 * @example
 * ```ts
 * import { resultToJson } from "./format.ts";
 * console.log(resultToJson({ type: "users" }, { users: ["bob"] }, { now: 5 }));
 * // { type: "users", room: null, from: null, body: null, id: null, ts: 5, users: ["bob"] }
 * ```
 */
export function resultToJson(
  request: RequestBody,
  result: RequestResult,
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
