/**
 * `chat join` with stdin not a terminal: every input line is a message or a
 * slash command, every event one output line (text or JSON). Made for
 * scripts: it waits for every reply before exiting, and exits 1 if any
 * request failed.
 *
 * @module
 */
import { COMMAND_HELP } from "../shared/commands.ts";
import { isReplyTo, type RequestBody } from "../shared/protocol.ts";
import { nameKey } from "../shared/validation.ts";
import type { ChatClient } from "./chat_client.ts";
import { CLIENT_COMMAND_HELP, parseClientCommand } from "./client_commands.ts";
import { type ClientEvent, replyOf } from "./client_event.ts";
import { isFileCommand, runFileCommand } from "./file_commands.ts";
import {
  describeError,
  eventToJson,
  formatEvent,
  formatResult,
  jsonLine,
  resultRecords,
} from "./format.ts";
import { LineReader } from "./line_reader.ts";
import { MessageLog } from "./message_changes.ts";
import { ReadMarker } from "./read_marker.ts";

/** Requests sent and unanswered before reading more input waits. */
const MAX_IN_FLIGHT = 256;

/** Options for {@linkcode runPiped}. */
export interface PipedOptions {
  /** Lines to read. */
  input: ReadableStream<Uint8Array>;
  /** Room joined before reading input, and the first current room. */
  room?: string;
  /** One JSON object per output line instead of text. */
  json?: boolean;
  /** Writes one line of output (no newline). Default: stdout. */
  output?: (line: string) => void;
  /** Writes one line of diagnostics (no newline). Default: stderr. */
  errors?: (line: string) => void;
  /**
   * Once the input has ended, how long the server may be unreachable before
   * giving up on the replies still awaited (exit 1), in ms; 0: never.
   * Default {@linkcode DEFAULT_RECONNECT_TIMEOUT_MS}.
   */
  reconnectTimeoutMs?: number;
}

/** Default {@linkcode PipedOptions.reconnectTimeoutMs}: 30 s. */
export const DEFAULT_RECONNECT_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();

/**
 * Writes `line` and a newline completely, synchronously, so output keeps
 * its order across stdout and stderr.
 *
 * @example
 * ```ts ignore
 * import { writeLineSync } from "./piped_mode.ts";
 * writeLineSync(Deno.stdout, "[12:34:56] #general #42 <alice> hello");
 * ```
 */
export function writeLineSync(file: { writeSync(data: Uint8Array): number }, line: string): void {
  const bytes = encoder.encode(line + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

/**
 * Runs piped mode on a connected client until the input ends (or `/quit`),
 * then waits for every reply, closes the client and returns the exit code:
 * 0, or 1 if anything failed.
 *
 * @example
 * ```ts ignore
 * import { ChatClient } from "./chat_client.ts";
 * import { runPiped } from "./piped_mode.ts";
 * const client = await ChatClient.connect({ nick: "bot" });
 * const code = await runPiped(client, { input: Deno.stdin.readable, room: "general", json: true });
 * ```
 */
export async function runPiped(client: ChatClient, options: PipedOptions): Promise<number> {
  const output = options.output ?? ((line: string) => writeLineSync(Deno.stdout, line));
  const errors = options.errors ?? ((line: string) => writeLineSync(Deno.stderr, line));
  const json = options.json ?? false;
  let failed = false;
  const fail = (message: string) => {
    failed = true;
    errors(`chat: ${message}`);
  };

  // Rooms entered, most recent last: a plain line goes to the last one we are
  // still in, so a kick falls back to the room before. A room counts from
  // when its join is sent: the lines after a /join go to it.
  const joined: string[] = [];
  const joining = new Map<string, number>();
  const enter = (room: string) => {
    leave(room);
    joined.push(room);
  };
  const leave = (room: string) => {
    const index = joined.findIndex((name) => nameKey(name) === nameKey(room));
    if (index >= 0) joined.splice(index, 1);
  };
  const inRoom = (room: string) => {
    const key = nameKey(room);
    return joining.has(key) || client.rooms.some((name) => nameKey(name) === key);
  };
  const currentRoom = () => joined.findLast(inRoom);
  const marker = new ReadMarker(client);
  // What replies quote and changes change in text output (section 21).
  const messages = new MessageLog();

  // Where each request came from, for error messages.
  const origins = new Map<RequestBody, string>();
  // The last round trip: its reply, shown, means everything before it was.
  const lastPing: RequestBody = { type: "ping" };
  let caughtUp: (() => void) | undefined;
  const show = (event: ClientEvent) => {
    if (event.type === "reply" && event.request === lastPing) {
      caughtUp?.();
      return;
    }
    if (event.type === "reply") {
      const where = origins.get(event.request) ?? "";
      origins.delete(event.request);
      const request = event.request;
      if (event.error !== undefined) {
        fail(`${where}${describeError(event.error)}`);
        return;
      }
      if (json) {
        for (const record of resultRecords(request, event.result)) output(jsonLine(record));
      } else {
        for (const line of formatResult(request, event.result, { self: client.nick, messages })) {
          output(line);
        }
      }
      const reply = replyOf(event);
      if (reply !== undefined && isReplyTo(reply, "join")) messages.takeAll(reply.result.history);
      if (reply !== undefined && isReplyTo(reply, "history")) {
        messages.takeAll(reply.result.messages);
      }
      if (reply !== undefined && isReplyTo(reply, "dm_history")) {
        for (const message of reply.result.messages) marker.shown(message);
      }
      return;
    }
    // Typing (section 22) only as JSON records: as text it would be noise.
    if (event.type === "typing" && !json) return;
    output(
      json ? jsonLine(eventToJson(event)) : formatEvent(event, { self: client.nick, messages }),
    );
    messages.take(event);
    marker.shown(event);
    if (event.type === "error") failed = true;
  };
  const printing = (async () => {
    for await (const event of client) show(event);
  })();

  // Replies come back as events, in order with what arrived before them.
  const inFlight = new Set<Promise<unknown>>();
  const send = (request: RequestBody, where: string) => {
    const joinKey = request.type === "join" ? nameKey(request.room.replace(/^#/, "")) : undefined;
    if (request.type === "join") enter(request.room.replace(/^#/, ""));
    if (request.type === "leave") leave(request.room.replace(/^#/, ""));
    if (joinKey !== undefined) joining.set(joinKey, (joining.get(joinKey) ?? 0) + 1);
    origins.set(request, where);
    const promise = client.request(request, { replyEvent: true }).then(() => true, () => false);
    if (joinKey !== undefined) {
      // Settled after the client updated its rooms: a joined room stays current, a refused one not.
      void promise.then(() => {
        const count = joining.get(joinKey)! - 1;
        if (count === 0) joining.delete(joinKey);
        else joining.set(joinKey, count);
      });
    }
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
    return promise;
  };

  const reader = new LineReader(options.input);
  let gone = false;
  // A client closed for good (fatal goodbye, gave up reconnecting) stops the input.
  void client.closed.then(() => {
    gone = true;
    void reader.cancel();
  });

  let quitReason: string | undefined;
  // Without the first room, every plain line would fail: stop there.
  const started = options.room === undefined ||
    await send({ type: "join", room: options.room }, "");
  if (started) {
    let lineNumber = 0;
    while (!gone) {
      const line = await reader.next();
      if (line === null) break;
      lineNumber++;
      if (line.trim() === "") continue;
      const where = `line ${lineNumber}: `;
      let command;
      try {
        command = parseClientCommand(line, { currentRoom: currentRoom() });
      } catch (error) {
        fail(`${where}${describeError(error)}`);
        continue;
      }
      if (command.kind === "quit") {
        quitReason = command.reason;
        break;
      }
      if (command.kind === "help") {
        if (json) {
          output(
            jsonLine({
              type: "help",
              room: null,
              from: null,
              body: null,
              id: null,
              ts: Date.now(),
              commands: [...COMMAND_HELP, ...CLIENT_COMMAND_HELP],
            }),
          );
        } else {
          for (const [usage, text] of [...COMMAND_HELP, ...CLIENT_COMMAND_HELP]) {
            output(`${usage.padEnd(34)} ${text}`);
          }
        }
        continue;
      }
      if (command.kind === "register_prompt") continue; // Only asked for on a terminal.
      if (command.kind === "typing") continue; // --json writes typing events; text never does.
      if (command.kind === "switch") {
        const room = command.room.replace(/^#/, "");
        if (inRoom(room)) {
          enter(room);
        } else {
          send({ type: "join", room }, where);
        }
        continue;
      }
      if (isFileCommand(command)) {
        // Files: the outcome is one line (a record with --json); no progress.
        const transfer = runFileCommand(client, command, {
          currentRoom: currentRoom(),
          report: {
            stepPercent: 101,
            info: (text) => {
              if (!/^(uploaded|saved) /.test(text)) return;
              output(
                json
                  ? jsonLine({
                    type: command.kind,
                    room: null,
                    from: null,
                    body: text,
                    id: null,
                    ts: Date.now(),
                  })
                  : text,
              );
            },
            error: (text) => fail(`${where}${text}`),
          },
        });
        inFlight.add(transfer);
        void transfer.finally(() => inFlight.delete(transfer));
        continue;
      }
      send(command.request, where);
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    }
  }
  await reader.cancel();
  // Nothing more will be asked: waiting for replies must end, even while
  // the server stays away.
  const timeout = options.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS;
  if (timeout > 0) client.giveUpAfter(timeout);
  await Promise.all(inFlight);
  if (client.state !== "closed") {
    // A round trip so events caused by our last requests (and the DMs stored
    // for us) are shown, and marked read, before we go.
    const { promise, resolve } = Promise.withResolvers<void>();
    caughtUp = resolve;
    client.request(lastPing, { replyEvent: true }).catch(() => resolve());
    await promise;
  }
  await marker.flush();
  await client.close(quitReason);
  await printing;
  // Nothing more can be sent; this only stops a timer started by the last events.
  await marker.flush();
  const error = await client.closed;
  if (error !== undefined) fail(describeError(error));
  return failed ? 1 : 0;
}
