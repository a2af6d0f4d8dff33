/**
 * Cutting lists and message pages to fit one reply frame: every reply the
 * broker builds stays under the reply budget, whatever the names and
 * bodies weigh.
 *
 * @module
 */
import { utf8ByteLength } from "../../shared/bytes.ts";
import type { ChatEvent } from "../../shared/protocol.ts";

/**
 * The longest run of `items` (one more than `limit` was read, to tell if
 * there is more) that is at most `limit` long and within `maxBytes` by
 * `size`; `more` when some were left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitList } from "./reply_fit.ts";
 * const fit = fitList(["a", "b", "c"], { limit: 2, maxBytes: 100, size: () => 1 });
 * assert.deepEqual(fit, { items: ["a", "b"], more: true });
 * ```
 */
export function fitList<T>(
  items: readonly T[],
  options: { limit: number; maxBytes: number; size: (item: T) => number },
): { items: T[]; more: boolean } {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    if (count === options.limit) break;
    bytes += options.size(item);
    if (bytes > options.maxBytes) break;
    count++;
  }
  return { items: items.slice(0, count), more: count < items.length };
}

/** An upper bound of a name's encoded size in a reply's list. */
export function nameBytes(name: string): number {
  return utf8ByteLength(name) + 3;
}

/**
 * An upper bound of what a name's entry in a page's `away` list adds to a
 * reply (section 22): nothing when it is not away.
 */
export function awayBytes(name: string, message: string | undefined): number {
  return message === undefined ? 0 : utf8ByteLength(name) + utf8ByteLength(message) + 24;
}

/** An upper bound of an event's encoded size, in bytes. */
export function eventBytes(event: ChatEvent): number {
  let bytes = 96;
  for (const value of Object.values(event)) {
    if (typeof value === "string") bytes += utf8ByteLength(value);
  }
  return bytes;
}

/**
 * The longest run of `events` that fits in `maxBytes`: the oldest when
 * paging forward, else the newest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventBytes, fitEvents } from "./reply_fit.ts";
 * const events = [1, 2, 3].map((id) => ({ type: "notice" as const, body: `${id}`, ts: id }));
 * const newest = fitEvents(events, { oldestFirst: false, maxBytes: 2 * eventBytes(events[0]!) });
 * assert.deepEqual(newest.map((event) => event.ts), [2, 3]);
 * ```
 */
export function fitEvents<T extends ChatEvent>(
  events: T[],
  options: { oldestFirst: boolean; maxBytes: number },
): T[] {
  let bytes = 0;
  const order = options.oldestFirst ? events : [...events].reverse();
  let count = 0;
  for (const event of order) {
    bytes += eventBytes(event);
    if (bytes > options.maxBytes) break;
    count++;
  }
  return options.oldestFirst ? events.slice(0, count) : events.slice(events.length - count);
}
