/**
 * `chat webhook` as a subprocess over a real data directory and a real
 * Redis: add prints the id and the secret once, list shows no secret,
 * remove; bad input fails alone; a server running on the same directory or
 * Redis picks up an added webhook and drops a removed one without restart.
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { runChat } from "./support/server_process.ts";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";
import { until, WebhookReceiver } from "./support/webhook_receiver.ts";

const ID = /^[0-9a-f]{16}$/;
const SECRET = /^whsec_[A-Za-z0-9_-]{43}$/;

async function gauge(server: ChatServer, id: string): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${server.httpAddr!.port}/metrics`);
  return (await response.text()).includes(`chat_webhook_breaker_state{webhook="${id}"}`);
}

/** Adds a webhook with `chat webhook add` and returns its id and secret. */
async function add(args: string[]): Promise<{ id: string; secret: string; stderr: string }> {
  const added = await runChat(["webhook", "add", ...args]);
  assert.equal(added.code, 0, added.stderr);
  const [id, secret, ...rest] = added.stdout.trim().split("\n");
  assert.match(id!, ID);
  assert.match(secret!, SECRET);
  assert.deepEqual(rest, []);
  return { id: id!, secret: secret!, stderr: added.stderr };
}

/** A live server picks the webhook up, delivers a message to it, and drops it once removed. */
async function exerciseLive(
  server: ChatServer,
  receiver: WebhookReceiver,
  options: { id: string; remove: () => Promise<void> },
): Promise<void> {
  await until(() => gauge(server, options.id));
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "ops" });
  await alice.request({ type: "say", room: "ops", body: "deployed" });
  // With join events too, alice's join comes first.
  let index = 0;
  while (JSON.parse((await receiver.nth(index)).body).event.type !== "message") index++;
  const request = receiver.requests[index]!;
  assert.equal(request.headers.get("x-chat-webhook"), options.id);
  assert.equal(JSON.parse(request.body).event.body, "deployed");
  await options.remove();
  await until(async () => !await gauge(server, options.id));
}

Deno.test("chat webhook add prints id and secret once; list hides the secret; remove; a running server follows", async () => {
  await withDataDir(async (dir) => {
    await using receiver = new WebhookReceiver();
    const { id, secret, stderr } = await add([
      receiver.url,
      "--rooms",
      "general,#ops",
      "--events",
      "message,join",
      "--name",
      "opsbot",
      "--data",
      dir,
      "--create",
    ]);
    assert.match(stderr, /Added webhook [0-9a-f]{16} \(message,join in #general,#ops, as opsbot\)/);
    assert.match(stderr, /shown only this once/);
    const stored = SqliteStore.open(dir, { create: false });
    assert.deepEqual(
      (await stored.listWebhooks()).map((w) => [w.id, w.secret, w.rooms, w.events]),
      [
        [id, secret, ["general", "ops"], ["message", "join"]],
      ],
    );
    await stored.close();

    const listed = await runChat(["webhook", "list", "--data", dir]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(
        `^ID +NAME +ROOMS +EVENTS +URL\\n${id}  opsbot +#general,#ops  message,join  http://127`,
      ),
    );
    assert.equal(listed.stdout.includes(secret), false);

    // Bad input fails alone, with a reason; nothing is added.
    const refusals: Array<[string[], number, RegExp]> = [
      [["add", "ftp://example.org/", "--rooms", "general"], 1, /must be http or https/],
      [["add", "https://u:p@example.org/", "--rooms", "general"], 1, /user or password/],
      [
        ["add", receiver.url, "--rooms", "general", "--events", "typing"],
        1,
        /Unknown webhook event/,
      ],
      [["add", receiver.url, "--rooms", "bad room"], 1, /room/i],
      [["add", receiver.url], 2, /needs --rooms/],
      [["list", "--rooms", "general"], 2, /only applies to 'chat webhook add'/],
      [["remove", "0000000000000000"], 1, /No webhook 0000000000000000/],
    ];
    for (const [args, code, message] of refusals) {
      const result = await runChat(["webhook", ...args, "--data", dir]);
      assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const unchanged = await runChat(["webhook", "list", "--data", dir]);
    assert.equal(unchanged.stdout.trim().split("\n").length, 2);

    await using server = await listenRelaxed({
      dataDir: dir,
      http: "127.0.0.1:0",
      webhookReloadMs: 20,
    });
    await exerciseLive(server, receiver, {
      id,
      remove: async () => {
        const removed = await runChat(["webhook", "remove", id, "--data", dir]);
        assert.deepEqual([removed.code, removed.stdout.trim()], [0, `Removed webhook ${id}.`]);
      },
    });
    // Added while the server runs: it starts delivering within a reload.
    const live = await add([receiver.url, "--rooms", "ops", "--data", dir]);
    await until(() => gauge(server, live.id));
    assert.equal((await runChat(["webhook", "remove", live.id, "--data", dir])).code, 0);
    const empty = await runChat(["webhook", "list", "--data", dir]);
    assert.equal(empty.stdout.trim(), "No webhooks.");
  });
});

Deno.test("chat webhook on Redis: add, list, remove, and a server on that Redis follows", async () => {
  await using redis = await RedisServer.start();
  await using receiver = new WebhookReceiver();
  await using server = await listenRelaxed({
    redis: redis.url,
    http: "127.0.0.1:0",
    webhookReloadMs: 20,
  });
  const { id, secret } = await add([receiver.url, "--rooms", "ops", "--redis", redis.url]);
  const store = await RedisStore.open(redis.url);
  assert.deepEqual((await store.listWebhooks()).map((w) => [w.id, w.secret, w.name]), [
    [id, secret, "webhook"],
  ]);
  await store.close();
  const listed = await runChat(["webhook", "list", "--redis", redis.url]);
  assert.match(listed.stdout, new RegExp(`^${id}  webhook +#ops +message +http`, "m"));
  assert.equal(listed.stdout.includes(secret), false);
  await exerciseLive(server, receiver, {
    id,
    remove: async () => {
      assert.equal((await runChat(["webhook", "remove", id, "--redis", redis.url])).code, 0);
    },
  });
  const usage = await runChat(["webhook", "list", "--redis", redis.url, "--data", "x"]);
  assert.equal(usage.code, 2);
});
