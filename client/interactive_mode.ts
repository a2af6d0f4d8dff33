/**
 * `chat join` on a terminal: a raw-mode input line at the bottom, incoming
 * events printed above it without disturbing what is being typed.
 *
 * @module
 */
import { COMMAND_HELP } from "../shared/commands.ts";
import { isReplyTo, type RequestBody } from "../shared/protocol.ts";
import { nameKey, sanitizeForTerminal } from "../shared/validation.ts";
import type { ChatClient } from "./chat_client.ts";
import {
  CLIENT_COMMAND_HELP,
  parseClientCommand,
  REGISTER_PROMPT_HELP,
} from "./client_commands.ts";
import { type ClientEvent, type ReplyEvent, replyOf } from "./client_event.ts";
import {
  type ColorDepth,
  describeError,
  formatEvent,
  formatResult,
  formatTime,
  paint,
} from "./format.ts";
import { runFileCommand } from "./file_commands.ts";
import { type Key, KeyDecoder } from "./key_decoder.ts";
import { LineEditor } from "./line_editor.ts";
import { MessageLog } from "./message_changes.ts";
import { ReadMarker } from "./read_marker.ts";

/** Options for {@linkcode runInteractive}. */
export interface InteractiveOptions {
  /** Room to join first. */
  room?: string;
  /** Shown in the banner, e.g. "127.0.0.1:7007". */
  address: string;
  /** Colour support of the terminal. */
  color: ColorDepth;
}

const KEY_HELP: ReadonlyArray<readonly [string, string]> = [
  ["Left/Right, Ctrl+A/E", "move in the line"],
  ["Up/Down", "history"],
  ["Ctrl+U, Ctrl+W, Ctrl+K", "delete to start, the word before, to end"],
  ["Ctrl+C, Ctrl+D", "quit"],
];

/**
 * Picks the colour support of the terminal from the environment:
 * `NO_COLOR` turns colour off, `COLORTERM` or a `*256color` `TERM` gives 256.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectColorDepth } from "./interactive_mode.ts";
 * assert.ok([0, 16, 256].includes(detectColorDepth())); // 256 on most terminals
 * ```
 */
export function detectColorDepth(): ColorDepth {
  if (Deno.noColor) return 0;
  try {
    const term = Deno.env.get("TERM") ?? "";
    if (term === "dumb") return 0;
    if (Deno.env.get("COLORTERM") || term.includes("256")) return 256;
  } catch {
    // No env permission: assume a basic colour terminal.
  }
  return 16;
}

/**
 * Runs interactive mode until the user quits (0) or the connection is
 * lost for good (1). Restores the terminal on the way out.
 *
 * @example
 * ```ts ignore
 * import { ChatClient } from "./chat_client.ts";
 * import { runInteractive } from "./interactive_mode.ts";
 * const client = await ChatClient.connect({ nick: "alice" });
 * Deno.exit(await runInteractive(client, { address: "127.0.0.1:7007", color: 256, room: "general" }));
 * ```
 */
export async function runInteractive(
  client: ChatClient,
  options: InteractiveOptions,
): Promise<number> {
  const encoder = new TextEncoder();
  const write = (text: string) => {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  };
  const color = options.color;
  const editor = new LineEditor();
  const marker = new ReadMarker(client);
  // What replies quote and changes change (section 21).
  const messages = new MessageLog();
  // The room picked last (/join, /switch); while we are not in it (kicked,
  // or not rejoined yet) the newest room we are in stands in.
  let chosen: string | undefined;
  const currentRoom = () => {
    const rooms = client.rooms;
    return rooms.find((room) => chosen !== undefined && nameKey(room) === nameKey(chosen)) ??
      rooms.at(-1);
  };
  // A password being typed: never echoed, never in the line history.
  let secret:
    | { label: string; editor: LineEditor; done: (text: string | undefined) => void }
    | undefined;

  const promptText = () => {
    const current = currentRoom();
    return `[${current === undefined ? "no room" : "#" + sanitizeForTerminal(current)}] `;
  };
  const redraw = () => {
    if (secret !== undefined) {
      write(`\r\x1b[2K${paint(secret.label, color ? "1" : "")}`);
      return;
    }
    let columns = 80;
    try {
      // A pseudo-terminal nobody sized reports 0 columns.
      columns = Deno.consoleSize().columns || 80;
    } catch {
      // Not a terminal after all: keep the default.
    }
    const prompt = promptText();
    write(editor.render(paint(prompt, color ? "1" : ""), { promptWidth: prompt.length, columns }));
  };
  // Print above the input line: clear it, print, draw it again.
  const show = (text: string) => {
    write(`\r\x1b[2K${text.replace(/\n/g, "\r\n")}\r\n`);
    redraw();
  };
  const notice = (text: string) => {
    const time = paint(`[${formatTime(Date.now())}]`, color ? "2" : "");
    show(`${time} -!- ${text}`);
  };
  const askSecret = (label: string, done: (text: string | undefined) => void) => {
    secret = { label, editor: new LineEditor({ historySize: 0 }), done };
    redraw();
  };
  const secretKey = (key: Key) => {
    const asking = secret!;
    const result = key.name === "interrupt" || (key.name === "eof" && asking.editor.text === "")
      ? undefined
      : asking.editor.handle(key);
    if (result !== undefined && result.kind !== "submit") return;
    secret = undefined;
    redraw();
    asking.done(result?.line);
  };

  // Replies come back as events, so they show in order with everything else.
  const send = (request: RequestBody) => {
    client.request(request, { replyEvent: true }).catch(() => {});
  };
  const onReply = (event: ReplyEvent) => {
    const request = event.request;
    if (event.error !== undefined) {
      notice(paint(`error: ${describeError(event.error)}`, color ? "31" : ""));
      return;
    }
    const reply = replyOf(event);
    if (reply !== undefined && isReplyTo(reply, "join")) {
      chosen = reply.result.room;
    } else if (request.type === "nick") {
      notice(`you are now ${sanitizeForTerminal(client.nick)}`);
    }
    const format = { self: client.nick, color, multiline: true, messages };
    for (const line of formatResult(request, event.result, format)) show(line);
    if (reply !== undefined && isReplyTo(reply, "join")) messages.takeAll(reply.result.history);
    if (reply !== undefined && isReplyTo(reply, "history")) messages.takeAll(reply.result.messages);
    if (reply !== undefined && isReplyTo(reply, "dm_history")) {
      for (const message of reply.result.messages) marker.shown(message);
    }
    redraw();
  };

  const register = () => {
    const nick = sanitizeForTerminal(client.nick);
    askSecret(`New password for ${nick} (not shown): `, (password) => {
      if (!password) {
        notice("not registered");
        return;
      }
      askSecret("Repeat the password: ", (again) => {
        if (again !== password) {
          notice(paint("the passwords do not match; not registered", color ? "31" : ""));
          return;
        }
        send({ type: "register", password });
      });
    });
  };

  let quitting: Promise<void> | undefined;
  const quit = (reason?: string) => {
    // Before the quit: the server learns what was read, so its unread counts stay true.
    void marker.flush();
    quitting ??= client.close(reason);
  };

  const handleLine = (line: string) => {
    if (line.trim() === "") return;
    let command;
    try {
      command = parseClientCommand(line, { currentRoom: currentRoom() }, { secretPrompt: true });
    } catch (error) {
      notice(paint(describeError(error), color ? "31" : ""));
      return;
    }
    switch (command.kind) {
      case "help":
        for (
          const [usage, text] of [
            ...COMMAND_HELP,
            ...CLIENT_COMMAND_HELP,
            REGISTER_PROMPT_HELP,
            ...KEY_HELP,
          ]
        ) {
          show(`  ${usage.padEnd(34)} ${text}`);
        }
        return;
      case "register_prompt":
        register();
        return;
      case "quit":
        quit(command.reason);
        return;
      case "switch": {
        const room = client.rooms.find((name) =>
          nameKey(name) === nameKey(command.room.replace(/^#/, ""))
        );
        if (room === undefined) {
          send({ type: "join", room: command.room });
        } else {
          chosen = room;
          redraw();
        }
        return;
      }
      case "upload":
      case "download":
        // Runs beside everything else; its progress and outcome show as lines.
        void runFileCommand(client, command, {
          currentRoom: currentRoom(),
          report: {
            info: (text) => notice(text),
            error: (text) => notice(paint(text, color ? "31" : "")),
          },
        });
        return;
      case "request":
        send(command.request);
        return;
      case "typing":
        notice(
          "Line mode never shows typing (it would break into your input); the full-screen client does",
        );
        return;
    }
  };

  const onEvent = (event: ClientEvent) => {
    if (event.type === "reply") {
      onReply(event);
      return;
    }
    // Typing (section 22) is not shown here: a line for it would clobber the input.
    if (event.type === "typing") return;
    show(formatEvent(event, { self: client.nick, color, multiline: true, messages }));
    // After the line: a change's line shows the message as it stood before.
    messages.take(event);
    marker.shown(event);
  };

  // Killed politely: say goodbye and give the terminal back as for Ctrl+C.
  const onTerm = () => quit("terminated");
  try {
    Deno.addSignalListener("SIGTERM", onTerm);
  } catch {
    // Not supported on this platform.
  }
  Deno.stdin.setRaw(true);
  try {
    write(
      `Connected to ${sanitizeForTerminal(options.address)} as ${sanitizeForTerminal(client.nick)}${
        client.hasAccount ? " (logged in)" : ""
      }. ` +
        `Type /help for commands, Ctrl+D to quit.\r\n`,
    );
    redraw();
    const events = (async () => {
      for await (const event of client) onEvent(event);
    })();
    if (options.room !== undefined) send({ type: "join", room: options.room });

    const decoder = new KeyDecoder();
    const buffer = new Uint8Array(4096);
    const closed = client.closed.then(() => null);
    while (quitting === undefined) {
      // Racing the close: a pending stdin read cannot be cancelled, and the process exits after.
      const count = await Promise.race([Deno.stdin.read(buffer), closed]);
      if (count === null) {
        quit();
        break;
      }
      for (const key of decoder.push(buffer.subarray(0, count))) {
        if (secret !== undefined) {
          secretKey(key);
          continue;
        }
        const result = editor.handle(key);
        if (result.kind === "submit") {
          redraw();
          handleLine(result.line);
        } else if (result.kind === "quit") {
          quit();
          break;
        } else if (result.kind !== "none") {
          redraw();
        }
      }
    }
    await quitting;
    await events;
  } finally {
    write("\r\x1b[2K");
    Deno.stdin.setRaw(false);
    try {
      Deno.removeSignalListener("SIGTERM", onTerm);
    } catch {
      // Never added.
    }
  }
  const error = await client.closed;
  if (error !== undefined) {
    console.error(`chat: disconnected: ${describeError(error)}`);
    return 1;
  }
  return 0;
}
