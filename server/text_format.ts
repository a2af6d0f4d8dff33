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
  // History is marked so it is not mistaken for something said just now.
  const at = (event.type === "message" || event.type === "dm") && event.history
    ? `[${new Date(event.ts).toISOString().slice(0, 10)} ${clock(event.ts)}] (history)`
    : `[${clock(event.ts)}]`;
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
    case "notice": {
      const where = event.room === undefined ? "" : `#${clean(event.room)} `;
      return event.from
        ? `${at} !!! ${where}${clean(event.from)}: ${clean(event.body)}`
        : `${at} !!! ${where}${clean(event.body)}`;
    }
  }
}

/** The last entry of a list field, if it is one. */
function lastOf(list: unknown): unknown {
  return Array.isArray(list) ? list.at(-1) : undefined;
}

/** How many a list reply says there are in all, else `shown`. */
function totalOf(result: Record<string, unknown>, shown: number): number {
  return typeof result.total === "number" ? result.total : shown;
}

/** The line telling how to get the next page of a list cut short, after its last name. */
function morePage(
  result: Record<string, unknown>,
  last: unknown,
  line: (last: string) => string,
): string[] {
  return result.more === true && typeof last === "string" ? [line(clean(last))] : [];
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
      const room = clean(String(result.room));
      const members = (result.members as string[]).map(clean).join(" ");
      const topic = result.topic ? [`--- Topic of #${room}: ${clean(String(result.topic))}`] : [];
      const history = (result.history as ChatEvent[] | undefined ?? []).map(formatTextEvent);
      const gap = result.gap as { after: number; oldest: number } | undefined;
      const lost = gap === undefined
        ? []
        : [`--- Messages ${gap.after + 1} to ${gap.oldest - 1} of #${room} are too old to recover`];
      const more = result.more
        ? [
          `--- More missed messages: /history after ${
            String((result.history as Array<{ id: number }>).at(-1)?.id ?? 0)
          }`,
        ]
        : [];
      const others = result.membersMore
        ? [`--- More members: /who ${room} after ${clean(String(lastOf(result.members)))}`]
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
    case "history":
    case "dm_history": {
      const messages = result.messages as ChatEvent[];
      return messages.length === 0 ? ["--- No more history"] : messages.map(formatTextEvent);
    }
    case "register":
      return [`--- Registered: ${clean(String(result.nick))} now needs its password to log in`];
    case "dm":
      return result.stored
        ? [`--- ${clean(request.to)} is offline; they will get it at their next login`]
        : [];
    case "leave":
      return [`--- You left #${clean(String(result.room))}`];
    case "rooms": {
      const rooms = result.rooms as Array<{ name: string; members: number; topic: string }>;
      if (rooms.length === 0) {
        return [
          request.after === undefined
            ? "--- No rooms yet: /join ROOM creates one"
            : "--- No more rooms",
        ];
      }
      return [
        `--- ${totalOf(result, rooms.length)} room(s)${result.more ? ", the first by name" : ""}:`,
        ...rooms.map((room) =>
          `    #${clean(room.name)} (${room.members})${room.topic ? ` ${clean(room.topic)}` : ""}`
        ),
        ...morePage(result, rooms.at(-1)?.name, (last) => `--- More rooms: /rooms after ${last}`),
      ];
    }
    case "who": {
      const room = clean(String(result.room));
      const members = result.members as string[];
      return [
        `--- In #${room}: ${members.map(clean).join(" ")}`,
        ...morePage(
          result,
          members.at(-1),
          (last) => `--- ${totalOf(result, 0)} in all; more: /who ${room} after ${last}`,
        ),
      ];
    }
    case "users": {
      const users = result.users as string[];
      return [
        `--- Online: ${users.map(clean).join(" ")}`,
        ...morePage(
          result,
          users.at(-1),
          (last) => `--- ${totalOf(result, 0)} in all; more: /users after ${last}`,
        ),
      ];
    }
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
