/**
 * The web client (`/`) and the admin dashboard (`/admin`): static files
 * imported as text, so they are part of the module graph and `deno compile`
 * puts them in the binary. No CDN: the pages load only what is served here,
 * and their Content-Security-Policy says so.
 *
 * @module
 */
import { createHash } from "node:crypto";
import ADMIN_HTML from "./assets/admin.html" with { type: "text" };
import ADMIN_JS from "./assets/admin.js" with { type: "text" };
import CHAT_JS from "./assets/chat.js" with { type: "text" };
import CHAT_WIRE_JS from "./assets/chat_wire.js" with { type: "text" };
import INDEX_HTML from "./assets/index.html" with { type: "text" };
import MESSAGE_VIEW_JS from "./assets/message_view.js" with { type: "text" };
import MSGPACK_JS from "./assets/msgpack.js" with { type: "text" };
import STYLE_CSS from "./assets/style.css" with { type: "text" };
import VISIBLE_JS from "./assets/visible.js" with { type: "text" };
import type { Router } from "./router.ts";

/** The pages' policy: own scripts, styles and WebSocket only; no frames, no inline code. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: string;
  type: string;
  etag: string;
}

function asset(body: string, type: string): Asset {
  const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
  return { body, type, etag };
}

/** Every file served, by path. */
export const WEB_ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", asset(INDEX_HTML, "text/html; charset=utf-8")],
  ["/admin", asset(ADMIN_HTML, "text/html; charset=utf-8")],
  ["/assets/chat.js", asset(CHAT_JS, "text/javascript; charset=utf-8")],
  ["/assets/chat_wire.js", asset(CHAT_WIRE_JS, "text/javascript; charset=utf-8")],
  ["/assets/admin.js", asset(ADMIN_JS, "text/javascript; charset=utf-8")],
  ["/assets/message_view.js", asset(MESSAGE_VIEW_JS, "text/javascript; charset=utf-8")],
  ["/assets/msgpack.js", asset(MSGPACK_JS, "text/javascript; charset=utf-8")],
  ["/assets/visible.js", asset(VISIBLE_JS, "text/javascript; charset=utf-8")],
  ["/assets/style.css", asset(STYLE_CSS, "text/css; charset=utf-8")],
]);

/**
 * Adds a GET route for each of {@linkcode WEB_ASSETS}; answers 304 when the
 * browser's copy is current.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Router } from "./router.ts";
 * import { addWebRoutes } from "./web_routes.ts";
 * const router = new Router();
 * addWebRoutes(router);
 * assert.equal(router.routes.some((route) => route.path === "/admin"), true);
 * ```
 */
export function addWebRoutes(router: Router): void {
  for (const [path, { body, type, etag }] of WEB_ASSETS) {
    router.add("GET", path, (request) => {
      const headers: Record<string, string> = {
        "content-type": type,
        etag,
        // Revalidate every time: an upgraded binary serves new files at once.
        "cache-control": "no-cache",
      };
      if (type.startsWith("text/html")) {
        headers["content-security-policy"] = CONTENT_SECURITY_POLICY;
      }
      if (request.headers.get("if-none-match") === etag) {
        return new Response(null, { status: 304, headers });
      }
      return new Response(body, { headers });
    });
  }
}
