/**
 * Search (docs/protocol.md section 24) over real sockets and a real SQLite
 * file: matches, newest first, paging by cursor, rights (rooms not joined
 * never appear, DMs only one's own), the text taken literally, the limits,
 * the index across a restart and built by its migration for rows that
 * existed before it, and edits and deletes followed by the triggers.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { DATABASE_FILE, SqliteStore } from "../server/store/sqlite_store.ts";
import { MIGRATIONS } from "../server/store/sqlite_migrations.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";

async function say(peer: Peer, room: string, body: string): Promise<number> {
  const ack = await peer.request({ type: "say", room, body });
  assert.equal(ack.type, "ack", JSON.stringify(ack));
  return ack.result.id;
}

async function search(peer: Peer, fields: Record<string, unknown>): Promise<Frame> {
  return await peer.request({ type: "search", ...fields });
}

function bodies(reply: Frame): string[] {
  assert.equal(reply.type, "ack", JSON.stringify(reply));
  return reply.result.results.map((result: Frame) => result.body);
}

Deno.test("search finds the words in the rooms one is in, newest first, and pages", async () => {
  await withDataDir(async (dir) => {
    await using server = await listenRelaxed({ dataDir: dir });
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    await using bob = await Peer.join(port, "bob");
    await alice.request({ type: "join", room: "dev" });
    await alice.request({ type: "join", room: "ops" });
    await bob.request({ type: "join", room: "secret" });
    await say(alice, "dev", "the deploy failed");
    await say(alice, "ops", "Deploy again, please");
    await say(alice, "dev", "lunch?");
    await say(bob, "secret", "deploy the secret plan");
    await say(alice, "dev", "DÉPLOY is not deploy-ed"); // "deploy" as a word, accents off

    const all = await search(alice, { text: "deploy" });
    assert.deepEqual(bodies(all), [
      "DÉPLOY is not deploy-ed",
      "Deploy again, please",
      "the deploy failed",
    ]);
    assert.equal(all.result.more, undefined);
    assert.equal(all.result.cursor, undefined);
    const first = all.result.results[0];
    assert.equal(first.room, "dev");
    assert.equal(first.from, "alice");
    assert.equal(typeof first.id, "number");
    assert.equal(typeof first.ts, "number");

    // Pages: two, then the rest after the cursor.
    const page1 = await search(alice, { text: "deploy", limit: 2 });
    assert.deepEqual(bodies(page1), ["DÉPLOY is not deploy-ed", "Deploy again, please"]);
    assert.equal(page1.result.more, true);
    assert.equal(typeof page1.result.cursor, "string");
    const page2 = await search(alice, { text: "deploy", limit: 2, cursor: page1.result.cursor });
    assert.deepEqual(bodies(page2), ["the deploy failed"]);
    assert.equal(page2.result.more, undefined);

    // One room only; a room one is not in is refused, and never searched.
    assert.deepEqual(bodies(await search(alice, { text: "deploy", room: "#ops" })), [
      "Deploy again, please",
    ]);
    const refused = await search(alice, { text: "deploy", room: "secret" });
    assert.equal(refused.code, "not_in_room");
    assert.deepEqual(bodies(await search(bob, { text: "deploy" })), ["deploy the secret plan"]);

    // All terms must match; a term with punctuation is its words in sequence.
    assert.deepEqual(bodies(await search(alice, { text: "deploy failed" })), [
      "the deploy failed",
    ]);
    assert.deepEqual(bodies(await search(alice, { text: "deploy-ed" })), [
      "DÉPLOY is not deploy-ed",
    ]);
    assert.deepEqual(bodies(await search(alice, { text: "failed deploy-the" })), []);

    // Leaving a room takes its messages out of one's search.
    await alice.request({ type: "leave", room: "ops" });
    assert.deepEqual(bodies(await search(alice, { text: "again" })), []);
  });
});

Deno.test("search takes the text literally: quotes, *, -, NEAR, OR are no syntax", async () => {
  await using server = await listenRelaxed();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  await say(alice, "dev", 'she said "near" twice');
  await say(alice, "dev", "alpha beta");
  await say(alice, "dev", "alpha gamma");
  await say(alice, "dev", "prefix matching");
  for (
    const [text, expected] of [
      ['"near"', ['she said "near" twice']],
      ["NEAR", ['she said "near" twice']],
      ["alpha -beta", ["alpha beta"]], // "-" is no NOT: both words must be there
      ["alpha OR zeta", []], // OR is a word like any other
      ["alpha NEAR/2 beta", []],
      ["pre*", []], // no prefix operator
      ['alpha" OR "x', []],
      ["{body}: alpha", []], // no column filter: "body" is a word, and none has it
      ["{scope}: alpha", []],
    ] as Array<[string, string[]]>
  ) {
    assert.deepEqual(bodies(await search(alice, { text })), expected, text);
  }
  for (const text of ['"', "*", "- * ^", "   "]) {
    const reply = await search(alice, { text });
    assert.equal(reply.type, "error", text);
    assert.equal(reply.code, "bad_request", text);
  }
});

Deno.test("search limits: length, terms, page size, cursor and the rate cost", async () => {
  await using server = await listenRelaxed({
    maxSearchLength: 20,
    maxSearchTerms: 3,
    searchCost: 5,
    rateBurst: 12,
    ratePerSecond: 0.01,
  });
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const long = await search(alice, { text: "x".repeat(21) });
  assert.equal(long.code, "bad_request");
  assert.match(long.message, /at most 20/);
  const many = await search(alice, { text: "a b c d" });
  assert.equal(many.code, "bad_request");
  assert.match(many.message, /at most 3/);
  // hello, join, two searches: 4 + 2 * 5 = 14 > 12: the second search of these is refused.
  const bad = await search(alice, { text: "a", cursor: "nonsense" });
  assert.equal(bad.code, "rate_limited", JSON.stringify(bad));
  assert.ok(bad.retryAfterMs > 0);
});

Deno.test("search refuses a cursor it did not make and caps the page", async () => {
  await using server = await listenRelaxed();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  for (let i = 0; i < 120; i++) await say(alice, "dev", `item ${i}`);
  const bad = await search(alice, { text: "item", cursor: "x1" });
  assert.equal(bad.code, "bad_request");
  const page = await search(alice, { text: "item", limit: 1000 });
  assert.equal(page.result.results.length, 100);
  assert.equal(page.result.more, true);
  assert.equal(page.result.results[0].body, "item 119");
  const rest = await search(alice, { text: "item", limit: 1000, cursor: page.result.cursor });
  assert.deepEqual(
    bodies(rest),
    ["item 19", "item 18"].concat(
      Array.from({ length: 18 }, (_, i) => `item ${17 - i}`),
    ),
  );
  const defaults = await search(alice, { text: "item" });
  assert.equal(defaults.result.results.length, 20);
});

Deno.test("search cuts a page of long messages to fit one frame", async () => {
  await using server = await listenRelaxed({ maxFrameBytes: 16 * 1024 });
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const body = `needle ${"x".repeat(3000)}`;
  for (let i = 0; i < 10; i++) await say(alice, "dev", body);
  const page = await search(alice, { text: "needle", limit: 10 });
  assert.ok(page.result.results.length < 10 && page.result.results.length > 0);
  assert.equal(page.result.more, true);
  let seen = page.result.results.length;
  let cursor = page.result.cursor;
  while (cursor !== undefined) {
    const next = await search(alice, { text: "needle", limit: 10, cursor });
    seen += next.result.results.length;
    cursor = next.result.cursor;
  }
  assert.equal(seen, 10);
});

Deno.test("search covers an account's own direct messages, not others'", async () => {
  await withDataDir(async (dir) => {
    await using server = await listenRelaxed({ dataDir: dir });
    const port = server.addr.port;
    await using alice = await Peer.join(port, "alice");
    assert.equal(
      (await alice.request({ type: "register", password: "alice-password" })).type,
      "ack",
    );
    await using bob = await Peer.join(port, "bob");
    assert.equal((await bob.request({ type: "register", password: "bob-password1" })).type, "ack");
    await using carol = await Peer.join(port, "carol");
    assert.equal(
      (await carol.request({ type: "register", password: "carol-password" })).type,
      "ack",
    );
    await alice.request({ type: "dm", to: "bob", body: "the invoice is ready" });
    await carol.request({ type: "dm", to: "bob", body: "carol's invoice" });
    await bob.request({ type: "dm", to: "alice", body: "thanks for the invoice" });

    const mine = await search(alice, { text: "invoice" });
    assert.deepEqual(bodies(mine), ["thanks for the invoice", "the invoice is ready"]);
    assert.deepEqual(mine.result.results.map((r: Frame) => [r.with, r.from, r.room]), [
      ["bob", "bob", undefined],
      ["bob", "alice", undefined],
    ]);
    assert.deepEqual(bodies(await search(bob, { text: "invoice" })), [
      "thanks for the invoice",
      "carol's invoice",
      "the invoice is ready",
    ]);
    assert.deepEqual(bodies(await search(carol, { text: "invoice" })), ["carol's invoice"]);
    // A guest has no stored conversations to search.
    await using guest = await Peer.join(port, "guest");
    assert.deepEqual(bodies(await search(guest, { text: "invoice" })), []);
  });
});

Deno.test("search follows edits and deletes of messages made in place, and pruning", async () => {
  await withDataDir(async (dir) => {
    {
      await using server = await listenRelaxed({ dataDir: dir });
      await using alice = await Peer.join(server.addr.port, "alice");
      await alice.request({ type: "join", room: "dev" });
      await say(alice, "dev", "first draft");
      await say(alice, "dev", "to be deleted");
    }
    // Edits and deletes are UPDATEs of messages.body (another branch makes them).
    const db = new DatabaseSync(join(dir, DATABASE_FILE));
    db.prepare("UPDATE messages SET body = 'final version' WHERE body = 'first draft'").run();
    db.prepare("UPDATE messages SET body = '' WHERE body = 'to be deleted'").run();
    db.close();
    await using server = await listenRelaxed({ dataDir: dir });
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    assert.deepEqual(bodies(await search(alice, { text: "draft" })), []);
    assert.deepEqual(bodies(await search(alice, { text: "final" })), ["final version"]);
    assert.deepEqual(bodies(await search(alice, { text: "deleted" })), []);
    // A room's key rewritten (the name-key migration does this) moves its messages' scope.
    const rekey = new DatabaseSync(join(dir, DATABASE_FILE));
    rekey.prepare("UPDATE messages SET room_key = 'dev2' WHERE room_key = 'dev'").run();
    // The index agrees with its content (FTS5 checks every entry against the view).
    rekey.exec("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)");
    rekey.close();
    const store = SqliteStore.open(dir);
    try {
      const moved = await store.search({ terms: [["final"]], rooms: ["dev2"], limit: 10, scan: 0 });
      assert.deepEqual(moved.map((hit) => hit.record.body), ["final version"]);
      assert.deepEqual(
        await store.search({ terms: [["final"]], rooms: ["dev"], limit: 10, scan: 0 }),
        [],
      );
      assert.equal(await store.prune({ maxMessages: 0, maxAgeMs: 1 }, 100), 2);
      const hits = await store.search({
        terms: [["final"]],
        rooms: ["dev2"],
        limit: 10,
        scan: 0,
      });
      assert.deepEqual(hits, []);
    } finally {
      await store.close();
    }
  });
});

Deno.test("the index persists across a restart", async () => {
  await withDataDir(async (dir) => {
    {
      await using server = await listenRelaxed({ dataDir: dir });
      await using alice = await Peer.join(server.addr.port, "alice");
      await alice.request({ type: "join", room: "dev" });
      await say(alice, "dev", "remember the kettle");
    }
    await using server = await listenRelaxed({ dataDir: dir });
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    await say(alice, "dev", "a new kettle");
    assert.deepEqual(bodies(await search(alice, { text: "kettle" })), [
      "a new kettle",
      "remember the kettle",
    ]);
  });
});

Deno.test("the migration indexes the messages and DMs stored before it", async () => {
  await withDataDir(async (dir) => {
    // A database at the schema version before search, with rows in it.
    const db = new DatabaseSync(join(dir, DATABASE_FILE));
    const before = MIGRATIONS.findIndex((sql) => sql.includes("CREATE VIRTUAL TABLE search_index"));
    assert.ok(before > 0);
    for (const sql of MIGRATIONS.slice(0, before)) db.exec(sql);
    db.exec(`PRAGMA user_version = ${before}`);
    db.exec(`INSERT INTO rooms (room_key, name, created_at, last_id) VALUES ('dev', 'dev', 1, 3)`);
    db.exec(`INSERT INTO messages (room_key, id, from_name, body, ts) VALUES
      ('dev', 1, 'ann', 'old lighthouse', 1000),
      ('dev', 2, 'ann', 'nothing here', 2000),
      ('dev', 3, 'ann', 'newer lighthouse', 3000)`);
    db.exec(`INSERT INTO dms (id, pair_key, from_key, from_name, to_key, to_name, body, ts)
      VALUES (1, 'ann\nbo', 'ann', 'ann', 'bo', 'bo', 'lighthouse keeper', 2500)`);
    db.close();
    const store = SqliteStore.open(dir);
    try {
      assert.equal(store.schemaVersion, MIGRATIONS.length);
      const hits = await store.search({
        terms: [["lighthouse"]],
        rooms: ["dev"],
        dmsOf: "bo",
        limit: 10,
        scan: 0,
      });
      assert.deepEqual(hits.map((hit) => [hit.kind, hit.record.body]), [
        ["message", "newer lighthouse"],
        ["dm", "lighthouse keeper"],
        ["message", "old lighthouse"],
      ]);
      const ann = await store.search({
        terms: [["keeper"]],
        rooms: [],
        dmsOf: "zed",
        limit: 5,
        scan: 0,
      });
      assert.deepEqual(ann, []);
    } finally {
      await store.close();
    }
  });
});

Deno.test("plain-text mode: /search TEXT [#ROOM] and its next page", async () => {
  await using server = await listenRelaxed();
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice");
  await alice.request({ type: "join", room: "dev" });
  await alice.request({ type: "join", room: "ops" });
  await say(alice, "dev", "coffee machine broken");
  await say(alice, "ops", "coffee is back");
  await say(alice, "ops", "tea only");
  await using text = await TextPeer.connect(port);
  text.write("tom\n/join dev\n/join ops\n");
  await text.waitFor("Now talking in #ops");
  text.write("/search coffee\n");
  await text.waitFor(/#ops .*<alice> coffee is back[\s\S]*#dev .*<alice> coffee machine broken/);
  await text.waitFor("--- 2 results");
  text.write("/search coffee #dev\n");
  await text.waitFor(/--- 1 result\b/);
  text.write("/search tea #nowhere\n");
  await text.waitFor("You are not in #nowhere");
  // A page at a time: the reply says how to get the next one.
  for (let i = 0; i < 25; i++) await say(alice, "dev", `biscuit ${i}`);
  await text.waitFor("<alice> biscuit 24\r\n");
  const from = text.text.length;
  text.write("/search biscuit #dev\n");
  await text.waitFor(/More: (\/search after:\S+ biscuit #dev)\r?\n/);
  const page = text.text.slice(from);
  assert.match(page, /#dev #\d+ <alice> biscuit 24\r\n/);
  assert.ok(page.includes("biscuit 5\r\n") && !page.includes("biscuit 4\r\n"), page);
  assert.ok(page.indexOf("biscuit 24") < page.indexOf("biscuit 23"), "newest first");
  const next = /More: (\/search after:\S+ biscuit #dev)/.exec(page)![1]!;
  text.write(`${next}\n`);
  await text.waitFor(/biscuit 0\r?\n/);
  await text.waitFor("--- 5 results");
});

Deno.test("searches beyond --max-search-concurrency and its queue are server_busy", async () => {
  await withDataDir(async (dir) => {
    // The store's search waits at a gate, so the test decides when it ends.
    const store = SqliteStore.open(dir);
    const search = store.search.bind(store);
    let release: (() => void) | undefined;
    const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
    store.search = async (query) => {
      if (release === undefined) {
        const gate = new Promise<void>((resolve) => release = resolve);
        enter();
        await gate;
      }
      return await search(query);
    };
    await using server = await listenRelaxed({
      store,
      maxSearchConcurrency: 1,
      maxSearchWaiting: 0,
    });
    const port = server.addr.port;
    await using ann = await Peer.join(port, "ann");
    await using ben = await Peer.join(port, "ben");
    await ann.request({ type: "join", room: "dev" });
    await ben.request({ type: "join", room: "dev" });
    await say(ann, "dev", "needle in a haystack");
    const running = ann.request({ type: "search", text: "needle" });
    await entered;
    const refused = await ben.request({ type: "search", text: "needle" });
    assert.equal(refused.code, "server_busy");
    assert.ok(refused.retryAfterMs > 0);
    assert.match(refused.message, /busy with searches/);
    release!();
    assert.deepEqual(bodies(await running), ["needle in a haystack"]);
    assert.deepEqual(bodies(await ben.request({ type: "search", text: "needle" })), [
      "needle in a haystack",
    ]);
  });
});
