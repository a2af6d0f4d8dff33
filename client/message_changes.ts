/**
 * Message changes on the client side (docs/protocol.md, section 21): how an
 * `edit`, `delete`, `react` or `unreact` event changes a message held, as a
 * pure function, and {@linkcode MessageLog}, the messages of each room by id
 * with the changes applied to them.
 *
 * Catch-up history gives messages in their current state followed by the
 * change entries of the same range, some of which that state already shows;
 * so applying a change is idempotent where it can be: a reaction already
 * listed, an unreaction of one not listed, an edit older than the state's,
 * a change to a tombstone are all "no change".
 *
 * @module
 */
import {
  MAX_REACTION_USERS_LISTED,
  type MessageChangeEvent,
  type ReactionSummary,
  type RoomMessageEvent,
} from "../shared/protocol.ts";
import { nameKey } from "../shared/validation.ts";
import type { ClientEvent } from "./client_event.ts";

/** What a change changes in a message, in whatever form a client holds it. */
export interface ChangeableMessage {
  /** The timeline id, matched against a change's `target`. */
  id?: number;
  /** The body; "" once deleted. */
  body: string;
  /** When it was last edited. */
  edited?: number;
  /** Who deleted it, and when. */
  deleted?: { by: string; ts: number };
  /** Reactions, in the order the server gave them (new emoji last). */
  reactions?: Reaction[];
}

/** One emoji's reactions to a message: `users` lists at most 20, `count` is the full count. */
export type Reaction = ReactionSummary;

/** A room message as the client holds it: the `message` event, in its current state. */
export type HeldMessage = RoomMessageEvent;

/** Any change to a message: an `edit`, `delete`, `react` or `unreact` event. */
export type MessageChange = MessageChangeEvent;

/** The event types that change a message. */
export const CHANGE_TYPES: ReadonlySet<string> = new Set(["edit", "delete", "react", "unreact"]);

/**
 * Whether `event` is a change to a message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMessageChange } from "./message_changes.ts";
 * assert.equal(isMessageChange({ type: "react" }), true);
 * assert.equal(isMessageChange({ type: "message" }), false);
 * ```
 */
export function isMessageChange<E extends { type: string }>(
  event: E,
): event is Extract<E, { type: MessageChange["type"] }> {
  return CHANGE_TYPES.has(event.type);
}

function react(
  reactions: readonly Reaction[],
  change: Extract<MessageChange, { type: "react" | "unreact" }>,
): Reaction[] | undefined {
  const who = nameKey(change.from);
  const index = reactions.findIndex((reaction) => reaction.emoji === change.emoji);
  const found = reactions[index];
  const listed = found !== undefined && found.users.some((user) => nameKey(user) === who);
  if (change.type === "react") {
    if (listed) return undefined;
    if (found === undefined) {
      return [...reactions, { emoji: change.emoji, count: 1, users: [change.from] }];
    }
    const users = found.users.length < MAX_REACTION_USERS_LISTED
      ? [...found.users, change.from]
      : found.users;
    return reactions.with(index, { ...found, count: found.count + 1, users });
  }
  // Not listed while the list is complete: this user had not reacted so (or it is applied).
  if (found === undefined || (!listed && found.users.length >= found.count)) return undefined;
  if (found.count <= 1) return reactions.filter((_, at) => at !== index);
  const users = found.users.filter((user) => nameKey(user) !== who);
  return reactions.with(index, { ...found, count: found.count - 1, users });
}

/**
 * `message` with `change` applied: a new object, or undefined when the
 * change changes nothing (another message, a tombstone, already applied).
 * The room is the caller's to match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyChange, type HeldMessage } from "./message_changes.ts";
 * const message: HeldMessage = { type: "message", room: "general", id: 1, from: "alice", body: "hi", ts: 1 };
 * const liked = applyChange(message, { type: "react", room: "general", id: 2, target: 1, from: "bob", emoji: "👍", ts: 2 });
 * assert.deepEqual(liked?.reactions, [{ emoji: "👍", count: 1, users: ["bob"] }]);
 * ```
 */
export function applyChange<M extends ChangeableMessage>(
  message: M,
  change: MessageChange,
): M | undefined {
  if (change.target !== message.id) return undefined;
  if (message.deleted !== undefined) return undefined;
  switch (change.type) {
    case "edit":
      if (message.edited !== undefined && change.ts < message.edited) return undefined;
      if (message.edited === change.ts && message.body === change.body) return undefined;
      return { ...message, body: change.body, edited: change.ts };
    case "delete": {
      const { reactions: _, edited: __, ...rest } = message;
      return { ...rest, body: "", deleted: { by: change.by, ts: change.ts } } as M;
    }
    case "react":
    case "unreact": {
      const reactions = react(message.reactions ?? [], change);
      if (reactions === undefined) return undefined;
      const { reactions: _, ...rest } = message;
      return (reactions.length === 0 ? rest : { ...rest, reactions }) as M;
    }
  }
}

/** Options for {@linkcode MessageLog}. */
export interface MessageLogOptions {
  /** Most messages held per room; the oldest go first. Default 5000. */
  maxPerRoom?: number;
}

/**
 * The messages of each room by id, with their changes applied: what a
 * reply quotes, what a change line shows. Bounded per room.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageLog } from "./message_changes.ts";
 * const log = new MessageLog();
 * log.take({ type: "message", room: "general", id: 41, from: "alice", body: "hi", ts: 1 });
 * log.take({ type: "edit", room: "general", id: 42, target: 41, from: "alice", body: "hello", ts: 2 });
 * assert.equal(log.get("General", 41)?.body, "hello");
 * assert.equal(log.take({ type: "delete", room: "general", id: 43, target: 7, by: "bob", ts: 3 }), undefined);
 * ```
 */
export class MessageLog {
  #rooms = new Map<string, Map<number, HeldMessage>>();
  #maxPerRoom: number;

  /** Makes an empty log. */
  constructor(options: MessageLogOptions = {}) {
    this.#maxPerRoom = options.maxPerRoom ?? 5000;
  }

  /** The message `id` of `room` as it stands, if held. */
  get(room: string, id: number): HeldMessage | undefined {
    return this.#rooms.get(nameKey(room))?.get(id);
  }

  /**
   * Takes a message (held, replacing an older copy: history gives the
   * current state) or a change (applied to the message it changes, if
   * held). Returns the message as it now stands, or undefined when
   * nothing changed. Anything else is ignored.
   */
  take(event: ClientEvent): HeldMessage | undefined {
    if (event.type === "message") {
      const message = event;
      const key = nameKey(message.room);
      let room = this.#rooms.get(key);
      if (room === undefined) this.#rooms.set(key, room = new Map());
      room.delete(message.id);
      room.set(message.id, message);
      // Oldest taken first out: Map keeps insertion order.
      while (room.size > this.#maxPerRoom) room.delete(room.keys().next().value!);
      return message;
    }
    if (!isMessageChange(event)) return undefined;
    const change = event;
    const held = this.get(change.room, change.target);
    if (held === undefined) return undefined;
    const changed = applyChange(held, change);
    if (changed === undefined) return undefined;
    this.#rooms.get(nameKey(change.room))!.set(change.target, changed);
    return changed;
  }

  /** Takes each of `entries` in order: the items of a history page or a join's catch-up. */
  takeAll(entries: Iterable<ClientEvent>): void {
    for (const entry of entries) this.take(entry);
  }

  /** Forgets a room's messages (left it). */
  forget(room: string): void {
    this.#rooms.delete(nameKey(room));
  }
}
