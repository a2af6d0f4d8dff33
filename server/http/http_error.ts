/**
 * Errors of the HTTP side in one JSON shape,
 * `{"error": {"code": "...", "message": "..."}}`: chat errors keep their
 * code and get the HTTP status that fits it; failures of HTTP itself (no
 * such route, body too large) are {@linkcode HttpError}s.
 *
 * @module
 */
import { ChatError, type ErrorCode } from "../../shared/errors.ts";

/** Codes of failures that belong to HTTP rather than to the chat. */
export const HTTP_ERROR_CODES = [
  "not_found",
  "method_not_allowed",
  "payload_too_large",
  "unsupported_media_type",
  "unauthorized",
  "cors_refused",
  "not_ready",
] as const;

/** A code of {@linkcode HTTP_ERROR_CODES}. */
export type HttpErrorCode = typeof HTTP_ERROR_CODES[number];

/**
 * A failure of the HTTP layer, with its status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpError } from "./http_error.ts";
 * const error = new HttpError("not_found", 404, "No route GET /nope");
 * assert.deepEqual([error.status, error.code], [404, "not_found"]);
 * ```
 */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly status: number;
  /** Extra response headers (Allow, WWW-Authenticate). */
  readonly headers: Record<string, string>;

  constructor(
    code: HttpErrorCode,
    status: number,
    message: string,
    options: { headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.code = code;
    this.status = status;
    this.headers = options.headers ?? {};
  }
}

// What each chat error means over HTTP; anything unlisted is a bad request.
const STATUS: Partial<Record<ErrorCode, number>> = {
  auth_failed: 401,
  auth_required: 401,
  forbidden: 403,
  banned: 403,
  muted: 403,
  invite_only: 403,
  bad_key: 403,
  not_in_room: 403,
  no_such_user: 404,
  no_such_room: 404,
  no_such_message: 404,
  too_many_reactions: 409,
  name_taken: 409,
  frame_too_large: 413,
  file_too_large: 413,
  no_such_file: 404,
  quota_exceeded: 403,
  unsupported: 501,
  rate_limited: 429,
  flood: 429,
  internal: 500,
  storage: 503,
  server_busy: 503,
  too_many_connections: 503,
  server_shutdown: 503,
};

/**
 * The HTTP status of a chat error code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusOf } from "./http_error.ts";
 * assert.deepEqual([statusOf("no_such_room"), statusOf("invalid_body")], [404, 400]);
 * ```
 */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

/**
 * The JSON error response for `error`: its code, message and status; an
 * unexpected error is an `internal` 500 that says nothing of its cause.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse } from "./http_error.ts";
 * import { ChatError } from "../../shared/errors.ts";
 * const response = errorResponse(new ChatError("no_such_room", "No room #x"));
 * assert.equal(response.status, 404);
 * ```
 */
export function errorResponse(error: unknown): Response {
  let status = 500;
  let code: string = "internal";
  let message = "Internal error; the request was not completed";
  const headers: Record<string, string> = {};
  const body: { code: string; message: string; retryAfterMs?: number } = { code, message };
  if (error instanceof HttpError) {
    ({ status, code, message } = error);
    Object.assign(headers, error.headers);
  } else if (error instanceof ChatError) {
    ({ code, message } = error);
    status = statusOf(error.code);
    if (error.retryAfterMs !== undefined) {
      body.retryAfterMs = error.retryAfterMs;
      headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    }
  }
  body.code = code;
  body.message = message;
  return Response.json({ error: body }, { status, headers });
}
