/**
 * Plain-text mode: a connection whose first bytes are not a frame is served
 * line by line, so `nc` or telnet can chat with the same slash commands as
 * the client.
 *
 * @module
 */
import { type Command, COMMAND_HELP, parseCommand } from "../../shared/commands.ts";
import { ChatError, type ErrorCode } from "../../shared/errors.ts";
import {
  isReplyTo,
  parseClientFrame,
  type Reply,
  type Request,
  type ResultOf,
} from "../../shared/protocol.ts";
import { nameKey, validateNick } from "../../shared/validation.ts";
import { VERSION } from "../../shared/version.ts";
import type { Delivery } from "../chat/delivery.ts";
import { Session } from "./session.ts";
import { formatTextError, formatTextResult } from "./text_format.ts";
import { concatBytes } from "../../shared/bytes.ts";
import { invalidUtf8Error, invalidUtf8Offset } from "../../shared/utf8.ts";

const encoder = new TextEncoder();
const NEWLINE = 0x0a;

/**
 * The banner and the nickname prompt. A peer silent for the prompt delay is
 * sent them before its mode is known, so they must never hold a 0x00 byte
 * nor exceed `MAX_GREETING_BYTES` (shared/greeting_filter.ts): framed
 * clients skip what comes before their first frame (docs/protocol.md,
 * section 2).
 *
 * @example
 * ```ts
 * import { textGreeting } from "./text_session.ts";
 * console.log(new TextDecoder().decode(textGreeting()).endsWith("Nickname: ")); // true
 * ```
 */
export function textGreeting(): Uint8Array {
  return encoder.encode(
    `chat ${VERSION}, plain-text mode. Commands start with /; /help lists them.\r\nNickname: `,
  );
}

/** A line-by-line session for people on `nc` or telnet. */
export class TextSession extends Session {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #discarding = false;
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #currentRoom: string | undefined;
  #prompted = false;
  #requestId = 0;
  /** A registered nickname waiting for its password. */
  #loginNick: string | undefined;
  /** Whether others' typing is shown (`/typing on`, section 22): off by default. */
  #showTyping = false;

  get heartbeats(): boolean {
    return false;
  }

  get handshakeTimeoutMs(): number {
    return this.context.options.textHandshakeTimeoutMs;
  }

  override start(): void {
    if (this.#prompted) return;
    this.#prompted = true;
    this.send(textGreeting());
  }

  /** Records that the greeting went out before the mode was known, so start() does not repeat it. */
  skipGreeting(): void {
    this.#prompted = true;
  }

  receive(chunk: Uint8Array): Promise<void> | undefined {
    return this.track(this.#process(this.#splitLines(chunk), 0));
  }

  /** A last line without its newline is a line too (`printf 'hi' | nc -N`). */
  override endOfInput(): void {
    if (!this.finishing && !this.#discarding && this.#pendingBytes > 0) {
      const bytes = concatBytes(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.track(this.#process([this.#decoder.decode(bytes).replace(/\r$/, "")], 0));
    }
    super.endOfInput();
  }

  /**
   * Complete lines in `chunk` (joined with what came before); over-long lines
   * are dropped, and a line that is not UTF-8 becomes the error refusing it.
   */
  #splitLines(chunk: Uint8Array): Array<string | ChatError> {
    const lines: Array<string | ChatError> = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const piece = chunk.subarray(start, end);
      if (!this.#discarding) {
        if (this.#pendingBytes + piece.length > this.context.options.maxLineBytes) {
          // Drop the rest of an over-long line but keep the connection; the
          // refusal takes the line's place, after the replies to those before.
          this.#pending = [];
          this.#pendingBytes = 0;
          this.#discarding = true;
          lines.push(
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
      if (newline === -1) break;
      start = newline + 1;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      const bytes = this.#pending.length === 1
        ? this.#pending[0]!
        : concatBytes(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      const bad = invalidUtf8Offset(bytes);
      lines.push(
        bad === -1
          ? this.#decoder.decode(bytes).replace(/\r$/, "")
          : invalidUtf8Error("Line", bytes, bad),
      );
    }
    return lines;
  }

  #process(lines: Array<string | ChatError>, start: number): Promise<void> | undefined {
    for (let index = start; index < lines.length; index++) {
      // Finishing: what was not started is neither run nor answered.
      if (this.finishing) return undefined;
      const pending = this.#handleLine(lines[index]!);
      if (pending !== undefined) return pending.then(() => this.#process(lines, index + 1));
    }
    return undefined;
  }

  protected encode(delivery: Delivery): Uint8Array {
    return delivery.text;
  }

  override deliver(delivery: Delivery): void {
    // Typing lines only for those who asked (they would interleave with typing).
    if (delivery.event.type === "typing" && !this.#showTyping) return;
    super.deliver(delivery);
  }

  protected sendBye(code: ErrorCode, message: string): void {
    this.#line(`*** Closing: ${code}: ${message}`);
  }

  ping(): void {}

  /** Runs `show` once the replies to earlier lines are out (at once when none is waiting). */
  #inTurn(show: () => void): void {
    this.replies.add(undefined, show, () => {});
  }

  #line(text: string): void {
    this.send(encoder.encode(text + "\r\n"));
  }

  #error(error: unknown): void {
    if (!(error instanceof ChatError)) {
      this.context.logger.error("Request failed: {error}", { error });
      error = new ChatError("internal", "Internal error; the request was not completed");
    }
    this.#line(formatTextError((error as ChatError).toWire()));
  }

  #handleLine(line: string | ChatError): Promise<void> | undefined {
    this.#prompted = true;
    if (line instanceof ChatError) {
      // The line is dropped whole, for a token like any line; at a login
      // prompt, the login starts over.
      let refusal = line;
      try {
        this.checkRate();
      } catch (error) {
        refusal = error as ChatError;
      }
      const prompt = !this.loggedIn;
      if (prompt) this.#loginNick = undefined;
      this.#inTurn(() => {
        this.#error(refusal);
        if (prompt && !this.closed) this.send(encoder.encode("Nickname: "));
      });
      return undefined;
    }
    if (line.trim() === "" && this.#loginNick === undefined) return undefined;
    try {
      if (!this.loggedIn) return this.#handleLogin(line);
      // Before parsing: a line refused as invalid costs a token like any other.
      this.checkRate();
      return this.#handleCommand(parseCommand(line, { currentRoom: this.#currentRoom }));
    } catch (error) {
      // In the line's place, as a framed request's parse error is.
      this.#inTurn(() => this.#error(error));
      return undefined;
    }
  }

  async #handleLogin(line: string): Promise<void> {
    try {
      this.checkRate();
      if (this.#loginNick === undefined) {
        const nick = validateNick(line.trim());
        const needsPassword = this.context.options.auth === "required" ||
          await this.context.accounts.exists(nick);
        if (needsPassword) {
          this.#loginNick = nick;
          this.send(encoder.encode(`Password for ${nick}: `));
          return;
        }
        await this.login(nick, undefined);
      } else {
        const nick = this.#loginNick;
        this.#loginNick = undefined;
        await this.login(nick, line);
      }
      if (!this.loggedIn) return;
      this.#line(
        `Welcome, ${this.nick}! /join ROOM to start talking, /rooms to see rooms, /help for commands.`,
      );
      if (this.account !== undefined) {
        const { unread, more } = await this.deliverPending();
        for (const { peer, count } of unread) {
          this.#line(`--- ${count} unread direct message(s) from ${peer}`);
        }
        if (more) this.#line("--- and unread direct messages from others");
      }
    } catch (error) {
      this.#error(error);
      if (!this.loggedIn && !this.closed) this.send(encoder.encode("Nickname: "));
    }
  }

  #handleCommand(command: Command): Promise<void> | undefined {
    switch (command.kind) {
      case "help":
        this.#inTurn(() => {
          for (const [usage, what] of COMMAND_HELP) this.#line(`    ${usage.padEnd(36)} ${what}`);
        });
        return undefined;
      case "quit": {
        // After the replies to everything typed before it.
        const reason = command.reason ?? "quit";
        return this.replies.idle().then(() => this.close("quit", "Goodbye", reason));
      }
      case "switch": {
        const wanted = nameKey(command.room.replace(/^#/, ""));
        const room = [...this.rooms].find((r) => r.key === wanted);
        if (room === undefined) {
          throw new ChatError("not_in_room", `You are not in #${command.room}`);
        }
        this.#currentRoom = room.name;
        this.#inTurn(() => this.#line(`--- Now talking in #${room.name}`));
        return undefined;
      }
      case "typing":
        this.#showTyping = command.on;
        this.#inTurn(() =>
          this.#line(command.on ? "--- Showing who is typing" : "--- Not showing who is typing")
        );
        return undefined;
      case "request": {
        // The same validation as framed requests.
        const request = parseClientFrame(
          { ...command.request, id: ++this.#requestId },
          { maxBodyLength: this.context.options.maxBodyLength },
        ) as Request;
        return this.submit(request, {
          reply: (result) => this.#afterRequest(request, result),
          fail: (error) => this.#error(error),
        });
      }
    }
  }

  #afterRequest<R extends Request>(request: R, result: ResultOf<R["type"]>): void {
    const reply = { request, result } as Reply;
    if (isReplyTo(reply, "join")) this.#currentRoom = reply.result.room;
    if (
      isReplyTo(reply, "leave") && this.#currentRoom !== undefined &&
      nameKey(this.#currentRoom) === nameKey(reply.result.room)
    ) {
      this.#currentRoom = [...this.rooms][0]?.name;
    }
    for (const line of formatTextResult(request, result)) this.#line(line);
  }
}
