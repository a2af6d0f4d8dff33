/**
 * `chat join` on a terminal: a raw-mode input line at the bottom, incoming
 * events printed above it without disturbing what is being typed.
 *
 * @module
 */
import { COMMAND_HELP, parseCommand } from "../shared/commands.ts";
import type { RequestBody } from "../shared/protocol.ts";
import { nameKey, sanitizeForTerminal } from "../shared/validation.ts";
import type { ChatClient } from "./chat_client.ts";
import type { ClientEvent, ReplyEvent } from "./client_event.ts";
import {
  type ColorDepth,
  describeError,
  formatEvent,
  formatResult,
  formatTime,
  paint,
} from "./format.ts";
import { KeyDecoder } from "./key_decoder.ts";
import { LineEditor } from "./line_editor.ts";

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
 * ```ts ignore
 * import { detectColorDepth } from "./interactive_mode.ts";
 * console.log(detectColorDepth()); // 256 on most terminals
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
  let current: string | undefined;

  const promptText = () =>
    `[${current === undefined ? "no room" : "#" + sanitizeForTerminal(current)}] `;
  const redraw = () => {
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
  const fixCurrent = () => {
    const rooms = client.rooms;
    if (current === undefined || !rooms.some((room) => nameKey(room) === nameKey(current!))) {
      current = rooms.at(-1);
    }
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
    if (request.type === "join") {
      current = typeof event.result?.room === "string"
        ? event.result.room
        : request.room.replace(/^#/, "");
    } else if (request.type === "leave") {
      fixCurrent();
    } else if (request.type === "nick") {
      notice(`you are now ${sanitizeForTerminal(client.nick)}`);
    }
    for (const line of formatResult(request, event.result, { color })) show(line);
    redraw();
  };

  let quitting: Promise<void> | undefined;
  const quit = (reason?: string) => {
    quitting ??= client.close(reason);
  };

  const handleLine = (line: string) => {
    if (line.trim() === "") return;
    let command;
    try {
      command = parseCommand(line, { currentRoom: current });
    } catch (error) {
      notice(paint(describeError(error), color ? "31" : ""));
      return;
    }
    switch (command.kind) {
      case "help":
        for (const [usage, text] of [...COMMAND_HELP, ...KEY_HELP]) {
          show(`  ${usage.padEnd(34)} ${text}`);
        }
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
          current = room;
          redraw();
        }
        return;
      }
      case "request":
        send(command.request);
        return;
    }
  };

  const onEvent = (event: ClientEvent) => {
    if (event.type === "reply") {
      onReply(event);
      return;
    }
    show(formatEvent(event, { self: client.nick, color, multiline: true }));
    if (event.type === "reconnected" || event.type === "leave") {
      fixCurrent();
      redraw();
    }
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
      `Connected to ${sanitizeForTerminal(options.address)} as ${
        sanitizeForTerminal(client.nick)
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
