/**
 * The HTTP listener of `chat serve --http HOST:PORT` (Deno.serve): health
 * checks, Prometheus metrics, the REST API, the WebSocket endpoint, the web
 * client and the admin dashboard, all on one port.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { protocolJsonSchema } from "../../shared/protocol.ts";
import { VERSION } from "../../shared/version.ts";
import { addAdminRoutes } from "./admin_routes.ts";
import { AdminSessions } from "./admin_sessions.ts";
import { ApiBots } from "./api_bots.ts";
import { ApiKeyService } from "./api_key_service.ts";
import { addApiRoutes } from "./api_routes.ts";
import type { ChatHost } from "./chat_host.ts";
import { CorsPolicy } from "./cors_policy.ts";
import { EventLoopLag } from "./event_loop_lag.ts";
import type { HttpAddress } from "./http_address.ts";
import { errorResponse, HttpError } from "./http_error.ts";
import { type LogRing, RECENT_LOGS } from "./log_ring.ts";
import { MessageRate } from "./message_rate.ts";
import { MetricsExporter } from "./metrics_exporter.ts";
import { OPENAPI_DOCUMENT } from "./openapi.ts";
import { type RouteEntry, Router } from "./router.ts";
import { TrustedProxies } from "./trusted_proxies.ts";
import { addWebRoutes } from "./web_routes.ts";

/** docs/protocol.schema.json, as this build's definitions make it (a test keeps the file equal). */
const PROTOCOL_SCHEMA_TEXT = JSON.stringify(protocolJsonSchema());

// A readiness probe must answer even when the store hangs.
const READY_TIMEOUT_MS = 2000;
// Reopening a listener that failed (EMFILE) backs off up to this.
const REOPEN_BACKOFF_MAX_MS = 1000;

/** Options for {@linkcode HttpServer.open}. */
export interface HttpServerOptions {
  /** Where the dashboard reads recent log lines (default: the ring `chat serve` logs into). */
  logs?: LogRing;
}

/**
 * The running HTTP side of one chat server.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { HttpServer } from "./http_server.ts";
 * const http = HttpServer.open(host, { hostname: "127.0.0.1", port: 0 });
 * assert.ok(http.addr.port > 0); // a free one
 * await http.shutdown();
 * ```
 */
export class HttpServer {
  readonly router: Router = new Router();
  readonly exporter: MetricsExporter;
  #host: ChatHost;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #logger: Logger = getLogger(["chat", "http"]);
  #cors: CorsPolicy;
  #proxies: TrustedProxies;
  #bots: ApiBots;
  #lag = new EventLoopLag();
  #rate: MessageRate;
  #startedAt = Date.now();
  #closed: Promise<void> | undefined;
  #reopenBackoff = 5;
  #reopenTimer: ReturnType<typeof setTimeout> | undefined;
  // Servers whose listener failed: their connections are still served until shutdown.
  #failed: Deno.HttpServer<Deno.NetAddr>[] = [];

  private constructor(host: ChatHost, address: HttpAddress, options: HttpServerOptions) {
    this.#host = host;
    const metrics = host.broker.metrics;
    this.#cors = new CorsPolicy(host.options.httpCorsOrigins);
    this.#proxies = new TrustedProxies(host.options.trustedProxies);
    this.#bots = new ApiBots(host.broker, host.accounts);
    this.#rate = new MessageRate(() => metrics.messagesIn);
    this.exporter = new MetricsExporter({
      metrics,
      lag: this.#lag,
      stats: () => ({ users: host.broker.userCount, rooms: host.broker.roomCount }),
      queuedBytes: () => {
        let total = 0;
        for (const { session } of host.sessions()) total += session.queuedBytes;
        return total;
      },
    });
    this.#routes(options);
    try {
      this.#server = this.#listen(address);
    } catch (error) {
      this.#stopTimers();
      this.#bots.close();
      if (error instanceof Error) {
        error.message =
          `Cannot listen on http ${address.hostname}:${address.port}: ${error.message}`;
      }
      throw error;
    }
  }

  /** Starts serving `host` on `address`; throws (AddrInUse...) when it cannot listen. */
  static open(host: ChatHost, address: HttpAddress, options: HttpServerOptions = {}): HttpServer {
    return new HttpServer(host, address, options);
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Every route served (the OpenAPI document lists the same). */
  get routes(): RouteEntry[] {
    return this.router.routes;
  }

  /**
   * Takes the API bots offline and stops serving; call once the chat
   * sessions are closed (stopping also drops open WebSockets).
   */
  shutdown(): Promise<void> {
    return this.#closed ??= (async () => {
      this.#bots.close();
      this.#stopTimers();
      clearTimeout(this.#reopenTimer);
      const servers = new Set([...this.#failed, this.#server]);
      await Promise.all([...servers].map((server) => server.shutdown()));
    })();
  }

  /**
   * Starts Deno.serve on `address`. When its accept loop fails (EMFILE: out
   * of file descriptors), Deno.serve closes the listener and rejects
   * `finished`, which, unhandled, would end the process: the listener is
   * reopened instead, backing off, as the chat listeners' accept loops do.
   */
  #listen(address: HttpAddress): Deno.HttpServer<Deno.NetAddr> {
    const server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      onListen: () => {},
    }, (request, info) => this.#handle(request, info));
    server.finished.catch((error) => {
      this.#failed.push(server);
      this.#reopen(server.addr, error);
    });
    return server;
  }

  #reopen(address: HttpAddress, error: unknown): void {
    if (this.#closed !== undefined) return;
    const backoff = this.#reopenBackoff;
    this.#reopenBackoff = Math.min(backoff * 2, REOPEN_BACKOFF_MAX_MS);
    this.#logger.warn("HTTP listener failed, reopening it in {backoff} ms: {error}", {
      backoff,
      error,
    });
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = undefined;
      if (this.#closed !== undefined) return;
      try {
        // The port it had, even if it was asked for port 0.
        this.#server = this.#listen(address);
      } catch (error) {
        this.#reopen(address, error);
      }
    }, backoff);
  }

  #stopTimers(): void {
    this.#lag[Symbol.dispose]();
    this.#rate[Symbol.dispose]();
  }

  #routes(options: HttpServerOptions): void {
    const host = this.#host;
    const metrics = host.broker.metrics;
    this.router
      .add("GET", "/healthz", () =>
        Response.json({
          status: "ok",
          version: VERSION,
          uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
        }))
      .add("GET", "/readyz", () => this.#ready())
      .add("GET", "/metrics", async () =>
        new Response(await this.exporter.text(), {
          headers: { "content-type": this.exporter.contentType, "cache-control": "no-store" },
        }))
      .add("GET", "/api/openapi.json", () => Response.json(OPENAPI_DOCUMENT))
      .add("GET", "/api/protocol.schema.json", () =>
        new Response(PROTOCOL_SCHEMA_TEXT, {
          headers: { "content-type": "application/schema+json" },
        }));
    addApiRoutes(this.router, {
      host,
      apiKeys: new ApiKeyService(host.store),
      bots: this.#bots,
      metrics,
      logger: this.#logger,
    });
    this.router.add("GET", "/ws", (request, { ip }) => this.#webSocket(request, ip));
    addWebRoutes(this.router);
    addAdminRoutes(this.router, {
      host,
      logins: new AdminSessions(),
      metrics,
      rate: this.#rate,
      logs: options.logs ?? RECENT_LOGS,
      logger: this.#logger,
      startedAt: this.#startedAt,
    });
  }

  async #ready(): Promise<Response> {
    const accepting = !this.#host.signal.aborted;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    });
    const [store, commits] = await Promise.race([
      Promise.all([
        this.#host.store.ping().catch(() => false),
        this.#host.broker.storeHealth.writable(),
      ]),
      timeout.then((): [boolean, boolean] => [false, !this.#host.broker.storeHealth.failing]),
    ]);
    clearTimeout(timer);
    const draining = this.#host.draining;
    const ready = accepting && !draining && store && commits;
    return Response.json({
      status: ready ? "ready" : "unavailable",
      checks: {
        accepting,
        draining,
        store,
        commits,
        storeKind: this.#host.options.redis === null ? "sqlite" : "redis",
      },
    }, { status: ready ? 200 : 503, headers: { "cache-control": "no-store" } });
  }

  async #webSocket(request: Request, ip: string): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      throw new ChatError("bad_request", "GET /ws needs a WebSocket upgrade");
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    // The handshake completes when the response is returned: admitted or
    // refused first, so the session hears every message.
    await this.#host.acceptWebSocket(socket, ip);
    return response;
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    // A request came in: the listener works, a later failure backs off from the start.
    this.#reopenBackoff = 5;
    // Read before anything else: after a WebSocket upgrade the request is gone.
    const peer = info.remoteAddr.hostname;
    // Through a trusted proxy, the client is who it says: caps and logs count them.
    const ip = this.#proxies.clientAddress(peer, request.headers.get("x-forwarded-for"));
    const started = performance.now();
    const url = new URL(request.url);
    const api = url.pathname.startsWith("/api/");
    let response: Response;
    try {
      if (request.method === "OPTIONS" && api) {
        response = this.#cors.preflight(request);
      } else {
        const method = request.method === "HEAD" ? "GET" : request.method;
        const { handler, params } = this.router.match(method, url.pathname);
        response = await handler(request, { url, params, ip });
      }
    } catch (error) {
      if (
        !(error instanceof ChatError) && !(error instanceof HttpError)
      ) {
        this.#logger.error("{method} {path} failed: {error}", {
          method: request.method,
          path: url.pathname,
          error,
        });
      }
      response = errorResponse(error);
    }
    if (response.status === 101) return response;
    const headers = response.headers;
    headers.set("x-content-type-options", "nosniff");
    headers.set("referrer-policy", "no-referrer");
    headers.set("x-frame-options", "DENY");
    if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
    if (api) {
      for (
        const [name, value] of Object.entries(this.#cors.headers(request.headers.get("origin")))
      ) {
        headers.set(name, value);
      }
    }
    this.#logger.debug(
      `{method} {path} {status} in {ms} ms from {ip}${ip === peer ? "" : " via {peer}"}`,
      {
        method: request.method,
        path: url.pathname,
        status: response.status,
        ms: Math.round(performance.now() - started),
        ip,
        peer,
      },
    );
    if (request.method === "HEAD") {
      return new Response(null, { status: response.status, headers });
    }
    return response;
  }
}
