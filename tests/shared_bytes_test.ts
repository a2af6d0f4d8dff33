import assert from "node:assert/strict";
import { concatBytes } from "../shared/bytes.ts";

Deno.test("concatBytes joins parts in order, with or without the total given", () => {
  const parts = [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)];
  assert.deepEqual(concatBytes(parts), Uint8Array.of(1, 2, 3));
  assert.deepEqual(concatBytes(parts, 3), Uint8Array.of(1, 2, 3));
  assert.deepEqual(concatBytes([]), new Uint8Array(0));
  // A new array: changing it leaves the parts alone.
  const joined = concatBytes(parts);
  joined[0] = 9;
  assert.equal(parts[0]![0], 1);
});
