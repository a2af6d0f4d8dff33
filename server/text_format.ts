/**
 * How the plain-text mode shows events and replies: one sanitized line each.
 *
 * @module
 */
import type { ErrorFrame } from "../shared/errors.ts";
import type { ChatEvent, Request } from "../shared/protocol.ts";
import { sanitizeForTerminal } from "../shared/validation.ts";

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
 * const line = formatTextEvent({ type: "message", room: "general", from: "alice", body: "hi", id: 1, ts: 0 });
 * console.log(line); // "[00:00:00] #general <alice> hi"
 * ```
 */
export function formatTextEvent(event: ChatEvent): string {
  const at = `[${clock(event.ts)}]`;
  switch (event.type) {
    case "message":
      return event.action
        ? `${at} #${clean(event.room)} * ${clean(event.from)} ${clean(event.body)}`
        : `${at} #${clean(event.room)} <${clean(event.from)}> ${clean(event.body)}`;
    case "dm":
      return event.action
        ? `${at} [${clean(event.from)} -> ${clean(event.to)}] * ${clean(event.from)} ${
          clean(event.body)
        }`
        : `${at} [${clean(event.from)} -> ${clean(event.to)}] ${clean(event.body)}`;
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
    case "notice":
      return event.from
        ? `${at} !!! ${clean(event.from)}: ${clean(event.body)}`
        : `${at} !!! ${clean(event.body)}`;
  }
}

/** The line reporting an error to a plain-text client. */
export function formatTextError(error: ErrorFrame): string {
  const retry = error.retryAfterMs === undefined
    ? ""
    : ` (retry in ${Math.ceil(error.retryAfterMs / 1000)} s)`;
  return `! ${error.code}: ${clean(error.message)}${retry}`;
}

/** Lines showing the result of `request` to a plain-text client (none when the echo says it all). */
export function formatTextResult(request: Request, result: Record<string, unknown>): string[] {
  switch (request.type) {
    case "join": {
      const members = (result.members as string[]).map(clean).join(" ");
      const topic = result.topic
        ? [`--- Topic of #${clean(String(result.room))}: ${clean(String(result.topic))}`]
        : [];
      return [`--- Now talking in #${clean(String(result.room))}. Members: ${members}`, ...topic];
    }
    case "leave":
      return [`--- You left #${clean(String(result.room))}`];
    case "rooms": {
      const rooms = result.rooms as Array<{ name: string; members: number; topic: string }>;
      if (rooms.length === 0) return ["--- No rooms yet: /join ROOM creates one"];
      return [
        `--- ${rooms.length} room(s):`,
        ...rooms.map((room) =>
          `    #${clean(room.name)} (${room.members})${room.topic ? ` ${clean(room.topic)}` : ""}`
        ),
      ];
    }
    case "who":
      return [
        `--- In #${clean(String(result.room))}: ${
          (result.members as string[]).map(clean).join(" ")
        }`,
      ];
    case "users":
      return [`--- Online: ${(result.users as string[]).map(clean).join(" ")}`];
    case "topic":
      return request.topic === undefined
        ? [
          `--- Topic of #${clean(String(result.room))}: ${clean(String(result.topic)) || "(none)"}`,
        ]
        : [];
    case "nick":
      return [`--- You are now ${clean(String(result.nick))}`];
    case "ping":
      return ["--- pong"];
    default:
      return [];
  }
}
