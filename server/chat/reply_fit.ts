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

/**
 * An upper bound of an event's encoded size, in bytes: a fixed part for the
 * usual fields, plus every string, and nested fields (a message's
 * `deleted` and `reactions` in history, section 21) with their names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventBytes } from "./reply_fit.ts";
 * const plain = { type: "message", room: "r", from: "a", body: "hi", id: 1, ts: 1 } as const;
 * const reacted = { ...plain, reactions: [{ emoji: "👍", count: 2, users: ["bob", "eve"] }] };
 * assert.ok(eventBytes(reacted) > eventBytes(plain) + 20);
 * ```
 */
export function eventBytes(event: ChatEvent): number {
  let bytes = 96;
  for (const [key, value] of Object.entries(event)) {
    if (typeof value === "string") bytes += utf8ByteLength(value);
    else if (typeof value === "object" && value !== null) bytes += key.length + nestedBytes(value);
    // id and ts are in the fixed part; replyTo, edited, target are not.
    else if (typeof value === "number" && key !== "id" && key !== "ts") bytes += key.length + 10;
  }
  return bytes;
}

/** An upper bound of a nested value's MessagePack size: headers, names, numbers and strings. */
function nestedBytes(value: unknown): number {
  if (typeof value === "string") return utf8ByteLength(value) + 5;
  if (typeof value === "number") return 9;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + nestedBytes(item), 5);
  if (typeof value === "object" && value !== null) {
    let bytes = 5;
    for (const [key, item] of Object.entries(value)) bytes += key.length + 1 + nestedBytes(item);
    return bytes;
  }
  return 1;
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
