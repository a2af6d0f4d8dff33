/**
 * Domain errors that carry a stable machine code and know how to become a
 * wire reply.
 *
 * @module
 */

/** Every machine code the server or client may put in an `error` frame. */
export const ERROR_CODES = [
  "bad_frame",
  "frame_too_large",
  "bad_request",
  "invalid_utf8",
  "unsupported_version",
  "hello_required",
  "handshake_timeout",
  "invalid_name",
  "invalid_room",
  "invalid_body",
  "name_taken",
  "rate_limited",
  "flood",
  "not_in_room",
  "no_such_user",
  "no_such_room",
  "unknown_command",
  "too_many_connections",
  "slow_consumer",
  "ping_timeout",
  "server_shutdown",
  "replaced",
  "quit",
  "auth_failed",
  "auth_required",
  "invalid_password",
  "forbidden",
  "banned",
  "muted",
  "invite_only",
  "bad_key",
  "too_many_rooms",
  "msg_id_conflict",
  // Message changes (section 21).
  "no_such_message",
  "too_many_reactions",
  "storage",
  "server_busy",
  // Files (docs/protocol.md section 23).
  "file_too_large",
  "quota_exceeded",
  "no_such_file",
  "upload_failed",
  "unsupported",
  "internal",
] as const;

/** A stable machine-readable error code. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Options for {@linkcode ChatError}. */
export interface ChatErrorOptions {
  /** Milliseconds after which a retry may succeed (for `rate_limited`). */
  retryAfterMs?: number;
  /** The underlying cause, never sent on the wire. */
  cause?: unknown;
}

/**
 * An error with a stable code that can be sent to a peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChatError } from "./errors.ts";
 * const error = new ChatError("name_taken", "Nickname alice is already in use");
 * assert.deepEqual(error.toWire(7), {
 *   type: "error",
 *   id: 7,
 *   code: "name_taken",
 *   message: "Nickname alice is already in use",
 * });
 * ```
 */
export class ChatError extends Error {
  /** The stable machine code. */
  readonly code: ErrorCode;
  /** Milliseconds after which a retry may succeed. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: ChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ChatError";
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The `error` frame that reports this error for request `id` (if any). */
  toWire(id?: number): ErrorFrame {
    const frame: ErrorFrame = { type: "error", code: this.code, message: this.message };
    if (id !== undefined) frame.id = id;
    if (this.retryAfterMs !== undefined) frame.retryAfterMs = this.retryAfterMs;
    return frame;
  }
}

/** The wire shape of an error reply. */
export interface ErrorFrame {
  type: "error";
  id?: number;
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
}

/** Whether `code` is one of {@linkcode ERROR_CODES}. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);
}
