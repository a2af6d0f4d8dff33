/**
 * The admin dashboard's API: login with an admin account's password, then
 * a cookie session (see admin_sessions.ts). Cross-site request forgery is
 * kept out three ways: the cookie is SameSite=Strict, every state change is
 * a POST with a JSON body (which a cross-site form cannot send, and a
 * cross-site script cannot send without a CORS preflight this path never
 * grants), and such POSTs must come from this origin (Origin and
 * Sec-Fetch-Site are checked when the browser sends them).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { isServerAdmin } from "../accounts/server_admin.ts";
import { VERSION } from "../../shared/version.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import { ADMIN_COOKIE, type AdminSessions, readCookie } from "./admin_sessions.ts";
import { type ChatHost, describeSession } from "./chat_host.ts";
import { HttpError } from "./http_error.ts";
import type { LogRing } from "./log_ring.ts";
import type { MessageRate } from "./message_rate.ts";
import { readJsonObject } from "./request_body.ts";
import type { RouteContext, Router } from "./router.ts";

/** What the dashboard's routes use. */
export interface AdminDependencies {
  host: ChatHost;
  logins: AdminSessions;
  metrics: ServerMetrics;
  rate: MessageRate;
  logs: LogRing;
  logger: Logger;
  /** When the server started (ms since the epoch). */
  startedAt: number;
}

/**
 * Refuses a request a browser made from another site: its Origin, when
 * present, must be this host, and Sec-Fetch-Site, when present, same-origin.
 *
 * @example
 * ```ts
 * import { checkSameOrigin } from "./admin_routes.ts";
 * checkSameOrigin(new Request("http://chat.local/admin/login", {
 *   method: "POST", headers: { origin: "http://chat.local" },
 * })); // passes
 * ```
 */
export function checkSameOrigin(request: Request): void {
  const site = request.headers.get("sec-fetch-site");
  const origin = request.headers.get("origin");
  const host = request.headers.get("host") ?? new URL(request.url).host;
  let originHost: string | undefined;
  try {
    originHost = origin === null ? host : new URL(origin).host;
  } catch {
    originHost = undefined;
  }
  if ((site !== null && site !== "same-origin") || originHost !== host) {
    throw new ChatError("forbidden", "The dashboard only answers its own pages (same origin)");
  }
}

/**
 * Adds `/admin/login`, `/admin/logout` and `/admin/api/...` to `router`.
 *
 * @example
 * ```ts ignore
 * import { addAdminRoutes } from "./admin_routes.ts";
 * addAdminRoutes(router, { host, logins, metrics, rate, logs, logger, startedAt: Date.now() });
 * ```
 */
export function addAdminRoutes(router: Router, deps: AdminDependencies): void {
  const { host, logins, metrics, rate, logs, logger } = deps;
  const { broker, accounts, options } = host;
  const json = (request: Request) =>
    readJsonObject(request, { maxBytes: options.httpMaxBodyBytes });

  /** The admin logged in by the request's cookie, still an admin; else 401. */
  const admin = async (request: Request): Promise<string> => {
    const name = logins.verify(readCookie(request.headers.get("cookie"), ADMIN_COOKIE));
    const account = name === undefined ? undefined : await accounts.get(name);
    if (account === undefined || !isServerAdmin({ account, admins: options.admins })) {
      throw new HttpError("unauthorized", 401, "Log in with a server admin account");
    }
    return account.name;
  };

  const login = async (request: Request, { ip }: RouteContext) => {
    checkSameOrigin(request);
    const body = await json(request);
    if (typeof body.name !== "string" || typeof body.password !== "string") {
      throw new ChatError("bad_request", 'Send {"name": "...", "password": "..."}');
    }
    let account;
    try {
      account = await accounts.authenticate(body.name, body.password, ip);
    } catch (error) {
      if (error instanceof ChatError && error.code === "auth_failed") {
        metrics.authFailures++;
        // Neither the password nor the name typed: a name field may hold a password.
        logger.warn("Failed dashboard login from {ip}", { ip });
      }
      throw error;
    }
    if (!isServerAdmin({ account, admins: options.admins })) {
      throw new ChatError("forbidden", `${account.name} is not a server admin`);
    }
    logger.info("{name} logged in to the dashboard from {ip}", { name: account.name, ip });
    const token = logins.create(account.name);
    return Response.json({ name: account.name }, {
      headers: { "set-cookie": logins.cookie(token) },
    });
  };

  const logout = async (request: Request) => {
    checkSameOrigin(request);
    await json(request);
    logins.revoke(readCookie(request.headers.get("cookie"), ADMIN_COOKIE));
    return Response.json({}, { headers: { "set-cookie": logins.cookie(undefined) } });
  };

  const overview = async (request: Request) => {
    const name = await admin(request);
    const sessions = [...host.sessions()].map(describeSession);
    const byTransport: Record<string, number> = {};
    for (const [transport, open] of metrics.connectionsOpen) byTransport[transport] = open;
    const [rooms, users] = await Promise.all([broker.rooms(), broker.users()]);
    return Response.json({
      admin: name,
      server: {
        version: VERSION,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
        shared: broker.shared,
      },
      connections: { total: sessions.length, byTransport },
      rooms,
      users,
      messages: {
        total: metrics.messagesIn,
        ratePerSecond: Math.round(rate.average(10) * 100) / 100,
        perSecond: rate.perSecond(),
      },
      sessions: { sessions: sessions.slice(0, 500), total: sessions.length },
      logs: logs.lines(100),
    }, { headers: { "cache-control": "no-store" } });
  };

  const disconnect = async (request: Request, { params }: RouteContext) => {
    checkSameOrigin(request);
    const name = await admin(request);
    await json(request);
    const entry = [...host.sessions()].find(({ session }) => session.id === params.id);
    if (entry === undefined || entry.session.finishing) {
      throw new HttpError("not_found", 404, `No session ${params.id} on this instance`);
    }
    const { session } = entry;
    logger.info("{admin} disconnected {nick} (session {session}) from the dashboard", {
      admin: name,
      nick: session.nick || "(not logged in)",
      session: session.id,
    });
    // Like any close on purpose: the requests started are answered before the bye.
    void session.finish("forbidden", "Disconnected by a server admin", `disconnected by ${name}`);
    return Response.json({ id: session.id, nick: session.nick });
  };

  router
    .add("POST", "/admin/login", login)
    .add("POST", "/admin/logout", logout)
    .add("GET", "/admin/api/overview", overview)
    .add("POST", "/admin/api/sessions/{id}/disconnect", disconnect);
}
