/**
 * `rooms`, `users`, `who` and the member list of `join` page with a cursor
 * (`after` the last name, by name key) and every reply fits the frame cap
 * the server announced, however many rooms, users and members there are.
 */
import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { StoreWrite } from "../server/store/store.ts";
import { encodeFrame } from "../shared/frame.ts";
import { nameKey } from "../shared/validation.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";

const T0 = 1_700_000_000_000;
// The longest topic, in 4-byte characters: 1,560 bytes.
const LONG_TOPIC = "\u{1F4A5}".repeat(390);
// A letter of 4 bytes that NFKC keeps: 32 of them make the longest nickname, 128 bytes.
const WIDE_LETTER = "\u{20731}";

function listen(options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    rateBurst: 10_000,
    ratePerSecond: 10_000,
    ...options,
  });
}

/** The payload size of `frame` on the wire. */
function payloadBytes(frame: Frame): number {
  return encodeFrame(frame).length - 4;
}

/** Code-point order of name keys: what the server's pages follow. */
function byKey(a: string, b: string): number {
  const [x, y] = [[...nameKey(a)], [...nameKey(b)]];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
  }
  return x.length - y.length;
}

/**
 * Asks `request` page after page (`after` the last name of the one before)
 * until one has no `more`; checks each fits `cap`. Returns every page.
 */
async function allPages(
  peer: Peer,
  request: Record<string, unknown>,
  options: { list: string; name?: (entry: Frame) => string; cap: number },
): Promise<Frame[]> {
  const pages: Frame[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const reply = await peer.request({ ...request, ...(after === undefined ? {} : { after }) });
    assert.equal(reply.type, "ack", JSON.stringify(reply).slice(0, 300));
    assert.ok(payloadBytes(reply) <= options.cap, `${payloadBytes(reply)} bytes`);
    pages.push(reply);
    const entries = reply.result[options.list] as Frame[];
    if (reply.result.more !== true) return pages;
    assert.ok(entries.length > 0, "a page with more has entries");
    const last = entries.at(-1)!;
    after = options.name ? options.name(last) : String(last);
  }
  assert.fail("no last page");
}

Deno.test("1,200 rooms with long topics: rooms pages fit the frame and the cursor finds each room once, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-test-" });
  try {
    const store = SqliteStore.open(dir);
    const names = Array.from({ length: 1200 }, (_, i) => `Room-${String(i).padStart(4, "0")}`);
    const writes: StoreWrite[] = names.map((name) => ({
      kind: "room",
      record: {
        key: nameKey(name),
        name,
        owner: null,
        topic: LONG_TOPIC,
        inviteOnly: false,
        passphrase: null,
        createdAt: T0,
        lastId: 0,
      },
    }));
    await store.write(writes);
    await store.close();
    await using server = await listen({ dataDir: dir });
    await using alice = await Peer.join(server.addr.port, "alice");
    // In one of them, so member counts show.
    await alice.request({ type: "join", room: "room-0500" });
    const pages = await allPages(alice, { type: "rooms" }, {
      list: "rooms",
      name: (room) => room.name,
      cap: 64 * 1024,
    });
    assert.ok(pages.length > 1, "1,200 long topics take several frames");
    const rooms = pages.flatMap((page) => page.result.rooms as Frame[]);
    assert.deepEqual(rooms.map((room) => room.name), names);
    assert.ok(pages.every((page) => page.result.total === 1200));
    assert.equal(rooms.find((room) => room.name === "Room-0500")!.members, 1);
    assert.ok(rooms.every((room) => room.topic === LONG_TOPIC));
    // A smaller page on request; `after` need not name a room that exists.
    const few = await alice.request({ type: "rooms", after: "room-0099x", limit: 3 });
    assert.deepEqual(few.result.rooms.map((room: Frame) => room.name), [
      "Room-0100",
      "Room-0101",
      "Room-0102",
    ]);
    assert.equal(few.result.more, true);
    const end = await alice.request({ type: "rooms", after: "Room-1199" });
    assert.deepEqual([end.result.rooms, end.result.more], [[], undefined]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("users, who and the join's member list page by name key and fit a small frame cap", async () => {
  // A 4 KiB frame cap: 40 nicknames of 128 bytes take several frames.
  await using server = await listen({ maxFrameBytes: 4096 });
  const port = server.addr.port;
  const peers: Peer[] = [];
  const nicks: string[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      // Mixed case and widths: the order is the name keys'.
      const nick = `${i % 2 ? "U" : "u"}${String(i).padStart(2, "0")}${WIDE_LETTER.repeat(29)}`;
      nicks.push(nick);
      const peer = await Peer.join(port, nick);
      peers.push(peer);
      assert.equal((await peer.request({ type: "join", room: "crowd" })).type, "ack");
    }
    const sorted = [...nicks].sort(byKey);
    await using late = await Peer.join(port, "late");
    const joined = await late.request({ type: "join", room: "crowd" });
    assert.ok(payloadBytes(joined) <= 4096, `${payloadBytes(joined)} bytes`);
    assert.equal(joined.result.membersMore, true);
    const first = joined.result.members as string[];
    assert.ok(first.length > 0 && first.length < 41);
    const everyone = [...sorted, "late"].sort(byKey);
    assert.deepEqual(first, everyone.slice(0, first.length));
    // The rest, with who after the last one.
    const rest = await allPages(late, { type: "who", room: "crowd", after: first.at(-1) }, {
      list: "members",
      cap: 4096,
    });
    assert.deepEqual([...first, ...rest.flatMap((page) => page.result.members)], everyone);
    assert.ok(rest.every((page) => page.result.total === 41));
    const whoPages = await allPages(late, { type: "who", room: "crowd" }, {
      list: "members",
      cap: 4096,
    });
    assert.deepEqual(whoPages.flatMap((page) => page.result.members), everyone);
    const userPages = await allPages(late, { type: "users" }, { list: "users", cap: 4096 });
    assert.ok(userPages.length > 1);
    assert.deepEqual(userPages.flatMap((page) => page.result.users), everyone);
    // `limit` pages in smaller steps; the cursor is a name, in any case or width.
    const two = await late.request({ type: "users", after: everyone[3]!.toUpperCase(), limit: 2 });
    assert.deepEqual(two.result.users, everyone.slice(4, 6));
    assert.equal(two.result.more, true);
    // A name that left is gone from the next page; paging goes on from where it was.
    const leaving = peers.shift()!;
    await leaving[Symbol.asyncDispose]();
    await late.next((f) => f.type === "leave" && f.nick === nicks[0]);
    const after = await late.request({ type: "who", room: "crowd", after: nicks[0], limit: 3 });
    const at = everyone.indexOf(nicks[0]!);
    assert.deepEqual(after.result.members, everyone.slice(at + 1, at + 4));
    assert.equal(after.result.total, 40);
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("plain-text mode shows a page of a list and the command for the next one", async () => {
  await using server = await listen({ maxFrameBytes: 4096, textPromptDelayMs: 100 });
  const port = server.addr.port;
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const peer = await Peer.join(port, `p${String(i).padStart(2, "0")}${WIDE_LETTER.repeat(29)}`);
      peers.push(peer);
      await peer.request({ type: "join", room: "crowd" });
    }
    const viewer = await TextPeer.connect(port);
    try {
      viewer.write("viewer\n/join crowd\n");
      await viewer.waitFor(/--- More members: \/who crowd after (\S+)\r\n/);
      const [, cursor] = /--- More members: \/who crowd after (\S+)\r\n/.exec(viewer.text)!;
      viewer.write(`/who crowd after ${cursor}\n`);
      await viewer.waitFor(/--- 41 in all; more: \/who crowd after \S+\r\n/);
      viewer.write("/users\n");
      await viewer.waitFor(/--- 41 in all; more: \/users after \S+\r\n/);
    } finally {
      viewer.close();
      await viewer.closed;
    }
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("list requests check their cursor fields", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  for (
    const bad of [
      { type: "rooms", after: 7 },
      { type: "users", limit: 0 },
      { type: "who", room: "dev", limit: "ten" },
      { type: "rooms", after: "x".repeat(300) },
    ]
  ) {
    assert.equal((await alice.request(bad)).code, "bad_request", JSON.stringify(bad));
  }
  // Larger than 1,000 counts as 1,000.
  const big = await alice.request({ type: "users", limit: 5000 });
  assert.deepEqual(big.result, { users: ["alice"], total: 1 });
});
