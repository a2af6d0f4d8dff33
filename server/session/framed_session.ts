/**
 * A session speaking the framed MessagePack protocol.
 *
 * @module
 */
import { ChatError, type ErrorCode } from "../../shared/errors.ts";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  InvalidTextFrame,
} from "../../shared/frame.ts";
import {
  checkProtocolVersion,
  type HelloFrame,
  parseClientFrame,
  PROTOCOL_VERSION,
  requestIdOf,
  type WelcomeFrame,
} from "../../shared/protocol.ts";
import { isRecord } from "../../shared/schema.ts";
import type { Writer } from "../../shared/transport.ts";
import { VERSION } from "../../shared/version.ts";
import type { Delivery } from "../chat/delivery.ts";
import { Session, type SessionContext } from "./session.ts";

// Encoded once: every heartbeat probe is the same bytes.
const PING = encodeFrame({ type: "ping" });
// What goes out instead of a frame over the cap (a bug: replies are cut to fit).
const OVERSIZE_ERROR = new ChatError(
  "internal",
  "Internal error: a reply was too large to send; the server logged it",
);
const OVERSIZE = encodeFrame(OVERSIZE_ERROR.toWire());

/** Whether a decoded frame is a heartbeat answer (the one frame that is never answered). */
function isPong(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    (value as Record<string, unknown>).type === "pong";
}

/** Whether a decoded frame is a request: a map with a string `type` other than hello and pong. */
function isRequest(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const type = value.type;
  return typeof type === "string" && type !== "hello" && type !== "pong";
}

/** A framed-protocol session. */
export class FramedSession extends Session {
  #decoder: FrameDecoder;
  #helloPending = false;
  // Header included: every frame sent is checked against it.
  readonly #longestFrame: number;

  constructor(writer: Writer, context: SessionContext, ip: string) {
    super(writer, context, ip);
    this.#longestFrame = context.options.maxFrameBytes + FRAME_HEADER_BYTES;
    this.#decoder = new FrameDecoder({ maxFrameBytes: context.options.maxFrameBytes });
  }

  get heartbeats(): boolean {
    return true;
  }

  get handshakeTimeoutMs(): number {
    return this.context.options.handshakeTimeoutMs;
  }

  receive(chunk: Uint8Array): Promise<void> | undefined {
    let values: unknown[];
    try {
      values = [...this.#decoder.push(chunk)];
    } catch (error) {
      // Values decoded before the bad frame still count.
      this.#fail(error);
      return undefined;
    }
    return this.track(this.#process(values, 0));
  }

  /** Handles frames in order; pauses at a request later ones depend on. */
  #process(values: unknown[], start: number): Promise<void> | undefined {
    for (let index = start; index < values.length; index++) {
      // Finishing: what was not started is neither run nor answered.
      if (this.finishing) return undefined;
      const pending = this.#handle(values[index]);
      if (pending !== undefined) return pending.then(() => this.#process(values, index + 1));
    }
    return undefined;
  }

  #fail(error: unknown): void {
    // Framing errors leave the stream out of sync: this connection ends, alone.
    const chatError = error instanceof ChatError
      ? error
      : new ChatError("internal", "Internal error", { cause: error });
    if (!(error instanceof ChatError)) {
      this.context.logger.error("Frame handling failed: {error}", { error });
    }
    this.send(encodeFrame(chatError.toWire()));
    // Requests read before the bad frame are still answered.
    void this.finish(chatError.code, chatError.message);
  }

  protected encode(delivery: Delivery): Uint8Array {
    return delivery.frame;
  }

  /**
   * Queues a frame. One longer than the frame cap this server announced is
   * a bug somewhere (every reply is cut to fit): it is logged and an
   * `internal` error goes out instead, so a strict client never gets it.
   */
  protected override send(bytes: Uint8Array): void {
    super.send(this.#fits(bytes) ? bytes : OVERSIZE);
  }

  /** Sends the ack of request `id`, or an `internal` error with that id when it would not fit. */
  #ack(id: number, result: object): void {
    const bytes = encodeFrame({ type: "ack", id, result });
    super.send(this.#fits(bytes) ? bytes : encodeFrame(OVERSIZE_ERROR.toWire(id)));
  }

  #fits(bytes: Uint8Array): boolean {
    if (bytes.length <= this.#longestFrame) return true;
    const payload = bytes.length - FRAME_HEADER_BYTES;
    const cap = this.context.options.maxFrameBytes;
    this.context.logger.error(
      "Refused to send {nick} ({session}) a frame of {payload} bytes, over the {cap}-byte cap",
      { nick: this.nick || "(not logged in)", session: this.id, payload, cap },
    );
    return false;
  }

  protected sendBye(code: ErrorCode, message: string): void {
    this.send(encodeFrame({ type: "bye", code, message }));
  }

  ping(): void {
    this.send(PING);
  }

  #replyError(error: unknown, id: number | undefined): void {
    if (!(error instanceof ChatError)) {
      this.context.logger.error("Request failed: {error}", { error });
      error = new ChatError("internal", "Internal error; the request was not completed");
    }
    this.send(encodeFrame((error as ChatError).toWire(id)));
  }

  /** Handles one frame; returns a promise when later frames must wait for it. */
  #handle(value: unknown): Promise<void> | undefined {
    const id = requestIdOf(value);
    try {
      if (isPong(value)) {
        // A token like any frame (a flood of pongs is work too), but never an answer:
        // over the rate it only counts towards the flood limit.
        this.checkRate({ answer: false });
        return undefined;
      }
      // Before validation: a frame refused as invalid costs a token like any other.
      this.checkRate();
      // Refused alone, by its id: the stream is still in sync.
      if (value instanceof InvalidTextFrame) throw value.error;
      // Before welcome any request, valid or not (a ping too), ends the connection.
      if (!this.loggedIn && isRequest(value)) {
        throw new ChatError("hello_required", "Send hello first");
      }
      const frame = parseClientFrame(value, { maxBodyLength: this.context.options.maxBodyLength });
      if (frame.type === "pong") return undefined;
      if (frame.type === "hello") {
        if (this.loggedIn || this.#helloPending) {
          throw new ChatError("bad_request", "Already said hello");
        }
        checkProtocolVersion(frame.protocol);
        return this.#hello(frame);
      }
      if (!this.loggedIn) throw new ChatError("hello_required", "Send hello first");
      return this.submit(frame, {
        reply: (result) => this.#ack(frame.id, result),
        fail: (error) => this.#replyError(error, frame.id),
      });
    } catch (error) {
      if (!(error instanceof ChatError)) throw error;
      if (
        !this.loggedIn &&
        (error.code === "unsupported_version" || error.code === "hello_required")
      ) {
        this.send(encodeFrame(error.toWire(id)));
        this.close(error.code, error.message);
        return undefined;
      }
      // Parse and rate errors are answered in order too.
      this.replies.add(
        Promise.reject(error),
        () => {},
        (failure) => this.#replyError(failure, id),
      );
      return undefined;
    }
  }

  async #hello(frame: HelloFrame): Promise<void> {
    this.#helloPending = true;
    try {
      const unread = await this.login(
        frame.nick,
        frame.password,
        frame.resume === undefined ? {} : { resume: frame.resume },
      );
      if (!this.loggedIn) return;
      const options = this.context.options;
      const welcome: WelcomeFrame = {
        type: "welcome",
        protocol: PROTOCOL_VERSION,
        server: `chat/${VERSION}`,
        session: this.id,
        nick: this.nick,
        limits: {
          maxFrameBytes: options.maxFrameBytes,
          maxBodyLength: options.maxBodyLength,
          maxQueueBytes: options.maxQueueBytes,
          rateBurst: options.rateBurst,
          ratePerSecond: options.ratePerSecond,
          heartbeatMs: options.heartbeatMs,
        },
      };
      if (this.account !== undefined) welcome.account = { admin: this.admin };
      welcome.resume = this.resumeToken;
      this.send(encodeFrame(welcome));
      if (unread !== undefined) {
        const { unread: counts, more } = await this.deliverPending();
        if (this.closed) return;
        if (counts.length > 0) {
          const total = counts.reduce((sum, entry) => sum + entry.count, 0);
          const who = counts.map((entry) => `${entry.peer} (${entry.count})`).join(", ");
          this.send(
            encodeFrame({
              type: "notice",
              body: `${total} unread direct message(s): ${who}${more ? ", and from others" : ""}`,
              ts: Date.now(),
              unread: counts,
            }),
          );
        }
      }
    } catch (error) {
      this.#replyError(error, undefined);
    } finally {
      this.#helloPending = false;
    }
  }
}
