/**
 * A connected peer: what framed and plain-text sessions share — identity in
 * the broker, login, a bounded outbound queue, rate limiting, request
 * dispatch and an orderly close.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ChatError, type ErrorCode } from "../../shared/errors.ts";
import type { FlushScheduler } from "../../shared/flush_scheduler.ts";
import { OutboundQueue } from "../../shared/outbound_queue.ts";
import { OrderedReplies } from "./ordered_replies.ts";
import type { Request, RequestType, ResultOf } from "../../shared/protocol.ts";
import type { Writer } from "../../shared/transport.ts";
import { nameKey } from "../../shared/validation.ts";
import type { AccountService } from "../accounts/account_service.ts";
import { isServerAdmin } from "../accounts/server_admin.ts";
import type { Broker } from "../chat/broker.ts";
import type { Delivery } from "../chat/delivery.ts";
import { type Member, rightsKey, type Room } from "../chat/room.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import type { ServerOptions } from "../config/server_options.ts";
import type { UnreadCount } from "../store/store.ts";
import { resumeHashOf } from "./resume_token.ts";
import { RequestRate } from "../limits/request_rate.ts";
import { TokenBucket } from "../limits/token_bucket.ts";
import type { FileService } from "../files/file_service.ts";

/** What every session needs from its server. */
export interface SessionContext {
  readonly broker: Broker;
  readonly metrics: ServerMetrics;
  readonly accounts: AccountService;
  readonly options: ServerOptions;
  readonly logger: Logger;
  /** When sessions' queued output is written (one scheduler for the whole server). */
  readonly flushScheduler: FlushScheduler;
  /** Called once a session has logged in (it no longer counts as a handshake). */
  readonly onLogin?: (session: Session) => void;
  /** File sharing (docs/protocol.md section 23); without it file requests are `unsupported`. */
  readonly files?: FileService;
}

/** A request's result: at once, or once what it changed is committed. */
export type Outcome<K extends RequestType = RequestType> = ResultOf<K> | Promise<ResultOf<K>>;

/** Where a session sends a request's result or error, in request order. */
export interface Answer<K extends RequestType = RequestType> {
  reply(result: ResultOf<K>): void;
  fail(error: unknown): void;
}

// Requests that change what later ones mean (membership, identity): they wait
// for every earlier request to finish, and later ones wait for them.
const ORDERED: ReadonlySet<string> = new Set(["join", "leave", "register", "nick", "quit"]);

/** Whether `request` is a barrier: after all earlier requests, before all later ones. */
export function isOrdered(request: Request): boolean {
  return ORDERED.has(request.type);
}

/**
 * Whether `request` reads pages of stored messages: it starts only once the
 * replies before it are out, so its large result never waits in memory.
 */
export function readsHistory(request: Request): boolean {
  // A download's reply is a frame of file data: as large as a page.
  return request.type === "history" || request.type === "dm_history" ||
    request.type === "search" || request.type === "download";
}

/** The base of framed and plain-text sessions. */
export abstract class Session implements Member {
  nick = "";
  account: string | undefined = undefined;
  admin = false;
  // Unset: the session's own id (no string of its own per idle connection).
  #guestId: string | undefined;
  // Made at welcome; a guest that takes this session over must give it.
  #resumeToken: string | undefined;
  // Set when a new connection takes this session over: the guest's rights stay.
  #displaced = false;
  #rooms: Set<Room> | undefined;
  /** Random id announced to the client. */
  readonly id: string = crypto.randomUUID();
  /** Remote address. */
  readonly ip: string;
  /** When the last bytes arrived (ms, performance clock). */
  lastSeen: number = performance.now();
  /**
   * When the connection was accepted (ms, performance clock); the server
   * sets it when the session is made later, once the first bytes arrived.
   */
  acceptedAt: number = performance.now();

  protected readonly context: SessionContext;
  // Write-only: the server reads the connection and feeds this session (receive).
  readonly #writer: Writer;
  protected readonly queue: OutboundQueue;
  /** Replies to this connection's requests, in the order the requests came. */
  protected readonly replies = new OrderedReplies();
  #loggedIn = false;
  #closed = false;
  // Set once the session stops taking requests and waits for those in flight.
  #finishing: Promise<void> | undefined;
  // When a finishing session must be closed and flushed by (performance clock).
  #deadline: number | undefined;
  // Input handling that later input waits for (a request later ones depend on).
  #busy: Promise<void> | undefined;
  #transportClosed = false;
  #onTransportClosed: (() => void) | undefined;
  // The peer's input ended; and what waits for that to close the transport.
  #inputEnded = false;
  #onInputEnded: (() => void) | undefined;
  #rate: RequestRate;
  // History requests read or waiting their turn, not yet answered.
  #historyRequests = 0;
  // Made on the first refusal: most connections never need it.
  #strikes: TokenBucket | undefined;

  constructor(writer: Writer, context: SessionContext, ip: string) {
    this.#writer = writer;
    this.context = context;
    this.ip = ip;
    this.queue = new OutboundQueue(writer, {
      maxBytes: context.options.maxQueueBytes,
      onError: () => this.abort("write failed"),
      scheduler: context.flushScheduler,
    });
    this.#rate = new RequestRate(context.options, { metrics: context.metrics });
  }

  /** Rooms this session is in (made on first use: idle connections are in none). */
  get rooms(): Set<Room> {
    return this.#rooms ??= new Set();
  }

  /** Bytes queued to this peer and not yet written (metrics, dashboard). */
  get queuedBytes(): number {
    return this.queue.queuedBytes;
  }

  /** Whether login has completed. */
  get loggedIn(): boolean {
    return this.#loggedIn;
  }

  /** Whether the session is closing or closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether the session has stopped taking requests: it is closed, or it
   * closes once the requests in flight are answered ({@linkcode Session.finish}).
   */
  get finishing(): boolean {
    return this.#closed || this.#finishing !== undefined;
  }

  /** Whether the heartbeat applies (people on plain text may idle silently). */
  abstract get heartbeats(): boolean;

  /** How long this session has to log in, in ms. */
  abstract get handshakeTimeoutMs(): number;

  /**
   * Feeds bytes the server read from the connection. Returns a promise when input
   * processing must finish before more is read (a request later ones depend
   * on is still running); the chunk is not used after this returns.
   */
  abstract receive(chunk: Uint8Array): Promise<void> | undefined;

  /** Resolves once every reply to the requests started so far is queued. */
  protected repliesQueued(): Promise<void> {
    return this.replies.idle();
  }

  /**
   * Records input handling that later input waits for, so finishing waits
   * for it too; returns `pending`.
   */
  protected track(pending: Promise<void> | undefined): Promise<void> | undefined {
    if (pending === undefined) return undefined;
    const busy: Promise<void> = pending.finally(() => {
      if (this.#busy === busy) this.#busy = undefined;
    });
    this.#busy = busy;
    return pending;
  }

  /**
   * The peer's input ended (TCP half-close, as `nc -N` does, or a read
   * error): the requests read so far are answered, then the session closes.
   */
  endOfInput(): void {
    this.#inputEnded = true;
    this.#onInputEnded?.();
    void this.finish("quit", "Connection closed", "connection closed");
  }

  /** Encodes `delivery` in this session's wire format. */
  protected abstract encode(delivery: Delivery): Uint8Array;

  /** Sends the final word before closing. */
  protected abstract sendBye(code: ErrorCode, message: string): void;

  /** Sends a heartbeat probe. */
  abstract ping(): void;

  /** Called when the transport opened and nothing has been read yet (text mode prompts). */
  start(): void {}

  deliver(delivery: Delivery): void {
    this.send(this.encode(delivery));
  }

  /** Queues raw bytes; a peer over its queue bound is dropped. */
  protected send(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.queue.push(bytes)) {
      this.context.metrics.bytesOut += bytes.length;
      return;
    }
    this.context.metrics.slowConsumers++;
    this.abort("slow consumer", "slow_consumer");
  }

  /**
   * Logs in as `nick`: with a password, as that account; without, as a
   * guest when the server allows guests and the nickname is not registered.
   * Resolves to the account's unread DM counts once pending DMs are queued.
   */
  protected async login(
    nick: string,
    password: string | undefined,
    hello: { resume?: string } = {},
  ): Promise<UnreadCount[] | undefined> {
    const { accounts, broker, options } = this.context;
    let name = nick;
    if (password !== undefined) {
      const account = await accounts.authenticate(nick, password, this.ip).catch((error) => {
        if (error instanceof ChatError && error.code === "auth_failed") {
          this.context.metrics.authFailures++;
        }
        throw error;
      });
      this.account = account.key;
      this.admin = isServerAdmin({ account, admins: options.admins });
      name = account.name;
    } else if (options.auth === "required") {
      throw new ChatError(
        "auth_required",
        "This server needs an account: log in with your password",
      );
    } else if (await accounts.exists(nick)) {
      throw new ChatError("auth_required", `${nick} is a registered nickname: give its password`);
    } else {
      await accounts.refuseLookalike(nick);
    }
    if (this.#closed) return undefined;
    // Over several instances the claim is a round trip to Redis.
    await broker.claim(this, name, {
      multipleSessions: options.sessions === "multiple",
      ...(hello.resume === undefined ? {} : { resume: resumeHashOf(hello.resume) }),
    });
    if (this.#closed) {
      broker.release(this);
      return undefined;
    }
    this.#loggedIn = true;
    this.context.onLogin?.(this);
    this.context.logger.info(
      this.account === undefined
        ? "{nick} connected from {ip} as a guest (session {session})"
        : "{nick} connected from {ip} with an account (session {session})",
      { nick: name, ip: this.ip, session: this.id, account: this.account ?? null },
    );
    return this.account === undefined ? undefined : [];
  }

  /**
   * Delivers DMs stored while offline, a page at a time: the next page waits
   * until this one is written, so the queue bound holds however many wait.
   * Resolves to unread counts (the first senders by name; `more` when some are left out).
   */
  protected deliverPending(): Promise<{ unread: UnreadCount[]; more: boolean }> {
    return this.context.broker.directMessages.deliverPending(this, {
      ready: async () => {
        await this.queue.drained();
        return !this.closed;
      },
    });
  }

  /**
   * Takes a rate-limit token; throws `rate_limited` with the retry delay,
   * and drops the connection once it has ignored too many of those. With
   * `answer: false` (a frame that gets no reply) it does not throw.
   */
  protected checkRate(options: { answer?: boolean } = {}): void {
    const now = performance.now();
    const refusal = this.#rate.check(now);
    if (refusal === undefined) return;
    this.#strikes ??= new TokenBucket({
      burst: this.context.options.floodStrikes,
      ratePerSecond: 1,
    });
    if (this.#strikes.take(now) !== 0) {
      // Requests already started are answered before the bye.
      void this.finish("flood", "Too many requests over the rate limit");
    }
    if (options.answer === false) return;
    throw refusal;
  }

  /**
   * Runs a request that reads history in its turn: once every reply before
   * it is out and the output queue has room for a page, so its large result
   * never waits in memory and never pushes a slow reader over its queue
   * bound. A connection's history requests thus run one at a time; more than
   * `maxHistoryWaitingPerConnection` waiting behind it are `rate_limited`.
   */
  #runHistoryInTurn<R extends Request>(
    request: R,
    done: Answer<R["type"]>,
  ): Promise<void> | undefined {
    const waiting = this.context.options.maxHistoryWaitingPerConnection;
    if (this.#historyRequests > waiting) {
      this.context.metrics.rateLimited++;
      throw new ChatError(
        "rate_limited",
        `Too many history requests at once: one is read at a time, ${waiting} may wait`,
        { retryAfterMs: 100 },
      );
    }
    this.#historyRequests++;
    return this.replies.addInTurn(async () => {
      const { maxFrameBytes, maxQueueBytes } = this.context.options;
      if (this.queue.queuedBytes + maxFrameBytes > maxQueueBytes) {
        await this.queue.drained();
      }
      return await this.#execute(request);
    }, (result) => {
      this.#historyRequests--;
      done.reply(result);
    }, (error) => {
      this.#historyRequests--;
      done.fail(error);
    });
  }

  /**
   * The one request pipeline of every kind of session: starts `request` in
   * its turn (a barrier once every earlier request is answered) and hands
   * its result or error to `answer` in request order. Returns a promise
   * when later input must wait for it.
   */
  protected submit<R extends Request>(
    request: R,
    answer: Answer<R["type"]>,
  ): Promise<void> | undefined {
    if (isOrdered(request)) return this.replies.idle().then(() => this.#run(request, answer));
    this.#run(request, answer);
    return undefined;
  }

  /** Executes a request and queues its answer in order; resolves when the answer is out. */
  #run<R extends Request>(request: R, answer: Answer<R["type"]>): Promise<void> | undefined {
    if (readsHistory(request)) return this.#runHistoryInTurn(request, answer);
    let outcome: Outcome<R["type"]>;
    try {
      outcome = this.#execute(request);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    return this.replies.add(outcome, answer.reply, answer.fail);
  }

  /**
   * Runs one request against the broker; the result may wait for a commit.
   * Each branch below is checked against the wire's result type of its
   * request; TypeScript does not narrow `R` through the switch, hence the
   * one cast here.
   */
  #execute<R extends Request>(request: R): Outcome<R["type"]> {
    return this.#executeAny(request) as Outcome<R["type"]>;
  }

  #executeAny(request: Request): Outcome {
    const broker = this.context.broker;
    switch (request.type) {
      case "join": {
        const options: { since?: number; passphrase?: string } = {};
        if (request.since !== undefined) options.since = request.since;
        // The wire calls a room's passphrase its `key` (docs/protocol.md).
        if (request.key !== undefined) options.passphrase = request.key;
        return broker.join(this, request.room, options) satisfies Outcome<"join">;
      }
      case "leave":
        return broker.leave(this, request.room) satisfies Outcome<"leave">;
      case "say":
        return broker.say(this, request) satisfies Outcome<"say">;
      case "dm":
        return broker.directMessages.send(this, request) satisfies Outcome<"dm">;
      case "broadcast":
        return broker.moderation.broadcast(this, request.body) satisfies Outcome<"broadcast">;
      case "rooms":
        return broker.rooms(pick(request, ["after", "limit"])) satisfies Outcome<"rooms">;
      case "who":
        return broker.who(request.room, pick(request, ["after", "limit"])) satisfies Outcome<"who">;
      case "users":
        return broker.users(pick(request, ["after", "limit"])) satisfies Outcome<"users">;
      case "topic":
        return broker.moderation.topic(this, request.room, request.topic) satisfies Outcome<
          "topic"
        >;
      case "nick":
        return this.#rename(request.nick) satisfies Outcome<"nick">;
      case "ping":
        return { ts: Date.now() } satisfies Outcome<"ping">;
      case "quit":
        // After the ack is queued.
        queueMicrotask(() => this.close("quit", "Goodbye", request.reason ?? "quit"));
        return {} satisfies Outcome<"quit">;
      case "history":
        return broker.history(
          this,
          request.room,
          pick(request, ["before", "after", "limit"]),
        ) satisfies Outcome<"history">;
      case "dm_history":
        return broker.directMessages.history(
          this,
          request.with,
          pick(request, ["before", "after", "limit"]),
        ) satisfies Outcome<"dm_history">;
      case "read":
        return broker.directMessages.markRead(this, request.with, request.upTo) satisfies Outcome<
          "read"
        >;
      case "register":
        return this.#createAccount(request.password) satisfies Outcome<"register">;
      // Away and typing (section 22).
      case "away":
        return broker.away.set(this, request.message) satisfies Outcome<"away">;
      case "typing":
        return broker.typing.relay(this, request) satisfies Outcome<"typing">;
      case "mode": {
        const change: { inviteOnly?: boolean; passphrase?: string | null } = {};
        if (request.inviteOnly !== undefined) change.inviteOnly = request.inviteOnly;
        // The wire's `key` is the room's passphrase, as in join.
        if (request.key !== undefined) change.passphrase = request.key;
        return broker.moderation.mode(this, request.room, change) satisfies Outcome<"mode">;
      }
      case "search":
        // A search costs more of the rate than one token (--search-cost).
        this.#chargeExtra(this.context.options.searchCost - 1);
        return broker.search(this, {
          text: request.text,
          ...pick(request, ["room", "cursor", "limit"]),
        }) satisfies Outcome<"search">;
      // Message changes (section 21).
      case "edit":
        return broker.messageChanges.edit(this, request) satisfies Outcome<"edit">;
      case "delete":
        return broker.messageChanges.delete(this, request) satisfies Outcome<"delete">;
      case "react":
        return broker.messageChanges.react(this, request) satisfies Outcome<"react">;
      case "unreact":
        return broker.messageChanges.unreact(this, request) satisfies Outcome<"unreact">;
      // Files (docs/protocol.md section 23).
      case "upload_begin": {
        const { type: _type, id: _id, ...target } = request;
        return this.#files().begin(this, target) satisfies Outcome<"upload_begin">;
      }
      case "upload_chunk":
        return this.#files().chunk(this, request) satisfies Outcome<"upload_chunk">;
      case "upload_end":
        return this.#files().end(this, request.upload) satisfies Outcome<"upload_end">;
      case "upload_cancel":
        return this.#files().cancel(this, request.upload) satisfies Outcome<"upload_cancel">;
      case "download":
        return this.#files().download(this, request) satisfies Outcome<"download">;
      case "file_url":
        return this.#files().link(this, request.file) satisfies Outcome<"file_url">;
      default:
        return broker.moderation.moderate(
          this,
          request.type,
          request.room,
          request.nick,
          pick(request, ["reason", "durationMs"]),
        ) satisfies Outcome<typeof request.type>;
    }
  }

  /** Takes `tokens` more of the rate for a costly request; `rate_limited` when they are not there. */
  #chargeExtra(tokens: number): void {
    if (tokens <= 0) return;
    const refusal = this.#rate.check(performance.now(), tokens);
    if (refusal !== undefined) throw refusal;
  }

  #files(): FileService {
    const files = this.context.files;
    if (files === undefined) {
      throw new ChatError("unsupported", "This server does not share files");
    }
    return files;
  }

  /** Renames a guest, unless the new nickname belongs to an account. */
  async #rename(nick: string): Promise<ResultOf<"nick">> {
    if (
      this.account === undefined && !this.isNamed(nick) &&
      await this.context.accounts.exists(nick)
    ) {
      throw new ChatError(
        "auth_required",
        `${nick} is a registered nickname: log in with its password to use it`,
      );
    }
    if (this.account === undefined) await this.context.accounts.refuseLookalike(nick);
    return this.context.broker.rename(this, nick);
  }

  async #createAccount(password: string): Promise<ResultOf<"register">> {
    if (this.account !== undefined) {
      throw new ChatError("bad_request", `You are already logged in as the account ${this.nick}`);
    }
    const account = await this.context.accounts.create(this.nick, password, { ip: this.ip });
    const guestKey = rightsKey(this);
    this.account = account.key;
    this.admin = isServerAdmin({ account, admins: this.context.options.admins });
    await this.context.broker.adopt(this, guestKey);
    this.context.logger.info("{nick} registered an account", { nick: this.nick });
    return { nick: account.name };
  }

  /**
   * Ends the session without losing a reply: no further request is started
   * (input still arriving is ignored), the requests in flight finish and
   * their replies are queued, then it closes as {@linkcode Session.close}
   * does. Waiting and flushing together take at most the grace period
   * (`shutdownGraceMs`); what is not written by then is lost.
   */
  finish(code: ErrorCode, message: string, leaveReason: string = message): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#finishing ??= this.#finish(code, message, leaveReason);
  }

  async #finish(code: ErrorCode, message: string, leaveReason: string): Promise<void> {
    const graceMs = this.context.options.shutdownGraceMs;
    this.#deadline = performance.now() + graceMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([this.#settled(), expired]);
    clearTimeout(timer);
    this.close(code, message, leaveReason);
  }

  /** Resolves once no input is being handled and every reply so far is queued. */
  async #settled(): Promise<void> {
    do {
      while (this.#busy !== undefined) await this.#busy;
      await this.repliesQueued();
    } while (this.#busy !== undefined);
  }

  /**
   * Closes in order: leaves the broker (rooms see why), sends a last word,
   * then closes the transport once queued output is written or the grace
   * period is over (what is left of it, after {@linkcode Session.finish}).
   */
  close(code: ErrorCode, message: string, leaveReason: string = message): void {
    if (this.#closed) return;
    this.#leaveBroker(leaveReason, code);
    this.sendBye(code, message);
    this.#closed = true;
    const graceMs = this.#deadline === undefined
      ? this.context.options.shutdownGraceMs
      : Math.max(0, this.#deadline - performance.now());
    const timer = setTimeout(() => this.#closeTransport(), graceMs);
    this.queue.drained().finally(async () => {
      // A socket closed with input unread is reset, and a reset can discard
      // what the peer has not read yet (the last acks, the bye). So: send
      // FIN, and close once the peer has closed its side too (the reader
      // discards what still comes), or at the end of the grace period.
      if (!this.#inputEnded && this.#writer.closeWrite !== undefined) {
        try {
          await this.#writer.closeWrite();
          if (!this.#inputEnded) {
            await new Promise<void>((resolve) => this.#onInputEnded = resolve);
          }
        } catch {
          // The peer is gone already.
        }
      }
      clearTimeout(timer);
      this.#closeTransport();
    });
  }

  /** Drops the connection at once (slow consumer, dead peer): nothing more is written. */
  abort(reason: string, code: ErrorCode = "internal"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.context.logger.info("Dropping {nick} (session {session}): {reason}", {
      nick: this.nick || "(not logged in)",
      session: this.id,
      reason,
      code,
    });
    this.#closeTransport();
    // Deferred: abort may run inside a fan-out that is iterating the room.
    queueMicrotask(() => this.#leaveBroker(reason, code));
  }

  /** The guest identity's id: this session's, unless it took over a resumed guest's. */
  get guestId(): string {
    return this.#guestId ?? this.id;
  }

  set guestId(id: string) {
    this.#guestId = id;
  }

  /** The resume token announced in `welcome`: each session (each welcome) has its own. */
  get resumeToken(): string {
    return this.#resumeToken ??= crypto.randomUUID();
  }

  /** The hash of {@linkcode Session.resumeToken}, what takeovers are matched by. */
  resumeHash(): string {
    return resumeHashOf(this.resumeToken);
  }

  /** Ends this session: a new connection took it over with its resume token. */
  displace(): void {
    this.#displaced = true;
    this.close(
      "replaced",
      "A new connection took this session over (it gave this session's resume token)",
      "reconnected",
    );
  }

  /** Whether `name` is this session's nickname. */
  isNamed(name: string): boolean {
    return nameKey(name) === nameKey(this.nick);
  }

  #leaveBroker(reason: string, code: ErrorCode): void {
    // Its uploads in progress go with the connection.
    this.context.files?.dropAll(this);
    if (!this.#loggedIn) return;
    this.#loggedIn = false;
    this.context.broker.release(this, reason, { keepRights: this.#displaced });
    // The code, not the reason: a quit reason is the user's own words.
    this.context.logger.info("{nick} disconnected (session {session}): {code}", {
      nick: this.nick,
      session: this.id,
      code,
    });
  }

  /** Resolves once the transport is closed (its connection slot may be reused). */
  whenTransportClosed(): Promise<void> {
    if (this.#transportClosed) return Promise.resolve();
    return new Promise((resolve) => this.#onTransportClosed = resolve);
  }

  #closeTransport(): void {
    if (this.#transportClosed) return;
    this.#transportClosed = true;
    try {
      this.#writer.close();
    } catch {
      // Already closed by the peer.
    }
    this.#onTransportClosed?.();
  }
}

/** The defined fields of `source` among `fields`. */
function pick<T extends object, K extends keyof T>(
  source: T,
  fields: readonly K[],
): { [P in K]?: Exclude<T[P], undefined> } {
  const out: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const field of fields) {
    const value = source[field];
    if (value !== undefined) out[field] = value as Exclude<T[K], undefined>;
  }
  return out;
}
