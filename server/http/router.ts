/**
 * A small router: routes are written as OpenAPI paths (`/api/v1/rooms/{room}`)
 * so the list of routes can be compared with the OpenAPI document as it is.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

/** What a handler gets besides the request. */
export interface RouteContext {
  /** The request's URL, parsed. */
  readonly url: URL;
  /** Path parameters, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The peer's address. */
  readonly ip: string;
}

/** Answers one request. */
export type Handler = (request: Request, context: RouteContext) => Response | Promise<Response>;

/** A route as listed: method and OpenAPI path. */
export interface RouteEntry {
  method: string;
  path: string;
}

interface Route extends RouteEntry {
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Routes by method and path; `{name}` matches one path segment.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Router } from "./router.ts";
 * const router = new Router().add("GET", "/rooms/{room}", (_request, { params }) =>
 *   Response.json(params));
 * const found = router.match("GET", "/rooms/general");
 * assert.deepEqual(found.params, { room: "general" });
 * ```
 */
export class Router {
  #routes: Route[] = [];

  /** Adds a route; returns the router. */
  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path.split("/").map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(param[1]!);
      return "([^/]+)";
    }).join("/");
    this.#routes.push({ method, path, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Every route, in the order added. */
  get routes(): RouteEntry[] {
    return this.#routes.map(({ method, path }) => ({ method, path }));
  }

  /**
   * The handler and parameters for `method` and `pathname`; throws
   * `not_found` (404) or `method_not_allowed` (405, with Allow).
   */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const found = route.pattern.exec(pathname);
      if (found === null) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [index, name] of route.names.entries()) {
        try {
          params[name] = decodeURIComponent(found[index + 1]!);
        } catch {
          throw new HttpError("not_found", 404, `Bad percent-encoding in ${pathname}`);
        }
      }
      return { handler: route.handler, params };
    }
    if (allowed.length > 0) {
      throw new HttpError(
        "method_not_allowed",
        405,
        `${method} is not allowed on ${pathname}: use ${allowed.join(", ")}`,
        { headers: { allow: allowed.join(", ") } },
      );
    }
    throw new HttpError("not_found", 404, `No such resource: ${pathname}`);
  }
}
