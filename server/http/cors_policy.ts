/**
 * CORS for the REST API: closed unless origins are configured. Only
 * `/api/` answers cross-origin requests; API keys travel in a header, never
 * in cookies, so allowed origins get no credentials.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

const ALLOWED_METHODS = "GET, POST, DELETE";
const ALLOWED_HEADERS = "authorization, content-type";

/**
 * Which origins may call the API from a browser.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CorsPolicy } from "./cors_policy.ts";
 * const cors = new CorsPolicy(["https://ops.example"]);
 * assert.deepEqual(cors.headers("https://ops.example"), {
 *   "access-control-allow-origin": "https://ops.example",
 *   "access-control-expose-headers": "retry-after",
 *   vary: "Origin",
 * });
 * assert.deepEqual(cors.headers("https://evil.example"), {});
 * ```
 */
export class CorsPolicy {
  #origins: ReadonlySet<string>;
  #any: boolean;

  constructor(origins: readonly string[]) {
    this.#origins = new Set(origins);
    this.#any = this.#origins.has("*");
  }

  /** Whether `origin` may call the API. */
  allows(origin: string): boolean {
    return this.#any || this.#origins.has(origin);
  }

  /** Headers for a response to a request from `origin` (none when it is not allowed). */
  headers(origin: string | null): Record<string, string> {
    if (origin === null || !this.allows(origin)) return {};
    return {
      "access-control-allow-origin": this.#any ? "*" : origin,
      "access-control-expose-headers": "retry-after",
      vary: "Origin",
    };
  }

  /** The answer to a preflight request: 204 with the rules, or 403 `cors_refused`. */
  preflight(request: Request): Response {
    const origin = request.headers.get("origin");
    if (origin === null || !this.allows(origin)) {
      throw new HttpError(
        "cors_refused",
        403,
        `Origin ${origin ?? "(none)"} may not call this API (see --http-cors-origin)`,
      );
    }
    return new Response(null, {
      status: 204,
      headers: {
        ...this.headers(origin),
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": "600",
      },
    });
  }
}
