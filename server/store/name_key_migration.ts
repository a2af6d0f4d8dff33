/**
 * Re-keying stored names when {@linkcode nameKey} changes (see
 * `NAME_KEY_VERSION` in shared/validation.ts): the plan both stores follow.
 * Accounts, rooms and API keys are re-keyed from their names; every other
 * stored key (grants, DM keys, read markers, login records) from the key
 * itself, which gives the same key (a key is the name folded, and folding
 * again changes nothing). Two names whose new keys are equal (`straße` and
 * `strasse`, once full case folding makes them one) keep both records: the
 * older keeps the key and the younger is renamed `NAME-2` (or `-3`, ...),
 * so no account, room, history or grant is lost or merged into another's.
 *
 * @module
 */
import { MAX_NICK_LENGTH, MAX_ROOM_LENGTH, nameKey } from "../../shared/validation.ts";

/** A stored record with a name: an account, a room or an API key. */
export interface NamedRecord {
  /** Its key as stored (for an API key: its id). */
  key: string;
  name: string;
  createdAt: number;
}

/** One record renamed because its new key was another's. */
export interface NameKeyRename {
  kind: "account" | "room" | "apiKey";
  /** The key before (for an API key: its id, which stays). */
  oldKey: string;
  oldName: string;
  newKey: string;
  newName: string;
  /** The name of the record that kept the key. */
  keptBy: string;
}

/** What to change: the new key of each old one, and the renames. */
export interface NameKeyPlan {
  /** Old account key → new key, for every account whose key changes. */
  readonly accounts: ReadonlyMap<string, string>;
  /** Old room key → new key, for every room whose key changes. */
  readonly rooms: ReadonlyMap<string, string>;
  /** API key id → its new name, for the API keys renamed. */
  readonly apiKeyNames: ReadonlyMap<string, string>;
  readonly renames: readonly NameKeyRename[];
}

// No name key contains `:`; guests' rights are kept under `guest:<id>`.
function isGuestKey(key: string): boolean {
  return key.startsWith("guest:");
}

function codePoints(text: string): string[] {
  return [...text];
}

/**
 * New keys for `records` (of one kind) from their names: oldest first (by
 * creation time, then old key) each keeps its new key; a younger one whose
 * new key is taken is renamed `NAME-N`, N from 2 up, the name cut to fit
 * `maxLength`, with a key nobody holds.
 */
function rekey(
  kind: NameKeyRename["kind"],
  records: readonly NamedRecord[],
  maxLength: number,
): { keys: Map<string, string>; renames: NameKeyRename[] } {
  const ordered = [...records].sort((a, b) =>
    a.createdAt - b.createdAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
  const holders = new Map<string, NamedRecord>();
  const losers: NamedRecord[] = [];
  for (const record of ordered) {
    const key = nameKey(record.name);
    if (holders.has(key)) losers.push(record);
    else holders.set(key, record);
  }
  const keys = new Map<string, string>();
  for (const [key, record] of holders) if (key !== record.key) keys.set(record.key, key);
  const renames: NameKeyRename[] = [];
  for (const record of losers) {
    const keptBy = holders.get(nameKey(record.name))!.name;
    for (let n = 2;; n++) {
      const suffix = `-${n}`;
      const base = codePoints(record.name).slice(0, maxLength - suffix.length).join("");
      const name = base + suffix;
      const key = nameKey(name);
      if (holders.has(key)) continue;
      holders.set(key, { ...record, name });
      keys.set(record.key, key);
      renames.push({
        kind,
        oldKey: record.key,
        oldName: record.name,
        newKey: key,
        newName: name,
        keptBy,
      });
      break;
    }
  }
  return { keys, renames };
}

/**
 * The plan for the stored accounts, rooms and API keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planNameKeys } from "./name_key_migration.ts";
 * const plan = planNameKeys({
 *   accounts: [
 *     { key: "straße", name: "Straße", createdAt: 1 },
 *     { key: "strasse", name: "strasse", createdAt: 2 },
 *   ],
 *   rooms: [],
 *   apiKeys: [],
 * });
 * assert.deepEqual([...plan.accounts], [["straße", "strasse"], ["strasse", "strasse-2"]]);
 * assert.equal(plan.renames[0]!.newName, "strasse-2");
 * ```
 */
export function planNameKeys(stored: {
  accounts: readonly NamedRecord[];
  rooms: readonly NamedRecord[];
  apiKeys: readonly NamedRecord[];
}): NameKeyPlan {
  const accounts = rekey("account", stored.accounts, MAX_NICK_LENGTH);
  const rooms = rekey("room", stored.rooms, MAX_ROOM_LENGTH);
  const apiKeys = rekey("apiKey", stored.apiKeys, MAX_NICK_LENGTH);
  const apiKeyNames = new Map(apiKeys.renames.map((rename) => [rename.oldKey, rename.newName]));
  return {
    accounts: accounts.keys,
    rooms: rooms.keys,
    apiKeyNames,
    renames: [...accounts.renames, ...rooms.renames, ...apiKeys.renames],
  };
}

/**
 * The new key of a stored user key: an account's as planned, a guest's
 * rights key as it is, any other (a nickname's) folded anew.
 */
export function newUserKey(plan: NameKeyPlan, key: string): string {
  return plan.accounts.get(key) ?? (isGuestKey(key) ? key : nameKey(key));
}

/** The new key of a stored room key. */
export function newRoomKey(plan: NameKeyPlan, key: string): string {
  return plan.rooms.get(key) ?? nameKey(key);
}

/** A line for the log and the audit trail about one rename. */
export function describeRename(rename: NameKeyRename): string {
  const what = rename.kind === "apiKey" ? "API key" : rename.kind;
  return `${what} "${rename.oldName}" renamed "${rename.newName}": with full case folding its ` +
    `name is the same as "${rename.keptBy}", which is older and keeps it`;
}
