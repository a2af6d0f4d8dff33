/**
 * `chat join` on a terminal, full screen: wires a {@linkcode TuiModel} to
 * the terminal (raw keys in, Ink frames out) and to a {@linkcode ChatClient}
 * (events in, requests out), measures the round-trip time with `ping`
 * requests, and gives the terminal back as it found it.
 *
 * @module
 */
import process from "node:process";
import { configure, type LogRecord } from "@logtape/logtape";
import { type LoggingOptions, setupLogging } from "../../shared/logging.ts";
import type { ChatClient } from "../chat_client.ts";
import { type ColorDepth, describeError } from "../format.ts";
import { runFileCommand } from "../file_commands.ts";
import { ReadMarker } from "../read_marker.ts";
import { notificationProtocol, notificationSequence } from "./notification.ts";
import { mountScreen } from "./tui_app.tsx";
import { TuiKeyDecoder } from "./tui_key_decoder.ts";
import { type TuiEffect, TuiModel } from "./tui_model.ts";
import { buildView } from "./tui_view.ts";

/** Options for {@linkcode runTui}. */
export interface TuiOptions {
  /** The server as shown, e.g. "127.0.0.1:7007". */
  address: string;
  /** Colour support of the terminal. */
  color: ColorDepth;
  /** Room to join first. */
  room?: string;
  /**
   * The logging set-up in force: while the screen is up, log records go to
   * the server buffer instead (a line on stderr would tear the screen), and
   * this set-up is restored afterwards.
   */
  logging?: LoggingOptions;
  /** How often to measure the round-trip time, in ms. Default 10 000. */
  pingIntervalMs?: number;
}

// Bracketed paste, mouse button reports in SGR form, kitty keyboard
// "disambiguate" and xterm modifyOtherKeys: what tells Shift+Enter from Enter.
const KEYS_ON = "\x1b[?2004h\x1b[>1u\x1b[>4;1m";
const KEYS_OFF = "\x1b[?2004l\x1b[<u\x1b[>4m";
const MOUSE_ON = "\x1b[?1000h\x1b[?1006h";
const MOUSE_OFF = "\x1b[?1006l\x1b[?1000l";
// Give up on the rest of an escape sequence after this long: it was the Escape key.
const ESCAPE_WAIT_MS = 40;
// Frames at most this often: a flood of events costs one frame, not one per event.
const FRAME_MS = 8;

function terminalSize(): { columns: number; rows: number } {
  try {
    const { columns, rows } = Deno.consoleSize();
    // A pseudo-terminal nobody sized reports 0.
    return { columns: columns || 80, rows: rows || 24 };
  } catch {
    return { columns: 80, rows: 24 };
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function logText(record: LogRecord): string {
  const text = record.message.map((part) => typeof part === "string" ? part : JSON.stringify(part))
    .join("");
  return `${record.level}: ${text}`;
}

/**
 * Runs the full-screen client until the user quits (0) or the connection is
 * lost for good (1). The alternate screen, the cursor, raw mode and the
 * keyboard and mouse modes are restored on the way out, whatever happens.
 *
 * @example
 * ```ts ignore
 * import { ChatClient } from "../chat_client.ts";
 * import { runTui } from "./tui_mode.ts";
 * const client = await ChatClient.connect({ nick: "alice" });
 * Deno.exit(await runTui(client, { address: "127.0.0.1:7007", color: 256, room: "general" }));
 * ```
 */
export async function runTui(client: ChatClient, options: TuiOptions): Promise<number> {
  const size = terminalSize();
  const model = new TuiModel({
    nick: client.nick,
    server: options.address,
    columns: size.columns,
    rows: size.rows,
    color: options.color,
    hasAccount: () => client.hasAccount,
    sendTyping: true,
  });
  // What the user has seen of their direct messages, for the server's unread counts.
  const marker = new ReadMarker(client);
  const protocol = notificationProtocol({
    TERM: env("TERM"),
    TERM_PROGRAM: env("TERM_PROGRAM"),
    WT_SESSION: env("WT_SESSION"),
  });
  const inTmux = env("TMUX") !== undefined;
  // Everything goes through one stream so our sequences and Ink's frames stay in order.
  const write = (text: string) => void process.stdout.write(text);

  let quitting: Promise<void> | undefined;
  const quit = (reason?: string) => {
    // Before the goodbye: the server learns what was read, so its unread counts stay true.
    void marker.flush();
    quitting ??= client.close(reason);
  };
  let screen: ReturnType<typeof mountScreen> | undefined;
  let frame: ReturnType<typeof setTimeout> | undefined;
  const draw = () => {
    frame ??= setTimeout(() => {
      frame = undefined;
      screen?.update(buildView(model));
    }, FRAME_MS);
  };
  // Everything again from a blank screen: after a resize Ink may have drawn the old frame.
  const repaint = () => {
    screen?.clear();
    write("\x1b[2J\x1b[H");
    draw();
  };
  const run = (effects: TuiEffect[]) => {
    for (const effect of effects) {
      switch (effect.type) {
        case "send":
          // The outcome comes back as a reply event, in order with the rest.
          client.request(effect.request, { replyEvent: true }).catch(() => {});
          break;
        case "quit":
          quit(effect.reason);
          break;
        case "bell":
          write("\x07");
          break;
        case "notify":
          write(notificationSequence(effect, { protocol, tmux: inTmux }));
          break;
        case "redraw":
          repaint();
          break;
        case "mouse":
          write(effect.enabled ? MOUSE_ON : MOUSE_OFF);
          break;
        case "read":
          marker.read(effect.peer, effect.upTo);
          break;
        case "file": {
          const where = effect.conversation;
          void runFileCommand(client, effect.command, {
            currentRoom: effect.currentRoom,
            report: {
              stepPercent: 10,
              info: (text) => {
                model.fileNotice(where, text);
                draw();
              },
              error: (text) => {
                model.fileNotice(where, text, true);
                draw();
              },
            },
          });
          break;
        }
      }
    }
    draw();
  };

  const ping = () => {
    if (client.state !== "connected") return;
    const started = performance.now();
    client.request({ type: "ping" }).then(() => {
      model.setRtt(performance.now() - started);
      draw();
    }, () => {});
  };
  const onResize = () => {
    const { columns, rows } = terminalSize();
    model.resize(columns, rows);
    repaint();
  };
  const onTerm = () => quit("terminated");
  const signals: Array<[Deno.Signal, () => void]> = [
    ["SIGWINCH", onResize],
    ["SIGTERM", onTerm],
    ["SIGHUP", onTerm],
    ["SIGINT", onTerm],
  ];

  if (options.logging !== undefined) {
    await configure({
      reset: true,
      sinks: {
        screen: (record) => {
          model.log(logText(record), record.level === "error" || record.level === "fatal");
          draw();
        },
      },
      loggers: [
        { category: ["chat"], lowestLevel: options.logging.level, sinks: ["screen"] },
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["screen"] },
      ],
    });
  }
  let pinger: ReturnType<typeof setInterval> | undefined;
  let typingClock: ReturnType<typeof setInterval> | undefined;
  Deno.stdin.setRaw(true);
  try {
    for (const [signal, handler] of signals) {
      try {
        Deno.addSignalListener(signal, handler);
      } catch {
        // Not on this platform.
      }
    }
    screen = mountScreen(buildView(model), { stdout: process.stdout, dim: options.color !== 0 });
    write(KEYS_ON + MOUSE_ON);
    const events = (async () => {
      for await (const event of client) {
        try {
          run(model.applyEvent(event));
        } catch (error) {
          // A bug in showing one event must not stop the rest from showing.
          model.log(`could not show a ${event.type} event: ${describeError(error)}`, true);
          draw();
        }
      }
      model.setClosed();
      draw();
    })();
    run(model.start(options.room));
    ping();
    pinger = setInterval(ping, options.pingIntervalMs ?? 10_000);
    // Typing (section 22): idle input becomes paused, shown indicators expire.
    typingClock = setInterval(() => run(model.tick()), 1000);

    const decoder = new TuiKeyDecoder();
    const buffer = new Uint8Array(4096);
    const closed = client.closed.then(() => null);
    let escapeTimer: ReturnType<typeof setTimeout> | undefined;
    while (quitting === undefined) {
      // Racing the close: a pending stdin read cannot be cancelled, and the process exits after.
      const count = await Promise.race([Deno.stdin.read(buffer), closed]);
      if (count === null) {
        quit();
        break;
      }
      clearTimeout(escapeTimer);
      const effects = decoder.push(buffer.subarray(0, count)).flatMap((key) =>
        model.handleKey(key)
      );
      run(effects);
      if (decoder.pending) {
        escapeTimer = setTimeout(
          () => run(decoder.flush().flatMap((key) => model.handleKey(key))),
          ESCAPE_WAIT_MS,
        );
      }
    }
    clearTimeout(escapeTimer);
    await quitting;
    await events;
  } finally {
    clearInterval(pinger);
    clearInterval(typingClock);
    clearTimeout(frame);
    await screen?.unmount();
    write(MOUSE_OFF + KEYS_OFF);
    Deno.stdin.setRaw(false);
    for (const [signal, handler] of signals) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch {
        // Never added.
      }
    }
    if (options.logging !== undefined) await setupLogging(options.logging);
  }
  const error = await client.closed;
  if (error !== undefined) {
    console.error(`chat: disconnected: ${describeError(error)}`);
    return 1;
  }
  return 0;
}
