/**
 * The REST API over real HTTP: API keys, posts as the key's bot reaching
 * real TCP clients, history paging, DMs, admin calls, per-key rate limits,
 * error shapes, body caps and CORS; health checks. Keys never reach logs.
 */
import assert from "node:assert/strict";
import { ApiKeyService } from "../server/http/api_key_service.ts";
import { RECENT_LOGS } from "../server/http/log_ring.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { setupLogging, shutdownLogging } from "../shared/logging.ts";
import { startHttp } from "./support/http_fixture.ts";
import { Peer } from "./support/peer.ts";

/** Every error answer has the one shape: {"error": {"code", "message"}}. */
function assertError(json: Record<string, unknown>, code: string): void {
  const error = json.error as Record<string, unknown> | undefined;
  assert.ok(error !== undefined, JSON.stringify(json));
  assert.equal(error.code, code, JSON.stringify(json));
  assert.equal(typeof error.message, "string");
}

Deno.test("health: /healthz is alive, /readyz checks the store and says 503 when it fails", async () => {
  const store = SqliteStore.memory();
  await using http = await startHttp({ store } as never);
  const health = await http.api("GET", "/healthz", { key: null });
  assert.equal(health.status, 200);
  assert.equal(health.json.status, "ok");
  const ready = await http.api("GET", "/readyz", { key: null });
  assert.deepEqual([ready.status, ready.json.status, ready.json.checks.store], [
    200,
    "ready",
    true,
  ]);
  // A store that stops answering makes the instance unready, not dead.
  store.ping = () => Promise.resolve(false);
  const unready = await http.api("GET", "/readyz", { key: null });
  assert.deepEqual(
    [unready.status, unready.json.status, unready.json.checks],
    [503, "unavailable", {
      accepting: true,
      draining: false,
      store: false,
      commits: true,
      storeKind: "sqlite",
    }],
  );
  assert.equal((await http.api("GET", "/healthz", { key: null })).status, 200);
});

Deno.test("API keys: missing is 401 unauthorized, unknown is 401 auth_failed, a good one names its bot", async () => {
  await using http = await startHttp();
  const none = await http.api("GET", "/api/v1/rooms", { key: null });
  assert.equal(none.status, 401);
  assertError(none.json, "unauthorized");
  assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
  const forged = http.key.slice(0, -4) + "AAAA";
  for (const bad of [forged, "nonsense", `chat_${"0".repeat(16)}_${"A".repeat(43)}`]) {
    const refused = await http.api("GET", "/api/v1/rooms", { key: bad });
    assert.equal(refused.status, 401);
    assertError(refused.json, "auth_failed");
  }
  assert.equal(http.server.broker.metrics.authFailures, 3);
  const me = await http.api("GET", "/api/v1/key");
  assert.deepEqual([me.status, me.json.name, me.json.admin], [200, "deploybot", false]);
  // Deleted: refused at once.
  await new ApiKeyService(http.server.store).remove("deploybot");
  assert.equal((await http.api("GET", "/api/v1/key")).status, 401);
});

Deno.test("posting to a room goes through the broker as the key's bot: ids, delivery, history paging", async () => {
  await using http = await startHttp();
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "general" });
  await alice.request({ type: "say", room: "general", body: "first" });
  const posted = await http.api("POST", "/api/v1/rooms/general/messages", {
    body: { body: "deployed 1.4.2" },
  });
  assert.equal(posted.status, 201, JSON.stringify(posted.json));
  assert.deepEqual([posted.json.room, posted.json.from, posted.json.id], [
    "general",
    "deploybot",
    2,
  ]);
  const joined = await alice.next((f) => f.type === "join" && f.nick === "deploybot");
  assert.equal(joined.room, "general");
  const seen = await alice.next((f) => f.type === "message" && f.from === "deploybot");
  assert.deepEqual([seen.body, seen.id], ["deployed 1.4.2", 2]);
  const action = await http.api("POST", "/api/v1/rooms/%23General/messages", {
    body: { body: "waves", action: true },
  });
  assert.equal(action.status, 201);
  assert.equal((await alice.next((f) => f.type === "message" && f.id === 3)).action, true);
  for (let i = 4; i <= 8; i++) await alice.request({ type: "say", room: "general", body: `m${i}` });

  const latest = await http.api("GET", "/api/v1/rooms/general/messages?limit=3");
  assert.equal(latest.status, 200);
  assert.deepEqual(latest.json.messages.map((m: { id: number }) => m.id), [6, 7, 8]);
  assert.equal(latest.json.more, true);
  const older = await http.api("GET", "/api/v1/rooms/general/messages?before=6&limit=3");
  assert.deepEqual(older.json.messages.map((m: { id: number }) => m.id), [3, 4, 5]);
  const newer = await http.api("GET", "/api/v1/rooms/general/messages?after=6");
  assert.deepEqual(newer.json.messages.map((m: { id: number }) => m.id), [7, 8]);
  assert.equal(newer.json.more, undefined);
  const page = await http.api("GET", "/api/v1/rooms/general/messages?before=3");
  assert.deepEqual(page.json.messages.map((m: { body: string }) => m.body), [
    "first",
    "deployed 1.4.2",
  ]);
  assertError(
    (await http.api("GET", "/api/v1/rooms/general/messages?before=3&after=1")).json,
    "bad_request",
  );
  assertError(
    (await http.api("GET", "/api/v1/rooms/general/messages?limit=-1")).json,
    "bad_request",
  );

  const rooms = await http.api("GET", "/api/v1/rooms");
  assert.deepEqual(rooms.json, { rooms: [{ name: "general", members: 2, topic: "" }], total: 1 });
  const users = await http.api("GET", "/api/v1/users");
  assert.deepEqual(users.json, { users: ["alice", "deploybot"], total: 2 });
});

Deno.test("the list routes page with after and limit; history pages are cut at one frame's worth", async () => {
  await using http = await startHttp();
  await using alice = await Peer.join(http.server.addr.port, "alice");
  for (const room of ["ops", "Art", "dev"]) await alice.request({ type: "join", room });
  const first = await http.api("GET", "/api/v1/rooms?limit=2");
  assert.deepEqual(first.json, {
    rooms: [{ name: "Art", members: 1, topic: "" }, { name: "dev", members: 1, topic: "" }],
    total: 3,
    more: true,
  });
  const next = await http.api("GET", "/api/v1/rooms?after=dev&limit=2");
  assert.deepEqual(next.json, { rooms: [{ name: "ops", members: 1, topic: "" }], total: 3 });
  const users = await http.api("GET", "/api/v1/users?after=ALICE");
  assert.deepEqual(users.json, { users: [], total: 1 });
  assertError((await http.api("GET", "/api/v1/users?limit=0")).json, "bad_request");
  assertError((await http.api("GET", "/api/v1/rooms?limit=x")).json, "bad_request");
  // Long messages: a page of 500 asked for holds about one frame of them.
  const body = "\u{1F600}".repeat(4000);
  for (let i = 0; i < 12; i++) await alice.request({ type: "say", room: "dev", body });
  const page = await http.api("GET", "/api/v1/rooms/dev/messages?limit=500");
  assert.equal(page.status, 200);
  assert.ok(page.json.messages.length < 5, `${page.json.messages.length} messages`);
  assert.equal(page.json.more, true);
});

Deno.test("bot posts are validated like chat frames and errors keep one JSON shape with the right status", async () => {
  await using http = await startHttp({ maxBodyLength: 10, httpMaxBodyBytes: 1024 });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "general" });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    http.api("POST", "/api/v1/rooms/general/messages", { body, headers });
  const cases: Array<[Awaited<ReturnType<typeof post>>, number, string]> = [
    [await post({ body: "x".repeat(11) }), 400, "invalid_body"],
    [await post({ body: "bell\u0007" }), 400, "invalid_body"],
    [await post({ body: "   " }), 400, "invalid_body"],
    [await post({ text: "hi" }), 400, "invalid_body"],
    [await post("[1]"), 400, "bad_request"],
    [await post("{nope"), 400, "bad_request"],
    [await post({ body: "hi" }, { "content-type": "text/plain" }), 415, "unsupported_media_type"],
    [await post({ body: "y".repeat(2000) }), 413, "payload_too_large"],
    [
      await http.api("POST", "/api/v1/rooms/nowhere/messages", { body: { body: "hi" } }),
      404,
      "no_such_room",
    ],
    [
      await http.api("POST", "/api/v1/rooms/bad%20room/messages", { body: { body: "hi" } }),
      400,
      "invalid_room",
    ],
    [await http.api("GET", "/api/v1/nothing"), 404, "not_found"],
    [await http.api("DELETE", "/api/v1/rooms"), 405, "method_not_allowed"],
    [
      await http.api("POST", "/api/v1/users/nobody/messages", { body: { body: "hi" } }),
      404,
      "no_such_user",
    ],
  ];
  for (const [response, status, code] of cases) {
    assert.equal(response.status, status, JSON.stringify(response.json));
    assertError(response.json, code);
  }
  assert.equal((await http.api("DELETE", "/api/v1/rooms")).headers.get("allow"), "GET");
  // Nothing invalid reached the room.
  assert.equal(alice.all((f) => f.type === "message").length, 0);
});

Deno.test("DMs reach the user as the bot; the bot cannot take a nickname someone holds", async () => {
  await using http = await startHttp();
  await using alice = await Peer.join(http.server.addr.port, "alice");
  const sent = await http.api("POST", "/api/v1/users/alice/messages", { body: { body: "psst" } });
  assert.equal(sent.status, 201, JSON.stringify(sent.json));
  const dm = await alice.next((f) => f.type === "dm");
  assert.deepEqual([dm.from, dm.to, dm.body], ["deploybot", "alice", "psst"]);
  // A key named like someone online: its bot cannot claim the name.
  const { key } = await new ApiKeyService(http.server.store).create("alice");
  const taken = await http.api("POST", "/api/v1/users/alice/messages", {
    key,
    body: { body: "it is me" },
  });
  assert.equal(taken.status, 409);
  assertError(taken.json, "name_taken");
});

Deno.test("admin keys broadcast, kick from rooms, list and disconnect sessions; plain keys may not", async () => {
  await using http = await startHttp();
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await using mallory = await Peer.join(http.server.addr.port, "mallory");
  await alice.request({ type: "join", room: "general" });
  await mallory.request({ type: "join", room: "general" });
  for (
    const [method, path, body] of [
      ["POST", "/api/v1/broadcast", { body: "hi" }],
      ["GET", "/api/v1/sessions", undefined],
      ["DELETE", `/api/v1/sessions/${crypto.randomUUID()}`, undefined],
    ] as const
  ) {
    const refused = await http.api(method, path, body === undefined ? {} : { body });
    assert.equal(refused.status, 403, path);
    assertError(refused.json, "forbidden");
  }
  // A plain key's bot has no rank in the room.
  const notOp = await http.api("POST", "/api/v1/rooms/general/kick", { body: { nick: "mallory" } });
  assertError(notOp.json, "not_in_room");

  const admin = { key: http.adminKey };
  const broadcast = await http.api("POST", "/api/v1/broadcast", {
    ...admin,
    body: { body: "Maintenance" },
  });
  assert.equal(broadcast.status, 201);
  const notice = await alice.next((f) => f.type === "notice" && f.body === "Maintenance");
  assert.equal(notice.from, "opsbot");

  const kick = await http.api("POST", "/api/v1/rooms/general/kick", {
    ...admin,
    body: { nick: "mallory", reason: "spam" },
  });
  assert.deepEqual([kick.status, kick.json], [200, { room: "general", nick: "mallory" }]);
  const left = await mallory.next((f) => f.type === "leave" && f.nick === "mallory");
  assert.match(left.reason, /kicked by opsbot: spam/);

  const list = await http.api("GET", "/api/v1/sessions", admin);
  assert.equal(list.status, 200);
  const target = list.json.sessions.find((s: { nick: string }) => s.nick === "mallory");
  assert.equal(target.transport, "tcp");
  assert.equal(target.ip, "127.0.0.1");
  const gone = await http.api("DELETE", `/api/v1/sessions/${target.id}`, admin);
  assert.deepEqual([gone.status, gone.json], [200, { id: target.id, nick: "mallory" }]);
  const bye = await mallory.next((f) => f.type === "bye");
  assert.equal(bye.code, "forbidden");
  await mallory.closed;
  assertError((await http.api("DELETE", `/api/v1/sessions/${target.id}`, admin)).json, "not_found");
});

Deno.test("each API key has its own token bucket at the sessions' rate; 429 says when to retry", async () => {
  await using http = await startHttp({ rateBurst: 3, ratePerSecond: 0.5 });
  for (let i = 0; i < 3; i++) assert.equal((await http.api("GET", "/api/v1/rooms")).status, 200);
  const limited = await http.api("GET", "/api/v1/rooms");
  assert.equal(limited.status, 429);
  assertError(limited.json, "rate_limited");
  assert.ok(limited.json.error.retryAfterMs > 0);
  assert.equal(limited.headers.get("retry-after"), "2");
  assert.equal(http.server.broker.metrics.rateLimited, 1);
  // Another key is not held back by the first one's use.
  assert.equal((await http.api("GET", "/api/v1/rooms", { key: http.adminKey })).status, 200);
});

Deno.test("CORS is closed by default and opens to the configured origins only", async () => {
  await using closed = await startHttp();
  const plain = await fetch(`${closed.base}/api/v1/rooms`, {
    headers: { origin: "https://evil.example", authorization: `Bearer ${closed.key}` },
  });
  await plain.body?.cancel();
  assert.equal(plain.headers.get("access-control-allow-origin"), null);
  const preflight = await fetch(`${closed.base}/api/v1/rooms`, {
    method: "OPTIONS",
    headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
  });
  assert.equal(preflight.status, 403);
  assertError(await preflight.json(), "cors_refused");

  await using open = await startHttp({ httpCorsOrigins: ["https://ops.example"] });
  const allowed = await fetch(`${open.base}/api/v1/rooms`, {
    method: "OPTIONS",
    headers: { origin: "https://ops.example", "access-control-request-method": "POST" },
  });
  await allowed.body?.cancel();
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://ops.example");
  assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /authorization/);
  const other = await fetch(`${open.base}/api/v1/rooms`, {
    headers: { origin: "https://evil.example", authorization: `Bearer ${open.key}` },
  });
  await other.body?.cancel();
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  // The dashboard never answers cross-origin.
  const admin = await fetch(`${open.base}/admin/login`, {
    method: "OPTIONS",
    headers: { origin: "https://ops.example" },
  });
  await admin.body?.cancel();
  assert.equal(admin.headers.get("access-control-allow-origin"), null);
});

Deno.test("API keys and passwords never reach the logs, even at debug level", async () => {
  const lines: string[] = [];
  await setupLogging({
    level: "debug",
    format: "text",
    extraSinks: [(record) => lines.push(JSON.stringify(record))],
  });
  try {
    await using http = await startHttp({ kdfLogN: 10 });
    await http.server.accounts.create("root", "correct horse battery");
    await http.api("GET", "/api/v1/rooms");
    await http.api("GET", "/api/v1/rooms", {
      key: http.key.replace(/.$/, (last) => last === "x" ? "y" : "x"),
    });
    await http.api("GET", "/api/v1/rooms", { key: "chat_secretgarbage" });
    await http.api("POST", "/admin/login", {
      key: null,
      body: { name: "root", password: "wrong one" },
    });
    await http.api("POST", "/admin/login", {
      key: null,
      body: { name: "correct horse battery", password: "correct horse battery" },
    });
    await http.api("POST", "/admin/login", {
      key: null,
      body: { name: "root", password: "correct horse battery" },
    });
    // The secret is base64url and may itself contain "_": everything after `chat_<id>_`.
    const secret = http.key.split("_").slice(2).join("_");
    const text = lines.join("\n");
    assert.ok(text.includes("Refused an unknown or malformed API key"), text);
    for (
      const needle of [secret, http.key.slice(0, 30), "secretgarbage", "correct horse", "wrong one"]
    ) {
      assert.equal(text.includes(needle), false, `${needle} in logs`);
    }
    // The dashboard's ring sees the same redacted records when chat serve wires it in.
    assert.ok(RECENT_LOGS.lines().every((line) => !line.message.includes(secret)));
  } finally {
    await shutdownLogging();
  }
});

// ---- away (docs/protocol.md, section 22)

Deno.test("GET /api/v1/users lists those of the page who are away, with their message", async () => {
  await using http = await startHttp();
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await using bob = await Peer.join(http.server.addr.port, "bob");
  assert.equal((await alice.request({ type: "away", message: "lunch" })).type, "ack");
  const users = await http.api("GET", "/api/v1/users");
  assert.deepEqual(users.json, {
    users: ["alice", "bob"],
    total: 2,
    away: [{ nick: "alice", message: "lunch" }],
  });
  const after = await http.api("GET", "/api/v1/users?after=alice");
  assert.deepEqual(after.json, { users: ["bob"], total: 2 });
  void bob;
});
