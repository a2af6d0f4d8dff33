/**
 * Stored messages as the events the wire carries (live, or from history).
 *
 * @module
 */
import type { DirectMessageEvent, RoomMessageEvent } from "../../shared/protocol.ts";
import type { DmRecord, MessageRecord } from "../store/store.ts";

/**
 * A room message as a `message` event; `history` marks one read back from the store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageEvent } from "./message_events.ts";
 * const record = { room: "general", id: 7, from: "ann", body: "hi", ts: 1, action: false };
 * const event = messageEvent(record, { room: "General", history: true });
 * assert.deepEqual([event.room, event.id, event.history], ["General", 7, true]);
 * ```
 */
export function messageEvent(
  record: MessageRecord,
  options: { room: string; history: boolean },
): RoomMessageEvent {
  const event: RoomMessageEvent = {
    type: "message",
    room: options.room,
    from: record.from,
    body: record.body,
    id: record.id,
    ts: record.ts,
  };
  if (record.action) event.action = true;
  if (options.history) event.history = true;
  if (record.file !== undefined) event.file = record.file;
  return event;
}

/** A direct message as a `dm` event; `history` marks one read back from the store. */
export function dmEvent(record: DmRecord, options: { history: boolean }): DirectMessageEvent {
  const event: DirectMessageEvent = {
    type: "dm",
    from: record.from,
    to: record.to,
    body: record.body,
    id: record.id,
    ts: record.ts,
  };
  if (record.action) event.action = true;
  if (options.history) event.history = true;
  if (record.file !== undefined) event.file = record.file;
  return event;
}
