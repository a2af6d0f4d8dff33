/**
 * Who is online on this instance: sessions by nickname (name key, in
 * order), and the lookalike rule that no two users online have names that
 * look alike.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { lookalikeKey, nameKey } from "../../shared/validation.ts";
import type { Member } from "./room.ts";
import { SortedNameMap } from "./sorted_name_map.ts";

/**
 * The sessions online here, by user.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OnlineUsers } from "./online_users.ts";
 * const users = new OnlineUsers();
 * import type { Member } from "./room.ts";
 * const ann: Member = {
 *   nick: "", rooms: new Set(), account: undefined, admin: false, guestId: "1", deliver() {},
 * };
 * users.add(ann, "Ann");
 * assert.equal(users.isOnline("ANN"), true);
 * assert.throws(() => users.refuseLookalike("Αnn"), /looks like Ann/); // Greek capital alpha
 * ```
 */
export class OnlineUsers {
  // By name key, in order: lists page through them with a cursor.
  readonly #users = new SortedNameMap<Set<Member>>();
  // lookalikeKey → name key of the user online under a name that looks like that: no two may.
  readonly #looks = new Map<string, string>();

  /** Users online (each once, however many sessions). */
  get size(): number {
    return this.#users.size;
  }

  /** The sessions of the user with this name key; empty when offline. */
  sessions(key: string): ReadonlySet<Member> {
    return this.#users.get(key) ?? NONE;
  }

  /** One session of the user with this name key, if online. */
  first(key: string): Member | undefined {
    return this.#users.get(key)?.values().next().value;
  }

  /** Whether anyone online here uses this nickname. */
  isOnline(nick: string): boolean {
    return this.sessions(nameKey(nick)).size > 0;
  }

  /** Throws `name_taken` when someone else online has a name that looks like `nick` (UTS #39). */
  refuseLookalike(nick: string): void {
    const holder = this.#looks.get(lookalikeKey(nick));
    if (holder === undefined || holder === nameKey(nick)) return;
    const other = this.first(holder);
    if (other === undefined) return;
    throw new ChatError(
      "name_taken",
      `Nickname ${nick} looks like ${other.nick}, who is online; choose another`,
    );
  }

  /** Puts `member` online as `nick`. */
  add(member: Member, nick: string): void {
    member.nick = nick;
    const key = nameKey(nick);
    const sessions = this.#users.get(key);
    if (sessions === undefined) this.#users.set(key, new Set([member]));
    else sessions.add(member);
    this.#looks.set(lookalikeKey(nick), key);
  }

  /** Takes `member` offline; false when it was not online. */
  remove(member: Member): boolean {
    const key = nameKey(member.nick);
    const sessions = this.#users.get(key);
    if (sessions === undefined || !sessions.delete(member)) return false;
    if (sessions.size === 0) {
      this.#users.delete(key);
      const look = lookalikeKey(member.nick);
      if (this.#looks.get(look) === key) this.#looks.delete(look);
    }
    return true;
  }

  /** Moves `member` (a guest, its only session) to nickname `nick`. */
  rename(member: Member, nick: string): void {
    this.remove(member);
    this.add(member, nick);
  }

  /** Nicknames online in name-key order after the key `after`, at most `limit`. */
  page(options: { after?: string | undefined; limit: number }): string[] {
    return this.#users.page(options).map(([, sessions]) => [...sessions][0]!.nick);
  }

  /** Every user online: name key and sessions. */
  entries(): IterableIterator<[string, Set<Member>]> {
    return this.#users.entries();
  }

  /** Every session online here. */
  *allSessions(): Iterable<Member> {
    for (const sessions of this.#users.values()) yield* sessions;
  }
}

const NONE: ReadonlySet<Member> = new Set();
