import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { WalSyncer } from "../server/store/wal_syncer.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";

Deno.test("WalSyncer syncs at most once per interval however many commits come", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db-wal`;
    await Deno.writeFile(path, new Uint8Array(4096));
    const syncer = new WalSyncer(path, { intervalMs: 50 });
    for (let i = 0; i < 100; i++) syncer.committed();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(syncer.syncs, 1, "the first commit starts a sync; the rest wait for the interval");
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(syncer.syncs, 2, "commits during the interval are covered by one more sync");
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(syncer.syncs, 2, "no commits, no syncs");
    syncer.committed();
    await syncer.close();
    syncer.committed();
    assert.ok(syncer.syncs <= 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WalSyncer: a missing WAL file is not an error", async () => {
  const syncer = new WalSyncer("/nonexistent/chat.db-wal", { intervalMs: 1 });
  syncer.committed();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(syncer.syncs, 0);
  await syncer.close();
});

Deno.test("SqliteStore with the background WAL syncer closes cleanly and keeps every committed row", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = SqliteStore.open(dir);
    for (let id = 1; id <= 300; id++) {
      await store.write([{
        kind: "message",
        record: { room: "lobby", id, from: "ann", body: `m${id}`, ts: id, action: false },
      }]);
    }
    await store.close();
    // Read the file directly: every committed row is there.
    const db = new DatabaseSync(`${dir}/chat.db`);
    const row = db.prepare("SELECT count(*) AS n, max(id) AS last FROM messages").get() as {
      n: number;
      last: number;
    };
    db.close();
    assert.deepEqual({ n: row.n, last: row.last }, { n: 300, last: 300 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
