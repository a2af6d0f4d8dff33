/**
 * Resume tokens: the secret a `welcome` hands out so that the client's next
 * connection can take the session over (a connection that died silently
 * would otherwise hold the nickname until its heartbeat runs out). A token
 * is random (a UUID: 122 random bits), one per session, so one per welcome;
 * what is compared, and kept in Redis, is its hash.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * The SHA-256 of a token, hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeHashOf } from "./resume_token.ts";
 * const token = crypto.randomUUID();
 * assert.deepEqual([resumeHashOf(token).length, resumeHashOf(token) === resumeHashOf(token)], [64, true]);
 * ```
 */
export function resumeHashOf(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
