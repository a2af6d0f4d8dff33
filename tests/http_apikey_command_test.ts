/**
 * `chat apikey` as a subprocess over a real data directory (and a real
 * Redis): a key is printed once and only its hash is stored; list and del;
 * the key then works against `chat serve --http` and stops working once deleted.
 */
import assert from "node:assert/strict";
import { RedisConnection } from "../server/cluster/redis_connection.ts";
import { RedisKeys } from "../server/cluster/redis_keys.ts";
import { ApiKeyService } from "../server/http/api_key_service.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { RedisServer } from "./support/redis_server.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const KEY = /^chat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;

async function httpPort(server: ServerProcess): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const match = /serving HTTP on [^\s]*:(\d+)/.exec(server.output);
    if (match) return Number(match[1]);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no HTTP line:\n${server.output}`);
}

Deno.test("chat apikey add prints the key once, stores only its hash; list and del; the server honours it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-apikey-" });
  try {
    const added = await runChat(["apikey", "add", "deploybot", "--data", dir, "--create"]);
    assert.equal(added.code, 0, added.stderr);
    const key = added.stdout.trim();
    assert.match(key, KEY);
    assert.match(added.stderr, /Added API key deploybot\. Keep it now: it is shown only this once/);
    const admin = await runChat(["apikey", "add", "opsbot", "--admin", "--data", dir]);
    assert.equal(admin.code, 0, admin.stderr);
    const again = await runChat(["apikey", "add", "DeployBot", "--data", dir]);
    assert.deepEqual([again.code, again.stdout], [1, ""]);
    assert.match(again.stderr, /already exists/);
    assert.equal((await runChat(["apikey", "add", "bad name", "--data", dir])).code, 1);
    assert.equal((await runChat(["apikey", "frobnicate", "--data", dir])).code, 2);
    assert.equal((await runChat(["apikey", "list", "--admin", "--data", dir])).code, 2);

    // Neither the key nor its secret is anywhere in the data directory.
    // The secret is base64url and may itself contain "_": everything after `chat_<id>_`.
    const secret = key.split("_").slice(2).join("_");
    for await (const entry of Deno.readDir(dir)) {
      const bytes = new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${entry.name}`));
      assert.equal(bytes.includes(secret), false, entry.name);
    }
    const listed = await runChat(["apikey", "list", "--data", dir]);
    assert.equal(listed.code, 0);
    assert.match(
      listed.stdout,
      /^NAME +ADMIN +CREATED\ndeploybot +no +\d{4}-\d\d-\d\d\nopsbot +yes /,
    );
    assert.equal(listed.stdout.includes(secret), false);

    await using server = await ServerProcess.start([
      "--data",
      dir,
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
    ]);
    const base = `http://127.0.0.1:${await httpPort(server)}`;
    const stored = SqliteStore.open(dir);
    const createdAt = (await stored.listApiKeys())[0]!.createdAt;
    await stored.close();
    const me = await fetch(`${base}/api/v1/key`, { headers: { authorization: `Bearer ${key}` } });
    assert.deepEqual(await me.json(), { name: "deploybot", admin: false, createdAt });
    const deleted = await runChat(["apikey", "del", "deploybot", "--data", dir]);
    assert.deepEqual([deleted.code, deleted.stdout.trim()], [0, "Deleted API key deploybot."]);
    const refused = await fetch(`${base}/api/v1/key`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    assert.equal((await runChat(["apikey", "del", "deploybot", "--data", dir])).code, 1);
    assert.equal(server.output.includes(secret), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("API keys in Redis: the same add, verify, list and delete as in SQLite", async () => {
  await using redis = await RedisServer.start();
  const added = await runChat(["apikey", "add", "opsbot", "--admin", "--redis", redis.url]);
  assert.equal(added.code, 0, added.stderr);
  const store = new RedisStore(await RedisConnection.open(redis.url), { keys: new RedisKeys() });
  try {
    const keys = new ApiKeyService(store);
    const record = await keys.verify(added.stdout.trim());
    assert.deepEqual([record?.name, record?.admin], ["opsbot", true]);
    assert.equal(
      await keys.verify(added.stdout.trim().replace(/.$/, (last) => last === "A" ? "B" : "A")),
      undefined,
    );
    await assert.rejects(keys.create("OpsBot"), /already exists/);
    await keys.create("deploybot");
    assert.deepEqual((await keys.list()).map((k) => k.name), ["deploybot", "opsbot"]);
    assert.equal(await keys.remove("OPSBOT"), true);
    assert.equal(await keys.verify(added.stdout.trim()), undefined);
    assert.equal(await keys.remove("opsbot"), false);
  } finally {
    await store.close();
  }
});

Deno.test("chat apikey on a directory without a database fails with one line and creates nothing", async () => {
  const parent = await Deno.makeTempDir({ prefix: "chat-apikey-" });
  try {
    const dir = `${parent}/chta-data`;
    for (const args of [["add", "deploybot"], ["list"], ["del", "deploybot"]]) {
      const run = await runChat(["apikey", ...args, "--data", dir]);
      assert.deepEqual(
        [run.code, run.stdout, run.stderr],
        [1, "", `chat apikey: no database in ${dir} (is --data right? --create makes one)\n`],
      );
    }
    assert.deepEqual([...Deno.readDirSync(parent)], []);
    const usage = await runChat(["apikey", "list", "--create", "--redis", "redis://127.0.0.1:1"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--create applies to a data directory, not to --redis/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
