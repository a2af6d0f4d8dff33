/**
 * Full-text search over the history a user may read (docs/protocol.md
 * section 24): the rooms they are in now, and an account's own direct
 * messages. A search is parsed before anything is read, runs under a
 * permit of its own limiter (a few at once on the server, a bounded queue,
 * `server_busy` beyond it), reads one page from the store and is cut to fit
 * one reply.
 *
 * @module
 */
import { utf8ByteLength } from "../../shared/bytes.ts";
import { MAX_SEARCH_PAGE, type ResultOf } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import { HistoryLimiter } from "../limits/history_limiter.ts";
import { fitList } from "../chat/reply_fit.ts";
import type { Member, Room } from "../chat/room.ts";
import type { SearchHit, Store } from "../store/store.ts";
import { parseSearchText, type SearchTextLimits } from "./search_text.ts";

/** One result of a `search` reply. */
export type SearchResult = ResultOf<"search">["results"][number];

/** A search as the session has it from the request. */
export interface SearchRequest {
  text: string;
  cursor?: string;
  limit?: number;
}

/** Settings of a {@linkcode MessageSearch}. */
export interface MessageSearchOptions extends Partial<SearchTextLimits> {
  readonly store: Store;
  /** Searches the server runs at once. */
  readonly concurrency?: number;
  /** Searches waiting for one of those; more are refused with `server_busy`. */
  readonly waiting?: number;
  /** Largest reply, in bytes. */
  readonly maxReplyBytes?: number;
  /** For a store without an index (Redis): each room's latest messages searched. */
  readonly scan?: number;
}

/** Results of a page when the request gives no limit. */
export const DEFAULT_SEARCH_PAGE = 20;

/** An upper bound of a result's encoded size in a reply. */
function resultBytes(result: SearchResult): number {
  return 80 + utf8ByteLength(result.room ?? result.with ?? "") + utf8ByteLength(result.from) +
    utf8ByteLength(result.body);
}

/**
 * Searches stored messages for a member.
 *
 * @example
 * ```ts ignore
 * const search = new MessageSearch({ store });
 * const page = await search.run(member, { rooms: [...member.rooms], dms: true }, { text: "deploy" });
 * ```
 */
export class MessageSearch {
  readonly #store: Store;
  readonly #limits: SearchTextLimits;
  readonly #permits: HistoryLimiter;
  readonly #maxReplyBytes: number;
  readonly #scan: number;

  constructor(options: MessageSearchOptions) {
    this.#store = options.store;
    this.#limits = { maxLength: options.maxLength ?? 200, maxTerms: options.maxTerms ?? 8 };
    const concurrency = options.concurrency ?? 2;
    this.#permits = new HistoryLimiter({
      work: "searches",
      // A session's searches run one at a time already (in turn, as history does).
      perHolder: 1,
      perHolderWaiting: 1,
      running: concurrency,
      waiting: options.waiting ?? 8 * concurrency,
      retryAfterMs: 250,
    });
    this.#maxReplyBytes = options.maxReplyBytes ?? 60 * 1024;
    this.#scan = options.scan ?? 1000;
  }

  /** Searches running now. */
  get running(): number {
    return this.#permits.running;
  }

  /**
   * A page of matches of `request` in `scope` (what `member` may read: the
   * rooms, and with `dms` the account's direct messages), newest first.
   */
  async run(
    member: Member,
    scope: { rooms: readonly Room[]; dms: boolean },
    request: SearchRequest,
  ): Promise<ResultOf<"search">> {
    const terms = parseSearchText(request.text, this.#limits);
    const limit = Math.min(request.limit ?? DEFAULT_SEARCH_PAGE, MAX_SEARCH_PAGE);
    const rooms = new Map(scope.rooms.map((room) => [room.key, room]));
    const account = scope.dms ? member.account : undefined;
    const hits = await this.#permits.run(member, () =>
      this.#store.search({
        terms,
        rooms: [...rooms.keys()],
        ...(account === undefined ? {} : { dmsOf: account }),
        ...(request.cursor === undefined ? {} : { cursor: request.cursor }),
        // One more than asked: whether it is there says if there is more.
        limit: limit + 1,
        maxBytes: this.#maxReplyBytes,
        scan: this.#scan,
      }));
    const results: Array<{ result: SearchResult; cursor: string }> = [];
    for (const hit of hits) {
      const result = toResult(hit, { rooms, account });
      if (result !== undefined) results.push({ result, cursor: hit.cursor });
    }
    const { items, more } = fitList(results, {
      limit,
      maxBytes: this.#maxReplyBytes,
      size: (item) => resultBytes(item.result),
    });
    const last = items[items.length - 1];
    const page: ResultOf<"search"> = { results: items.map((item) => item.result) };
    if (more && last !== undefined) {
      page.more = true;
      page.cursor = last.cursor;
    }
    return page;
  }
}

function toResult(
  hit: SearchHit,
  context: { rooms: ReadonlyMap<string, Room>; account: string | undefined },
): SearchResult | undefined {
  const { record } = hit;
  let result: SearchResult;
  if (hit.kind === "message") {
    const room = context.rooms.get(hit.record.room);
    // Only rooms asked for: a store never widens the search.
    if (room === undefined) return undefined;
    result = {
      room: room.name,
      id: record.id,
      from: record.from,
      body: record.body,
      ts: record.ts,
    };
  } else {
    const { account } = context;
    if (account === undefined) return undefined;
    const from = nameKey(hit.record.from);
    const to = nameKey(hit.record.to);
    if (from !== account && to !== account) return undefined;
    result = {
      with: from === account ? hit.record.to : hit.record.from,
      id: record.id,
      from: record.from,
      body: record.body,
      ts: record.ts,
    };
  }
  if (record.action) result.action = true;
  return result;
}
