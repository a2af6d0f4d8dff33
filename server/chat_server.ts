/**
 * The server: accept loops (TCP, TLS, Unix socket) and, with `http`, an
 * HTTP listener whose WebSockets are sessions too, all feeding one shared
 * broker. A loop never waits on a connection; handlers are tracked and
 * awaited on shutdown.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { ChatError } from "../shared/errors.ts";
import { FlushScheduler } from "../shared/flush_scheduler.ts";
import { encodeFrame } from "../shared/frame.ts";
import type { Transport } from "../shared/transport.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { VERSION } from "../shared/version.ts";
import { AccountService } from "./accounts/account_service.ts";
import { RedisLoginFailures } from "./cluster/redis_login_failures.ts";
import { Broker } from "./chat/broker.ts";
import {
  ConnectionLimiter,
  type ConnectionSlot,
  type RemoteConnections,
} from "./limits/connection_limiter.ts";
import { DiscoveryResponder } from "./net/discovery_responder.ts";
import { type ListenerKind, type OpenListener, openListeners } from "./net/listeners.ts";
import { FramedSession } from "./session/framed_session.ts";
import { fitConnections, readOpenFiles } from "./net/open_file_limit.ts";
import { readFirstBytes } from "./net/first_bytes.ts";
import type { ChatHost, SessionEntry } from "./http/chat_host.ts";
import { parseHttpAddress } from "./http/http_address.ts";
import { HttpServer } from "./http/http_server.ts";
import { feedWebSocket } from "./http/websocket_feed.ts";
import { WebSocketTransport } from "./http/websocket_transport.ts";
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from "./config/server_options.ts";
import type { Session, SessionContext } from "./session/session.ts";
import { textGreeting, TextSession } from "./session/text_session.ts";
import { openRedis } from "./cluster/open_redis.ts";
import { SqliteStore } from "./store/sqlite_store.ts";
import { ipKey } from "./net/ip_key.ts";
import { LogSampler } from "./limits/log_sampler.ts";
import { type AddressQuota, LocalAddressQuota } from "./limits/address_quota.ts";
import { RedisAddressQuota } from "./cluster/redis_address_quota.ts";
import type { Store } from "./store/store.ts";
import { WebhookHub, type WebhookHubSettings } from "./webhooks/webhook_hub.ts";
import { FileService } from "./files/file_service.ts";
import { fileLimits, fileLinkSecret, openBlobStore } from "./files/open_files.ts";

// Idle connections read into small buffers; busy ones grow theirs, so an
// idle peer costs little memory and a fast sender few reads.
const MIN_READ_BUFFER = 256;
const MAX_READ_BUFFER = 64 * 1024;
const ACCEPT_BACKOFF_MAX_MS = 1000;
// Unix socket peers have no address; they share one connection cap.
const UNIX_PEER = "unix";
// Each refusal holds its descriptor while it waits (up to 2 s) for the peer's
// first byte: a bounded share of the descriptors kept in reserve, so a flood
// of connections over the caps cannot use them up (open_file_limit.ts).
const MAX_REFUSALS_IN_FLIGHT = 16;

/** Counters the server keeps about itself. */
export interface ServerStats {
  connections: number;
  /** Connections that have not logged in yet. */
  handshakes: number;
  users: number;
  rooms: number;
  acceptErrors: number;
}

/**
 * A running chat server.
 *
 * @example
 * ```ts ignore
 * import { ChatServer } from "./chat_server.ts";
 * await using server = ChatServer.listen({ port: 0 });
 * console.log(server.addr.port);
 * ```
 */
export class ChatServer implements AsyncDisposable {
  readonly options: ServerOptions;
  readonly broker: Broker;
  readonly accounts: AccountService;
  /** File sharing: uploads in progress, downloads, retention of files (section 23). */
  readonly files: FileService;
  readonly store: Store;
  readonly #listeners: OpenListener[];
  readonly #discovery: DiscoveryResponder | null;
  readonly #logger: Logger;
  readonly #limiter: ConnectionLimiter;
  // Shared by every connection: a copy each would cost memory in a connect burst.
  readonly #greeting = textGreeting();
  // Each session with the transport it came over (tcp, tls, unix, ws).
  readonly #sessions = new Map<Session, string>();
  // Each session's place in the connection caps, until it logs in.
  readonly #slots = new WeakMap<Session, ConnectionSlot>();
  #http: HttpServer | null = null;
  #webhooks: WebhookHub | null = null;
  #openConnections = 0;
  #allClosed: (() => void) | undefined;
  readonly #abort = new AbortController();
  readonly #context: SessionContext;
  #acceptLoops: Promise<void>[];
  #ticker: ReturnType<typeof setInterval>;
  #lastHeartbeat = performance.now();
  #acceptErrors = 0;
  #refusals = 0;
  // A flood of refused connections is one log line a minute per address.
  readonly #refusalLog = new LogSampler();
  #finished: Promise<void> | undefined;
  #draining = false;
  #endDrain: (() => void) | undefined;

  #retention: ReturnType<typeof setInterval> | undefined;
  #pruning: Promise<void> | undefined;
  #lastRoomSweep = performance.now();
  #sweepingRooms: Promise<void> | undefined;

  private constructor(
    listeners: OpenListener[],
    options: ServerOptions,
    parts: {
      store: Store;
      flushScheduler: FlushScheduler;
      broker: Broker;
      accounts: AccountService;
      discovery: DiscoveryResponder | null;
      maxLocalConnections: number | undefined;
      remote?: RemoteConnections;
      files: FileService;
    },
  ) {
    this.#listeners = listeners;
    this.#discovery = parts.discovery;
    this.options = options;
    this.store = parts.store;
    this.broker = parts.broker;
    this.accounts = parts.accounts;
    this.files = parts.files;
    this.#logger = getLogger(["chat", "server"]);
    // With Redis the caps count every instance's connections.
    this.#limiter = new ConnectionLimiter({
      ...options,
      maxLocalConnections: parts.maxLocalConnections,
      remote: parts.remote,
    });
    this.#context = {
      broker: this.broker,
      metrics: this.broker.metrics,
      accounts: this.accounts,
      options,
      logger: this.#logger,
      flushScheduler: parts.flushScheduler,
      onLogin: (session) => this.#slots.get(session)?.loggedIn(),
      files: parts.files,
    };
    this.#acceptLoops = listeners.map((open) => this.#accept(open));
    // A quarter interval at most, so a silent client goes within 3.25 intervals.
    this.#ticker = setInterval(() => this.#tick(), Math.min(1000, options.heartbeatMs / 4));
    this.#ticker.unref();
    // Always: files no message refers to (a deleted room's, say) go too.
    this.#retention = setInterval(
      () => this.#pruning ??= this.#prune(),
      options.retentionIntervalMs,
    );
    this.#retention.unref();
  }

  /**
   * Opens the store (a SQLite file under `dataDir`, or memory), loads the
   * broker's state, and starts listening with `options` over the defaults.
   * A `store` given in `options` is used instead (and closed on shutdown).
   */
  static async listen(
    options: Partial<ServerOptions> & { store?: Store } = {},
  ): Promise<ChatServer> {
    const { store: given, ...rest } = options;
    const resolved: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, ...rest };
    // With --redis, Redis holds everything and carries events between instances.
    const shared = given === undefined && resolved.redis !== null
      ? await openRedis(resolved)
      : null;
    const store = shared?.store ?? given ??
      (resolved.dataDir === null
        ? SqliteStore.memory()
        : SqliteStore.open(resolved.dataDir, { sync: resolved.sync, exclusive: true }));
    // Hourly allowances per address: the cluster's with Redis.
    const quota = (name: string, limit: number): AddressQuota =>
      shared === null
        ? new LocalAddressQuota({ limit })
        : new RedisAddressQuota(shared.store.redis, shared.store.keys, { name, limit });
    // One for every session's output and the broker's commits, which go just before a flush.
    const flushScheduler = new FlushScheduler({
      coalesceMs: resolved.writeCoalesceMs,
      coalesceFromFrames: resolved.writeCoalesceFromFrames,
    });
    try {
      const broker = await Broker.open(store, {
        flushScheduler,
        roomCreations: quota("rooms", resolved.maxRoomCreationsPerIp),
        historyOnJoin: resolved.historyOnJoin,
        maxReplay: resolved.maxReplay,
        maxRooms: resolved.maxRooms,
        maxRoomsPerUser: resolved.maxRoomsPerUser,
        maxRoomsPerAccount: resolved.maxRoomsPerAccount,
        presenceLimits: {
          maxAwayLength: resolved.maxAwayLength,
          awayChangesPerMinute: resolved.awayChangesPerMinute,
          typingIntervalMs: resolved.typingIntervalMs,
        },
        maxReactionsPerMessage: resolved.maxReactionsPerMessage,
        guestRoomTtlMs: resolved.guestRoomTtlMs,
        maxReplyBytes: resolved.maxFrameBytes - 1024,
        msgIdWindow: { ms: resolved.msgIdWindowMs, perUser: resolved.msgIdsPerUser },
        historyReads: {
          running: resolved.maxHistoryReads,
          waiting: resolved.maxHistoryWaiting,
          perHolderWaiting: resolved.maxHistoryWaitingPerConnection,
        },
        search: {
          maxLength: resolved.maxSearchLength,
          maxTerms: resolved.maxSearchTerms,
          concurrency: resolved.maxSearchConcurrency,
          waiting: resolved.maxSearchWaiting,
          scan: resolved.redisSearchScan,
        },
        ...(shared === null ? {} : { bus: shared.cluster, presence: shared.cluster }),
      });
      const accounts = new AccountService(store, {
        registrations: quota("registrations", resolved.maxRegistrationsPerIp),
        kdf: { ln: resolved.kdfLogN, r: 8, p: 1 },
        maxConcurrentHashes: resolved.maxConcurrentHashes,
        maxFailuresPerAccountPerHour: resolved.maxLoginFailuresPerAccount,
        maxFailuresPerIpPerHour: resolved.maxLoginFailuresPerIp,
        maxQueuedHashes: resolved.maxQueuedHashes,
        maxPasswordChecksPerIp: resolved.maxPasswordChecksPerIp,
        maxFailuresPerKnownAddressPerHour: resolved.maxLoginFailuresPerKnownAddress,
        knownLoginAddresses: resolved.knownLoginAddresses,
        knownLoginAddressMaxAgeMs: resolved.knownLoginAddressMaxAgeMs,
        ...(shared === null
          ? {}
          : { sharedFailures: new RedisLoginFailures(shared.store.redis, shared.store.keys) }),
      });
      const files = new FileService(
        broker,
        await openBlobStore(resolved, shared?.store),
        { ...fileLimits(resolved), linkSecret: await fileLinkSecret(shared?.store) },
      );
      const listeners = await openListeners(resolved);
      const discovery = openDiscovery(resolved, listeners);
      let maxLocalConnections: number | undefined;
      try {
        maxLocalConnections = fitToOpenFiles(resolved, { clustered: shared !== null });
      } catch (error) {
        for (const open of listeners) open.close();
        await discovery?.close();
        throw error;
      }
      const server = new ChatServer(listeners, resolved, {
        store,
        flushScheduler,
        broker,
        accounts,
        discovery,
        maxLocalConnections,
        ...(shared === null ? {} : { remote: shared.cluster }),
        files,
      });
      if (resolved.http !== null) {
        try {
          server.#http = HttpServer.open(server.#host(), parseHttpAddress(resolved.http));
        } catch (error) {
          await server.shutdown();
          throw error;
        }
      }
      server.#webhooks = await WebhookHub.start(webhookSettings(resolved), {
        store,
        broker,
        accounts,
        metrics: broker.metrics,
      });
      return server;
    } catch (error) {
      await shared?.cluster.close();
      await store.close();
      throw error;
    }
  }

  /** The TCP address listened on (the TLS one when TCP is off); throws with only a Unix socket. */
  get addr(): Deno.NetAddr {
    const open = this.#listeners.find((l) => l.kind === "tcp") ??
      this.#listeners.find((l) => l.kind === "tls");
    if (open === undefined) throw new TypeError("Cannot get addr: the server has no TCP listener");
    return open.addr as Deno.NetAddr;
  }

  /** Every listener's kind and address, in the order they were opened (TCP, TLS, Unix). */
  get listeners(): { kind: ListenerKind; addr: Deno.NetAddr | Deno.UnixAddr }[] {
    return this.#listeners.map(({ kind, addr }) => ({ kind, addr }));
  }

  /** The HTTP listener's address, or null without `http`. */
  get httpAddr(): Deno.NetAddr | null {
    return this.#http?.addr ?? null;
  }

  /** The HTTP side (routes, metrics), or null without `http`. */
  get http(): HttpServer | null {
    return this.#http;
  }

  /** The outgoing webhooks (docs/webhooks.md); null only while starting or after shutdown. */
  get webhooks(): WebhookHub | null {
    return this.#webhooks;
  }

  /** The UDP address answering discovery probes, or null when discovery is off. */
  get discoveryAddr(): Deno.NetAddr | null {
    return this.#discovery?.addr ?? null;
  }

  /** Aborted when shutdown begins. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Live counters. */
  get stats(): ServerStats {
    return {
      connections: this.#limiter.total,
      handshakes: this.#limiter.handshakes,
      users: this.broker.userCount,
      rooms: this.broker.roomCount,
      acceptErrors: this.#acceptErrors,
    };
  }

  /** Whether a shutdown is draining: listeners still open, `/readyz` answering 503. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Drains for `options.drainMs` (default: the server's `drainMs`), then
   * stops accepting, tells every client the server is going away, flushes
   * their queues (within the grace period) and resolves when all handlers
   * have finished. A later call with `drainMs: 0` ends a drain at once.
   */
  shutdown(options: { drainMs?: number } = {}): Promise<void> {
    const drainMs = options.drainMs ?? this.options.drainMs;
    if (this.#finished !== undefined) {
      if (drainMs === 0) this.#endDrain?.();
      return this.#finished;
    }
    return this.#finished = this.#shutdown(drainMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #shutdown(drainMs: number): Promise<void> {
    if (drainMs > 0) {
      // Still serving, only no longer ready: a load balancer moves new clients elsewhere.
      this.#draining = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.#endDrain = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#endDrain = undefined;
    }
    this.#abort.abort();
    clearInterval(this.#ticker);
    clearInterval(this.#retention);
    // Uploads in progress end with their connections.
    this.files.close();
    for (const open of this.#listeners) open.close();
    await Promise.all(this.#acceptLoops);
    await this.#discovery?.close();
    // Each stops reading, answers what it has in flight, then says bye.
    for (const session of this.#sessions.keys()) {
      void session.finish("server_shutdown", "Server is shutting down");
    }
    if (this.#openConnections > 0) {
      await new Promise<void>((resolve) => this.#allClosed = resolve);
    }
    // After the sessions: stopping HTTP drops WebSockets without their bye.
    await this.#http?.shutdown();
    await this.#pruning;
    await this.#sweepingRooms;
    await this.#webhooks?.close();
    this.#webhooks = null;
    await this.broker.close();
    await this.store.close();
  }

  /** Deletes history beyond the retention policy in small batches, yielding between them. */
  async #prune(): Promise<void> {
    const policy = {
      maxMessages: this.options.retentionMaxMessages,
      maxAgeMs: this.options.retentionMaxAgeMs,
    };
    try {
      let total = 0;
      for (let round = 0; round < 1000 && !this.#abort.signal.aborted; round++) {
        const deleted = await this.store.prune(policy, 1000);
        total += deleted;
        if (deleted < 1000) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (total > 0) this.#logger.debug("Retention removed {total} messages", { total });
      const contents = await this.files.prune();
      if (contents > 0) this.#logger.debug("Retention removed {contents} files", { contents });
    } catch (error) {
      this.#logger.error("Retention failed: {error}", { error });
    } finally {
      this.#pruning = undefined;
    }
  }

  /** Runs retention once now (tests and operators). */
  pruneNow(): Promise<void> {
    return this.#pruning ??= this.#prune();
  }

  async #accept(open: OpenListener): Promise<void> {
    let backoff = 5;
    while (!this.#abort.signal.aborted) {
      try {
        for await (const conn of open.listener) {
          backoff = 5;
          this.#serve(conn, open.kind);
        }
        return;
      } catch (error) {
        if (this.#abort.signal.aborted || error instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: keep serving existing clients, retry soon.
        this.#acceptErrors++;
        this.#logger.warn("Accept failed ({kind}), retrying in {backoff} ms: {error}", {
          kind: open.kind,
          backoff,
          error,
        });
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, ACCEPT_BACKOFF_MAX_MS);
      }
    }
  }

  /**
   * Serves one connection without the accept loop waiting on it: limits,
   * TLS handshake and mode sniffing, then callback-driven reads. Counted in
   * #openConnections until its transport is done with, so shutdown can wait.
   */
  #serve(conn: Deno.Conn, kind: ListenerKind): void {
    this.#openConnections++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (--this.#openConnections === 0) this.#allClosed?.();
    };
    this.#start(conn, kind, end).catch((error) => {
      this.#logger.error("Connection handler failed: {error}", { error });
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      end();
    });
  }

  async #start(conn: Deno.Conn, kind: ListenerKind, end: () => void): Promise<void> {
    // Every deadline of the handshake counts from here.
    const acceptedAt = performance.now();
    const remote = conn.remoteAddr;
    const ip = remote.transport === "tcp" || remote.transport === "udp"
      ? remote.hostname
      : UNIX_PEER;
    if (kind === "tcp") {
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
        (conn as Deno.TcpConn).setKeepAlive(true);
      } catch {
        // The peer may already be gone.
      }
    }
    const slot = await this.#admit(ip, (refusal) => this.#refuse(conn, refusal));
    if (slot === undefined) return end();
    this.broker.metrics.connectionOpened(kind);
    const done = () => {
      slot.release();
      this.broker.metrics.connectionClosed(kind);
      end();
    };
    try {
      // The TLS handshake completes before the greeting can go out.
      if (kind === "tls" && !(await this.#handshake(conn as Deno.TlsConn))) return done();
      const buffer = new Uint8Array(MIN_READ_BUFFER);
      // The first byte decides the mode, never a timer: frames start with 0x00
      // (a length under 16 MiB). A peer silent for a moment may be a person
      // waiting for a prompt: it is greeted in plain text, which framed
      // clients skip, and what it sends next still decides.
      const first = await readFirstBytes(conn, buffer, {
        promptDelayMs: this.options.textPromptDelayMs,
        greeting: this.#greeting,
        deadline: acceptedAt + this.options.handshakeTimeoutMs,
        signal: this.#abort.signal,
      });
      if (first.kind === "ended") {
        conn.close();
        return done();
      }
      const framed = first.kind === "bytes" && buffer[0] === 0;
      const session: Session = framed
        ? new FramedSession(conn, this.#context, ip)
        : new TextSession(conn, this.#context, ip);
      if (first.greeted && session instanceof TextSession) session.skipGreeting();
      session.acceptedAt = acceptedAt;
      this.#slots.set(session, slot);
      this.#sessions.set(session, kind);
      if (this.#abort.signal.aborted) {
        session.close("server_shutdown", "Server is shutting down");
      } else if (first.kind === "silent") {
        // Told in plain text: the peer was greeted so, and said nothing else.
        session.close(
          "handshake_timeout",
          `Nothing received within ${this.options.handshakeTimeoutMs} ms`,
        );
      } else {
        session.start();
      }
      this.#pump(conn, session, buffer, first.kind === "bytes" ? first.count : first.read, done);
    } catch (error) {
      done();
      throw error;
    }
  }

  /**
   * Feeds everything read from `conn` to `session`, one read at a time and
   * none while a request later ones depend on is running. Plain callbacks,
   * not an async loop: an idle connection then holds just its pending read.
   * Its buffer grows while reads fill it and shrinks back when they don't.
   */
  #pump(
    conn: Transport,
    session: Session,
    initial: Uint8Array,
    first: number | null | Promise<number | null>,
    done: () => void,
  ): void {
    const metrics = this.broker.metrics;
    let buffer = initial;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      // End of input (a half-close, a read error, or the transport closed):
      // answer what was read, then close.
      session.endOfInput();
      this.#sessions.delete(session);
      session.whenTransportClosed().then(done);
    };
    // Reads go on after the session closed (until the transport is), so
    // the session learns when the peer has closed its side.
    const next = () => {
      conn.read(buffer).then(step, fail);
    };
    const fail = () => step(null);
    const step = (count: number | null) => {
      if (count === null) return finish();
      session.lastSeen = performance.now();
      metrics.bytesIn += count;
      // Finishing or closed: what still comes is read and dropped.
      if (session.finishing) return next();
      const busy = session.receive(buffer.subarray(0, count));
      // The session keeps nothing of the chunk, so the buffer may change now.
      if (count === buffer.length && buffer.length < MAX_READ_BUFFER) {
        buffer = new Uint8Array(buffer.length * 4);
      } else if (count < MIN_READ_BUFFER && buffer.length > MIN_READ_BUFFER) {
        buffer = new Uint8Array(MIN_READ_BUFFER);
      }
      if (busy === undefined) next();
      else busy.then(next, next);
    };
    if (typeof first === "number" || first === null) step(first);
    else first.then(step, fail);
  }

  /** What the HTTP side may see and do of this server. */
  #host(): ChatHost {
    const sessions = this.#sessions;
    const draining = () => this.#draining;
    return {
      broker: this.broker,
      accounts: this.accounts,
      store: this.store,
      options: this.options,
      files: this.files,
      signal: this.#abort.signal,
      get draining() {
        return draining();
      },
      *sessions(): Iterable<SessionEntry> {
        for (const [session, transport] of sessions) yield { session, transport };
      },
      acceptWebSocket: (socket, ip) => this.#acceptWebSocket(socket, ip),
    };
  }

  /**
   * Serves a WebSocket as a framed session, counted against the same caps
   * as every other connection: one binary message per frame. Resolves once
   * the socket is admitted or refused; the upgrade completes only after
   * that, so no message can arrive before the session listens.
   */
  async #acceptWebSocket(socket: WebSocket, ip: string): Promise<void> {
    const transport = new WebSocketTransport(socket);
    const slot = await this.#admit(ip, (refusal) => {
      // Not waited for: the socket opens only once this resolves (the upgrade completes).
      transport.write(refusalBye(refusal)).then(
        () => socket.close(1013, "Try again later"),
        () => {},
      );
    });
    if (slot === undefined) return;
    this.#openConnections++;
    const metrics = this.broker.metrics;
    metrics.connectionOpened("ws");
    const session = new FramedSession(transport, this.#context, ip);
    this.#slots.set(session, slot);
    this.#sessions.set(session, "ws");
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#sessions.delete(session);
      slot.release();
      metrics.connectionClosed("ws");
      if (--this.#openConnections === 0) this.#allClosed?.();
    };
    // Counted until the session is done with the socket, as on TCP.
    session.whenTransportClosed().then(end);
    feedWebSocket(socket, session, {
      maxFrameBytes: this.options.maxFrameBytes,
      maxPendingBytes: this.options.maxQueueBytes,
      metrics,
      // The peer left: leave the broker as after end of input on TCP.
      onClose: () => session.close("quit", "Connection closed", "connection closed"),
    });
    if (this.#abort.signal.aborted) session.close("server_shutdown", "Server is shutting down");
    else session.start();
  }

  /**
   * Completes a TLS handshake within the handshake timeout; false (and
   * closed) if it fails, times out or the server shuts down meanwhile.
   */
  async #handshake(conn: Deno.TlsConn): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = () => {};
    const aborted = new Promise<"aborted">((resolve) => {
      onAbort = () => resolve("aborted");
      this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    });
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.options.handshakeTimeoutMs);
    });
    const done = conn.handshake().then(() => "done" as const, () => "failed" as const);
    let outcome = this.#abort.signal.aborted
      ? "aborted"
      : await Promise.race([done, timeout, aborted]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      // Deno keeps the socket of an unfinished TLS handshake open after
      // close() until the peer sends something or leaves, so the connection
      // stays counted against the caps until then (or until shutdown).
      outcome = await Promise.race([done, aborted]);
      if (outcome === "done") outcome = "timeout";
    }
    this.#abort.signal.removeEventListener("abort", onAbort);
    if (outcome === "done") return true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    return false;
  }

  /**
   * Counts a new connection from `ip` against the connection caps: its
   * slot, or undefined when it is over one. Every listener and the
   * WebSocket take this path: a refusal is logged here, and `tell` says it
   * to the peer in its transport's way (the same bye), before this resolves.
   */
  async #admit(
    ip: string,
    tell: (refusal: ChatError) => Promise<void> | void,
  ): Promise<ConnectionSlot | undefined> {
    try {
      // Without Redis the check is synchronous: no round trip to wait for.
      return this.#limiter.clustered ? await this.#limiter.admit(ip) : this.#limiter.acquire(ip);
    } catch (error) {
      const refusal = error as ChatError;
      this.#logRefusal(ip, refusal);
      await tell(refusal);
      return undefined;
    }
  }

  /** Logs a refusal at a cap: once a minute per address, with how many went unlogged. */
  #logRefusal(ip: string, error: ChatError): void {
    const suppressed = this.#refusalLog.sample(ipKey(ip));
    if (suppressed === undefined) return;
    if (suppressed === 0) {
      this.#logger.warn("Refused connection from {ip}: {reason}", { ip, reason: error.message });
    } else {
      this.#logger.warn(
        "Refused connection from {ip}: {reason} ({suppressed} more refused since the last such line)",
        { ip, reason: error.message, suppressed },
      );
    }
  }

  /**
   * Tells a TCP, TLS or Unix peer over a connection cap why, in its own
   * mode, then closes; past {@linkcode MAX_REFUSALS_IN_FLIGHT} refusals
   * waiting for a peer's first byte, closes at once.
   */
  async #refuse(conn: Deno.Conn, error: ChatError): Promise<void> {
    if (this.#refusals >= MAX_REFUSALS_IN_FLIGHT) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      return;
    }
    this.#refusals++;
    try {
      const buffer = new Uint8Array(1);
      const read = conn.read(buffer);
      const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000));
      const count = await Promise.race([read.catch(() => null), timeout]);
      const bytes = count !== null && buffer[0] === 0
        ? refusalBye(error)
        // A plain-text peer's last words, as a session's closing line reads.
        : new TextEncoder().encode(`*** Closing: ${error.code}: ${error.message}\r\n`);
      await conn.write(bytes);
    } catch {
      // The peer is gone; nothing to tell.
    } finally {
      this.#refusals--;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Deletes expired guest rooms; one sweep at a time. */
  #sweepRooms(): Promise<void> {
    return this.#sweepingRooms ??= this.broker.expireRooms().then(
      (count) => {
        if (count > 0) this.#logger.info("Deleted {count} empty guest rooms", { count });
      },
      (error) => this.#logger.warn("Could not delete expired rooms: {error}", { error }),
    ).finally(() => this.#sweepingRooms = undefined);
  }

  #tick(): void {
    const now = performance.now();
    const options = this.options;
    // A tenth of the TTL late at most, and never more often than each second.
    const sweepEvery = Math.min(60_000, Math.max(1000, options.guestRoomTtlMs / 10));
    if (now - this.#lastRoomSweep >= sweepEvery) {
      this.#lastRoomSweep = now;
      this.#sweepRooms();
    }
    const heartbeatDue = now - this.#lastHeartbeat >= options.heartbeatMs;
    if (heartbeatDue) this.#lastHeartbeat = now;
    for (const session of this.#sessions.keys()) {
      if (session.closed) continue;
      if (!session.loggedIn) {
        if (now - session.acceptedAt >= session.handshakeTimeoutMs) {
          session.close("handshake_timeout", `No login within ${session.handshakeTimeoutMs} ms`);
        }
        continue;
      }
      if (!session.heartbeats) continue;
      const idle = now - session.lastSeen;
      // The drop is checked at every tick (3 intervals, not 3 to 4); pings go once an interval.
      if (idle >= 3 * options.heartbeatMs) {
        session.abort(`no reply to pings for ${Math.round(idle)} ms`, "ping_timeout");
      } else if (heartbeatDue && idle >= options.heartbeatMs) {
        session.ping();
      }
    }
  }
}

/**
 * Fits the connection cap into the open file limit, as Redis does with
 * maxclients: lowers `options.maxConnections` (alone) or returns this
 * instance's own cap (with Redis, where `maxConnections` counts every
 * instance's connections), with a warning; undefined when all fit or the
 * limit is unknown. Throws when not one connection fits.
 */
function fitToOpenFiles(
  options: ServerOptions,
  { clustered }: { clustered: boolean },
): number | undefined {
  const files = readOpenFiles();
  if (files === null) return undefined;
  const wanted = options.maxConnections;
  const { allowed, kept } = fitConnections(wanted, files);
  if (allowed === wanted) return undefined;
  const why = "the open file limit (ulimit -n) is {limit} and the server keeps {kept} " +
    "descriptors for itself; raise the limit (systemd: LimitNOFILE=) to allow more";
  const logger = getLogger(["chat", "server"]);
  if (!clustered) {
    options.maxConnections = allowed;
    logger.warn(`--max-connections lowered from {wanted} to {allowed}: ${why}`, {
      wanted,
      allowed,
      limit: files.limit,
      kept,
    });
    return undefined;
  }
  logger.warn(
    `This instance takes at most {allowed} of the --max-connections {wanted} of all instances: ${why}`,
    { wanted, allowed, limit: files.limit, kept },
  );
  return allowed;
}

/** Starts answering discovery probes if asked to; a port it cannot bind only costs discovery. */
function openDiscovery(
  options: ServerOptions,
  listeners: OpenListener[],
): DiscoveryResponder | null {
  if (!options.discovery) return null;
  const port = (kind: ListenerKind) => {
    const open = listeners.find((l) => l.kind === kind);
    return open === undefined ? null : (open.addr as Deno.NetAddr).port;
  };
  try {
    return DiscoveryResponder.open({
      name: options.serverName ?? hostname(),
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      tcp: port("tcp"),
      tls: port("tls"),
    }, { hostname: options.host, port: options.discoveryPort });
  } catch (error) {
    getLogger(["chat", "server"]).warn(
      "LAN discovery is off: cannot answer on udp {host}:{port}: {error}",
      { host: options.host, port: options.discoveryPort, error },
    );
    return null;
  }
}

/** The framed bye that tells a peer over a connection cap why (text-mode peers get it as a line). */
function refusalBye(refusal: ChatError): Uint8Array {
  return encodeFrame({ type: "bye", code: refusal.code, message: refusal.message });
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    // No --allow-sys: a generic name still lets clients list the server.
    return "chat";
  }
}

/** The webhooks' settings from the server's options. */
function webhookSettings(options: ServerOptions): WebhookHubSettings {
  return {
    reloadMs: options.webhookReloadMs,
    timeoutMs: options.webhookTimeoutMs,
    maxResponseBytes: options.webhookMaxResponseBytes,
    queueSize: options.webhookQueueSize,
    maxAttempts: options.webhookMaxAttempts,
    retry: { baseMs: options.webhookRetryBaseMs, maxMs: options.webhookRetryMaxMs },
    breaker: {
      threshold: options.webhookBreakerFailures,
      cooldownMs: options.webhookBreakerCooldownMs,
    },
    maxBodyLength: options.maxBodyLength,
    ratePerSecond: options.ratePerSecond,
    rateBurst: options.rateBurst,
  };
}
