/**
 * Room events as this instance originates them, for observers beyond the
 * sessions (outgoing webhooks). Each event is told once, on the instance
 * whose request committed it: a message by the instance that stored it, a
 * join or leave by the instance of the session, a topic by the instance
 * of the operator who set it. Other instances only deliver it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ChatEvent } from "../../shared/protocol.ts";

/** The events of a room that observers hear. */
export type RoomEvent = Extract<
  ChatEvent,
  { type: "message" | "join" | "leave" | "topic" | "edit" | "delete" | "react" | "unreact" }
>;

/** Hears room events; must not throw, and must return quickly (it runs on the broker's path). */
export type RoomEventListener = (event: RoomEvent) => void;

const logger = getLogger(["chat", "broker"]);

/**
 * The listeners of room events, told in the order events are originated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RoomEvent, RoomEventTap } from "./room_events.ts";
 * const tap = new RoomEventTap();
 * const heard: RoomEvent[] = [];
 * const stop = tap.listen((event) => heard.push(event));
 * tap.tell({ type: "join", room: "general", nick: "alice", ts: 1 });
 * stop();
 * tap.tell({ type: "join", room: "general", nick: "bob", ts: 2 });
 * assert.equal(heard.length, 1);
 * ```
 */
export class RoomEventTap {
  #listeners = new Set<RoomEventListener>();

  /** Adds a listener; the function returned removes it. */
  listen(listener: RoomEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener (none: nothing to do). A listener's error is logged, not thrown. */
  tell(event: RoomEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.error("A room event listener failed: {error}", { error });
      }
    }
  }
}
