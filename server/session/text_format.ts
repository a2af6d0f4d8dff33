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
 * assert.equal(line, "[00:00:00] #general #1 <alice> hi");
 * ```
 */
export function formatTextEvent(event: ChatEvent): string {
  // History is marked so it is not mistaken for something said just now.
  const at = "history" in event && event.history
    ? `[${new Date(event.ts).toISOString().slice(0, 10)} ${clock(event.ts)}] (history)`
    : `[${clock(event.ts)}]`;
  switch (event.type) {
    case "message": {
      // Section 21: the id names the message in /reply, /edit, /delete, /react.
      const where = `${at} #${clean(event.room)} #${event.id}`;
      if (event.deleted !== undefined) {
        return `${where} (deleted by ${clean(event.deleted.by)})`;
      }
      const reply = event.replyTo === undefined ? "" : `(re #${event.replyTo}) `;
      const edited = event.edited === undefined ? "" : " (edited)";
      const reactions = event.reactions === undefined || event.reactions.length === 0
        ? ""
        : `  [${
          event.reactions.map((reaction) => `${clean(reaction.emoji)} ${reaction.count}`).join(
            ", ",
          )
        }]`;
      const body = event.file === undefined ? clean(event.body) : fileLine(event.file, event.body);
      const text = `${reply}${body}${edited}${reactions}`;
      return event.action
        ? `${where} * ${clean(event.from)} ${text}`
        : `${where} <${clean(event.from)}> ${text}`;
    }
    case "dm": {
      const body = event.file === undefined ? clean(event.body) : fileLine(event.file, event.body);
      return event.action
        ? `${at} [${clean(event.from)} -> ${clean(event.to)}] * ${clean(event.from)} ${body}`
        : `${at} [${clean(event.from)} -> ${clean(event.to)}] ${body}`;
    }
    // Message changes (section 21), each with its own timeline id like a message.
    case "edit":
      return `${at} #${clean(event.room)} #${event.id} * ${
        clean(event.from)
      } edited #${event.target}: ${clean(event.body)}`;
    case "delete":
      return `${at} #${clean(event.room)} #${event.id} * ${
        clean(event.by)
      } deleted #${event.target}`;
    case "react":
      return `${at} #${clean(event.room)} #${event.id} * ${clean(event.from)} reacted ${
        clean(event.emoji)
      } to #${event.target}`;
    case "unreact":
      return `${at} #${clean(event.room)} #${event.id} * ${clean(event.from)} took back ${
        clean(event.emoji)
      } from #${event.target}`;
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
    // Away and typing (section 22).
    case "away":
      return event.message === undefined
        ? `${at} --- ${clean(event.nick)} is back`
        : `${at} --- ${clean(event.nick)} is away: ${clean(event.message)}`;
    case "typing": {
      const where = event.room === undefined ? "to you" : `in #${clean(event.room)}`;
      const doing = { active: "is typing", paused: "paused typing", done: "stopped typing" }[
        event.state
      ];
      return `${at} --- ${clean(event.from)} ${doing} ${where}`;
    }
    case "notice": {
      if (event.away !== undefined && event.from !== undefined) {
        return `${at} --- ${clean(event.from)} is away: ${clean(event.away)}`;
      }
      const where = event.room === undefined ? "" : `#${clean(event.room)} `;
      return event.from
        ? `${at} !!! ${where}${clean(event.from)}: ${clean(event.body)}`
        : `${at} !!! ${where}${clean(event.body)}`;
    }
  }
}

/** Names of a page, each away one followed by its message: `bob (away: lunch)`. */
function withAway(
  names: readonly string[],
  away: ReadonlyArray<{ nick: string; message: string }> | undefined,
): string {
  const messages = new Map(away?.map(({ nick, message }) => [nick, message]));
  return names.map((name) => {
    const message = messages.get(name);
    return message === undefined ? clean(name) : `${clean(name)} (away: ${clean(message)})`;
  }).join(" ");
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
 * A search's results, newest first, one line each (room or DM partner, id,
 * time, sender, body), then their count and how to get the next page.
 */
function searchLines(
  request: { text: string; room?: string },
  result: ResultOf<"search">,
): string[] {
  const lines = result.results.map((found) => {
    const at = `[${new Date(found.ts).toISOString().slice(0, 10)} ${clock(found.ts)}]`;
    const where = found.room === undefined
      ? `[with ${clean(found.with ?? "")}]`
      : `#${clean(found.room)}`;
    const said = found.action
      ? `* ${clean(found.from)} ${clean(found.body)}`
      : `<${clean(found.from)}> ${clean(found.body)}`;
    // A room message by its id as /reply, /edit and /react name it (#42); a DM by its own id.
    return `${at} ${where} ${found.room === undefined ? `(${found.id})` : `#${found.id}`} ${said}`;
  });
  const count = result.results.length;
  lines.push(
    count === 0 ? "--- No results" : `--- ${count} result${count === 1 ? "" : "s"}`,
  );
  if (result.cursor !== undefined) {
    const room = request.room === undefined ? "" : ` #${clean(request.room)}`;
    lines.push(`--- More: /search after:${clean(result.cursor)} ${clean(request.text)}${room}`);
  }
  return lines;
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
      `--- In #${room}: ${withAway(result.members, result.away)}`,
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
      `--- Online: ${withAway(result.users, result.away)}`,
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
  if (isReplyTo(reply, "search")) return searchLines(reply.request, reply.result);
  if (isReplyTo(reply, "nick")) return [`--- You are now ${clean(reply.result.nick)}`];
  // Section 21: an edit, deletion or reaction is shown by its echo; one that changed nothing is said.
  if (isReplyTo(reply, "react") && reply.result.unchanged) {
    return [
      `--- You had already reacted ${clean(reply.request.emoji)} to #${reply.request.target}`,
    ];
  }
  if (isReplyTo(reply, "unreact") && reply.result.unchanged) {
    return [`--- You had not reacted ${clean(reply.request.emoji)} to #${reply.request.target}`];
  }
  if (isReplyTo(reply, "ping")) return ["--- pong"];
  if (isReplyTo(reply, "away")) {
    return [
      reply.result.away === undefined
        ? "--- You are back"
        : `--- You are away: ${clean(reply.result.away)}`,
    ];
  }
  return [];
}
