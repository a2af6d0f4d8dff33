/**
 * A session speaking the framed MessagePack protocol.
 *
 * @module
 */
import { ChatError, type ErrorCode } from "../shared/errors.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import {
  checkProtocolVersion,
  parseClientFrame,
  PROTOCOL_VERSION,
  requestIdOf,
  type WelcomeFrame,
} from "../shared/protocol.ts";
import type { Transport } from "../shared/transport.ts";
import { VERSION } from "../shared/version.ts";
import type { Delivery } from "./delivery.ts";
import { Session, type SessionContext } from "./session.ts";

// Encoded once: every heartbeat probe is the same bytes.
const PING = encodeFrame({ type: "ping" });

/** A framed-protocol session. */
export class FramedSession extends Session {
  #decoder: FrameDecoder;

  constructor(transport: Transport, context: SessionContext, ip: string) {
    super(transport, context, ip);
    this.#decoder = new FrameDecoder({ maxFrameBytes: context.options.maxFrameBytes });
  }

  get heartbeats(): boolean {
    return true;
  }

  receive(chunk: Uint8Array): void {
    try {
      for (const value of this.#decoder.push(chunk)) {
        if (this.closed) return;
        this.#handle(value);
      }
    } catch (error) {
      // Framing errors leave the stream out of sync: this connection ends, alone.
      const chatError = error instanceof ChatError
        ? error
        : new ChatError("internal", "Internal error", { cause: error });
      if (!(error instanceof ChatError)) {
        this.context.logger.error("Frame handling failed: {error}", { error });
      }
      this.send(encodeFrame(chatError.toWire()));
      this.close(chatError.code, chatError.message);
    }
  }

  protected encode(delivery: Delivery): Uint8Array {
    return delivery.frame;
  }

  protected sendBye(code: ErrorCode, message: string): void {
    this.send(encodeFrame({ type: "bye", code, message }));
  }

  ping(): void {
    this.send(PING);
  }

  #handle(value: unknown): void {
    const id = requestIdOf(value);
    try {
      const frame = parseClientFrame(value, { maxBodyLength: this.context.options.maxBodyLength });
      if (frame.type === "pong") return;
      if (frame.type === "hello") {
        if (this.registered) throw new ChatError("bad_request", "Already said hello");
        this.checkRate();
        checkProtocolVersion(frame.protocol);
        this.register(frame.nick);
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
        this.send(encodeFrame(welcome));
        return;
      }
      if (!this.registered) throw new ChatError("hello_required", "Send hello first");
      this.checkRate();
      const result = this.execute(frame);
      this.send(encodeFrame({ type: "ack", id: frame.id, result }));
    } catch (error) {
      if (!(error instanceof ChatError)) throw error;
      this.send(encodeFrame(error.toWire(id)));
      if (
        !this.registered &&
        (error.code === "unsupported_version" || error.code === "hello_required")
      ) {
        this.close(error.code, error.message);
      }
    }
  }
}
