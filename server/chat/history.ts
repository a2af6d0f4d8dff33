/**
 * Reading stored messages back: the catch-up a join carries (recent
 * messages, or everything after `since` with any gap said plainly), and
 * pages of room and direct-message history. Every read is one of the
 * session's bounded history reads and fits one reply.
 *
 * @module
 */
import { utf8ByteLength } from "../../shared/bytes.ts";
import { ChatError } from "../../shared/errors.ts";
import { MAX_HISTORY_PAGE, type ResultOf, type TimelineEntry } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { HistoryLimiter } from "../limits/history_limiter.ts";
import { isChangeRecord, type Store, type TimelineRecord } from "../store/store.ts";
import { dmEvent, messageEvent, timelineEvent } from "./message_events.ts";
import { eventBytes, fitEvents } from "./reply_fit.ts";
import type { Member, Room } from "./room.ts";

/** Messages lost between `after` and `oldest`: ids `after`+1 to `oldest`-1 are no longer stored. */
export interface HistoryGap {
  after: number;
  oldest: number;
}

/** What a join replays: `more` when the client must page for the rest. */
export interface CatchUp {
  /** Messages, and with `since` the changes too (section 21), in id order. */
  history: TimelineEntry[];
  more: boolean;
  gap?: HistoryGap;
}

/** Which page: before or after an id, at most `limit` messages. */
export interface HistoryQuery {
  before?: number;
  after?: number;
  limit?: number;
}

/** Settings of a {@linkcode HistoryReader}. */
export interface HistoryReaderOptions {
  readonly store: Store;
  /** Bounds how many history reads run and wait, per session and in all. */
  readonly reads: HistoryLimiter;
  /** Messages sent with the join reply. */
  readonly onJoin: number;
  /** Most messages replayed on a resuming join before the client must page. */
  readonly maxReplay: number;
  /** Largest reply, in bytes. */
  readonly maxReplyBytes: number;
  /** The part of a join reply kept for its first page of members, in bytes. */
  readonly memberListBytes: number;
}

/** Reads history for joins and history requests. */
export class HistoryReader {
  readonly #store: Store;
  readonly #reads: HistoryLimiter;
  readonly #options: HistoryReaderOptions;

  constructor(options: HistoryReaderOptions) {
    this.#store = options.store;
    this.#reads = options.reads;
    this.#options = options;
  }

  /**
   * What a join of `room` replays: the latest messages, or with `since`
   * everything after it (saying what is lost), up to `upTo` — every
   * message after that reaches the member live. One history read of
   * `member`'s, bounded in bytes by what the join reply leaves for it.
   */
  async catchUp(
    member: Member,
    room: Room,
    options: { since: number | undefined; upTo: number },
  ): Promise<CatchUp> {
    const { since, upTo } = options;
    // The topic and the first page of members share the reply with history.
    const maxBytes = this.#options.maxReplyBytes - utf8ByteLength(room.topic) -
      this.#options.memberListBytes;
    return await this.#reads.run(member, async () => {
      const history: TimelineEntry[] = [];
      if (since === undefined) {
        if (this.#options.onJoin === 0 || upTo === 0) return { history, more: false };
        const page = await this.#store.history(room.key, {
          upTo,
          limit: this.#options.onJoin,
          maxBytes,
        });
        // Newest first when cutting to fit one frame: older pages are a `history` away.
        history.push(
          ...fitEvents(
            page.map((record) => messageEvent(record, { room: room.name, history: true })),
            {
              oldestFirst: false,
              maxBytes,
            },
          ),
        );
        return { history, more: false };
      }
      let gap: HistoryGap | undefined;
      if (since < upTo) {
        const oldest = await this.#store.oldestId(room.key);
        if (oldest === undefined || oldest > since + 1) {
          gap = { after: since, oldest: oldest ?? upTo + 1 };
        }
      }
      const more = await this.#readOn(room, { after: since, upTo, into: history, maxBytes });
      return gap ? { history, more, gap } : { history, more };
    });
  }

  /**
   * Appends history after `after` up to `upTo`; true if the replay limit or
   * `maxBytes` (counting what `into` already holds) cut it short.
   */
  async #readOn(
    room: Room,
    options: { after: number; upTo: number; into: TimelineEntry[]; maxBytes: number },
  ): Promise<boolean> {
    const { into, upTo, maxBytes } = options;
    let last = options.after;
    let bytes = into.reduce((sum, event) => sum + eventBytes(event), 0);
    const most = Math.min(this.#options.maxReplay, MAX_HISTORY_PAGE);
    while (last < upTo) {
      const left = most - into.length;
      if (left <= 0) return true;
      // Every timeline entry, changes included (section 21): the client learns of
      // changes to messages it already has.
      const page = await this.#store.timeline(room.key, {
        after: last,
        upTo,
        limit: left,
        maxBytes: maxBytes - bytes,
      });
      if (page.length === 0) break;
      const deleted = await this.#deletedTargets(room, page);
      for (const record of page) {
        const event = timelineEvent(record, { room: room.name, deleted });
        bytes += eventBytes(event);
        // The reply must fit in one frame: the client pages for the rest.
        if (bytes > maxBytes) return true;
        into.push(event);
        last = record.id;
      }
    }
    return false;
  }

  /**
   * The targets of the edits in `page` that are deleted now (their words are
   * not given again): those deleted later in the page, or before it.
   */
  async #deletedTargets(room: Room, page: readonly TimelineRecord[]): Promise<Set<number>> {
    const deleted = new Set<number>();
    const inPage = new Map<number, boolean>();
    for (const record of page) {
      if (!isChangeRecord(record)) inPage.set(record.id, record.deleted !== undefined);
      else if (record.change === "delete") deleted.add(record.target);
    }
    for (const record of page) {
      if (!isChangeRecord(record) || record.change !== "edit" || deleted.has(record.target)) {
        continue;
      }
      const known = inPage.get(record.target);
      const gone = known ?? (await this.#store.messageState(room.key, record.target))?.deleted;
      if (gone) deleted.add(record.target);
    }
    return deleted;
  }

  /**
   * A page of `room`'s history (the member is in it), one history read of
   * `member`'s: with `after`, every timeline entry (a catch-up, section 21);
   * else messages only, in their current state.
   */
  async roomPage(
    member: Member,
    room: Room,
    query: HistoryQuery,
  ): Promise<ResultOf<"history">> {
    const limit = Math.min(query.limit ?? 50, MAX_HISTORY_PAGE);
    const forward = query.after !== undefined;
    if (query.after !== undefined) {
      const after = query.after;
      return await this.#reads.run(member, async () => {
        const page = await this.#store.timeline(room.key, {
          after,
          upTo: room.committedId,
          limit: limit + 1,
          maxBytes: this.#options.maxReplyBytes,
        });
        const deleted = await this.#deletedTargets(room, page);
        const entries = fitEvents(
          page.slice(0, limit).map((record) => timelineEvent(record, { room: room.name, deleted })),
          { oldestFirst: true, maxBytes: this.#options.maxReplyBytes },
        );
        return entries.length < page.length
          ? { room: room.name, messages: entries, more: true }
          : { room: room.name, messages: entries };
      });
    }
    // One more than asked: whether it exists says if there is more in that
    // direction. The store stops at the reply's byte budget, so a page of
    // long messages costs one frame's worth of reading, not `limit` messages.
    const page = await this.#reads.run(member, () =>
      this.#store.history(room.key, {
        ...query,
        upTo: room.committedId,
        limit: limit + 1,
        maxBytes: this.#options.maxReplyBytes,
      }));
    const asked = page.length > limit ? (forward ? page.slice(0, limit) : page.slice(1)) : page;
    const messages = fitEvents(
      asked.map((record) => messageEvent(record, { room: room.name, history: true })),
      { oldestFirst: forward, maxBytes: this.#options.maxReplyBytes },
    );
    return messages.length < page.length
      ? { room: room.name, messages, more: true }
      : { room: room.name, messages };
  }

  /** A page of the account's direct messages with `peer`, one history read of `member`'s. */
  async dmPage(
    member: Member,
    peer: string,
    query: HistoryQuery,
  ): Promise<ResultOf<"dm_history">> {
    const account = member.account;
    if (account === undefined) {
      throw new ChatError("forbidden", "DM history needs a registered account: /register PASSWORD");
    }
    const limit = Math.min(query.limit ?? 50, MAX_HISTORY_PAGE);
    const forward = query.after !== undefined;
    const page = await this.#reads.run(
      member,
      () =>
        this.#store.dmHistory(account, nameKey(peer), {
          ...query,
          limit: limit + 1,
          maxBytes: this.#options.maxReplyBytes,
        }),
    );
    const asked = page.length > limit ? (forward ? page.slice(0, limit) : page.slice(1)) : page;
    const messages = fitEvents(asked.map((record) => dmEvent(record, { history: true })), {
      oldestFirst: forward,
      maxBytes: this.#options.maxReplyBytes,
    });
    return messages.length < page.length
      ? { with: peer, messages, more: true }
      : { with: peer, messages };
  }

  /**
   * Runs a history read of `member`'s, waiting out `server_busy` refusals
   * (as long as `ready` says the member is still there) instead of failing.
   */
  async patiently<T>(
    member: Member,
    read: () => Promise<T>,
    ready: (() => Promise<boolean>) | undefined,
  ): Promise<T | undefined> {
    while (true) {
      try {
        return await this.#reads.run(member, read);
      } catch (error) {
        if (!(error instanceof ChatError) || error.code !== "server_busy") throw error;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? 100));
        if (ready !== undefined && !(await ready())) return undefined;
      }
    }
  }
}
