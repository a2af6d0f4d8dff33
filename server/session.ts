/**
 * A connected peer: what framed and plain-text sessions share — identity in
 * the broker, a bounded outbound queue, rate limiting, request dispatch and
 * an orderly close.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ChatError, type ErrorCode } from "../shared/errors.ts";
import { OutboundQueue } from "../shared/outbound_queue.ts";
import type { Request } from "../shared/protocol.ts";
import type { Transport } from "../shared/transport.ts";
import type { Broker, Member, Room } from "./broker.ts";
import type { Delivery } from "./delivery.ts";
import type { ServerOptions } from "./server_options.ts";
import { TokenBucket } from "./token_bucket.ts";

/** What every session needs from its server. */
export interface SessionContext {
  readonly broker: Broker;
  readonly options: ServerOptions;
  readonly logger: Logger;
}

/** The base of framed and plain-text sessions. */
export abstract class Session implements Member {
  nick = "";
  readonly rooms: Set<Room> = new Set();
  /** Random id announced to the client. */
  readonly id: string = crypto.randomUUID();
  /** Remote IP address. */
  readonly ip: string;
  /** When the last bytes arrived (ms, performance clock). */
  lastSeen: number = performance.now();
  /** When the connection was accepted (ms, performance clock). */
  readonly acceptedAt: number = performance.now();

  protected readonly context: SessionContext;
  protected readonly transport: Transport;
  protected readonly queue: OutboundQueue;
  #registered = false;
  #closed = false;
  #bucket: TokenBucket;
  #strikes: TokenBucket;

  constructor(transport: Transport, context: SessionContext, ip: string) {
    this.transport = transport;
    this.context = context;
    this.ip = ip;
    this.queue = new OutboundQueue(transport, {
      maxBytes: context.options.maxQueueBytes,
      onError: () => this.abort("write failed"),
    });
    this.#bucket = new TokenBucket({
      burst: context.options.rateBurst,
      ratePerSecond: context.options.ratePerSecond,
    });
    this.#strikes = new TokenBucket({ burst: context.options.floodStrikes, ratePerSecond: 1 });
  }

  /** Whether `hello` (or the text-mode nickname) has been accepted. */
  get registered(): boolean {
    return this.#registered;
  }

  /** Whether the session is closing or closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the heartbeat applies (people on plain text may idle silently). */
  abstract get heartbeats(): boolean;

  /** Feeds bytes read from the transport. */
  abstract receive(chunk: Uint8Array): void;

  /** Encodes `delivery` in this session's wire format. */
  protected abstract encode(delivery: Delivery): Uint8Array;

  /** Sends the final word before closing. */
  protected abstract sendBye(code: ErrorCode, message: string): void;

  /** Sends a heartbeat probe. */
  abstract ping(): void;

  /** Called when the transport opened and nothing has been read yet (text mode prompts). */
  start(): void {}

  deliver(delivery: Delivery): void {
    if (this.#closed) return;
    if (!this.queue.push(this.encode(delivery))) this.abort("slow consumer", "slow_consumer");
  }

  /** Queues raw bytes; a peer over its queue bound is dropped. */
  protected send(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (!this.queue.push(bytes)) this.abort("slow consumer", "slow_consumer");
  }

  /** Claims `nick` in the broker; throws `name_taken`. */
  protected register(nick: string): void {
    this.context.broker.register(this, nick);
    this.#registered = true;
    this.context.logger.info("{nick} connected from {ip} ({session})", {
      nick,
      ip: this.ip,
      session: this.id,
    });
  }

  /**
   * Takes a rate-limit token; throws `rate_limited` with the retry delay,
   * and drops the connection once it has ignored too many of those.
   */
  protected checkRate(): void {
    const now = performance.now();
    const wait = this.#bucket.take(now);
    if (wait === 0) return;
    if (this.#strikes.take(now) !== 0) {
      this.close("flood", "Too many requests over the rate limit");
    }
    throw new ChatError(
      "rate_limited",
      `Rate limit: ${this.context.options.ratePerSecond} requests/s (burst ${this.context.options.rateBurst})`,
      { retryAfterMs: wait },
    );
  }

  /** Runs one request against the broker and returns the ack's result. */
  protected execute(request: Request): Record<string, unknown> {
    const broker = this.context.broker;
    switch (request.type) {
      case "join":
        return broker.join(this, request.room);
      case "leave":
        return broker.leave(this, request.room);
      case "say":
        return broker.say(this, request.room, request.body, request.action);
      case "dm":
        return broker.dm(this, request.to, request.body, request.action);
      case "broadcast":
        return broker.broadcast(this, request.body);
      case "rooms":
        return broker.rooms();
      case "who":
        return broker.who(request.room);
      case "users":
        return broker.users();
      case "topic":
        return broker.topic(this, request.room, request.topic);
      case "nick":
        return broker.rename(this, request.nick);
      case "ping":
        return { ts: Date.now() };
      case "quit":
        this.close("quit", "Goodbye", request.reason ?? "quit");
        return {};
    }
  }

  /**
   * Closes in order: leaves the broker (rooms see why), sends a last word,
   * then closes the transport once queued output is written or the grace
   * period is over.
   */
  close(code: ErrorCode, message: string, leaveReason: string = message): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#leaveBroker(leaveReason);
    // sendBye goes through the queue; #closed is set, so push directly.
    this.#pushFinal(code, message);
    const timer = setTimeout(() => this.transport.close(), this.context.options.shutdownGraceMs);
    this.queue.drained().finally(() => {
      clearTimeout(timer);
      this.#closeTransport();
    });
  }

  /** Drops the connection at once (slow consumer, dead peer): nothing more is written. */
  abort(reason: string, code: ErrorCode = "internal"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.context.logger.info("Dropping {nick} ({session}): {reason}", {
      nick: this.nick || "(unregistered)",
      session: this.id,
      reason,
      code,
    });
    this.#closeTransport();
    // Deferred: abort may run inside a fan-out that is iterating the room.
    queueMicrotask(() => this.#leaveBroker(reason));
  }

  #pushFinal(code: ErrorCode, message: string): void {
    this.#closed = false;
    try {
      this.sendBye(code, message);
    } finally {
      this.#closed = true;
    }
  }

  #leaveBroker(reason: string): void {
    if (!this.#registered) return;
    this.#registered = false;
    this.context.broker.unregister(this, reason);
    this.context.logger.info("{nick} disconnected ({session}): {reason}", {
      nick: this.nick,
      session: this.id,
      reason,
    });
  }

  #closeTransport(): void {
    try {
      this.transport.close();
    } catch {
      // Already closed by the peer.
    }
  }
}
