/**
 * A map from name keys (see `nameKey`) that keeps its keys in order, so
 * lists of rooms, users and members can be paged with a cursor: "the next
 * `limit` after this name". The order is that of the keys' code points,
 * which is also their UTF-8 byte order: the order Redis keeps a sorted set
 * of equal scores in, so a page means the same with one instance or many.
 *
 * @module
 */

/**
 * Compares two strings by code point (UTF-8 byte order), not by UTF-16 code
 * unit as `<` does: the two differ only for characters beyond U+FFFF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareCodePoints } from "./sorted_name_map.ts";
 * assert.equal(compareCodePoints("\u{1F600}", "\uFFFD") > 0, true); // U+1F600 is after U+FFFD
 * assert.equal("\u{1F600}" < "\uFFFD", true); // its first code unit, U+D83D, is before U+FFFD
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–DFFF) stand for code points above every BMP one.
    const shift = (unit: number) =>
      unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;
    return shift(x) - shift(y);
  }
  return a.length - b.length;
}

/**
 * A `Map` whose keys are also kept sorted (by {@linkcode compareCodePoints}):
 * `set` and `delete` keep the order in O(n) moves of one array (cheap for the
 * tens of thousands of entries a server has), `page` finds a cursor in
 * O(log n).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SortedNameMap } from "./sorted_name_map.ts";
 * const rooms = new SortedNameMap<number>();
 * for (const [key, size] of [["ops", 2], ["dev", 5], ["lobby", 9]] as const) rooms.set(key, size);
 * assert.deepEqual(rooms.page({ after: "dev", limit: 5 }), [["lobby", 9], ["ops", 2]]);
 * ```
 */
export class SortedNameMap<V> extends Map<string, V> {
  // Filled after super(): a Map constructed with entries would call set first.
  #keys: string[] | undefined;

  #sorted(): string[] {
    return this.#keys ??= [...super.keys()].sort(compareCodePoints);
  }

  override set(key: string, value: V): this {
    if (!this.has(key)) {
      const keys = this.#sorted();
      keys.splice(this.#firstAfter(keys, key, true), 0, key);
    }
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    if (!super.delete(key)) return false;
    const keys = this.#sorted();
    keys.splice(this.#firstAfter(keys, key, true), 1);
    return true;
  }

  override clear(): void {
    super.clear();
    this.#keys = [];
  }

  /**
   * At most `limit` entries in key order, starting after `after` (a key,
   * which need not be present) or at the first.
   */
  page(options: { after?: string | undefined; limit: number }): Array<[string, V]> {
    const keys = this.#sorted();
    const start = options.after === undefined ? 0 : this.#firstAfter(keys, options.after, false);
    return keys.slice(start, start + Math.max(0, options.limit)).map((
      key,
    ) => [key, this.get(key)!]);
  }

  /** The index of the first key after `key` (`orAt`: at or after it). */
  #firstAfter(keys: readonly string[], key: string, orAt: boolean): number {
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = compareCodePoints(keys[middle]!, key);
      if (order < 0 || (order === 0 && !orAt)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
