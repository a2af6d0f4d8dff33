/**
 * Conformance over real TCP where docs/protocol.md and the server once
 * disagreed: each test checks what the server does on the wire and that
 * the document says so, in the place a client author reads it.
 */
import assert from "node:assert/strict";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { Store, StoreWrite } from "../server/store/store.ts";
import { MAX_LIST_PAGE } from "../shared/protocol.ts";
import { nameKey } from "../shared/validation.ts";
import { startHttp } from "./support/http_fixture.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { byeTable, docSection, errorTable, flat } from "./support/protocol_doc.ts";
import { RedisServer } from "./support/redis_server.ts";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";

Deno.test("a body that is missing, not a string or empty is invalid_body, as the error table says", async () => {
  await using server = await listenRelaxed();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const bodies = [{}, { body: null }, { body: 5 }, { body: "" }, { body: " \n\t" }];
  const requests = [{ type: "say", room: "dev" }, { type: "dm", to: "alice" }, {
    type: "broadcast",
  }];
  for (const request of requests) {
    for (const body of bodies) {
      const reply = await alice.request({ ...request, ...body });
      assert.equal(reply.code, "invalid_body", JSON.stringify({ ...request, ...body }));
    }
  }
  // Topics and reasons are checked the same way.
  assert.equal(
    (await alice.request({ type: "topic", room: "dev", topic: 5 })).code,
    "invalid_body",
  );
  assert.equal((await alice.request({ type: "quit", reason: [] })).code, "invalid_body");
  // Any other field missing is bad_request.
  assert.equal((await alice.request({ type: "say", body: "hi" })).code, "bad_request");
  const table = errorTable();
  assert.match(table.get("invalid_body")!, /missing, not a string, empty/);
  assert.match(table.get("bad_request")!, /except a body, topic or reason/);
  assert.match(
    flat(docSection("## 7. Names and text")),
    /A `body` that is missing or not a string is `invalid_body` too/,
  );
});

Deno.test("plain text writes a body's TAB as is, a newline as an indented continuation, the rest made visible", async () => {
  await using server = await listenRelaxed({ textPromptDelayMs: 50 });
  await using carol = await TextPeer.connect(server.addr.port);
  carol.write("carol\n/join dev\n");
  await carol.waitFor("--- Now talking in #dev");
  await using bob = await Peer.join(server.addr.port, "bob");
  await bob.request({ type: "join", room: "dev" });
  // Bidi controls and zero-width characters are allowed in bodies; controls but these two are not.
  const body = "col\tumn\u202Eevil\u200Bgap\nnext\tline";
  assert.equal((await bob.request({ type: "say", room: "dev", body })).type, "ack");
  await carol.waitFor("next\tline\r\n");
  assert.match(carol.text, /<bob> col\tumn<U\+202E>evil<U\+200B>gap\r\n {4}next\tline\r\n/);
  const output = flat(docSection("## 17. Plain-text mode"));
  assert.match(output, /a TAB is written as is/);
  assert.match(output, /a newline ends the line, its continuation line indented by four spaces/);
});

Deno.test("plain text: a line over the cap is refused in its place, the rest of it up to its LF discarded, the connection kept", async () => {
  await using server = await listenRelaxed({ textPromptDelayMs: 50, maxLineBytes: 64 });
  await using carol = await TextPeer.connect(server.addr.port);
  carol.write("carol\n/join dev\n");
  await carol.waitFor("--- Now talking in #dev");
  const refusal = "! frame_too_large: Line exceeds limit of 64 bytes; it was dropped\r\n";
  // One write: the refusal comes after the output of the line before it (the echo of a say,
  // at its commit), and before the reply to the line after it.
  carol.write(`one\n${"x".repeat(100)}\n/who dev\n`);
  await carol.waitFor("--- In #dev: carol");
  const shown = carol.text.slice(carol.text.indexOf("--- Now talking"));
  assert.match(shown, new RegExp(`<carol> one\\r\\n${escape(refusal)}--- In #dev: carol\\r\\n`));
  // A line's rest is not a line of its own, however it arrives.
  carol.write("y".repeat(100));
  carol.write(`${"y".repeat(30)}tail\nthree\n`);
  await carol.waitFor("<carol> three");
  assert.doesNotMatch(carol.text, /tail/);
  assert.equal(carol.text.split(refusal).length - 1, 2);
  const text = flat(docSection("## 17. Plain-text mode"));
  assert.match(text, /`! frame_too_large: Line exceeds limit of 16384 bytes; it was dropped`/);
  assert.match(text, /discards the rest of it up to its LF, and keeps the connection/);
  assert.match(text, /in the line's place, after the output of the lines before it/);
});

Deno.test("plain text: a line over the cap at the password prompt starts the login over", async () => {
  await using server = await listenRelaxed({ textPromptDelayMs: 50, maxLineBytes: 64 });
  await server.accounts.create("erin", "correct horse");
  await using erin = await TextPeer.connect(server.addr.port);
  erin.write("erin\n");
  await erin.waitFor("Password for erin: ");
  // Not taken as the password: the login starts over at the nickname.
  erin.write(`${"p".repeat(100)}\n`);
  await erin.waitFor(/it was dropped\r\nNickname: $/);
  erin.write("erin\ncorrect horse\n");
  await erin.waitFor("Welcome, erin!");
  assert.match(
    flat(docSection("## 17. Plain-text mode")),
    /at a login prompt the login starts over/,
  );
});

Deno.test("plain text: lines refused as over the cap or not UTF-8 cost a rate token like any line", async () => {
  await using server = await listenRelaxed({
    textPromptDelayMs: 50,
    maxLineBytes: 64,
    rateBurst: 4,
    ratePerSecond: 0.001,
  });
  await using mallory = await TextPeer.connect(server.addr.port);
  mallory.write("mallory\n");
  await mallory.waitFor("Welcome, mallory!");
  // The login took one token of four: two refused lines take two, the third line is over the rate.
  mallory.write(`${"x".repeat(100)}\n`);
  mallory.conn.write(new Uint8Array([0x61, 0xc0, 0xaf, 0x0a])).catch(() => {});
  mallory.write(`${"x".repeat(100)}\n`);
  mallory.write("/help\n");
  await mallory.waitFor("! rate_limited: ");
  assert.match(
    mallory.text,
    /! frame_too_large: [^\r]*\r\n! invalid_utf8: [^\r]*\r\n! frame_too_large: /,
  );
  assert.match(mallory.text, /! rate_limited: /);
  assert.match(
    flat(docSection("## 17. Plain-text mode")),
    /costs a rate-limit token like any line/,
  );
});

/** `text` as a regular expression matching it literally. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("before welcome every request, a ping too, valid or not, is hello_required and ends the connection", async () => {
  await using server = await listenRelaxed();
  const port = server.addr.port;
  for (
    const frame of [
      { type: "ping", id: 1 },
      { type: "ping" },
      { type: "join", id: 2, room: "bad room!" },
      { type: "frobnicate", id: 3 },
      { type: "say", id: 4, room: "dev" },
    ]
  ) {
    await using early = await Peer.connect(port);
    early.send(frame);
    const error = await early.next();
    assert.deepEqual([error.type, error.code, error.id], ["error", "hello_required", frame.id]);
    assert.deepEqual([(await early.next()).type, early.frames.at(-1)?.code], [
      "bye",
      "hello_required",
    ]);
    await early.closed;
  }
  // A pong is ignored; after a refused hello, a ping is still one request too early.
  await using _alice = await Peer.join(port, "alice");
  await using late = await Peer.connect(port);
  late.send({ type: "pong" });
  assert.equal((await late.hello("alice")).code, "name_taken");
  late.send({ type: "ping", id: 5 });
  assert.deepEqual([(await late.next()).code, (await late.next()).type], ["hello_required", "bye"]);
  await late.closed;
  assert.match(errorTable().get("hello_required")!, /a `ping` too/);
  assert.match(flat(docSection("## 4. Session: hello and welcome")), /a `ping` request too/);
});

/**
 * A real in-memory SQLite store whose writes of messages wait, after
 * `hold()`, until `release()`: a say stays in flight as long as a test needs.
 */
function holdingStore(): { store: Store; hold(): Promise<void>; release(): void } {
  const real = SqliteStore.memory();
  let gate: PromiseWithResolvers<void> | undefined;
  let entered: PromiseWithResolvers<void> | undefined;
  const store = new Proxy(real, {
    get(target, property) {
      if (property === "write") {
        return async (batch: StoreWrite[]) => {
          if (gate !== undefined && batch.some((write) => write.kind === "message")) {
            entered?.resolve();
            await gate.promise;
          }
          return await target.write(batch);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store,
    // Resolves once a write of messages is waiting.
    hold: () => {
      gate = Promise.withResolvers();
      entered = Promise.withResolvers();
      return entered.promise;
    },
    release: () => {
      gate?.resolve();
      gate = undefined;
    },
  };
}

Deno.test("a server admin's disconnect is bye forbidden, after the replies to the requests started", async () => {
  const holding = holdingStore();
  await using http = await startHttp({ store: holding.store } as never);
  const port = http.server.addr.port;
  await using alice = await Peer.join(port, "alice");
  await using mallory = await Peer.join(port, "mallory");
  await alice.request({ type: "join", room: "dev" });
  await mallory.request({ type: "join", room: "dev" });
  const waiting = holding.hold();
  mallory.send({ type: "say", id: 99, room: "dev", body: "in flight" });
  await waiting;
  const sessions = await http.api("GET", "/api/v1/sessions", { key: http.adminKey });
  const target = sessions.json.sessions.find((s: { nick: string }) => s.nick === "mallory");
  const gone = await http.api("DELETE", `/api/v1/sessions/${target.id}`, { key: http.adminKey });
  assert.equal(gone.status, 200);
  // Once asked, it is going: a second disconnect finds no session.
  const again = await http.api("DELETE", `/api/v1/sessions/${target.id}`, { key: http.adminKey });
  assert.equal(again.status, 404);
  holding.release();
  const bye = await mallory.next((f) => f.type === "bye");
  await mallory.closed;
  assert.deepEqual([bye.code, bye.message], ["forbidden", "Disconnected by a server admin"]);
  const ack = mallory.frames.findIndex((f) => f.type === "ack" && f.id === 99);
  assert.ok(ack !== -1 && ack < mallory.frames.indexOf(bye), "the say in flight is acked first");
  const left = await alice.next((f) => f.type === "leave" && f.nick === "mallory");
  assert.equal(left.reason, "disconnected by opsbot");
  assert.match(byeTable().get("forbidden")!, /A server admin disconnected the session/);
  assert.match(errorTable().get("forbidden")!, /As the code of a `bye`/);
});

Deno.test("every code the server closes a session with literally is in section 16's bye table", async () => {
  const codes = new Set<string>();
  const root = new URL("../server/", import.meta.url);
  const walk = async (dir: URL): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir));
      else if (entry.name.endsWith(".ts")) {
        const source = await Deno.readTextFile(new URL(entry.name, dir));
        const calls = /\.(?:close|finish)\(\s*"([a-z_]+)"|type: "bye", code: "([a-z_]+)"/g;
        for (const [, call, bye] of source.matchAll(calls)) codes.add((call ?? bye)!);
      }
    }
  };
  await walk(root);
  assert.ok(codes.has("server_shutdown") && codes.has("forbidden"), [...codes].join(" "));
  const table = byeTable();
  for (const code of codes) assert.ok(table.has(code), `bye ${code} is not in section 16`);
});

/** The rooms of `names` as store writes: one invite-only, one with a key, all empty. */
function roomWrites(names: string[]): StoreWrite[] {
  return names.map((name, index) => ({
    kind: "room",
    record: {
      key: nameKey(name),
      name,
      owner: null,
      topic: "",
      inviteOnly: index === 1,
      passphrase: index === 2 ? "s3cret" : null,
      createdAt: 1_700_000_000_000,
      lastId: 0,
    },
  }));
}

Deno.test("rooms: total counts every room, empty, invite-only and keyed ones too; a page holds 1,000 at most, a larger limit is taken as 1,000", async () => {
  await withDataDir(async (dir) => {
    const names = Array.from(
      { length: MAX_LIST_PAGE + 1 },
      (_, i) => `r${String(i).padStart(4, "0")}`,
    );
    const store = SqliteStore.open(dir);
    await store.write(roomWrites(names));
    await store.close();
    await using server = await listenRelaxed({ dataDir: dir });
    await using alice = await Peer.join(server.addr.port, "alice");
    for (const limit of [undefined, MAX_LIST_PAGE, MAX_LIST_PAGE + 1, 1_000_000]) {
      const page = await alice.request({
        type: "rooms",
        ...(limit === undefined ? {} : { limit }),
      });
      assert.equal(page.type, "ack", `limit ${limit}`);
      assert.deepEqual(
        page.result.rooms.map((room: { name: string }) => room.name),
        names.slice(0, 1000),
      );
      assert.deepEqual([page.result.total, page.result.more], [1001, true]);
    }
    const last = await alice.request({ type: "rooms", after: "r0999" });
    assert.deepEqual(last.result, {
      rooms: [{ name: "r1000", members: 0, topic: "" }],
      total: 1001,
    });
    assert.equal((await alice.request({ type: "rooms", limit: 0 })).code, "bad_request");
  });
  const lists = flat(docSection("## 8. Requests and their acks"));
  assert.match(lists, /never more than \*\*1,000\*\* \(`MAX_LIST_PAGE` in `shared\/protocol.ts`\)/);
  assert.match(lists, /a `limit` above 1,000 is taken as 1,000, not refused/);
  assert.match(lists, /Every room that exists is listed, empty, invite-only and keyed rooms too/);
  assert.match(
    lists,
    /`total` is the size of the whole list when the reply is made, not of the page/,
  );
});

Deno.test("users and who: total counts each nickname once, whatever its sessions; 1,000 names a page at most", async () => {
  await using server = await listenRelaxed({
    maxConnections: 2000,
    maxConnectionsPerIp: 2000,
    maxHandshakesPerIp: 2000,
  });
  const port = server.addr.port;
  await server.accounts.create("alice", "correct horse");
  await using phone = await Peer.join(port, "alice", { password: "correct horse" });
  await using laptop = await Peer.join(port, "alice", { password: "correct horse" });
  await using bob = await Peer.join(port, "bob");
  for (const peer of [phone, laptop, bob]) await peer.request({ type: "join", room: "dev" });
  const who = await bob.request({ type: "who", room: "dev", limit: 1 });
  assert.deepEqual(who.result, { room: "dev", members: ["alice"], total: 2, more: true });
  const everyone = await bob.request({ type: "who", room: "dev", limit: 1_000_000 });
  assert.deepEqual(everyone.result, { room: "dev", members: ["alice", "bob"], total: 2 });
  assert.deepEqual((await bob.request({ type: "users" })).result, {
    users: ["alice", "bob"],
    total: 2,
  });
  // 999 more guests, who only log in: 1,001 nicknames online.
  const guests = await Promise.all(
    Array.from({ length: 999 }, (_, i) => Peer.join(port, `g${String(i).padStart(3, "0")}`)),
  );
  try {
    for (const limit of [undefined, 5000]) {
      const page = await bob.request({ type: "users", ...(limit === undefined ? {} : { limit }) });
      assert.equal(page.result.users.length, MAX_LIST_PAGE, `limit ${limit}`);
      assert.deepEqual([page.result.total, page.result.more], [1001, true]);
    }
    // alice, bob, g000 ... g997 on the first page; the last one on the next.
    const rest = await bob.request({ type: "users", after: "g997" });
    assert.deepEqual(rest.result, { users: ["g998"], total: 1001 });
  } finally {
    await Promise.all(guests.map((guest) => guest[Symbol.asyncDispose]()));
  }
  const lists = flat(docSection("## 8. Requests and their acks"));
  assert.match(lists, /a nickname with several sessions counts once/);
  assert.match(lists, /for `users` the nicknames online on the server, each counted once/);
});

Deno.test("with --redis, total counts the rooms and the users of every instance", async () => {
  await using redis = await RedisServer.start();
  const instance = () => listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000 });
  await using a = await instance();
  await using b = await instance();
  await using alice = await Peer.join(a.addr.port, "alice");
  await using bob = await Peer.join(b.addr.port, "bob");
  await alice.request({ type: "join", room: "lobby" });
  await bob.request({ type: "join", room: "lobby" });
  // Made on b and never joined on a; bob then speaks in the lobby, after it was made.
  await bob.request({ type: "join", room: "bobs" });
  await bob.request({ type: "leave", room: "bobs" });
  await bob.request({ type: "say", room: "lobby", body: "made #bobs" });
  await alice.next((f) => f.type === "message" && f.body === "made #bobs");
  const rooms = await alice.request({ type: "rooms" });
  assert.deepEqual(rooms.result, {
    rooms: [{ name: "bobs", members: 0, topic: "" }, { name: "lobby", members: 2, topic: "" }],
    total: 2,
  });
  const users = await alice.request({ type: "users", limit: 1 });
  assert.deepEqual(users.result, { users: ["alice"], total: 2, more: true });
  const who = await alice.request({ type: "who", room: "lobby" });
  assert.deepEqual(who.result, { room: "lobby", members: ["alice", "bob"], total: 2 });
  assert.match(
    flat(docSection("## 8. Requests and their acks")),
    /with `--redis`, those of every instance/,
  );
});

Deno.test("a guest's room is deleted once empty for --guest-room-ttl and made anew from id 1; an account's stays", async () => {
  // The rest is pinned in tests/server_rooms_test.ts and tests/redis_rooms_test.ts: a room survives
  // its last member until the TTL, is deleted with its history after it, an account's is kept.
  await using server = await listenRelaxed({ guestRoomTtlMs: 0 });
  await server.accounts.create("owner", "correct horse");
  await using owner = await Peer.join(server.addr.port, "owner", { password: "correct horse" });
  await using guest = await Peer.join(server.addr.port, "guest");
  for (const [peer, room] of [[owner, "club"], [guest, "passing"]] as const) {
    await peer.request({ type: "join", room });
    await peer.request({ type: "say", room, body: "one" });
    await peer.request({ type: "say", room, body: "two" });
    await peer.request({ type: "leave", room });
  }
  assert.equal(await server.broker.expireRooms(), 1);
  const names = (await guest.request({ type: "rooms" })).result.rooms.map((r: Frame) => r.name);
  assert.deepEqual(names, ["club"]);
  // The client remembers id 2 of #passing: the room it finds is another one.
  const again = await guest.request({ type: "join", room: "passing", since: 2 });
  assert.deepEqual([again.result.lastId, again.result.history], [0, []]);
  assert.equal((await guest.request({ type: "say", room: "passing", body: "new" })).result.id, 1);
  const kept = await owner.request({ type: "join", room: "club", since: 0 });
  assert.deepEqual(kept.result.history.map((m: Frame) => m.body), ["one", "two"]);
  const rooms = flat(docSection("## 7. Names and text"));
  assert.match(rooms, /A room an account owns is kept however long it is empty/);
  assert.match(rooms, /once it has been empty for `--guest-room-ttl`/);
  assert.match(
    flat(docSection("## 11. Message ids and timestamps")),
    /a `join` reply whose `lastId` is below the `since` sent/,
  );
  const people = flat(
    await Deno.readTextFile(new URL("../docs/accounts_and_moderation.md", import.meta.url)),
  );
  assert.match(people, /A room an account owns is kept however long it is empty/);
  assert.doesNotMatch(people, /not deleted when everyone leaves/);
});

Deno.test("plain text: an error, /help and /switch come after the replies and echoes of earlier lines", async () => {
  await using server = await listenRelaxed({ textPromptDelayMs: 50 });
  await using carol = await TextPeer.connect(server.addr.port);
  carol.write("carol\n/join dev\n/join ops\n");
  await carol.waitFor("--- Now talking in #ops");
  const start = carol.text.length;
  // Each say waits for its commit; the replies to the lines after it must not overtake its echo.
  carol.write("one\n/frobnicate\ntwo\n/msg\nthree\n/switch dev\nfour\n/help\n/who\n");
  await carol.waitFor("--- In #dev: carol");
  const shown = carol.text.slice(start);
  const at = (text: string) => {
    const index = shown.indexOf(text);
    assert.notEqual(index, -1, text);
    return index;
  };
  const replies = [
    "! unknown_command: Unknown command /frobnicate",
    "! bad_request: Usage: /msg",
    "--- Now talking in #dev",
    "    /help",
    "--- In #dev: carol",
  ];
  const echoes = ["<carol> one", "<carol> two", "<carol> three", "<carol> four", "<carol> four"];
  for (const [index, reply] of replies.entries()) {
    assert.ok(at(echoes[index]!) < at(reply), `${reply} after ${echoes[index]}`);
    if (index > 0) assert.ok(at(replies[index - 1]!) < at(reply), `${reply} in order`);
  }
  assert.match(
    flat(docSection("## 17. Plain-text mode")),
    /so no reply overtakes the echo of an earlier line/,
  );
});

Deno.test("a connection over a cap is told in its own mode: bye when framed, the closing line in plain text", async () => {
  await using server = await listenRelaxed({ maxConnections: 1, textPromptDelayMs: 50 });
  await using _first = await Peer.join(server.addr.port, "first");
  await using text = await TextPeer.connect(server.addr.port);
  text.write("second\n");
  await text.closed;
  assert.equal(
    text.text,
    "*** Closing: too_many_connections: Server full: 1 connections reached limit 1\r\n",
  );
  await using framed = await Peer.connect(server.addr.port);
  framed.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "third" });
  const bye = await framed.next();
  assert.deepEqual([bye.type, bye.code], ["bye", "too_many_connections"]);
  await framed.closed;
  const transport = flat(docSection("## 1. Transport"));
  assert.match(
    transport,
    /the closing line `\*\*\* Closing: too_many_connections: \.\.\.` to a plain-text one/,
  );
});

Deno.test("replaced is at once: the say in flight gets no ack there, is still committed, and the successor's resend is a duplicate", async () => {
  const holding = holdingStore();
  await using server = await listenRelaxed({ store: holding.store });
  const port = server.addr.port;
  const hello = { type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "carol" };
  await using old = await Peer.connect(port);
  old.send(hello);
  const welcome = await old.next((f) => f.type === "welcome");
  await old.request({ type: "join", room: "dev" });
  const waiting = holding.hold();
  const say = { type: "say", id: 50, room: "dev", body: "sent once", clientMsgId: "m-1" };
  old.send(say);
  await waiting;
  await using successor = await Peer.connect(port);
  successor.send({ ...hello, resume: welcome.resume });
  assert.equal((await successor.next((f) => f.type === "welcome")).nick, "carol");
  const bye = await old.next((f) => f.type === "bye");
  assert.equal(bye.code, "replaced");
  holding.release();
  await old.closed;
  assert.deepEqual(old.all((f) => f.id === 50), [], "no reply on the connection taken over");
  await successor.request({ type: "join", room: "dev" });
  const resent = await successor.request(say);
  assert.equal(resent.result.duplicate, true);
  const history = await successor.request({ type: "history", room: "dev" });
  assert.deepEqual(history.result.messages.map((m: Frame) => m.body), ["sent once"]);
  assert.match(
    flat(docSection("## 16. Closing: the bye frame")),
    /and `replaced` \(the connection taken over is most likely dead/,
  );
});

Deno.test("no_such_user: a dm, an op or an invite for a nickname neither online nor registered", async () => {
  await using server = await listenRelaxed();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  for (
    const request of [
      { type: "dm", to: "nobody", body: "hi" },
      { type: "op", room: "dev", nick: "nobody" },
      { type: "invite", room: "dev", nick: "nobody" },
    ]
  ) {
    assert.equal((await alice.request(request)).code, "no_such_user", request.type);
  }
  // Restrictions hold for a nickname, whoever uses it: no such refusal.
  assert.equal((await alice.request({ type: "ban", room: "dev", nick: "nobody" })).type, "ack");
  assert.match(errorTable().get("no_such_user")!, /`op` or `invite` of such a nickname/);
});

/** Every key of `value` and of the maps in it, nested ones as `outer.inner`. */
function keyPaths(value: Frame, prefix = ""): string[] {
  return Object.entries(value).flatMap(([key, inner]) =>
    typeof inner === "object" && inner !== null && !Array.isArray(inner)
      ? [prefix + key, ...keyPaths(inner, `${prefix}${key}.`)]
      : [prefix + key]
  );
}

/** The keys of the first `welcome` written out in `text`, nested ones as `outer.inner`. */
function exampleWelcomeKeys(text: string): string[] {
  const start = text.indexOf('< {"type": "welcome"');
  assert.notEqual(start, -1, "an example welcome");
  const lines = text.slice(start).split("\n");
  const end = lines.findIndex((line, index) => index > 0 && !line.startsWith("  "));
  // JSON once comments and elisions are out: `{...}` is a map left empty, `"..."` a string.
  const json = lines.slice(0, end).map((line) => line.replace(/\/\/.*$/, "")).join(" ")
    .slice(2).replaceAll("{...}", "{}");
  return keyPaths(JSON.parse(json)).sort();
}

Deno.test("the example welcomes of sections 12 and 18 have the fields a server's welcome has", async () => {
  await using server = await listenRelaxed();
  await server.accounts.create("bob", "correct horse");
  await using alice = await Peer.connect(server.addr.port);
  const guest = await alice.hello("ａｌｉｃｅ");
  await using bob = await Peer.connect(server.addr.port);
  const account = await bob.hello("bob", { password: "correct horse" });
  assert.deepEqual(
    exampleWelcomeKeys(docSection("## 18. Example exchange")),
    keyPaths(guest).sort(),
  );
  // Section 12 leaves the limits out.
  const withoutLimits = keyPaths(account).filter((key) => !key.startsWith("limits.")).sort();
  assert.deepEqual(
    exampleWelcomeKeys(docSection("### Resuming after a dropped connection")),
    withoutLimits,
  );
});
