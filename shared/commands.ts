/**
 * Slash commands typed by people, parsed into protocol requests. Used by the
 * client and by the server's plain-text mode, so both accept the same words.
 *
 * @module
 */
import { ChatError } from "./errors.ts";
import type { RequestBody } from "./protocol.ts";
import { DEFAULT_AWAY_MESSAGE } from "./validation.ts";

/** What one typed line asks for. */
export type Command =
  | { kind: "request"; request: RequestBody }
  | { kind: "help" }
  | { kind: "quit"; reason?: string }
  /** Switch the current room (no request when already a member). */
  | { kind: "switch"; room: string }
  /** Show others' typing (plain-text mode: off by default), or not (section 22). */
  | { kind: "typing"; on: boolean };

/** Context a line is parsed in. */
export interface CommandContext {
  /** The room a plain line goes to; undefined when in no room. */
  currentRoom?: string | undefined;
}

/** One line of help per command, shown by `/help`. */
export const COMMAND_HELP: ReadonlyArray<readonly [string, string]> = [
  ["/join ROOM", "join (or create) ROOM and make it current"],
  ["/leave [ROOM]", "leave ROOM (default: the current room)"],
  ["/msg NICK TEXT", "send a direct message"],
  ["/me ACTION", "send an action to the current room"],
  ["/rooms", "list rooms with member counts, a page at a time (/rooms after NAME: the next)"],
  ["/who [ROOM]", "list the members of ROOM, a page at a time (/who ROOM after NAME)"],
  ["/users", "list users online, a page at a time (/users after NAME: the next)"],
  ["/topic [TEXT]", "show or set the current room's topic"],
  ["/nick NICK", "change nickname"],
  ["/broadcast TEXT", "send a notice to everyone online"],
  ["/create_group, /join_group ROOM", "same as /join"],
  ["/leave_group ROOM", "same as /leave"],
  ["/group_msg ROOM TEXT", "send TEXT to ROOM"],
  // Message changes (section 21); ID is a message id as lines show it, 42 or #42.
  ["/reply ID TEXT", "answer message ID of the current room"],
  ["/edit ID TEXT", "replace the text of your message ID"],
  ["/delete ID", "delete message ID (yours, or any as an operator)"],
  ["/react ID EMOJI", "react to message ID with one emoji"],
  ["/unreact ID EMOJI", "take your reaction back"],
  ["/history", "recent messages of the current room (/history before ID, /history after ID)"],
  ["/search TEXT [#ROOM]", "search the rooms you are in (and your DMs) for every word of TEXT"],
  ["/register PASSWORD", "register your nickname with a password"],
  ["/op, /deop NICK", "give or take operator rights (owners, operators)"],
  ["/kick NICK [REASON]", "remove someone from the current room"],
  ["/ban NICK [REASON]", "ban someone from the current room"],
  ["/unban NICK", "lift a ban"],
  ["/mute NICK [DURATION]", "silence someone for 30s, 10m, 2h or 1d (default 10m)"],
  ["/unmute NICK", "lift a mute"],
  ["/invite NICK", "invite someone into an invite-only room"],
  ["/invite on, /invite off", "make the current room invite-only, or open it"],
  ["/uninvite NICK", "withdraw an invitation"],
  ["/key SECRET", "require a key to join the current room (/key off removes it)"],
  ["/away [MESSAGE]", `mark yourself away (default message: ${DEFAULT_AWAY_MESSAGE})`],
  ["/back", "you are back"],
  ["/typing on", "show when others are typing (/typing off: stop showing it)"],
  ["/help", "show this help"],
  ["/quit [REASON]", "disconnect"],
];

function usage(text: string): ChatError {
  return new ChatError("bad_request", `Usage: ${text}`);
}

/** The cursor of a list command: nothing, or `after NAME`. */
function afterName(args: string, usageText: string): { after?: string } {
  const [word, rest] = firstWord(args);
  if (!word) return {};
  const [name, extra] = firstWord(rest);
  if (word.toLowerCase() !== "after" || !name || extra.trim()) throw usage(usageText);
  return { after: name };
}

function needRoom(context: CommandContext): string {
  if (context.currentRoom === undefined) {
    throw new ChatError("not_in_room", "You are not in a room: /join ROOM first");
  }
  return context.currentRoom;
}

/**
 * Parses a duration such as `30s`, `10m`, `2h` or `1d` (a bare number is
 * minutes) into milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./commands.ts";
 * assert.equal(parseDuration("10m"), 600000);
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/i.exec(text.trim());
  if (!match) throw usage(`a duration like 30s, 10m, 2h or 1d, got "${text}"`);
  const unit =
    { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] || "m").toLowerCase() as "s"];
  const ms = Number(match[1]) * unit;
  if (ms <= 0 || ms > 366 * 86_400_000) {
    throw usage(`a duration between 1s and 366d, got "${text}"`);
  }
  return ms;
}

/**
 * The message id of a change command: `42` or `#42` (as plain-text lines and
 * the client show ids), at least 1.
 */
function messageId(word: string, usageText: string): number {
  const match = /^#?(\d{1,16})$/.exec(word);
  const id = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) throw usage(usageText);
  return id;
}

/** Message changes (section 21): `/reply`, `/edit`, `/delete`, `/react`, `/unreact`. */
function messageChange(name: string, args: string, context: CommandContext): Command | undefined {
  switch (name) {
    case "reply":
    case "edit": {
      const usageText = `/${name} ID TEXT`;
      const [word, text] = firstWord(args);
      if (!word || !text.trim()) throw usage(usageText);
      const id = messageId(word, usageText);
      const room = needRoom(context);
      return {
        kind: "request",
        request: name === "reply"
          ? { type: "say", room, body: text, replyTo: id }
          : { type: "edit", room, target: id, body: text },
      };
    }
    case "delete": {
      const [word, extra] = firstWord(args);
      if (!word || extra.trim()) throw usage("/delete ID");
      return {
        kind: "request",
        request: { type: "delete", room: needRoom(context), target: messageId(word, "/delete ID") },
      };
    }
    case "react":
    case "unreact": {
      const usageText = `/${name} ID EMOJI`;
      const [word, rest] = firstWord(args);
      const [emoji, extra] = firstWord(rest);
      if (!word || !emoji || extra.trim()) throw usage(usageText);
      const target = messageId(word, usageText);
      return { kind: "request", request: { type: name, room: needRoom(context), target, emoji } };
    }
    default:
      return undefined;
  }
}

/** Splits off the first word of `text`; the rest keeps its inner spacing. */
function firstWord(text: string): [string, string] {
  const trimmed = text.replace(/^\s+/, "");
  const match = /^(\S+)\s?(.*)$/s.exec(trimmed);
  return match ? [match[1]!, match[2]!] : ["", ""];
}

/**
 * Parses one typed line. A line not starting with `/` (or starting with `//`,
 * which sends a literal `/`) is a message to the current room.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand } from "./commands.ts";
 * assert.deepEqual(parseCommand("/msg bob hi", {}), { kind: "request", request: { type: "dm", to: "bob", body: "hi" } });
 * ```
 */
export function parseCommand(line: string, context: CommandContext): Command {
  if (!line.startsWith("/") || line.startsWith("//")) {
    const body = line.startsWith("//") ? line.slice(1) : line;
    return { kind: "request", request: { type: "say", room: needRoom(context), body } };
  }
  const [word, rest] = firstWord(line);
  const name = word.slice(1).toLowerCase();
  const args = rest.trim();
  const change = messageChange(name, args, context);
  if (change !== undefined) return change;
  switch (name) {
    // Files cross only framed connections (docs/protocol.md section 23).
    case "upload":
    case "download":
      throw new ChatError(
        "unsupported",
        `/${name} needs a client that speaks the framed protocol (chat join); plain text cannot carry files`,
      );
    case "join":
    case "j":
    case "create_group":
    case "join_group": {
      const [room, rest] = firstWord(args);
      if (!room) throw usage(`${word} ROOM [KEY]`);
      const [key] = firstWord(rest);
      return {
        kind: "request",
        request: key ? { type: "join", room, key } : { type: "join", room },
      };
    }
    case "op":
    case "deop":
    case "kick":
    case "ban":
    case "unban":
    case "unmute":
    case "invite":
    case "uninvite": {
      const [target, reason] = firstWord(args);
      if (name === "invite" && /^(on|off)$/i.test(target)) {
        const inviteOnly = target.toLowerCase() === "on";
        return { kind: "request", request: { type: "mode", room: needRoom(context), inviteOnly } };
      }
      if (!target) {
        throw usage(name === "invite" ? "/invite NICK | /invite on|off" : `/${name} NICK`);
      }
      const room = needRoom(context);
      const withReason = (name === "kick" || name === "ban") && reason.trim();
      return {
        kind: "request",
        request: withReason
          ? { type: name, room, nick: target, reason: reason.trim() }
          : { type: name, room, nick: target },
      };
    }
    case "mute": {
      const [target, rest] = firstWord(args);
      const [duration, reason] = firstWord(rest);
      if (!target) throw usage("/mute NICK [DURATION like 30s, 10m, 2h, 1d] [REASON]");
      const durationMs = duration ? parseDuration(duration) : undefined;
      const request: RequestBody = { type: "mute", room: needRoom(context), nick: target };
      if (durationMs !== undefined) request.durationMs = durationMs;
      if (reason.trim()) request.reason = reason.trim();
      return { kind: "request", request };
    }
    case "key": {
      const [key] = firstWord(args);
      if (!key) throw usage("/key SECRET | /key off");
      return {
        kind: "request",
        request: {
          type: "mode",
          room: needRoom(context),
          key: key.toLowerCase() === "off" ? null : key,
        },
      };
    }
    case "history": {
      const [direction, value] = firstWord(args);
      const room = needRoom(context);
      if (!direction) return { kind: "request", request: { type: "history", room } };
      const id = Number(value.trim());
      if (
        (direction !== "before" && direction !== "after") || !Number.isSafeInteger(id) || id < 0
      ) {
        throw usage("/history [before ID | after ID]");
      }
      return {
        kind: "request",
        request: direction === "before"
          ? { type: "history", room, before: id }
          : { type: "history", room, after: id },
      };
    }
    case "search": {
      // `/search [after:CURSOR] TEXT [#ROOM]`: the cursor as a reply's "more" line gives it.
      let text = args;
      let cursor: string | undefined;
      const [first, afterFirst] = firstWord(text);
      if (first.startsWith("after:") && first.length > 6) {
        cursor = first.slice(6);
        text = afterFirst.trim();
      }
      let room: string | undefined;
      const last = /^(.*\S)\s+#(\S+)$/s.exec(text);
      if (last !== null) [text, room] = [last[1]!, last[2]!];
      if (!text) throw usage("/search TEXT [#ROOM]");
      const request: RequestBody = { type: "search", text };
      if (room !== undefined) request.room = room;
      if (cursor !== undefined) request.cursor = cursor;
      return { kind: "request", request };
    }
    case "register": {
      // The whole rest of the line: a password may contain spaces.
      const password = rest.replace(/^\s+/, "").replace(/\r?\n$/, "");
      if (!password.trim()) throw usage("/register PASSWORD");
      return { kind: "request", request: { type: "register", password } };
    }
    case "leave":
    case "part":
    case "leave_group": {
      const [room] = firstWord(args);
      return { kind: "request", request: { type: "leave", room: room || needRoom(context) } };
    }
    case "msg":
    case "query":
    case "dm": {
      const [to, body] = firstWord(args);
      if (!to || !body) throw usage("/msg NICK TEXT");
      return { kind: "request", request: { type: "dm", to, body } };
    }
    case "me":
      if (!args) throw usage("/me ACTION");
      return {
        kind: "request",
        request: { type: "say", room: needRoom(context), body: args, action: true },
      };
    case "group_msg": {
      const [room, body] = firstWord(args);
      if (!room || !body) throw usage("/group_msg ROOM TEXT");
      return { kind: "request", request: { type: "say", room, body } };
    }
    case "broadcast":
      if (!args) throw usage("/broadcast TEXT");
      return { kind: "request", request: { type: "broadcast", body: args } };
    case "rooms":
    case "list": {
      const after = afterName(args, "/rooms [after NAME]");
      return { kind: "request", request: { type: "rooms", ...after } };
    }
    case "who":
    case "names": {
      const [first, rest] = firstWord(args);
      // `/who after NAME` pages the current room; `/who ROOM [after NAME]` another.
      const [second] = firstWord(rest);
      const room = first && !(first.toLowerCase() === "after" && second) ? first : "";
      const after = afterName(room ? rest : args, "/who [ROOM] [after NAME]");
      return {
        kind: "request",
        request: { type: "who", room: room || needRoom(context), ...after },
      };
    }
    case "users": {
      const after = afterName(args, "/users [after NAME]");
      return { kind: "request", request: { type: "users", ...after } };
    }
    case "topic": {
      const room = needRoom(context);
      return {
        kind: "request",
        request: args ? { type: "topic", room, topic: args } : { type: "topic", room },
      };
    }
    case "nick": {
      const [nick] = firstWord(args);
      if (!nick) throw usage("/nick NICK");
      return { kind: "request", request: { type: "nick", nick } };
    }
    case "switch":
    case "go": {
      const [room] = firstWord(args);
      if (!room) throw usage("/switch ROOM");
      return { kind: "switch", room };
    }
    // Away and typing (section 22).
    case "away":
      return {
        kind: "request",
        request: { type: "away", message: args || DEFAULT_AWAY_MESSAGE },
      };
    case "back":
      return { kind: "request", request: { type: "away" } };
    case "typing": {
      const [value, extra] = firstWord(args);
      if (!/^(on|off)$/i.test(value) || extra.trim()) throw usage("/typing on|off");
      return { kind: "typing", on: value.toLowerCase() === "on" };
    }
    case "help":
    case "?":
      return { kind: "help" };
    case "quit":
    case "exit":
      return args ? { kind: "quit", reason: args } : { kind: "quit" };
    default:
      throw new ChatError("unknown_command", `Unknown command ${word.slice(0, 32)}: try /help`);
  }
}
