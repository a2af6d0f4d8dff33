/**
 * Who is a server admin: the one decision sessions, the dashboard and the
 * REST API share. An account is one when it is flagged (`chat user admin`)
 * or named in `--admins`; an API key when it was made with
 * `chat apikey add --admin` (`--admins` names accounts, not keys). A
 * member's `admin` flag is this, worked out when it logs in.
 *
 * @module
 */
import type { AccountRecord, ApiKeyRecord } from "../store/store.ts";

/**
 * What may hold server admin rights: an account (with the name keys of
 * `--admins`), or an API key (its bot).
 */
export type AdminCandidate =
  | { account: AccountRecord; admins: readonly string[] }
  | { apiKey: ApiKeyRecord };

/**
 * Whether `candidate` has server admin rights.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isServerAdmin } from "./server_admin.ts";
 * const account = { key: "root", name: "Root", passwordHash: "", admin: false, createdAt: 0 };
 * assert.equal(isServerAdmin({ account, admins: [] }), false);
 * assert.equal(isServerAdmin({ account, admins: ["root"] }), true);
 * assert.equal(isServerAdmin({ account: { ...account, admin: true }, admins: [] }), true);
 * const apiKey = { id: "k1", name: "root", hash: "", admin: false, createdAt: 0 };
 * assert.equal(isServerAdmin({ apiKey }), false);
 * assert.equal(isServerAdmin({ apiKey: { ...apiKey, admin: true } }), true);
 * ```
 */
export function isServerAdmin(candidate: AdminCandidate): boolean {
  if ("apiKey" in candidate) return candidate.apiKey.admin;
  const { account, admins } = candidate;
  return account.admin || admins.includes(account.key);
}
