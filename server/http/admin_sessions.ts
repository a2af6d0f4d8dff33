/**
 * Dashboard logins: after an admin's password is checked once, a random
 * token in an HttpOnly, SameSite=Strict cookie stands for the login, so the
 * password is not sent (nor hashed, at 128 MiB a time) again at every poll.
 * Only the token's SHA-256 is kept, in memory: a restart logs everyone out.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The cookie's name. */
export const ADMIN_COOKIE = "chat_admin";
/** How long a dashboard login lasts. */
export const ADMIN_SESSION_MS = 12 * 60 * 60_000;
// Logins kept at once; the oldest goes first beyond this.
const MAX_LOGINS = 1000;

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * The dashboard's logins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdminSessions } from "./admin_sessions.ts";
 * const sessions = new AdminSessions();
 * const token = sessions.create("alice");
 * assert.equal(sessions.verify(token), "alice");
 * sessions.revoke(token);
 * assert.equal(sessions.verify(token), undefined);
 * ```
 */
export class AdminSessions {
  #logins = new Map<string, { name: string; expiresAt: number }>();
  #now: () => number;
  #ttlMs: number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? ADMIN_SESSION_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Starts a login for account `name`; returns the token for the cookie. */
  create(name: string): string {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const token = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    if (this.#logins.size >= MAX_LOGINS) {
      this.#logins.delete(this.#logins.keys().next().value!);
    }
    this.#logins.set(digest(token), { name, expiresAt: this.#now() + this.#ttlMs });
    return token;
  }

  /** The account name of a live login, or undefined. */
  verify(token: string | undefined): string | undefined {
    if (token === undefined || !/^[0-9a-f]{64}$/.test(token)) return undefined;
    const hash = digest(token);
    const login = this.#logins.get(hash);
    if (login === undefined) return undefined;
    if (login.expiresAt <= this.#now()) {
      this.#logins.delete(hash);
      return undefined;
    }
    return login.name;
  }

  /** Ends a login. */
  revoke(token: string | undefined): void {
    if (token !== undefined) this.#logins.delete(digest(token));
  }

  /** The `Set-Cookie` value that stores `token` (or, for undefined, clears the cookie). */
  cookie(token: string | undefined): string {
    const value = token ?? "";
    const maxAge = token === undefined ? 0 : Math.floor(this.#ttlMs / 1000);
    return `${ADMIN_COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
  }
}

/**
 * The value of cookie `name` in a `Cookie` header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCookie } from "./admin_sessions.ts";
 * assert.equal(readCookie("a=1; chat_admin=ff", "chat_admin"), "ff");
 * ```
 */
export function readCookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [cookieName, ...value] = part.trim().split("=");
    if (cookieName === name) return value.join("=");
  }
  return undefined;
}
