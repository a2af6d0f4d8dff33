/**
 * Presence when this instance is the only one: who is online and who is
 * in a room is what this instance's own maps say, so the broker asks the
 * same questions alone as over Redis (see {@linkcode Presence}).
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { type ChatEvent, MAX_LIST_PAGE } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { Member, Room } from "../chat/room.ts";
import type { OnlineUsers } from "../chat/online_users.ts";
import type { RoomIndex } from "../chat/room_index.ts";
import type { RoomRecord, StoreWrite } from "../store/store.ts";
import type { NamePage, OnlineUser, PageQuery, Presence } from "./cluster.ts";

/** What a {@linkcode LocalPresence} reads and how it acts. */
export interface LocalPresenceOptions {
  readonly users: OnlineUsers;
  readonly rooms: RoomIndex;
  /** Away messages of the users online, by name key (section 22); none: nobody is away. */
  readonly away?: Map<string, string>;
  /** Commits a write (resolves once committed). */
  persist(write: StoreWrite): Promise<void>;
  /** Delivers an event to these sessions. */
  fanOut(members: Iterable<Member>, event: ChatEvent): void;
  now(): number;
}

/**
 * The presence of a chat served by one instance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LocalPresence } from "./local_presence.ts";
 * import { OnlineUsers } from "../chat/online_users.ts";
 * import { RoomIndex } from "../chat/room_index.ts";
 * const users = new OnlineUsers();
 * const presence = new LocalPresence({
 *   users, rooms: new RoomIndex(), persist: async () => {}, fanOut: () => {}, now: Date.now,
 * });
 * import type { Member } from "../chat/room.ts";
 * const ann: Member = {
 *   nick: "", rooms: new Set(), account: undefined, admin: false, guestId: "1", deliver() {},
 * };
 * users.add(ann, "Ann");
 * assert.deepEqual(await presence.users({ limit: 10 }), { names: ["Ann"], total: 1 });
 * ```
 */
export class LocalPresence implements Presence {
  readonly #users: OnlineUsers;
  readonly #rooms: RoomIndex;
  readonly #options: LocalPresenceOptions;
  readonly #away: Map<string, string>;

  constructor(options: LocalPresenceOptions) {
    this.#users = options.users;
    this.#rooms = options.rooms;
    this.#options = options;
    this.#away = options.away ?? new Map();
  }

  /** Alone, the broker's own checks of who is online decide: nothing more to claim. */
  claim(): Promise<void> {
    return Promise.resolve();
  }

  release(): void {}

  /** Alone, the broker's sessions are the record: the member is the account already. */
  registered(): Promise<void> {
    return Promise.resolve();
  }

  rename(): Promise<void> {
    return Promise.resolve();
  }

  user(key: string): Promise<OnlineUser | undefined> {
    const sessions = this.#users.sessions(key);
    const first = sessions.values().next().value;
    if (first === undefined) return Promise.resolve(undefined);
    const away = this.#away.get(key);
    return Promise.resolve({
      nick: first.nick,
      account: first.account,
      admin: [...sessions].some((session) => session.admin),
      guestId: first.account === undefined ? first.guestId : "",
      ...(away === undefined ? {} : { away }),
    });
  }

  async createRoom(
    record: RoomRecord,
    maxRooms: number,
  ): Promise<{ record: RoomRecord; created: boolean }> {
    const existing = this.#rooms.get(record.key);
    if (existing !== undefined) return { record: existing.toRecord(), created: false };
    if (this.#rooms.size >= maxRooms) {
      throw new ChatError(
        "forbidden",
        `Cannot create #${record.name}: the server's limit of ${maxRooms} rooms is reached`,
      );
    }
    const room = this.#rooms.add(record, { now: this.#options.now() });
    await this.#options.persist({ kind: "room", record: room.toRecord() });
    return { record: room.toRecord(), created: true };
  }

  async enter(
    room: Room,
    member: Member,
    event: ChatEvent,
    options: { claimAs?: string } = {},
  ): Promise<NamePage & { claimed: boolean; first: boolean }> {
    room.emptySince = undefined;
    let claimed = false;
    // An empty room nobody owns goes to whoever comes first.
    if (options.claimAs !== undefined && room.owner === null && room.members.size === 1) {
      room.owner = options.claimAs;
      try {
        await this.#options.persist({ kind: "room", record: room.toRecord() });
      } catch (error) {
        room.owner = null;
        throw error;
      }
      claimed = true;
    }
    const first = room.sessionsOf(nameKey(member.nick)) === 1;
    if (first) this.#options.fanOut(room.members, event);
    return {
      names: room.memberPage({ limit: MAX_LIST_PAGE + 1 }),
      total: room.userCount,
      claimed,
      first,
    };
  }

  exit(room: Room, member: Member, event: ChatEvent): boolean {
    // The member heard its leave already; the room hears it when the user is gone.
    const last = !room.hasUser(nameKey(member.nick));
    if (last) this.#options.fanOut(room.members, event);
    // Kept once empty; a room no account owns goes after the guest room TTL.
    if (room.members.size === 0) room.emptySince = this.#options.now();
    return last;
  }

  members(key: string, page: PageQuery): Promise<NamePage> {
    const room = this.#rooms.get(key);
    const names = room?.memberPage(page) ?? [];
    return Promise.resolve(this.#withAway({ names, total: room?.userCount ?? 0 }));
  }

  inRoom(room: string, user: string): Promise<boolean> {
    return Promise.resolve(this.#rooms.get(room)?.hasUser(user) ?? false);
  }

  users(page: PageQuery): Promise<NamePage> {
    const names = this.#users.page(page);
    return Promise.resolve(this.#withAway({ names, total: this.#users.size }));
  }

  // ---- away (section 22)

  setAway(member: Member, message: string | undefined, event: ChatEvent): Promise<boolean> {
    const key = nameKey(member.nick);
    if (this.#away.get(key) === message) return Promise.resolve(false);
    if (message === undefined) this.#away.delete(key);
    else this.#away.set(key, message);
    // The user's sessions, and everyone in a room with one of them.
    const audience = new Set<Member>();
    for (const session of this.#users.sessions(key)) {
      audience.add(session);
      for (const room of session.rooms) for (const other of room.members) audience.add(other);
    }
    this.#options.fanOut(audience, event);
    return Promise.resolve(true);
  }

  /** `page` with the away messages of its names, when anyone is away. */
  #withAway(page: NamePage): NamePage {
    if (this.#away.size === 0) return page;
    const away = new Map<string, string>();
    for (const name of page.names) {
      const message = this.#away.get(nameKey(name));
      if (message !== undefined) away.set(name, message);
    }
    return { ...page, away };
  }

  roomSizes(rooms: readonly string[]): Promise<number[]> {
    return Promise.resolve(rooms.map((key) => this.#rooms.get(key)?.userCount ?? 0));
  }

  async expireRooms(ttlMs: number): Promise<number> {
    const cutoff = this.#options.now() - ttlMs;
    const expired: Room[] = [];
    for (const room of this.#rooms.values()) {
      if (
        room.members.size === 0 && !room.accountOwned && room.emptySince !== undefined &&
        room.emptySince <= cutoff && !this.#rooms.isJoining(room.key)
      ) {
        expired.push(room);
      }
    }
    for (const room of expired) this.#rooms.drop(room);
    await Promise.all(
      expired.map((room) => this.#options.persist({ kind: "deleteRoom", room: room.key })),
    );
    return expired.length;
  }
}
