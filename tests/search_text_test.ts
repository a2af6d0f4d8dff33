/**
 * The search text is only ever words: for any text a user may send, the
 * parsed terms are refused as `bad_request` or make an FTS5 MATCH that
 * SQLite accepts and that finds exactly what the Redis scan's matcher
 * finds (the two stores agree on what matches).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ChatError } from "../shared/errors.ts";
import { bodyMatches, parseSearchText } from "../server/search/search_text.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { StoreWrite } from "../server/store/store.ts";

const LIMITS = { maxLength: 200, maxTerms: 8 };
// FTS5 syntax, quotes, column filters and words the bodies share.
const PIECES = [
  '"',
  "'",
  "*",
  "-",
  "+",
  "^",
  ":",
  "(",
  ")",
  "{",
  "}",
  "NEAR",
  "NEAR/2",
  "AND",
  "OR",
  "NOT",
  "body",
  "scope",
  "r646576",
  "déjà",
  "DEJA",
  "vu",
  "foo-bar",
  "foo",
  "bar",
  " ",
  "\t",
  "日本",
  "\u{1F600}",
];
const BODIES = [
  "deja vu",
  "Déjà-vu foo bar",
  'she said "near" and NOT or',
  "foo-bar body scope",
  "日本 語",
  "nothing",
  "bar foo",
];

Deno.test("any search text is refused or matched as words, the same in SQLite and Redis", async () => {
  const store = SqliteStore.memory();
  try {
    const writes: StoreWrite[] = [{
      kind: "room",
      record: {
        key: "dev",
        name: "dev",
        owner: null,
        topic: "",
        inviteOnly: false,
        passphrase: null,
        createdAt: 0,
        lastId: BODIES.length,
      },
    }];
    BODIES.forEach((body, index) =>
      writes.push({
        kind: "message",
        record: { room: "dev", id: index + 1, from: "ann", body, ts: index, action: false },
      })
    );
    await store.write(writes);
    const texts = fc.oneof(
      fc.array(fc.constantFrom(...PIECES), { maxLength: 10 }).map((parts) => parts.join("")),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "grapheme", maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(texts, async (text) => {
        let terms;
        try {
          terms = parseSearchText(text, LIMITS);
        } catch (error) {
          assert.ok(error instanceof ChatError && error.code === "bad_request", String(error));
          return;
        }
        const hits = await store.search({ terms, rooms: ["dev"], limit: 50, scan: 0 });
        const found = hits.map((hit) => hit.record.body).sort();
        const expected = BODIES.filter((body) => bodyMatches(body, terms)).sort();
        assert.deepEqual(found, expected, JSON.stringify({ text, terms }));
      }),
      { numRuns: 500 },
    );
  } finally {
    await store.close();
  }
});
