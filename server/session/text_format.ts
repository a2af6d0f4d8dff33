/**
 * How the plain-text mode shows events and replies: one sanitized line each.
 *
 * @module
 */
import type { ErrorFrame } from "../../shared/errors.ts";
import { describeFile } from "../../shared/file_fields.ts";
import {
  type ChatEvent,
  type FileInfo,
  isReplyTo,
  type Reply,
  type Request,
  type ResultOf,
} from "../../shared/protocol.ts";
import { sanitizeForTerminal } from "../../shared/validation.ts";

// Files (section 23): plain text cannot download, but shows what was shared.
function fileLine(file: FileInfo, body: string): string {
  const line = clean(describeFile(file));
  return body === file.name ? line : `${line}: ${clean(body)}`;
}

function clock(ts: number): string {
  return new Date(ts).toISOString().slice(11, 19);
}

function clean(text: string): string {
  // Continuation lines of a multi-line body are indented under the first.
  return sanitizeForTerminal(text, { keepNewlines: true }).replaceAll("\n", "\r\n    ");
}

/**
 * One line (without line ending) showing `event` to a plain-text client.
 *
 * @example
 * ```ts
 * import { formatTextEvent } from "./text_format.ts";
 * import assert from "node:assert/strict";
 * const line = formatTextEvent({ type: "message", room: "general", from: "alice", body: "hi", id: 1, ts: 0 });
 * assert.equal(line, "[00:00:00] #general <alice> hi");
 * ```
 */
export function formatTextEvent(event: ChatEvent): string {
  // History is marked so it is not mistaken for something said just now.
  const at = (event.type === "message" || event.type === "dm") && event.history
    ? `[${new Date(event.ts).toISOString().slice(0, 10)} ${clock(event.ts)}] (history)`
    : `[${clock(event.ts)}]`;
  switch (event.type) {
    case "message": {
      const body = event.file === undefined ? clean(event.body) : fileLine(event.file, event.body);
      return event.action
        ? `${at} #${clean(event.room)} * ${clean(event.from)} ${body}`
        : `${at} #${clean(event.room)} <${clean(event.from)}> ${body}`;
    }
    case "dm": {
      const body = event.file === undefined ? clean(event.body) : fileLine(event.file, event.body);
      return event.action
        ? `${at} [${clean(event.from)} -> ${clean(event.to)}] * ${clean(event.from)} ${body}`
        : `${at} [${clean(event.from)} -> ${clean(event.to)}] ${body}`;
    }
    case "join":
      return `${at} --> ${clean(event.nick)} joined #${clean(event.room)}`;
    case "leave":
      return `${at} <-- ${clean(event.nick)} left #${clean(event.room)}` +
        (event.reason ? ` (${clean(event.reason)})` : "");
    case "nick":
      return `${at} --- ${clean(event.from)} is now known as ${clean(event.to)}`;
    case "topic":
      return `${at} --- ${clean(event.by)} set the topic of #${clean(event.room)}: ${
        clean(event.topic)
      }`;
    case "notice": {
      const where = event.room === undefined ? "" : `#${clean(event.room)} `;
      return event.from
        ? `${at} !!! ${where}${clean(event.from)}: ${clean(event.body)}`
        : `${at} !!! ${where}${clean(event.body)}`;
    }
  }
}

/** The line telling how to get the next page of a list cut short, after its last name. */
function morePage(
  result: { more?: true },
  last: string | undefined,
  line: (last: string) => string,
): string[] {
  return result.more === true && last !== undefined ? [line(clean(last))] : [];
}

/**
 * The line reporting an error to a plain-text client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTextError } from "./text_format.ts";
 * const line = formatTextError({ type: "error", code: "muted", message: "Hush", retryAfterMs: 1500 });
 * assert.equal(line, "! muted: Hush (retry in 2 s)");
 * ```
 */
export function formatTextError(error: ErrorFrame): string {
  const retry = error.retryAfterMs === undefined
    ? ""
    : ` (retry in ${Math.ceil(error.retryAfterMs / 1000)} s)`;
  return `! ${error.code}: ${clean(error.message)}${retry}`;
}

/**
 * Lines showing the result of `request` to a plain-text client (none when
 * the echo says it all).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTextResult } from "./text_format.ts";
 * const lines = formatTextResult({ type: "users", id: 1 }, { users: ["alice"], total: 1 });
 * assert.deepEqual(lines, ["--- Online: alice"]);
 * ```
 */
export function formatTextResult<R extends Request>(
  request: R,
  result: ResultOf<R["type"]>,
): string[];
export function formatTextResult(request: Request, result: object): string[] {
  return formatTextReply({ request, result } as Reply);
}

/** Lines showing a request's result to a plain-text client. */
function formatTextReply(reply: Reply): string[] {
  if (isReplyTo(reply, "join")) {
    const { result } = reply;
    const room = clean(result.room);
    const members = result.members.map(clean).join(" ");
    const topic = result.topic ? [`--- Topic of #${room}: ${clean(result.topic)}`] : [];
    const history = result.history.map(formatTextEvent);
    const gap = result.gap;
    const lost = gap === undefined
      ? []
      : [`--- Messages ${gap.after + 1} to ${gap.oldest - 1} of #${room} are too old to recover`];
    const more = result.more
      ? [`--- More missed messages: /history after ${String(result.history.at(-1)?.id ?? 0)}`]
      : [];
    const others = result.membersMore
      ? [`--- More members: /who ${room} after ${clean(String(result.members.at(-1)))}`]
      : [];
    return [
      ...lost,
      ...history,
      ...more,
      `--- Now talking in #${room}. Members: ${members}`,
      ...others,
      ...topic,
    ];
  }
  if (isReplyTo(reply, "history") || isReplyTo(reply, "dm_history")) {
    const messages: ChatEvent[] = reply.result.messages;
    return messages.length === 0 ? ["--- No more history"] : messages.map(formatTextEvent);
  }
  if (isReplyTo(reply, "register")) {
    return [`--- Registered: ${clean(reply.result.nick)} now needs its password to log in`];
  }
  if (isReplyTo(reply, "dm")) {
    return reply.result.stored
      ? [`--- ${clean(reply.request.to)} is offline; they will get it at their next login`]
      : [];
  }
  if (isReplyTo(reply, "leave")) return [`--- You left #${clean(reply.result.room)}`];
  if (isReplyTo(reply, "rooms")) {
    const { request, result } = reply;
    const rooms = result.rooms;
    if (rooms.length === 0) {
      return [
        request.after === undefined
          ? "--- No rooms yet: /join ROOM creates one"
          : "--- No more rooms",
      ];
    }
    return [
      `--- ${result.total} room(s)${result.more ? ", the first by name" : ""}:`,
      ...rooms.map((room) =>
        `    #${clean(room.name)} (${room.members})${room.topic ? ` ${clean(room.topic)}` : ""}`
      ),
      ...morePage(result, rooms.at(-1)?.name, (last) => `--- More rooms: /rooms after ${last}`),
    ];
  }
  if (isReplyTo(reply, "who")) {
    const { result } = reply;
    const room = clean(result.room);
    return [
      `--- In #${room}: ${result.members.map(clean).join(" ")}`,
      ...morePage(
        result,
        result.members.at(-1),
        (last) => `--- ${result.total} in all; more: /who ${room} after ${last}`,
      ),
    ];
  }
  if (isReplyTo(reply, "users")) {
    const { result } = reply;
    return [
      `--- Online: ${result.users.map(clean).join(" ")}`,
      ...morePage(
        result,
        result.users.at(-1),
        (last) => `--- ${result.total} in all; more: /users after ${last}`,
      ),
    ];
  }
  if (isReplyTo(reply, "topic")) {
    return reply.request.topic === undefined
      ? [`--- Topic of #${clean(reply.result.room)}: ${clean(reply.result.topic) || "(none)"}`]
      : [];
  }
  if (isReplyTo(reply, "nick")) return [`--- You are now ${clean(reply.result.nick)}`];
  if (isReplyTo(reply, "ping")) return ["--- pong"];
  return [];
}
