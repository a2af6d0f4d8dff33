/**
 * Resume tokens: the secret a `welcome` hands out so that the client's next
 * connection can take the session over (a connection that died silently
 * would otherwise hold the nickname until its heartbeat runs out). The
 * server keeps only the token's hash, and every welcome brings a new token.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

/** A new token and what the server keeps of it. */
export interface ResumeToken {
  /** The secret, sent to the client once (base64url, 24 characters). */
  readonly token: string;
  /** Its hash (see {@linkcode resumeHashOf}): how sessions are matched. */
  readonly hash: string;
}

/**
 * A new random resume token.
 *
 * @example
 * ```ts
 * import { newResumeToken, resumeHashOf } from "./resume_token.ts";
 * const { token, hash } = newResumeToken();
 * console.log(token.length, resumeHashOf(token) === hash); // 24 true
 * ```
 */
export function newResumeToken(): ResumeToken {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
  return { token, hash: resumeHashOf(token) };
}

/** The SHA-256 of a token, hex. */
export function resumeHashOf(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
