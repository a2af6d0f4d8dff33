/**
 * The broker: who is online, which rooms exist, who is in them, and fan-out
 * of every event to the members concerned. It never waits on a recipient:
 * delivering is queuing bytes, so one slow client cannot stall a room.
 *
 * @module
 */
import { ChatError } from "../shared/errors.ts";
import type { ChatEvent } from "../shared/protocol.ts";
import { nameKey } from "../shared/validation.ts";
import { Delivery } from "./delivery.ts";

/** A connected user as the broker sees it. */
export interface Member {
  /** The current nickname (set by the broker). */
  nick: string;
  /** Rooms this member is in. */
  readonly rooms: Set<Room>;
  /** Queues `delivery` for this member; must not block or throw. */
  deliver(delivery: Delivery): void;
}

/** A room and its members. */
export interface Room {
  readonly name: string;
  readonly key: string;
  topic: string;
  /** Id of the last message sent in the room; ids are monotonic per room. */
  lastId: number;
  readonly members: Set<Member>;
}

/** Summary of a room for `rooms`. */
export interface RoomSummary {
  name: string;
  members: number;
  topic: string;
}

/**
 * In-memory broker of rooms, users and direct messages.
 *
 * @example
 * ```ts
 * import { Broker, type Member } from "./broker.ts";
 * const broker = new Broker();
 * const alice: Member = { nick: "", rooms: new Set(), deliver: (d) => console.log(d.event) };
 * broker.register(alice, "alice");
 * broker.join(alice, "general");
 * broker.say(alice, "general", "hello");
 * ```
 */
export class Broker {
  #users = new Map<string, Member>();
  #rooms = new Map<string, Room>();
  #dmLastId = 0;
  #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Members online. */
  get userCount(): number {
    return this.#users.size;
  }

  /** Rooms that exist. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Claims `nick` for `member`, or throws `name_taken`. */
  register(member: Member, nick: string): void {
    const key = nameKey(nick);
    if (this.#users.has(key)) {
      throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
    }
    this.#users.set(key, member);
    member.nick = nick;
  }

  /** Removes `member` from every room (telling the rooms) and frees its nickname. */
  unregister(member: Member, reason?: string): void {
    for (const room of [...member.rooms]) this.#removeFromRoom(member, room, reason);
    const key = nameKey(member.nick);
    if (this.#users.get(key) === member) this.#users.delete(key);
  }

  /** Joins (creating if needed) room `name`; everyone in it sees the join. */
  join(member: Member, name: string): { room: string; topic: string; members: string[] } {
    const key = nameKey(name);
    let room = this.#rooms.get(key);
    if (room === undefined) {
      room = { name, key, topic: "", lastId: 0, members: new Set() };
      this.#rooms.set(key, room);
    }
    if (!room.members.has(member)) {
      room.members.add(member);
      member.rooms.add(room);
      this.#fanOut(room.members, {
        type: "join",
        room: room.name,
        nick: member.nick,
        ts: this.#now(),
      });
    }
    return { room: room.name, topic: room.topic, members: this.#memberNames(room) };
  }

  /** Leaves room `name`; everyone in it sees the leave. */
  leave(member: Member, name: string): { room: string } {
    const room = this.#memberRoom(member, name);
    this.#removeFromRoom(member, room);
    return { room: room.name };
  }

  /** Sends `body` to room `name`, sender included; returns the message id and time. */
  say(member: Member, name: string, body: string, action = false): { id: number; ts: number } {
    const room = this.#memberRoom(member, name);
    const id = ++room.lastId;
    const ts = this.#now();
    const event: ChatEvent = action
      ? { type: "message", room: room.name, from: member.nick, body, id, ts, action }
      : { type: "message", room: room.name, from: member.nick, body, id, ts };
    this.#fanOut(room.members, event);
    return { id, ts };
  }

  /** Sends a direct message to `to` and echoes it to the sender. */
  dm(member: Member, to: string, body: string, action = false): { id: number; ts: number } {
    const recipient = this.#users.get(nameKey(to));
    if (recipient === undefined) throw new ChatError("no_such_user", `No user ${to} is online`);
    const id = ++this.#dmLastId;
    const ts = this.#now();
    const event: ChatEvent = action
      ? { type: "dm", from: member.nick, to: recipient.nick, body, id, ts, action }
      : { type: "dm", from: member.nick, to: recipient.nick, body, id, ts };
    const delivery = new Delivery(event);
    recipient.deliver(delivery);
    if (recipient !== member) member.deliver(delivery);
    return { id, ts };
  }

  /** Sends a notice from `member` to everyone online. */
  broadcast(member: Member, body: string): { ts: number } {
    const ts = this.#now();
    this.#fanOut(this.#users.values(), { type: "notice", from: member.nick, body, ts });
    return { ts };
  }

  /** Sends a server notice (no sender) to everyone online. */
  notice(body: string): void {
    this.#fanOut(this.#users.values(), { type: "notice", body, ts: this.#now() });
  }

  /** Every room with its member count, by name. */
  rooms(): { rooms: RoomSummary[] } {
    const rooms = [...this.#rooms.values()]
      .map((room) => ({ name: room.name, members: room.members.size, topic: room.topic }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { rooms };
  }

  /** The members of room `name`. */
  who(name: string): { room: string; members: string[] } {
    const room = this.#rooms.get(nameKey(name));
    if (room === undefined) throw new ChatError("no_such_room", `No room #${name}`);
    return { room: room.name, members: this.#memberNames(room) };
  }

  /** Everyone online, by name. */
  users(): { users: string[] } {
    return { users: [...this.#users.values()].map((user) => user.nick).sort() };
  }

  /** Shows, or (when `topic` is given) sets, the topic of a room the member is in. */
  topic(member: Member, name: string, topic?: string): { room: string; topic: string } {
    const room = this.#memberRoom(member, name);
    if (topic !== undefined) {
      room.topic = topic;
      this.#fanOut(room.members, {
        type: "topic",
        room: room.name,
        topic,
        by: member.nick,
        ts: this.#now(),
      });
    }
    return { room: room.name, topic: room.topic };
  }

  /** Renames `member`; everyone sharing a room with it (and itself) sees the change. */
  rename(member: Member, nick: string): { nick: string } {
    const oldKey = nameKey(member.nick);
    const newKey = nameKey(nick);
    const holder = this.#users.get(newKey);
    if (holder !== undefined && holder !== member) {
      throw new ChatError("name_taken", `Nickname ${nick} is already in use`);
    }
    const from = member.nick;
    this.#users.delete(oldKey);
    this.#users.set(newKey, member);
    member.nick = nick;
    const audience = new Set<Member>([member]);
    for (const room of member.rooms) for (const other of room.members) audience.add(other);
    this.#fanOut(audience, { type: "nick", from, to: nick, ts: this.#now() });
    return { nick };
  }

  #memberRoom(member: Member, name: string): Room {
    const room = this.#rooms.get(nameKey(name));
    if (room === undefined || !room.members.has(member)) {
      throw new ChatError("not_in_room", `You are not in #${name}: /join ${name} first`);
    }
    return room;
  }

  #removeFromRoom(member: Member, room: Room, reason?: string): void {
    const event: ChatEvent = reason === undefined
      ? { type: "leave", room: room.name, nick: member.nick, ts: this.#now() }
      : { type: "leave", room: room.name, nick: member.nick, ts: this.#now(), reason };
    this.#fanOut(room.members, event);
    room.members.delete(member);
    member.rooms.delete(room);
    if (room.members.size === 0) this.#rooms.delete(room.key);
  }

  #memberNames(room: Room): string[] {
    return [...room.members].map((member) => member.nick).sort();
  }

  #fanOut(members: Iterable<Member>, event: ChatEvent): void {
    // One encoding, shared by every recipient's queue.
    const delivery = new Delivery(event);
    for (const member of members) member.deliver(delivery);
  }
}
