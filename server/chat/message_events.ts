/**
 * Stored messages as the events the wire carries (live, or from history).
 *
 * @module
 */
import type {
  DirectMessageEvent,
  MessageChangeEvent,
  RoomMessageEvent,
  TimelineEntry,
} from "../../shared/protocol.ts";
import {
  type ChangeRecord,
  type DmRecord,
  isChangeRecord,
  type MessageRecord,
  type TimelineRecord,
} from "../store/store.ts";

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
  // Section 21: the reply, live and in history; the current state, from history only.
  if (record.replyTo !== undefined) event.replyTo = record.replyTo;
  if (options.history) {
    if (record.deleted !== undefined) {
      event.body = "";
      event.deleted = { by: record.deleted.by, ts: record.deleted.ts };
    } else {
      if (record.edited !== undefined) event.edited = record.edited;
      if (record.reactions !== undefined && record.reactions.length > 0) {
        event.reactions = record.reactions.map(({ emoji, count, users }) => ({
          emoji,
          count,
          users: [...users],
        }));
      }
    }
  }
  if (record.file !== undefined) event.file = record.file;
  return event;
}

/**
 * A message change as its event (section 21); `history` marks one read back
 * from the store, and `targetDeleted` says its target was deleted since (an
 * edit's words are then not given again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { changeEvent } from "./message_events.ts";
 * const record = { room: "dev", id: 9, change: "edit", target: 7, from: "ann", text: "hi!", ts: 2 } as const;
 * assert.deepEqual(changeEvent(record, { room: "Dev", history: false }), {
 *   type: "edit", room: "Dev", id: 9, target: 7, from: "ann", body: "hi!", ts: 2,
 * });
 * ```
 */
export function changeEvent(
  record: ChangeRecord,
  options: { room: string; history: boolean; targetDeleted?: boolean },
): MessageChangeEvent {
  const { id, target, from, ts } = record;
  const room = options.room;
  let event: MessageChangeEvent;
  switch (record.change) {
    case "edit":
      event = {
        type: "edit",
        room,
        id,
        target,
        from,
        body: options.targetDeleted ? "" : record.text,
        ts,
      };
      break;
    case "delete":
      event = { type: "delete", room, id, target, by: from, ts };
      break;
    case "react":
    case "unreact":
      event = { type: record.change, room, id, target, from, emoji: record.text, ts };
      break;
  }
  if (options.history) event.history = true;
  return event;
}

/**
 * A timeline entry read back from the store as its history item: a message
 * in its current state, or a change (section 21).
 */
export function timelineEvent(
  record: TimelineRecord,
  options: { room: string; deleted: ReadonlySet<number> },
): TimelineEntry {
  if (!isChangeRecord(record)) return messageEvent(record, { room: options.room, history: true });
  return changeEvent(record, {
    room: options.room,
    history: true,
    targetDeleted: options.deleted.has(record.target),
  });
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
