/**
 * Outgoing webhooks end to end: a real server on loopback (SQLite in
 * memory, or a real Redis) and a real HTTP receiver. A subscribed room's
 * events arrive signed and in order, other rooms and events do not;
 * retries after 500s; the breaker opens and closes, in the logs and in
 * /metrics; a full queue drops and counts; a reply is posted into the
 * room and a framed client receives it; with two instances on one Redis
 * an event goes out once.
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { RedisStore } from "../server/store/redis_store.ts";
import type { Store, WebhookRecord } from "../server/store/store.ts";
import { type WebhookEvent, WebhookService } from "../server/webhooks/webhook_service.ts";
import { verifySignature } from "../server/webhooks/webhook_signature.ts";
import { LogCapture } from "./support/log_capture.ts";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { listenRelaxed } from "./support/test_server.ts";
import { until, WebhookReceiver } from "./support/webhook_receiver.ts";

/** Fast retries; reloads off unless a test asks (webhooks are in the store before start). */
const QUICK: Partial<ServerOptions> = {
  http: "127.0.0.1:0",
  webhookReloadMs: 0,
  webhookRetryBaseMs: 10,
  webhookRetryMaxMs: 40,
};

async function addWebhook(
  store: Store,
  url: string,
  options: { rooms: string[]; events?: WebhookEvent[]; name?: string },
): Promise<WebhookRecord> {
  const { record } = await new WebhookService(store).create(url, {
    rooms: options.rooms,
    name: options.name ?? "hookbot",
    ...(options.events === undefined ? {} : { events: options.events }),
  });
  return record;
}

async function metrics(server: ChatServer): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.httpAddr!.port}/metrics`);
  return await response.text();
}

/** The value of `name{webhook="id"}` in a scrape. */
function metric(text: string, name: string, id: string): number | undefined {
  const line = text.split("\n").find((row) => row.startsWith(`${name}{webhook="${id}"} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** Waits until these webhooks have nothing waiting or in flight (a reply may queue more). */
async function settled(server: ChatServer, ids: string[]): Promise<void> {
  const dispatchers = ids.map((id) => server.webhooks!.dispatcher(id)!);
  while (dispatchers.some((dispatcher) => dispatcher.queued > 0)) {
    for (const dispatcher of dispatchers) await dispatcher.idle();
  }
}

async function joined(server: ChatServer, nick: string, rooms: string[]): Promise<Peer> {
  const peer = await Peer.join(server.addr.port, nick);
  for (const room of rooms) assert.equal((await peer.request({ type: "join", room })).type, "ack");
  return peer;
}

Deno.test("a subscribed room's messages arrive signed, in order; other rooms and events do not", async () => {
  await using receiver = new WebhookReceiver();
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  const presence = await addWebhook(store, receiver.url, {
    rooms: ["General"],
    events: ["join", "leave", "topic"],
    name: "presencebot",
  });
  await using server = await listenRelaxed({ ...QUICK, store });
  await using alice = await joined(server, "alice", ["general", "ops"]);
  assert.equal(
    (await alice.request({ type: "say", room: "ops", body: "not for hooks" })).type,
    "ack",
  );
  for (let n = 1; n <= 10; n++) {
    assert.equal(
      (await alice.request({ type: "say", room: "general", body: `m${n}` })).type,
      "ack",
    );
  }
  await using bob = await joined(server, "bob", ["general"]);
  assert.equal(
    (await alice.request({ type: "topic", room: "general", topic: "hooks" })).type,
    "ack",
  );
  assert.equal((await bob.request({ type: "leave", room: "general" })).type, "ack");
  // Messages: the ten in order; the ops message and the joins never came before them.
  await receiver.nth(13); // 10 messages + alice's and bob's joins, the topic and bob's leave
  await server.webhooks!.dispatcher(hook.id)!.idle();
  await server.webhooks!.dispatcher(presence.id)!.idle();
  const byHook = (id: string) =>
    receiver.requests.filter((r) => r.headers.get("x-chat-webhook") === id);
  const messages = byHook(hook.id);
  assert.deepEqual(
    messages.map((request) => JSON.parse(request.body).event.body),
    Array.from({ length: 10 }, (_, i) => `m${i + 1}`),
  );
  const first = messages[0]!;
  const payload = JSON.parse(first.body);
  assert.equal(first.method, "POST");
  assert.equal(first.headers.get("content-type"), "application/json");
  assert.equal(payload.webhook, hook.id);
  assert.equal(payload.delivery, first.headers.get("x-chat-delivery"));
  assert.match(payload.delivery, /^[0-9a-f-]{36}$/);
  assert.deepEqual(Object.keys(payload.event).sort(), ["body", "from", "id", "room", "ts", "type"]);
  assert.deepEqual([payload.event.type, payload.event.room, payload.event.from], [
    "message",
    "general",
    "alice",
  ]);
  const header = first.headers.get("x-chat-signature");
  const nowSeconds = Math.floor(Date.now() / 1000);
  assert.equal(await verifySignature(hook.secret, { header, body: first.body, nowSeconds }), true);
  // Another secret, a changed body, an old timestamp: refused.
  assert.equal(
    await verifySignature(presence.secret, { header, body: first.body, nowSeconds }),
    false,
  );
  assert.equal(
    await verifySignature(hook.secret, {
      header,
      body: first.body.replace("m1", "m2"),
      nowSeconds,
    }),
    false,
  );
  assert.equal(
    await verifySignature(hook.secret, { header, body: first.body, nowSeconds: nowSeconds + 3600 }),
    false,
  );
  // The other webhook heard joins, the topic and the leave, in order, and no message.
  assert.deepEqual(
    byHook(presence.id).map((request) => {
      const { event } = JSON.parse(request.body);
      return [event.type, event.nick ?? event.by, event.topic ?? ""];
    }),
    [["join", "alice", ""], ["join", "bob", ""], ["topic", "alice", "hooks"], [
      "leave",
      "bob",
      "",
    ]],
  );
  assert.equal(receiver.requests.length, 14);
  assert.equal(metric(await metrics(server), "chat_webhook_deliveries_total", hook.id), 10);
});

Deno.test("message changes reach a webhook that asks for them, in order, each once", async () => {
  await using receiver = new WebhookReceiver();
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, {
    rooms: ["general"],
    events: ["message", "edit", "delete", "react", "unreact"],
  });
  await using server = await listenRelaxed({ ...QUICK, store });
  await using alice = await joined(server, "alice", ["general"]);
  const said = await alice.request({ type: "say", room: "general", body: "helo" });
  assert.equal(said.type, "ack");
  const target = said.type === "ack" ? (said.result as { id: number }).id : 0;
  for (
    const request of [
      { type: "edit", room: "general", target, body: "hello" },
      { type: "react", room: "general", target, emoji: "👍" },
      // Unchanged: no entry, so nothing for the webhook.
      { type: "react", room: "general", target, emoji: "👍" },
      { type: "unreact", room: "general", target, emoji: "👍" },
      { type: "delete", room: "general", target },
    ] as const
  ) {
    assert.equal((await alice.request(request)).type, "ack");
  }
  await receiver.nth(4); // the fifth, counted from 0
  await server.webhooks!.dispatcher(hook.id)!.idle();
  assert.deepEqual(
    receiver.requests.map((request) => {
      const { event } = JSON.parse(request.body);
      return [
        event.type,
        event.target ?? event.id,
        event.from ?? event.by,
        event.body ?? event.emoji,
      ];
    }),
    [
      ["message", target, "alice", "helo"],
      ["edit", target, "alice", "hello"],
      ["react", target, "alice", "👍"],
      ["unreact", target, "alice", "👍"],
      ["delete", target, "alice", undefined],
    ],
  );
});

Deno.test("500s are retried with backoff until a success; the same delivery id each time", async () => {
  await using receiver = new WebhookReceiver();
  receiver.respond = (_request, index) => new Response("busy", { status: index < 2 ? 500 : 200 });
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  await using server = await listenRelaxed({ ...QUICK, store });
  await using alice = await joined(server, "alice", ["general"]);
  await alice.request({ type: "say", room: "general", body: "retry me" });
  await receiver.nth(2);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  assert.equal(new Set(receiver.requests.map((r) => r.headers.get("x-chat-delivery"))).size, 1);
  const scrape = await metrics(server);
  assert.equal(metric(scrape, "chat_webhook_retries_total", hook.id), 2);
  assert.equal(metric(scrape, "chat_webhook_deliveries_total", hook.id), 1);
  assert.equal(metric(scrape, "chat_webhook_failures_total", hook.id), 0);
  assert.equal(receiver.requests.length, 3);
});

Deno.test("a 4xx is not retried", async () => {
  await using receiver = new WebhookReceiver();
  receiver.respond = (_request, index) => new Response(null, { status: index === 0 ? 400 : 204 });
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  await using server = await listenRelaxed({ ...QUICK, store });
  await using alice = await joined(server, "alice", ["general"]);
  await alice.request({ type: "say", room: "general", body: "refused" });
  await alice.request({ type: "say", room: "general", body: "next" });
  await receiver.nth(1);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  assert.deepEqual(receiver.payloads.map((p) => p.event.body), ["refused", "next"]);
  const scrape = await metrics(server);
  assert.equal(metric(scrape, "chat_webhook_failures_total", hook.id), 1);
  assert.equal(metric(scrape, "chat_webhook_retries_total", hook.id), 0);
});

Deno.test("the breaker opens after failures (warning, /metrics) and closes once the receiver answers", async () => {
  await using logs = await LogCapture.start("info");
  await using receiver = new WebhookReceiver();
  let healthy = false;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => opened = resolve);
  receiver.respond = () => new Response(null, { status: healthy ? 204 : 503 });
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  await using server = await listenRelaxed({
    ...QUICK,
    store,
    webhookMaxAttempts: 10,
    webhookBreakerFailures: 3,
    webhookBreakerCooldownMs: 1500,
  });
  await using alice = await joined(server, "alice", ["general"]);
  await alice.request({ type: "say", room: "general", body: "down" });
  await receiver.nth(2);
  // The third failure opens it: wait for its warning.
  const watch = setInterval(() => {
    if (logs.lines.some((line) => line.includes("circuit breaker open"))) opened();
  }, 5);
  await open;
  clearInterval(watch);
  const during = await metrics(server);
  assert.equal(metric(during, "chat_webhook_breaker_state", hook.id), 1);
  assert.equal(receiver.requests.length, 3);
  const warning = logs.records.find((record) =>
    record.level === "warning" && record.message.join("").includes("circuit breaker open")
  );
  assert.match(warning!.message.join(""), /after 3 failed attempts in a row \(last: HTTP 503\)/);
  healthy = true;
  // After the cool-down one trial goes out; it succeeds and the breaker closes.
  await receiver.nth(3);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  const after = await metrics(server);
  assert.equal(metric(after, "chat_webhook_breaker_state", hook.id), 0);
  assert.equal(metric(after, "chat_webhook_deliveries_total", hook.id), 1);
  assert.equal(metric(after, "chat_webhook_retries_total", hook.id), 3);
  assert.ok(logs.lines.some((line) => line.includes("answered again, circuit breaker closed")));
  // The secret is never logged.
  assert.equal(logs.lines.some((line) => line.includes(hook.secret)), false);
});

Deno.test("a full queue drops the oldest waiting events and counts them; the rest arrive in order", async () => {
  await using receiver = new WebhookReceiver();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  receiver.respond = async (_request, index) => {
    if (index === 0) await held;
    return new Response(null, { status: 204 });
  };
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  await using server = await listenRelaxed({ ...QUICK, store, webhookQueueSize: 2 });
  await using alice = await joined(server, "alice", ["general"]);
  await alice.request({ type: "say", room: "general", body: "m1" });
  await receiver.nth(0);
  // Acked means committed and queued: m2 and m3 go for m4 and m5.
  for (const body of ["m2", "m3", "m4", "m5"]) {
    await alice.request({ type: "say", room: "general", body });
  }
  const full = await metrics(server);
  assert.equal(metric(full, "chat_webhook_dropped_total", hook.id), 2);
  assert.equal(metric(full, "chat_webhook_queued", hook.id), 3);
  release();
  await receiver.nth(2);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  assert.deepEqual(receiver.payloads.map((p) => p.event.body), ["m1", "m4", "m5"]);
});

Deno.test("a 200 reply {body} is posted into the room as the webhook's bot; a client receives it", async () => {
  await using logs = await LogCapture.start("warning");
  await using receiver = new WebhookReceiver();
  receiver.respond = (request) => {
    const { event } = JSON.parse(request.body);
    if (event.body === "ping") return Response.json({ body: "pong" });
    // Over the response cap (64 KiB), and over the body limit (4000 code points).
    if (event.body === "huge") return Response.json({ body: "x".repeat(100_000) });
    if (event.body === "long") return Response.json({ body: "x".repeat(4001) });
    return new Response(null, { status: 204 });
  };
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"], name: "pongbot" });
  await using server = await listenRelaxed({ ...QUICK, store });
  await using alice = await joined(server, "alice", ["general"]);
  await alice.request({ type: "say", room: "general", body: "ping" });
  const pong = await alice.next((frame) => frame.type === "message" && frame.from === "pongbot");
  assert.equal(pong.body, "pong");
  assert.equal(pong.room, "general");
  // Through the broker: history has it, with the next id.
  const history = await alice.request({ type: "history", room: "general" });
  assert.deepEqual(
    history.result.messages.map((m: { from: string; body: string }) => [m.from, m.body]),
    [["alice", "ping"], ["pongbot", "pong"]],
  );
  // Replies over the response cap or the body limit are not posted (logged); the bot's own
  // message never went to its webhook.
  await alice.request({ type: "say", room: "general", body: "huge" });
  await alice.request({ type: "say", room: "general", body: "long" });
  await alice.request({ type: "say", room: "general", body: "after" });
  await receiver.nth(3);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  assert.deepEqual(receiver.payloads.map((p) => p.event.body), ["ping", "huge", "long", "after"]);
  assert.ok(logs.lines.some((line) => line.includes("reply over the size limit, ignored")));
  assert.ok(
    logs.lines.some((line) => /reply not posted in #general: invalid_body/.test(line)),
    logs.lines.join("\n"),
  );
  assert.equal(
    alice.all((frame) => frame.type === "message" && frame.from === "pongbot").length,
    1,
  );
  assert.equal(metric(await metrics(server), "chat_webhook_replies_total", hook.id), 1);
});

Deno.test("a webhook added or removed in the store reaches a running server", async () => {
  await using receiver = new WebhookReceiver();
  const store = SqliteStore.memory();
  await using server = await listenRelaxed({ ...QUICK, store, webhookReloadMs: 20 });
  await using alice = await joined(server, "alice", ["general"]);
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  // Seen at the next reload (every 20 ms here): the gauge appears.
  await until(async () =>
    metric(await metrics(server), "chat_webhook_breaker_state", hook.id) !== undefined
  );
  await alice.request({ type: "say", room: "general", body: "live" });
  assert.equal(JSON.parse((await receiver.nth(0)).body).event.body, "live");
  await new WebhookService(store).remove(hook.id);
  await until(async () =>
    metric(await metrics(server), "chat_webhook_breaker_state", hook.id) === undefined
  );
  assert.equal(server.webhooks!.dispatcher(hook.id), undefined);
});

Deno.test("two instances on one Redis: each event goes out once, from the instance that committed it", async () => {
  await using redis = await RedisServer.start();
  await using receiver = new WebhookReceiver();
  const store = await RedisStore.open(redis.url);
  const hook = await addWebhook(store, receiver.url, {
    rooms: ["general"],
    events: ["message", "join"],
  });
  await store.close();
  const options = { ...QUICK, redis: redis.url, redisPresenceTtlMs: 3000 };
  await using a = await listenRelaxed(options);
  await using b = await listenRelaxed(options);
  await using alice = await joined(a, "alice", ["general"]);
  await using bob = await joined(b, "bob", ["general"]);
  await alice.request({ type: "say", room: "general", body: "from a" });
  await bob.request({ type: "say", room: "general", body: "from b" });
  await receiver.nth(3);
  await a.webhooks!.dispatcher(hook.id)!.idle();
  await b.webhooks!.dispatcher(hook.id)!.idle();
  const seen = receiver.payloads.map((p) => `${p.event.type} ${p.event.nick ?? p.event.body}`);
  assert.deepEqual(seen.sort(), ["join alice", "join bob", "message from a", "message from b"]);
  const [fromA, fromB] = [await metrics(a), await metrics(b)];
  assert.equal(metric(fromA, "chat_webhook_deliveries_total", hook.id), 2);
  assert.equal(metric(fromB, "chat_webhook_deliveries_total", hook.id), 2);
});

Deno.test("an attempt without an answer within the timeout is retried; a redirect is not followed", async () => {
  await using receiver = new WebhookReceiver();
  await using elsewhere = new WebhookReceiver();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  receiver.respond = async (request, index) => {
    const { event } = JSON.parse(request.body);
    if (index === 0) await held; // never answered in time
    if (event.body === "moved") {
      return new Response(null, { status: 307, headers: { location: elsewhere.url } });
    }
    return new Response(null, { status: 204 });
  };
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"] });
  await using server = await listenRelaxed({ ...QUICK, store, webhookTimeoutMs: 200 });
  await using alice = await joined(server, "alice", ["general"]);
  await alice.request({ type: "say", room: "general", body: "slow" });
  await receiver.nth(1);
  release();
  await alice.request({ type: "say", room: "general", body: "moved" });
  await receiver.nth(2);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  assert.deepEqual(receiver.payloads.map((p) => p.event.body), ["slow", "slow", "moved"]);
  assert.equal(elsewhere.requests.length, 0);
  const scrape = await metrics(server);
  assert.equal(metric(scrape, "chat_webhook_retries_total", hook.id), 1);
  assert.equal(metric(scrape, "chat_webhook_deliveries_total", hook.id), 1);
  assert.equal(metric(scrape, "chat_webhook_failures_total", hook.id), 1);
});

Deno.test("replies draw on a rate per webhook: past its burst they are refused, not posted", async () => {
  await using logs = await LogCapture.start("warning");
  await using receiver = new WebhookReceiver();
  receiver.respond = (request) =>
    Response.json({ body: `re: ${JSON.parse(request.body).event.body}` });
  const store = SqliteStore.memory();
  const hook = await addWebhook(store, receiver.url, { rooms: ["general"], name: "echobot" });
  // Each user stays within the burst (hello, join, say); the webhook's five replies do not.
  await using server = await listenRelaxed({ ...QUICK, store, rateBurst: 4, ratePerSecond: 0.001 });
  await using watcher = await joined(server, "watcher", ["general"]);
  for (let n = 1; n <= 5; n++) {
    await using user = await joined(server, `user${n}`, ["general"]);
    assert.equal((await user.request({ type: "say", room: "general", body: `m${n}` })).type, "ack");
  }
  await receiver.nth(4);
  await server.webhooks!.dispatcher(hook.id)!.idle();
  const replies = watcher.all((frame) => frame.type === "message" && frame.from === "echobot");
  assert.deepEqual(replies.map((frame) => frame.body), ["re: m1", "re: m2", "re: m3", "re: m4"]);
  assert.ok(
    logs.lines.some((line) =>
      /reply not posted in #general: rate_limited: .* per webhook/.test(line)
    ),
  );
  assert.equal(metric(await metrics(server), "chat_webhook_replies_total", hook.id), 4);
});

Deno.test("two bots cannot loop: a webhook hears another's bot but its reply to it is not posted", async () => {
  await using receiver = new WebhookReceiver();
  const store = SqliteStore.memory();
  const ping = await addWebhook(store, receiver.url, { rooms: ["general"], name: "pingbot" });
  const echo = await addWebhook(store, receiver.url, { rooms: ["general"], name: "echobot" });
  receiver.respond = (request) => {
    const { webhook, event } = JSON.parse(request.body);
    if (webhook === ping.id) {
      return event.body === "ping"
        ? Response.json({ body: "pong" })
        : new Response(null, { status: 204 });
    }
    return Response.json({ body: `echo: ${event.body}` });
  };
  await using server = await listenRelaxed({ ...QUICK, store });
  await using alice = await joined(server, "alice", ["general"]);
  {
    // A person named like a bot that is not online is a person: heard by that bot's webhook too.
    await using impostor = await joined(server, "pingbot", ["general"]);
    await impostor.request({ type: "say", room: "general", body: "i am not a bot" });
    await receiver.nth(1);
    await settled(server, [ping.id, echo.id]);
  }
  await alice.next((frame) => frame.type === "leave" && frame.nick === "pingbot");
  await alice.request({ type: "say", room: "general", body: "ping" });
  await receiver.nth(6);
  await settled(server, [ping.id, echo.id]);
  assert.equal(receiver.requests.length, 7);
  const heard = (id: string) =>
    receiver.payloads.filter((p) => p.webhook === id).map((p) =>
      `${p.event.from}: ${p.event.body}`
    );
  assert.deepEqual(
    heard(ping.id).sort(),
    [
      "alice: ping",
      "echobot: echo: i am not a bot",
      "echobot: echo: ping",
      "pingbot: i am not a bot",
    ].sort(),
  );
  assert.deepEqual(
    heard(echo.id).sort(),
    ["alice: ping", "pingbot: i am not a bot", "pingbot: pong"].sort(),
  );
  const history = await alice.request({ type: "history", room: "general" });
  assert.deepEqual(
    history.result.messages.map((m: { from: string; body: string }) => `${m.from}: ${m.body}`)
      .sort(),
    [
      "pingbot: i am not a bot",
      "echobot: echo: i am not a bot",
      "alice: ping",
      "pingbot: pong",
      "echobot: echo: ping",
    ].sort(),
  );
});
