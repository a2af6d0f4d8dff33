/**
 * The rooms this instance knows, by name key in order, with the lookalike
 * rule for new room names and the joins under way (an empty room is not
 * deleted while someone is joining it).
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { lookalikeKey, nameKey } from "../../shared/validation.ts";
import { type Member, Room } from "./room.ts";
import { SortedNameMap } from "./sorted_name_map.ts";
import type { RoomRecord } from "../store/store.ts";

/**
 * Rooms by name key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoomIndex } from "./room_index.ts";
 * const rooms = new RoomIndex();
 * rooms.add({ key: "general", name: "General", owner: null, topic: "", inviteOnly: false,
 *   passphrase: null, createdAt: 0, lastId: 0 }, { now: 0 });
 * assert.throws(() => rooms.refuseLookalike("Genera1"), /looks like #General/);
 * ```
 */
export class RoomIndex {
  readonly #rooms = new SortedNameMap<Room>();
  // lookalikeKey → key of a room whose name looks like that; checked against #rooms on use.
  readonly #looks = new Map<string, string>();
  // Rooms with a join under way: a deletion must not drop them.
  readonly #joining = new Map<string, number>();

  /** Rooms that exist. */
  get size(): number {
    return this.#rooms.size;
  }

  get(key: string): Room | undefined {
    return this.#rooms.get(key);
  }

  has(key: string): boolean {
    return this.#rooms.has(key);
  }

  values(): IterableIterator<Room> {
    return this.#rooms.values();
  }

  /** Rooms in name-key order after the key `after`, at most `limit`. */
  page(options: { after?: string | undefined; limit: number }): Room[] {
    return this.#rooms.page(options).map(([, room]) => room);
  }

  /** Adds the room `record` describes, empty since `now`. */
  add(record: RoomRecord, options: { now: number }): Room {
    const room = new Room(record);
    room.emptySince = options.now;
    this.#rooms.set(room.key, room);
    this.#looks.set(lookalikeKey(room.name), room.key);
    return room;
  }

  /** Forgets a room (deleted here or elsewhere), with its look. */
  drop(room: Room): void {
    this.#rooms.delete(room.key);
    const look = lookalikeKey(room.name);
    if (this.#looks.get(look) === room.key) this.#looks.delete(look);
  }

  /** Throws `invalid_room` when creating room `name` beside a room that looks like it. */
  refuseLookalike(name: string): void {
    const look = lookalikeKey(name);
    const holder = this.#looks.get(look);
    if (holder === undefined || holder === nameKey(name)) return;
    const other = this.#rooms.get(holder);
    // Deleted rooms leave their entry behind: drop it when met.
    if (other === undefined || lookalikeKey(other.name) !== look) {
      this.#looks.delete(look);
      return;
    }
    throw new ChatError(
      "invalid_room",
      `Cannot create #${name}: it looks like #${other.name}; join that room or choose another name`,
    );
  }

  /** The room `name`, which `member` is in; throws `not_in_room`. */
  joinedBy(member: Member, name: string): Room {
    const room = this.#rooms.get(nameKey(name));
    if (room === undefined || !room.members.has(member)) {
      throw new ChatError("not_in_room", `You are not in #${name}: /join ${name} first`);
    }
    return room;
  }

  /** The room `name`, which `member` is in or, as a server admin, acts on from outside. */
  joinedOrAdministeredBy(member: Member, name: string): Room {
    const room = this.#rooms.get(nameKey(name));
    if (room !== undefined && (member.admin || room.members.has(member))) return room;
    if (room === undefined) throw new ChatError("no_such_room", `No room #${name}`);
    throw new ChatError("not_in_room", `You are not in #${name}: /join ${name} first`);
  }

  /** Runs `join` with the room `key` marked as being joined (it is not deleted meanwhile). */
  async joining<T>(key: string, join: () => Promise<T>): Promise<T> {
    this.#joining.set(key, (this.#joining.get(key) ?? 0) + 1);
    try {
      return await join();
    } finally {
      const left = (this.#joining.get(key) ?? 1) - 1;
      if (left > 0) this.#joining.set(key, left);
      else this.#joining.delete(key);
    }
  }

  /** Whether a join of the room `key` is under way. */
  isJoining(key: string): boolean {
    return this.#joining.has(key);
  }
}
