import assert from "node:assert/strict";
import fc from "fast-check";
import { Buffer } from "node:buffer";
import { compareCodePoints, SortedNameMap } from "../server/chat/sorted_name_map.ts";

/** The order a Redis sorted set of equal scores keeps: the keys' UTF-8 bytes. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

Deno.test("compareCodePoints orders as UTF-8 bytes do, beyond the BMP too", () => {
  const keys = ["b", "a", "\uFFFD", "\u{1F600}", "\uE000", "\u00e9", "ab", "", "\u{20000}"];
  assert.deepEqual([...keys].sort(compareCodePoints), [...keys].sort(byUtf8));
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
      assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(byUtf8(a, b)));
    }),
  );
});

Deno.test("SortedNameMap pages in key order after a cursor that need not be a key", () => {
  const map = new SortedNameMap<number>();
  for (const [index, key] of ["ops", "dev", "lobby", "art", "zed"].entries()) map.set(key, index);
  assert.deepEqual(map.page({ limit: 2 }), [["art", 3], ["dev", 1]]);
  assert.deepEqual(map.page({ after: "dev", limit: 2 }), [["lobby", 2], ["ops", 0]]);
  assert.deepEqual(map.page({ after: "m", limit: 10 }).map(([key]) => key), ["ops", "zed"]);
  assert.deepEqual(map.page({ after: "zzz", limit: 10 }), []);
  assert.deepEqual(map.page({ limit: 0 }), []);
  // Setting a present key keeps its place; deleting takes it out of the pages.
  map.set("dev", 9);
  assert.equal(map.delete("lobby"), true);
  assert.equal(map.delete("lobby"), false);
  assert.deepEqual(map.page({ limit: 10 }), [["art", 3], ["dev", 9], ["ops", 0], ["zed", 4]]);
  map.clear();
  assert.deepEqual(map.page({ limit: 10 }), []);
  map.set("new", 1);
  assert.deepEqual(map.page({ limit: 10 }), [["new", 1]]);
});

Deno.test("SortedNameMap pages stay those of a sorted copy under any sets and deletes", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 3 }))),
    fc.string({ maxLength: 3 }),
    (operations, after) => {
      const map = new SortedNameMap<boolean>();
      const model = new Set<string>();
      for (const [add, key] of operations) {
        if (add) {
          map.set(key, true);
          model.add(key);
        } else {
          assert.equal(map.delete(key), model.delete(key));
        }
      }
      const sorted = [...model].sort(compareCodePoints);
      assert.deepEqual(map.page({ limit: 1000 }).map(([key]) => key), sorted);
      const expected = sorted.filter((key) => compareCodePoints(key, after) > 0).slice(0, 3);
      assert.deepEqual(map.page({ after, limit: 3 }).map(([key]) => key), expected);
      assert.equal(map.size, model.size);
    },
  ));
});
