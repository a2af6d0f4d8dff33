/**
 * One room's channel, as an instance receives it: messages, joins and
 * leaves in publication order, delivered to the members here in id order
 * with no gap — a message whose predecessors never arrived (a dropped
 * subscription) waits while the missing ones are read from history.
 *
 * @module
 */
import type { ChatEvent } from "../../shared/protocol.ts";
import type { Room } from "../chat/room.ts";
import {
  type ChangeKind,
  type ChangeRecord,
  isChangeRecord,
  type MessageRecord,
  type TimelineRecord,
} from "../store/store.ts";
import type { Audience, BusNode } from "./cluster.ts";

/**
 * A room message as published: id, from, body, ts, action ("1" or ""),
 * the id it replies to (0: none; section 21), the file info's JSON ("" for
 * none; section 23).
 */
export type PublishedMessage = [
  id: number,
  from: string,
  body: string,
  ts: string,
  action: string,
  replyTo?: number,
  file?: string,
];

/** A message change as published (section 21): its id, kind, target, who, text or emoji, ts. */
export type PublishedChange = [
  id: number,
  change: ChangeKind,
  target: number,
  from: string,
  text: string,
  ts: string,
];

/** What arrives on a room's channel. */
export interface RoomPayload {
  /** The instance that published it. */
  o?: string;
  /** A token its publisher waits on. */
  k?: string;
  /** Messages, in id order. */
  m?: PublishedMessage[];
  /** Message changes (section 21), in id order; with `m`, in one id order together. */
  c?: PublishedChange[];
  to?: Audience;
  event?: ChatEvent;
}

/** What a feed needs from its cluster. */
export interface RoomFeedContext {
  readonly node: BusNode;
  /** Timeline entries of `room` (messages, changes) with ids after `after`, up to `upTo`, oldest first. */
  history(room: string, after: number, upTo: number): Promise<TimelineRecord[]>;
  /** Called once a payload carrying token `k` has been delivered here. */
  applied(token: string): void;
  /** Reports a failure that cost this instance messages. */
  lost(room: Room, error: unknown): void;
}

type Item = RoomPayload | { fillTo: number };

/**
 * The ordered feed of one watched room.
 *
 * @example
 * ```ts ignore
 * import { RoomFeed } from "./room_feed.ts";
 * const feed = new RoomFeed(room, context);
 * feed.start(lastIdInRedis);
 * feed.push({ m: [[1, "alice", "hi", "1700000000000", ""]] });
 * ```
 */
export class RoomFeed {
  readonly room: Room;
  /** Watchers: members here, and joins under way. */
  refs = 0;
  /** Resolves once subscribed and in step with Redis. */
  ready: Promise<void> = Promise.resolve();
  #context: RoomFeedContext;
  #queue: Item[] = [];
  #started = false;
  #draining = false;
  #waiters: Array<{ id: number; resolve: () => void }> = [];

  constructor(room: Room, context: RoomFeedContext) {
    this.room = room;
    this.#context = context;
  }

  /**
   * Starts delivering, given the room's last id read after subscribing:
   * everything above it will arrive on the channel, the rest is history.
   */
  start(lastId: number): void {
    if (this.room.members.size === 0) {
      // Nobody here was following: what this instance knew may be stale.
      this.room.committedId = lastId;
      this.room.lastId = lastId;
    } else if (lastId > this.room.committedId) {
      this.#queue.unshift({ fillTo: lastId });
    }
    this.#started = true;
    this.#drain();
  }

  /** Queues what arrived on the channel. */
  push(payload: RoomPayload): void {
    this.#queue.push(payload);
    this.#drain();
  }

  /** Makes sure everything up to `lastId` (Redis's) gets delivered here. */
  check(lastId: number): void {
    if (lastId <= this.room.committedId) return;
    this.#queue.push({ fillTo: lastId });
    this.#drain();
  }

  /** Resolves once this instance has delivered everything up to `id`. */
  reached(id: number): Promise<void> {
    if (id <= this.room.committedId) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ id, resolve }));
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const committed = this.room.committedId;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.id > committed) return true;
      waiter.resolve();
      return false;
    });
  }

  async #drain(): Promise<void> {
    if (this.#draining || !this.#started) return;
    this.#draining = true;
    try {
      let item: Item | undefined;
      while ((item = this.#queue.shift()) !== undefined) {
        if ("fillTo" in item) {
          await this.#fill(item.fillTo);
          continue;
        }
        if (item.m !== undefined || item.c !== undefined) {
          for (const record of this.#entries(item)) {
            if (record.id <= this.room.committedId) continue;
            if (record.id > this.room.committedId + 1) await this.#fill(record.id - 1);
            this.#deliver(record);
          }
        } else if (item.event !== undefined) {
          this.#context.node.receive(item);
        }
        if (item.k !== undefined) this.#context.applied(item.k);
        this.#wake();
      }
    } finally {
      this.#draining = false;
      this.#wake();
    }
  }

  /** The messages and changes of a payload, in one id order. */
  #entries(payload: RoomPayload): TimelineRecord[] {
    const room = this.room.key;
    const entries: TimelineRecord[] = [];
    for (const [id, from, body, ts, action, replyTo, file] of payload.m ?? []) {
      const message: MessageRecord = {
        room,
        id,
        from,
        body,
        ts: Number(ts),
        action: action === "1",
      };
      if (replyTo !== undefined && replyTo > 0) message.replyTo = replyTo;
      if (file) message.file = JSON.parse(file);
      entries.push(message);
    }
    for (const [id, change, target, from, text, ts] of payload.c ?? []) {
      const record: ChangeRecord = { room, id, change, target, from, text, ts: Number(ts) };
      entries.push(record);
    }
    if (payload.c !== undefined && payload.m !== undefined) entries.sort((a, b) => a.id - b.id);
    return entries;
  }

  #deliver(record: TimelineRecord): void {
    if (isChangeRecord(record)) this.#context.node.deliverChange(this.room, record);
    else this.#context.node.deliverMessage(this.room, record);
  }

  /** Delivers what history holds after the last id delivered, up to `upTo`. */
  async #fill(upTo: number): Promise<void> {
    const room = this.room;
    if (room.members.size === 0) {
      // Nobody here to tell: just keep count.
      room.committedId = Math.max(room.committedId, upTo);
      return;
    }
    try {
      while (room.committedId < upTo) {
        const page = await this.#context.history(room.key, room.committedId, upTo);
        if (page.length === 0) break;
        for (const record of page) {
          if (record.id > room.committedId) this.#deliver(record);
        }
      }
    } catch (error) {
      this.#context.lost(room, error);
    }
    // Ids never written (or lost with Redis) are holes, not something to wait for.
    room.committedId = Math.max(room.committedId, upTo);
  }
}
