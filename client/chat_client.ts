/**
 * A chat client library: one session with a server over the framed protocol,
 * with request/ack correlation, an event stream, heartbeats and automatic
 * reconnection that rejoins the rooms the client was in.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ChatError, type ErrorCode } from "../shared/errors.ts";
import {
  type AckFrame,
  type ByeFrame,
  isReplyTo,
  parseAck,
  PROTOCOL_MAJOR,
  PROTOCOL_VERSION,
  type Reply,
  type RequestBody,
  type RequestBodyOf,
  type RequestType,
  type ResultOf,
  type ServerFrame,
  type ServerLimits,
  type WelcomeFrame,
} from "../shared/protocol.ts";
import { nameKey } from "../shared/validation.ts";
import { VERSION } from "../shared/version.ts";
import { backoffDelay } from "./backoff.ts";
import type { ClientEvent } from "./client_event.ts";
import { ConnectionClosedError } from "./connection_closed_error.ts";
import { EventQueue } from "./event_queue.ts";
import { DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TLS_PORT } from "./address.ts";
import { type ConnectionEnd, type ConnectTarget, FrameConnection } from "./frame_connection.ts";
import { RequestPacer } from "./request_pacer.ts";

const logger = getLogger(["chat", "client"]);

/** Where the options say to connect; a Unix socket needs its path. */
function connectTarget(options: ChatClientOptions): ConnectTarget {
  const transport = options.transport ?? "tcp";
  if (transport === "unix") {
    if (options.path === undefined || options.path === "") {
      throw new TypeError('Cannot connect: transport "unix" needs a path');
    }
    return { transport, path: options.path };
  }
  const hostname = options.hostname ?? DEFAULT_HOST;
  if (transport === "tcp") return { transport, hostname, port: options.port ?? DEFAULT_PORT };
  return {
    transport,
    hostname,
    port: options.port ?? DEFAULT_TLS_PORT,
    ...(options.caCerts === undefined ? {} : { caCerts: options.caCerts }),
  };
}

/** What the ack of any request carries: {@linkcode ResultOf} its type. */
export type RequestResult = ResultOf<RequestType>;

/** Reconnection settings; delays follow {@linkcode backoffDelay}. */
export interface ReconnectOptions {
  /** Upper bound of the first delay, in ms. Default 250. */
  initialDelayMs?: number;
  /** Largest delay, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Attempts after one drop before giving up. Default: never give up. */
  maxAttempts?: number;
}

/** Options for {@linkcode ChatClient.connect}. */
export interface ChatClientOptions {
  /** The nickname to say hello with. */
  nick: string;
  /** The password of a registered nickname, sent in `hello`. */
  password?: string;
  /** Server host name or IP address. Default "127.0.0.1". */
  hostname?: string;
  /** Server port. Default 7007 (plain TCP) or 7443 (TLS). */
  port?: number;
  /**
   * How to reach the server: plain TCP (the default), TLS (the certificate
   * checked against the system's roots, or `caCerts`), or the Unix socket
   * at `path`. Reconnecting goes the same way.
   */
  transport?: "tcp" | "tls" | "unix";
  /** The socket file, with `transport: "unix"`. */
  path?: string;
  /** PEM certificates to trust instead of the system's roots, with `transport: "tls"`. */
  caCerts?: string[];
  /** Reconnect after the connection drops; `false` to close instead. Default true. */
  reconnect?: boolean | ReconnectOptions;
  /** How long to wait for `welcome`, in ms. Default 10 000. */
  helloTimeoutMs?: number;
  /** How long {@linkcode ChatClient.close} waits for the server to hang up, in ms. Default 2000. */
  closeTimeoutMs?: number;
  /** Largest frame accepted from the server, in bytes. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Events held for a consumer that is not reading; the oldest go first. Default 10 000. */
  maxBufferedEvents?: number;
  /** Client name sent in `hello`. Default "chat". */
  clientName?: string;
  /** Source of uniform numbers in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
}

/** Options for {@linkcode ChatClient.request}. */
export interface RequestOptions {
  /**
   * Also deliver the outcome as a `reply` event, in arrival order with the
   * other events; for a consumer that shows replies and events together.
   */
  replyEvent?: boolean;
}

/** Where the client is in its life. */
export type ConnectionState = "connected" | "reconnecting" | "closed";

// Hello errors that no retry can fix.
const FATAL_HELLO_CODES: ReadonlySet<ErrorCode> = new Set([
  "unsupported_version",
  "invalid_name",
  "bad_frame",
  "bad_request",
  "frame_too_large",
  "hello_required",
  "auth_failed",
  "auth_required",
  "invalid_password",
  "forbidden",
  "banned",
]);
// Goodbyes after which reconnecting makes sense: the server or the link had a problem.
const RECONNECT_BYE_CODES: ReadonlySet<ErrorCode> = new Set([
  "server_shutdown",
  "slow_consumer",
  "ping_timeout",
  "too_many_connections",
  "handshake_timeout",
  "rate_limited",
  "flood",
  "storage",
  "internal",
]);
// Requests that can be sent again after a drop without doing anything twice.
const RETRY_SAFE = new Set<RequestBody["type"]>([
  "join",
  "rooms",
  "who",
  "users",
  "ping",
  // Reacting twice is "unchanged" the second time (section 21).
  "react",
  "unreact",
  // Files: reading changes nothing.
  "download",
  "file_url",
]);
const MAX_RATE_RETRIES = 5;

interface Pending {
  body: RequestBody;
  /**
   * The `clientMsgId` a `say` or `dm` goes out with, the same on every
   * attempt, so the server recognises a resend and posts it once.
   */
  clientMsgId?: string;
  resolve: (result: RequestResult) => void;
  reject: (error: Error) => void;
  /** Sent by the client itself (rejoins, quit): never replayed. */
  internal: boolean;
  /** Also report the outcome in the event stream. */
  replyEvent: boolean;
  rateRetries: number;
}

interface JoinedRoom {
  name: string;
  /** The request that joined it, sent again to rejoin. */
  join: RequestBodyOf<"join">;
  /** The last timeline id seen in the room (message or change): a rejoin asks for what came after. */
  lastId: number;
}

/** A room the server just said we left, and why. */
interface RecentLeave {
  key: string;
  entry: JoinedRoom;
  reason: string | undefined;
}

interface Session {
  connection: FrameConnection;
  ended: Promise<ConnectionEnd>;
  welcome: WelcomeFrame | undefined;
  /** Settles the handshake: a welcome, or the error that refused it. */
  settle: (outcome: WelcomeFrame | ChatError) => void;
  handshake: Promise<WelcomeFrame | ChatError>;
  bye: ByeFrame | undefined;
  watchdog: ReturnType<typeof setInterval> | undefined;
  done: boolean;
}

function describe(body: RequestBody): string {
  switch (body.type) {
    case "join":
    case "leave":
    case "say":
    case "who":
    case "topic":
      return `${body.type} #${body.room.replace(/^#/, "")}`;
    case "edit":
    case "delete":
    case "react":
    case "unreact":
      return `${body.type} of message ${body.target} in #${body.room.replace(/^#/, "")}`;
    case "dm":
      return `dm to ${body.to}`;
    case "nick":
      return `nick ${body.nick}`;
    default:
      return body.type;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A connected chat client. Iterate it for events; `await using` (or
 * {@linkcode ChatClient.close}) says goodbye and closes it.
 *
 * After a reconnect, each room is rejoined with the id of the last timeline
 * entry seen (a message or a change to one), and what was missed meanwhile
 * arrives as `message` events and change events (`edit`, `delete`, `react`,
 * `unreact`) with `history: true` before newer live ones. What the server
 * could not replay is reported as a `notice` about the room: ids too old to
 * recover, or more than it replays at once (page with a `history` request). A successful
 * `register` makes later reconnects log in with that password.
 *
 * @example
 * ```ts ignore
 * import { ChatClient } from "./chat_client.ts";
 * await using client = await ChatClient.connect({ hostname: "127.0.0.1", port: 7007, nick: "alice" });
 * await client.request({ type: "join", room: "general" });
 * await client.request({ type: "say", room: "general", body: "hello" });
 * const lines: string[] = [];
 * for await (const event of client) {
 *   if (event.type === "message") lines.push(`<${event.from}> ${event.body}`);
 * }
 * ```
 */
export class ChatClient implements AsyncIterable<ClientEvent>, AsyncDisposable {
  #target: ConnectTarget;
  #nick: string;
  #password: string | undefined;
  #account = false;
  #reconnect: ReconnectOptions | undefined;
  #helloTimeoutMs: number;
  #closeTimeoutMs: number;
  #maxFrameBytes: number | undefined;
  #clientName: string;
  #random: () => number;

  #state: ConnectionState = "reconnecting";
  #session: Session | undefined;
  #welcome: WelcomeFrame | undefined;
  #pacer: RequestPacer = new RequestPacer({ burst: 1, ratePerSecond: 0 });
  #nextId = 1;
  #inflight = new Map<number, Pending>();
  /** Ready to go out on the current session, in order, subject to pacing. */
  #outbox: Pending[] = [];
  /** Made while disconnected: sent once reconnected and rejoined. */
  #waiting: Pending[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Rooms joined, by name key, with the join that got us in (sent again to rejoin). */
  #rooms = new Map<string, JoinedRoom>();
  /**
   * Rooms the server just said we left, with no other frame since: a server
   * shutting down says so for every room before its goodbye (with the
   * goodbye's message as the reason), and those rooms are rejoined; a kick
   * has another reason and sticks.
   */
  #leftJustNow: RecentLeave[] = [];
  #events: EventQueue<ClientEvent>;
  #closing = false;
  #fatal: Error | undefined;
  #wake: (() => void) | undefined;
  // When the connection dropped (Date.now()), while reconnecting.
  #downSince: number | undefined;
  // Give up once the server has been unreachable this long (ms), if set.
  #giveUpAfterMs: number | undefined;
  #supervisor: Promise<void> | undefined;
  #closed: Promise<Error | undefined>;
  #resolveClosed: (error: Error | undefined) => void;

  private constructor(options: ChatClientOptions) {
    this.#target = connectTarget(options);
    this.#nick = options.nick;
    this.#password = options.password;
    const reconnect = options.reconnect ?? true;
    this.#reconnect = reconnect === false ? undefined : reconnect === true ? {} : reconnect;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#clientName = options.clientName ?? "chat";
    this.#random = options.random ?? Math.random;
    this.#events = new EventQueue({ maxItems: options.maxBufferedEvents ?? 10_000 });
    const { promise, resolve } = Promise.withResolvers<Error | undefined>();
    this.#closed = promise;
    this.#resolveClosed = resolve;
  }

  /**
   * Connects and says hello. Rejects with a {@linkcode ChatError} when the
   * server refuses (`name_taken`, `unsupported_version`, `invalid_name`, ...)
   * and with the network error when it cannot be reached: reconnection only
   * starts once a session has been established.
   *
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { ChatClient } from "./chat_client.ts";
   * const client = await ChatClient.connect({ nick: "alice", reconnect: { maxDelayMs: 5000 } });
   * assert.equal(client.nick, "alice"); // as the server normalized it
   * await client.close();
   * ```
   */
  static async connect(options: ChatClientOptions): Promise<ChatClient> {
    const client = new ChatClient(options);
    let session: Session;
    try {
      session = await client.#establish();
    } catch (error) {
      client.#finish(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    client.#state = "connected";
    client.#supervisor = client.#supervise(session);
    return client;
  }

  /** The current nickname (after `nick` changes and server normalization). */
  get nick(): string {
    return this.#nick;
  }

  /**
   * Whether the session is logged in to a registered account: said so in
   * `welcome`, or registered since. Only accounts have DM history and
   * unread counts.
   */
  get hasAccount(): boolean {
    return this.#account;
  }

  /** The rooms the client is in; rejoined after a reconnect. */
  get rooms(): string[] {
    return [...this.#rooms.values()].map((room) => room.name);
  }

  /** Whether the client is connected, reconnecting, or closed for good. */
  get state(): ConnectionState {
    return this.#state;
  }

  /**
   * From now on, stop reconnecting once the server has been unreachable for
   * `ms` (counted from the drop, so an outage already that long ends it at
   * once): the client then closes for good with a
   * {@linkcode ConnectionClosedError}, failing what is unanswered. Piped
   * `chat join` calls this when its input ends, so a script never hangs.
   */
  giveUpAfter(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot give up after ${ms} ms: must be >= 0`);
    this.#giveUpAfterMs = ms;
    // A backoff sleep in progress ends early, so the deadline is checked now.
    this.#wake?.();
  }

  /** The latest `welcome` from the server. */
  get welcome(): WelcomeFrame {
    return this.#welcome!;
  }

  /** The limits the server announced. */
  get limits(): ServerLimits {
    return this.#welcome!.limits;
  }

  /**
   * Resolves once the client is closed for good: with `undefined` after
   * {@linkcode ChatClient.close}, or with the error that ended it (a fatal
   * goodbye, giving up on reconnecting). Never rejects.
   */
  get closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  /** Events dropped because nobody was reading them. */
  get droppedEvents(): number {
    return this.#events.dropped;
  }

  /**
   * Sends a request and resolves with the `result` of its `ack`, or rejects
   * with a {@linkcode ChatError} carrying the server's error code. Requests
   * made while reconnecting are sent once reconnected. A request in flight
   * when the connection drops rejects with {@linkcode ConnectionClosedError},
   * unless it is safe to send twice (join, rooms, who, users, ping), in which
   * case it is sent again; a `leave` in flight resolves, since the room is
   * not rejoined. Every `say` and `dm` carries a `clientMsgId` (a random
   * UUID unless the body has one) and is sent again too, under the same id,
   * so the server posts it once however often it is sent; the ack of a
   * resend may say `duplicate: true`. `rate_limited` (and `server_busy`)
   * replies are retried after the delay the server asks for. A `quit`
   * request closes the client.
   *
   * The result is checked against the request (docs/protocol.md, section
   * 8) and typed by it; a result that is not what the request gets rejects
   * with `bad_frame`.
   *
   * @example
   * ```ts ignore
   * const result = await client.request({ type: "who", room: "general" });
   * assert.deepEqual([result.members, result.total], [["alice", "bob"], 2]);
   * ```
   */
  request<B extends RequestBody>(
    body: B,
    options: RequestOptions = {},
  ): Promise<ResultOf<B["type"]>> {
    if (body.type === "quit") {
      const reason = (body as RequestBodyOf<"quit">).reason;
      return this.close(reason).then(() => ({}) as ResultOf<B["type"]>);
    }
    const { promise, resolve, reject } = Promise.withResolvers<ResultOf<B["type"]>>();
    const replyEvent = options.replyEvent ?? false;
    const pending: Pending = {
      body,
      // The ack's result was checked against this body's type.
      resolve: resolve as (result: RequestResult) => void,
      reject,
      internal: false,
      replyEvent,
      rateRetries: 0,
    };
    if (body.type === "say" || body.type === "dm") {
      pending.clientMsgId = body.clientMsgId ?? crypto.randomUUID();
    }
    if (this.#closing || this.#state === "closed") {
      this.#reject(
        pending,
        new ConnectionClosedError(`Cannot send ${describe(body)}: the client is closed`),
      );
      return promise;
    }
    if (this.#state === "connected") {
      this.#outbox.push(pending);
      this.#flush();
    } else {
      this.#waiting.push(pending);
    }
    return promise;
  }

  /**
   * The event stream: server events, `reply` events for requests that asked
   * for them, and the connection's state changes. One loop at a time; it
   * ends when the client is closed for good.
   */
  [Symbol.asyncIterator](): AsyncIterator<ClientEvent> {
    return this.#events[Symbol.asyncIterator]();
  }

  /**
   * Says goodbye (a `quit` with `reason`), waits briefly for the server to
   * hang up, and closes. Requests still unanswered reject with
   * {@linkcode ConnectionClosedError}; the event stream ends.
   *
   * @example
   * ```ts ignore
   * await client.close("see you tomorrow");
   * assert.equal(client.state, "closed");
   * ```
   */
  async close(reason?: string): Promise<void> {
    if (this.#closing || this.#state === "closed") {
      await this.#supervisor;
      return;
    }
    this.#closing = true;
    this.#wake?.();
    const session = this.#session;
    if (session && session.welcome && !session.done) {
      // The server answers quit with bye and hangs up; wait for that, briefly.
      const id = this.#nextId++;
      session.connection.send(
        reason === undefined ? { type: "quit", id } : { type: "quit", id, reason },
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) =>
        timer = setTimeout(resolve, this.#closeTimeoutMs)
      );
      await Promise.race([session.ended, timeout]);
      clearTimeout(timer);
    }
    session?.connection.close();
    await this.#supervisor;
  }

  /** Same as {@linkcode ChatClient.close}: for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- connection

  /** Connects and completes the handshake, or throws why not. */
  async #establish(): Promise<Session> {
    const connection = await FrameConnection.open(this.#target, {
      handshakeTimeoutMs: this.#helloTimeoutMs,
      ...(this.#maxFrameBytes === undefined ? {} : { maxFrameBytes: this.#maxFrameBytes }),
    });
    const { promise: handshake, resolve: settle } = Promise.withResolvers<
      WelcomeFrame | ChatError
    >();
    const session: Session = {
      connection,
      ended: Promise.resolve({ reason: "" }),
      welcome: undefined,
      settle,
      handshake,
      bye: undefined,
      watchdog: undefined,
      done: false,
    };
    session.ended = connection.run((frame) => this.#onFrame(session, frame)).then((end) => {
      session.done = true;
      clearInterval(session.watchdog);
      return end;
    });
    this.#session = session;
    connection.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      client: this.#clientName,
      clientVersion: VERSION,
      nick: this.#nick,
      ...(this.#password === undefined ? {} : { password: this.#password }),
      // Takes over our previous connection if the server still holds it.
      ...(this.#welcome?.resume === undefined ? {} : { resume: this.#welcome.resume }),
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      connection.close();
    }, this.#helloTimeoutMs);
    const outcome = await Promise.race([handshake, session.ended]);
    clearTimeout(timer);
    if ("type" in outcome && outcome.type === "welcome") {
      this.#welcomed(session, outcome);
      return session;
    }
    connection.close();
    await session.ended;
    if (this.#session === session) this.#session = undefined;
    if (outcome instanceof ChatError) throw outcome;
    const end = outcome as ConnectionEnd;
    if (timedOut) {
      throw new ConnectionClosedError(
        `No welcome from the server within ${this.#helloTimeoutMs} ms`,
      );
    }
    throw new ConnectionClosedError(`Handshake failed: ${end.reason}`, { cause: end.error });
  }

  #welcomed(session: Session, welcome: WelcomeFrame): void {
    this.#welcome = welcome;
    this.#nick = welcome.nick;
    this.#account = welcome.account !== undefined;
    const limits = welcome.limits;
    // The hello already took one of the server's tokens.
    this.#pacer = new RequestPacer({
      burst: limits.rateBurst - 1,
      ratePerSecond: limits.ratePerSecond,
    });
    if (limits.heartbeatMs > 0) {
      // Half-open TCP never errors: silence beyond a few heartbeats means the server is gone.
      const silenceMs = limits.heartbeatMs * 2.5;
      session.watchdog = setInterval(() => {
        if (Date.now() - session.connection.lastReceivedAt > silenceMs) {
          logger.warn("No data from the server for {ms} ms; dropping the connection", {
            ms: silenceMs,
          });
          session.connection.close();
        }
      }, limits.heartbeatMs);
    }
  }

  /** Owns the client's life after the first welcome: waits for drops and reconnects. */
  async #supervise(first: Session): Promise<void> {
    let session: Session | undefined = first;
    while (session) {
      const end = await session.ended;
      this.#clearFlush();
      if (this.#closing) break;
      const bye = session.bye;
      if (bye && !RECONNECT_BYE_CODES.has(bye.code)) {
        this.#fatal = new ChatError(bye.code, bye.message);
        break;
      }
      const reason = bye ? `${bye.message} (${bye.code})` : end.reason;
      logger.info("Disconnected: {reason}", { reason });
      this.#disconnected(reason, bye);
      if (!this.#reconnect) {
        this.#fatal = new ConnectionClosedError(`Disconnected: ${reason}`);
        break;
      }
      session = await this.#reconnectAfter(reason);
    }
    this.#session = undefined;
    this.#finish(this.#fatal);
  }

  /** Fails or requeues what was in flight when the connection dropped. */
  #disconnected(reason: string, bye: ByeFrame | undefined): void {
    this.#state = "reconnecting";
    this.#downSince ??= Date.now();
    for (const left of this.#leftJustNow) {
      if (bye === undefined || left.reason === bye.message) this.#rooms.set(left.key, left.entry);
    }
    this.#leftJustNow = [];
    const replay: Pending[] = [];
    for (const pending of this.#inflight.values()) {
      const body = pending.body;
      if (pending.internal) {
        this.#reject(pending, new ConnectionClosedError(`Connection lost: ${reason}`));
      } else if (body.type === "leave") {
        // Not rejoining the room is what leaving asked for.
        const room = body.room.replace(/^#/, "");
        this.#rooms.delete(nameKey(room));
        this.#resolve(pending, { room });
      } else if (
        RETRY_SAFE.has(body.type) || (body.type === "topic" && body.topic === undefined) ||
        // Sent again under the same clientMsgId: the server posts it at most once.
        pending.clientMsgId !== undefined
      ) {
        replay.push(pending);
      } else {
        this.#reject(
          pending,
          new ConnectionClosedError(
            `Connection lost before the server confirmed ${
              describe(body)
            }; it may not have been delivered`,
          ),
        );
      }
    }
    this.#inflight.clear();
    // Rejoins not sent yet are made afresh on the next connection.
    const unsent = this.#outbox.filter((pending) => {
      if (pending.internal) {
        this.#reject(pending, new ConnectionClosedError(`Connection lost: ${reason}`));
      }
      return !pending.internal;
    });
    // Order kept: replayed requests, then unsent ones, then those made while down.
    this.#waiting = [...replay, ...unsent, ...this.#waiting];
    this.#outbox = [];
  }

  /** Retries with backoff until a session is back, or returns undefined when done for good. */
  async #reconnectAfter(reason: string): Promise<Session | undefined> {
    const options = this.#reconnect!;
    const maxAttempts = options.maxAttempts ?? Infinity;
    for (let attempt = 1;; attempt++) {
      if (attempt > maxAttempts) {
        this.#fatal = new ConnectionClosedError(
          `Gave up reconnecting after ${maxAttempts} attempts: ${reason}`,
        );
        return undefined;
      }
      if (this.#pastGivingUp(reason)) return undefined;
      const delayMs = backoffDelay(attempt, { ...options, random: this.#random });
      this.#events.push({ type: "reconnecting", attempt, delayMs, reason, ts: Date.now() });
      await this.#sleep(Math.min(delayMs, this.#untilGivingUp()));
      if (this.#closing || this.#pastGivingUp(reason)) return undefined;
      let session: Session;
      try {
        session = await this.#establish();
      } catch (error) {
        if (error instanceof ChatError && FATAL_HELLO_CODES.has(error.code)) {
          this.#fatal = error;
          return undefined;
        }
        if (this.#closing) return undefined;
        // name_taken lands here too: our old session may linger until the server times it out.
        reason = messageOf(error);
        logger.debug("Reconnect attempt {attempt} failed: {reason}", { attempt, reason });
        continue;
      }
      if (this.#closing) {
        session.connection.close();
        return session;
      }
      await this.#rejoin(session, attempt);
      return session;
    }
  }

  /** Rejoins the rooms, then lets waiting requests out. */
  async #rejoin(session: Session, attempt: number): Promise<void> {
    const entries = [...this.#rooms.values()];
    const rooms = entries.map((entry) => entry.name);
    const joins = entries.map((entry) => {
      const { promise, resolve, reject } = Promise.withResolvers<ResultOf<"join">>();
      // The original join, so whatever it carried besides the room goes again, and
      // `since` so the server replays what we missed while away.
      const since = { since: entry.lastId };
      this.#outbox.push({
        body: { ...entry.join, room: entry.name, ...since },
        resolve: (result) => {
          const joined = result as ResultOf<"join">;
          // Now, not after every rejoin: missed messages come before newer live ones.
          this.#replay(joined);
          resolve(joined);
        },
        reject,
        internal: true,
        replyEvent: false,
        rateRetries: 0,
      });
      return promise;
    });
    this.#flush();
    // A drop before every rejoin is answered: the supervisor fails them and starts over.
    const results = await Promise.race([
      Promise.allSettled(joins),
      session.ended.then(() => undefined),
    ]);
    if (results === undefined || session.done || this.#closing) return;
    const rejoined: string[] = [];
    const failed: Array<{ room: string; message: string }> = [];
    results.forEach((result, index) => {
      const room = rooms[index]!;
      if (result.status === "fulfilled") {
        rejoined.push(result.value.room);
      } else {
        this.#rooms.delete(nameKey(room));
        failed.push({ room, message: messageOf(result.reason) });
      }
    });
    this.#state = "connected";
    this.#downSince = undefined;
    this.#events.push({ type: "reconnected", attempt, rooms: rejoined, failed, ts: Date.now() });
    this.#outbox.push(...this.#waiting);
    this.#waiting = [];
    this.#flush();
  }

  /** Ms left before giving up reconnecting (Infinity without a limit). */
  #untilGivingUp(): number {
    if (this.#giveUpAfterMs === undefined || this.#downSince === undefined) return Infinity;
    return Math.max(0, this.#downSince + this.#giveUpAfterMs - Date.now());
  }

  /** Whether the server has been unreachable too long; if so the client's end is set. */
  #pastGivingUp(reason: string): boolean {
    if (this.#untilGivingUp() > 0) return false;
    const seconds = Math.round((Date.now() - this.#downSince!) / 1000);
    this.#fatal = new ConnectionClosedError(
      `Gave up reconnecting: the server has been unreachable for ${seconds} s (${reason})`,
    );
    return true;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Closed for good: everything unanswered fails and the event stream ends. */
  #finish(error: Error | undefined): void {
    if (this.#state === "closed" && this.#events.ended) return;
    this.#state = "closed";
    this.#clearFlush();
    const failure = error ?? new ConnectionClosedError("The client was closed");
    const unanswered = [...this.#inflight.values(), ...this.#outbox, ...this.#waiting];
    this.#inflight.clear();
    this.#outbox = [];
    this.#waiting = [];
    for (const pending of unanswered) {
      this.#reject(
        pending,
        error === undefined
          ? new ConnectionClosedError(
            `Cannot complete ${describe(pending.body)}: the client was closed`,
          )
          : failure,
      );
    }
    this.#events.end();
    this.#resolveClosed(error);
  }

  // ---------------------------------------------------------------- sending

  /** Sends what the outbox holds as fast as the pacer allows. */
  #flush(): void {
    const session = this.#session;
    if (!session?.welcome || session.connection.closed || this.#flushTimer !== undefined) return;
    while (this.#outbox.length > 0) {
      const wait = this.#pacer.take(Date.now());
      if (wait > 0) {
        this.#flushTimer = setTimeout(() => {
          this.#flushTimer = undefined;
          this.#flush();
        }, wait);
        return;
      }
      const pending = this.#outbox.shift()!;
      const id = this.#nextId++;
      const clientMsgId = pending.clientMsgId === undefined
        ? {}
        : { clientMsgId: pending.clientMsgId };
      if (session.connection.send({ ...pending.body, id, ...clientMsgId } as never)) {
        this.#inflight.set(id, pending);
      } else if (session.connection.closed) {
        // Never sent: the drop handler moves it to wait for the next connection.
        this.#outbox.unshift(pending);
        return;
      } else {
        this.#reject(
          pending,
          new ConnectionClosedError(`Cannot send ${describe(pending.body)}: outbound queue full`),
        );
      }
    }
  }

  #clearFlush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  #resolve(pending: Pending, result: RequestResult): void {
    if (pending.replyEvent) {
      // A pair checked together: the result is the one of this request's type.
      const reply = { type: "reply", request: pending.body, result, ts: Date.now() };
      this.#events.push(reply as ClientEvent);
    }
    pending.resolve(result);
  }

  #reject(pending: Pending, error: Error): void {
    if (pending.replyEvent) {
      const reply = { type: "reply", request: pending.body, error, ts: Date.now() };
      this.#events.push(reply as ClientEvent);
    }
    pending.reject(error);
  }

  // ---------------------------------------------------------------- receiving

  #onFrame(session: Session, frame: ServerFrame): void {
    if (frame.type === "ping") {
      session.connection.send({ type: "pong" });
      return;
    }
    if (!session.welcome) {
      this.#onHandshakeFrame(session, frame);
      return;
    }
    const selfLeave = frame.type === "leave" && nameKey(frame.nick) === nameKey(this.#nick);
    if (!selfLeave && frame.type !== "bye") this.#leftJustNow = [];
    switch (frame.type) {
      case "ack":
        this.#onAck(frame);
        return;
      case "error": {
        const pending = frame.id === undefined ? undefined : this.#inflight.get(frame.id);
        if (pending === undefined) {
          this.#events.push({ ...frame, ts: Date.now() });
          return;
        }
        this.#inflight.delete(frame.id!);
        if (
          (frame.code === "rate_limited" || frame.code === "server_busy") &&
          pending.rateRetries < MAX_RATE_RETRIES
        ) {
          // Refused before it was processed, so sending it again is safe.
          pending.rateRetries++;
          this.#pacer.pause(frame.retryAfterMs ?? 1000, Date.now());
          this.#outbox.unshift(pending);
          this.#clearFlush();
          this.#flush();
          return;
        }
        const options = frame.retryAfterMs === undefined
          ? {}
          : { retryAfterMs: frame.retryAfterMs };
        this.#reject(pending, new ChatError(frame.code, frame.message, options));
        return;
      }
      case "bye":
        session.bye = frame;
        // Asked for by close(): not news.
        if (!this.#closing) this.#events.push({ ...frame, ts: Date.now() });
        return;
      case "welcome":
        return;
      default:
        this.#track(frame);
        // Leaving every room is what our own quit does: not news, like its bye.
        if (selfLeave && this.#closing) return;
        this.#events.push(frame);
    }
  }

  #onHandshakeFrame(session: Session, frame: ServerFrame): void {
    switch (frame.type) {
      case "welcome": {
        const major = /^(\d+)\./.exec(frame.protocol)?.[1];
        if (Number(major) !== PROTOCOL_MAJOR) {
          session.settle(
            new ChatError(
              "unsupported_version",
              `The server speaks protocol ${frame.protocol}; this client speaks ${PROTOCOL_VERSION}`,
            ),
          );
          return;
        }
        session.welcome = frame;
        session.settle(frame);
        return;
      }
      case "error": {
        const options = frame.retryAfterMs === undefined
          ? {}
          : { retryAfterMs: frame.retryAfterMs };
        session.settle(new ChatError(frame.code, frame.message, options));
        return;
      }
      case "bye":
        session.bye = frame;
        session.settle(new ChatError(frame.code, frame.message));
        return;
      default:
        logger.debug("Ignoring {type} before welcome", { type: frame.type });
    }
  }

  #onAck(frame: AckFrame): void {
    const pending = this.#inflight.get(frame.id);
    if (pending === undefined) return;
    this.#inflight.delete(frame.id);
    let reply: Reply;
    try {
      reply = { request: pending.body, result: parseAck(frame, pending.body).result } as Reply;
    } catch (error) {
      logger.warn("The server's reply to {request} is not what it should be: {error}", {
        request: describe(pending.body),
        error,
      });
      this.#reject(pending, error as ChatError);
      return;
    }
    if (isReplyTo(reply, "join")) {
      const { request, result } = reply;
      this.#rooms.set(nameKey(result.room), {
        name: result.room,
        join: request,
        lastId: result.lastId,
      });
    } else if (isReplyTo(reply, "leave")) {
      this.#rooms.delete(nameKey(reply.result.room));
    } else if (isReplyTo(reply, "nick")) {
      this.#nick = reply.result.nick;
    } else if (isReplyTo(reply, "register")) {
      // The nickname now needs its password: a reconnect must log in with it.
      this.#password = reply.request.password;
      this.#account = true;
    }
    this.#resolve(pending, reply.result);
  }

  /**
   * Delivers the messages a rejoin's reply carried as history, after a
   * notice of any the server no longer has; a notice says how to page
   * for the rest when there were more than it replays at once.
   */
  #replay(result: ResultOf<"join">): void {
    const name = result.room;
    const notice = (body: string) =>
      this.#events.push({ type: "notice", room: name, body, ts: Date.now() });
    const gap = result.gap;
    if (gap !== undefined) {
      const [first, last] = [gap.after + 1, gap.oldest - 1];
      if (last >= first) {
        notice(
          first === last
            ? `Message ${first} of #${name} is too old to recover`
            : `Messages ${first} to ${last} of #${name} are too old to recover`,
        );
      }
    }
    let lastId: number | undefined;
    // Messages and the changes to them (catch-up), in timeline order.
    for (const entry of result.history) {
      this.#track(entry);
      this.#events.push(entry);
      lastId = entry.id;
    }
    if (result.more === true && lastId !== undefined) {
      notice(
        `More was missed in #${name} than the server replays at once: /history after ${lastId}`,
      );
    }
  }

  /** Keeps the nickname and room list right when the server changes them for us. */
  #track(event: ClientEvent): void {
    const self = nameKey(this.#nick);
    if (
      event.type === "message" || event.type === "edit" || event.type === "delete" ||
      event.type === "react" || event.type === "unreact"
    ) {
      // Messages and changes to them share the room's timeline ids (section 21): a resume
      // asks for what came after the last entry of either kind.
      const room = this.#rooms.get(nameKey(event.room));
      // Ids grow within a room; set rather than max, since a restarted server may start over.
      if (room) room.lastId = event.id;
    } else if (event.type === "nick" && nameKey(event.from) === self) {
      this.#nick = event.to;
    } else if (event.type === "leave" && nameKey(event.nick) === self) {
      const key = nameKey(event.room);
      const entry = this.#rooms.get(key);
      this.#rooms.delete(key);
      if (entry) this.#leftJustNow.push({ key, entry, reason: event.reason });
    }
  }
}
