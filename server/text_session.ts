/**
 * Plain-text mode: a connection whose first bytes are not a frame is served
 * line by line, so `nc` or telnet can chat with the same slash commands as
 * the client.
 *
 * @module
 */
import { type Command, COMMAND_HELP, parseCommand } from "../shared/commands.ts";
import { ChatError, type ErrorCode } from "../shared/errors.ts";
import { parseClientFrame, type Request } from "../shared/protocol.ts";
import { nameKey, validateNick } from "../shared/validation.ts";
import { VERSION } from "../shared/version.ts";
import type { Delivery } from "./delivery.ts";
import { Session } from "./session.ts";
import { formatTextError, formatTextResult } from "./text_format.ts";

const encoder = new TextEncoder();
const NEWLINE = 0x0a;

/** A line-by-line session for people on `nc` or telnet. */
export class TextSession extends Session {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #discarding = false;
  #decoder = new TextDecoder();
  #currentRoom: string | undefined;
  #prompted = false;
  #requestId = 0;

  get heartbeats(): boolean {
    return false;
  }

  override start(): void {
    if (this.#prompted) return;
    this.#prompted = true;
    this.#line(`chat ${VERSION}, plain-text mode. Commands start with /; /help lists them.`);
    this.send(encoder.encode("Nickname: "));
  }

  receive(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length && !this.closed) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const piece = chunk.subarray(start, end);
      if (!this.#discarding) {
        if (this.#pendingBytes + piece.length > this.context.options.maxLineBytes) {
          // Drop the rest of an over-long line but keep the connection.
          this.#pending = [];
          this.#pendingBytes = 0;
          this.#discarding = true;
          this.#error(
            new ChatError(
              "frame_too_large",
              `Line exceeds limit of ${this.context.options.maxLineBytes} bytes; it was dropped`,
            ),
          );
        } else if (piece.length > 0) {
          // Copy: the read buffer is reused for the next read.
          this.#pending.push(piece.slice());
          this.#pendingBytes += piece.length;
        }
      }
      if (newline === -1) return;
      start = newline + 1;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      const bytes = this.#pending.length === 1
        ? this.#pending[0]!
        : concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#handleLine(this.#decoder.decode(bytes).replace(/\r$/, ""));
    }
  }

  protected encode(delivery: Delivery): Uint8Array {
    return delivery.text;
  }

  protected sendBye(code: ErrorCode, message: string): void {
    this.#line(`*** Closing: ${code}: ${message}`);
  }

  ping(): void {}

  #line(text: string): void {
    this.send(encoder.encode(text + "\r\n"));
  }

  #error(error: ChatError): void {
    this.#line(formatTextError(error.toWire()));
  }

  #handleLine(line: string): void {
    this.#prompted = true;
    if (line.trim() === "") return;
    try {
      if (!this.registered) return this.#handleNickname(line.trim());
      const command = parseCommand(line, { currentRoom: this.#currentRoom });
      this.#handleCommand(command);
    } catch (error) {
      if (!(error instanceof ChatError)) throw error;
      this.#error(error);
      if (!this.registered && !this.closed) this.send(encoder.encode("Nickname: "));
    }
  }

  #handleNickname(input: string): void {
    this.checkRate();
    this.register(validateNick(input));
    this.#line(
      `Welcome, ${this.nick}! /join ROOM to start talking, /rooms to see rooms, /help for commands.`,
    );
  }

  #handleCommand(command: Command): void {
    switch (command.kind) {
      case "help":
        for (const [usage, what] of COMMAND_HELP) this.#line(`    ${usage.padEnd(32)} ${what}`);
        return;
      case "quit":
        this.close("quit", "Goodbye", command.reason ?? "quit");
        return;
      case "switch": {
        const room = [...this.rooms].find((r) =>
          nameKey(r.name) === nameKey(command.room.replace(/^#/, ""))
        );
        if (room === undefined) {
          throw new ChatError("not_in_room", `You are not in #${command.room}`);
        }
        this.#currentRoom = room.name;
        this.#line(`--- Now talking in #${room.name}`);
        return;
      }
      case "request": {
        this.checkRate();
        // The same validation as framed requests.
        const request = parseClientFrame(
          { ...command.request, id: ++this.#requestId },
          { maxBodyLength: this.context.options.maxBodyLength },
        ) as Request;
        const result = this.execute(request);
        this.#afterRequest(request, result);
      }
    }
  }

  #afterRequest(request: Request, result: Record<string, unknown>): void {
    if (request.type === "join") this.#currentRoom = String(result.room);
    if (
      request.type === "leave" && this.#currentRoom !== undefined &&
      nameKey(this.#currentRoom) === nameKey(String(result.room))
    ) {
      this.#currentRoom = [...this.rooms][0]?.name;
    }
    for (const line of formatTextResult(request, result)) this.#line(line);
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
