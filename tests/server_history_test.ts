/**
 * History is read in bounded pieces: each read stops in the store at one
 * frame's worth of bytes, every reply fits the frame cap the server
 * announced, a connection's history requests run one at a time behind its
 * output queue, and stored DMs reach a login page by page.
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import { FramedSession } from "../server/session/framed_session.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { HistoryQuery, PendingQuery, StoreWrite } from "../server/store/store.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { ConformanceCheck } from "./support/conformance.ts";
import { type Frame, Peer } from "./support/peer.ts";
import { ManualTransport } from "./support/manual_transport.ts";
import { listenRelaxed, sessionContext, withDataDir } from "./support/test_server.ts";

const T0 = 1_700_000_000_000;
// The longest body the defaults allow, in 4-byte characters: 16,000 bytes.
const LONG = "\u{1F600}".repeat(4000);
const FRAME = 64 * 1024;

/** A SQLite store that records how many records each read returned. */
function countingStore(dir: string) {
  const store = SqliteStore.open(dir);
  const reads: Array<{ kind: string; query: HistoryQuery | PendingQuery; returned: number }> = [];
  const history = store.history.bind(store);
  store.history = async (room, query) => {
    const page = await history(room, query);
    reads.push({ kind: "history", query, returned: page.length });
    return page;
  };
  const dmHistory = store.dmHistory.bind(store);
  store.dmHistory = async (user, peer, query) => {
    const page = await dmHistory(user, peer, query);
    reads.push({ kind: "dm_history", query, returned: page.length });
    return page;
  };
  const pendingDms = store.pendingDms.bind(store);
  store.pendingDms = async (user, query) => {
    const page = await pendingDms(user, query);
    reads.push({ kind: "pending", query, returned: page.length });
    return page;
  };
  return { store, reads };
}

/**
 * Writes `count` long messages to room `dev` (with a long topic) and `dms`
 * long DMs to bob, from `senders` different users (alice when 1).
 */
async function fill(
  dir: string,
  options: { count: number; dms?: number; senders?: number },
): Promise<void> {
  const store = SqliteStore.open(dir);
  const writes: StoreWrite[] = [{
    kind: "room",
    record: {
      key: "dev",
      name: "dev",
      owner: null,
      topic: "\u{1F4A5}".repeat(390),
      inviteOnly: false,
      passphrase: null,
      createdAt: T0,
      lastId: options.count,
    },
  }];
  for (let id = 1; id <= options.count; id++) {
    writes.push({
      kind: "message",
      record: { room: "dev", id, from: "alice", body: LONG, ts: T0 + id, action: false },
    });
  }
  const senders = options.senders ?? 1;
  for (let id = 1; id <= (options.dms ?? 0); id++) {
    const from = senders === 1 ? "alice" : `sender${String(id % senders).padStart(5, "0")}`;
    const body = senders === 1 ? `${id} ${LONG}` : `${id}`;
    writes.push({
      kind: "dm",
      record: { id, from, to: "bob", body, ts: T0 + id, action: false },
      delivered: false,
    });
  }
  await store.write(writes);
  await store.close();
}

function listen(options: Partial<ServerOptions> & { store: SqliteStore }): Promise<ChatServer> {
  return listenRelaxed(options);
}

/** The payload size of `frame` on the wire. */
function payloadBytes(frame: Frame): number {
  return encodeFrame(frame).length - 4;
}

Deno.test("history: more says there are more messages in that direction, beyond limit too", async () => {
  await using server = await listenRelaxed();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  for (let i = 1; i <= 5; i++) await alice.request({ type: "say", room: "dev", body: `m${i}` });
  const ids = (page: Frame) => page.result.messages.map((m: { id: number }) => m.id);
  const latest = await alice.request({ type: "history", room: "dev", limit: 2 });
  assert.deepEqual([ids(latest), latest.result.more], [[4, 5], true]);
  const oldest = await alice.request({ type: "history", room: "dev", before: 3, limit: 2 });
  assert.deepEqual([ids(oldest), oldest.result.more], [[1, 2], undefined]);
  const forward = await alice.request({ type: "history", room: "dev", after: 1, limit: 2 });
  assert.deepEqual([ids(forward), forward.result.more], [[2, 3], true]);
  const end = await alice.request({ type: "history", room: "dev", after: 3, limit: 2 });
  assert.deepEqual([ids(end), end.result.more], [[4, 5], undefined]);
});

Deno.test("a history page of 16 KB messages is cut in the store at one frame, and paging back finds every message", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 600 });
    const { store, reads } = countingStore(dir);
    await using server = await listen({ store });
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    reads.length = 0;
    const page = await alice.request({ type: "history", room: "dev", limit: 500 });
    assert.equal(page.type, "ack");
    assert.ok(payloadBytes(page) <= FRAME, `${payloadBytes(page)} bytes`);
    assert.equal(page.result.more, true);
    assert.deepEqual(page.result.messages.at(-1).id, 600, "the newest are kept");
    // The store stopped after about a frame: not the 501 rows asked for.
    assert.equal(reads.length, 1);
    assert.ok(reads[0]!.returned <= 5, `${reads[0]!.returned} records read`);
    const seen: number[] = page.result.messages.map((m: { id: number }) => m.id);
    for (let before = seen[0]!; before > 1;) {
      const older = await alice.request({ type: "history", room: "dev", before, limit: 500 });
      assert.ok(payloadBytes(older) <= FRAME);
      const ids = older.result.messages.map((m: { id: number }) => m.id);
      assert.ok(ids.length > 0);
      seen.unshift(...ids);
      before = ids[0];
      assert.equal(older.result.more, before > 1 ? true : undefined);
    }
    assert.deepEqual(seen, Array.from({ length: 600 }, (_, i) => i + 1));
    assert.ok(reads.every((read) => read.returned <= 5), JSON.stringify(reads.slice(0, 3)));
  });
});

Deno.test("join replies with long messages and a long topic fit the frame, with and without since", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 100 });
    const { store, reads } = countingStore(dir);
    await using server = await listen({ store, historyOnJoin: 500 });
    await using bob = await Peer.join(server.addr.port, "bob");
    const latest = await bob.request({ type: "join", room: "dev" });
    assert.equal(latest.type, "ack");
    assert.ok(payloadBytes(latest) <= FRAME, `${payloadBytes(latest)} bytes`);
    assert.equal(latest.result.history.at(-1).id, 100);
    const resumed = await bob.request({ type: "join", room: "dev", since: 0 });
    assert.ok(payloadBytes(resumed) <= FRAME, `${payloadBytes(resumed)} bytes`);
    assert.equal(resumed.result.more, true);
    assert.equal(resumed.result.history[0].id, 1);
    assert.ok(reads.every((read) => read.returned <= 5), JSON.stringify(reads));
  });
});

Deno.test("300 stored DMs of 16 KB reach a login page by page, none lost, the queue bound kept", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 0, dms: 300 });
    const { store, reads } = countingStore(dir);
    await using server = await listen({ store });
    await server.accounts.create("bob", "bobs password");
    // 4.8 MB of DMs against a 1 MiB queue: all at once, bob would be dropped.
    await using bob = await Peer.join(server.addr.port, "bob", { password: "bobs password" });
    const notice = await bob.next((f) => f.type === "notice", 30_000);
    const dms = bob.all((f) => f.type === "dm");
    assert.deepEqual(dms.map((dm) => dm.id), Array.from({ length: 300 }, (_, i) => i + 1));
    assert.ok(dms.every((dm) => dm.history === true && dm.body.endsWith(LONG)));
    assert.deepEqual(notice.unread, [{ peer: "alice", count: 300 }]);
    const pages = reads.filter((read) => read.kind === "pending");
    assert.ok(pages.length >= 60, `${pages.length} pages`);
    assert.ok(pages.every((read) => read.returned <= 5));
    // Marked delivered: the next login gets none again.
    await using again = await Peer.join(server.addr.port, "bob", { password: "bobs password" });
    await again.request({ type: "ping" });
    assert.equal(again.all((f) => f.type === "dm").length, 0);
  });
});

Deno.test("the unread notice after login fits one frame however many wrote: the first senders by name", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 0, dms: 3000, senders: 1500 });
    const { store } = countingStore(dir);
    await using server = await listen({ store });
    await server.accounts.create("bob", "bobs password");
    await using bob = await Peer.join(server.addr.port, "bob", { password: "bobs password" });
    const notice = await bob.next((f) => f.type === "notice", 30_000);
    assert.equal(bob.all((f) => f.type === "dm").length, 3000);
    assert.ok(payloadBytes(notice) <= FRAME, `${payloadBytes(notice)} bytes`);
    assert.ok(notice.unread.length > 0 && notice.unread.length <= 1000);
    assert.deepEqual(notice.unread[0], { peer: "sender00000", count: 2 });
    assert.match(notice.body, /and from others$/);
  });
});

Deno.test("a connection's history requests run one at a time; more than the waiting bound are rate_limited", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 50 });
    const { store } = countingStore(dir);
    await using server = await listen({ store, maxHistoryWaitingPerConnection: 4 });
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    const frames = Array.from(
      { length: 10 },
      (_, i) => encodeFrame({ type: "history", id: 100 + i, room: "dev", limit: 500 }),
    );
    const chunk = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
    frames.reduce((offset, frame) => (chunk.set(frame, offset), offset + frame.length), 0);
    alice.sendRaw(chunk);
    const replies: Frame[] = [];
    for (let i = 0; i < 10; i++) {
      replies.push(
        await alice.next((f) => (f.type === "ack" || f.type === "error") && f.id >= 100),
      );
    }
    // In request order: one running and four waiting were answered, the rest refused.
    assert.deepEqual(replies.map((reply) => reply.id), frames.map((_, i) => 100 + i));
    assert.deepEqual(replies.map((reply) => reply.type), [
      ...Array(5).fill("ack"),
      ...Array(5).fill("error"),
    ]);
    for (const refused of replies.slice(5)) {
      assert.equal(refused.code, "rate_limited");
      assert.ok(refused.retryAfterMs > 0);
    }
  });
});

/**
 * A session over a {@linkcode ManualTransport}: nothing it writes leaves
 * until the test's peer reads it, so the test decides how slow the peer is.
 */
function slowPeer(server: ChatServer) {
  const transport = new ManualTransport();
  const session = new FramedSession(transport, sessionContext(server), "192.0.2.1");
  const decoder = new FrameDecoder({ maxFrameBytes: FRAME });
  const received: Frame[] = [];
  // What the session writes is held to docs/protocol.schema.json, as the TCP peers' is.
  const conformance = new ConformanceCheck();
  let accepted = 0;
  return {
    session,
    received,
    /** The peer reads what was written and what comes, until `done`. */
    async readUntil(done: () => boolean): Promise<void> {
      while (!done()) {
        if (session.closed) assert.fail("the session was dropped");
        if (transport.pendingWrites === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        // Each write is taken whole: its bytes are the oldest call not yet read.
        const bytes = transport.calls[accepted++]!;
        transport.accept();
        for (const value of decoder.push(bytes)) {
          conformance.received(value);
          received.push(value as Frame);
        }
      }
      conformance.assertConforms();
    },
    /** The peer reads nothing for a while: turns of the event loop, no I/O involved. */
    async stall(): Promise<void> {
      for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function hello(nick: string, password?: string): Uint8Array {
  return encodeFrame({
    type: "hello",
    protocol: "1.0",
    client: "test",
    clientVersion: "0",
    nick,
    ...(password === undefined ? {} : { password }),
  });
}

Deno.test("history waits for a slow reader's queue to have room instead of overflowing it", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 50 });
    const { store, reads } = countingStore(dir);
    await using server = await listen({
      store,
      maxQueueBytes: 200 * 1024,
      maxHistoryWaitingPerConnection: 20,
    });
    const peer = slowPeer(server);
    await peer.session.receive(hello("slow"));
    await peer.session.receive(encodeFrame({ type: "join", id: 1, room: "dev" }));
    await peer.readUntil(() => peer.received.some((frame) => frame.id === 1));
    reads.length = 0;
    const requests = Array.from(
      { length: 10 },
      (_, i) => encodeFrame({ type: "history", id: 10 + i, room: "dev", limit: 500 }),
    );
    for (const request of requests) peer.session.receive(request);
    await peer.stall();
    assert.equal(peer.session.closed, false, "dropped as a slow consumer");
    // Three pages of about 63 KB fit in 200 KiB: the fourth waits for the peer.
    assert.equal(reads.length, 3);
    await peer.readUntil(() => peer.received.filter((frame) => frame.type === "ack").length === 11);
    assert.deepEqual(
      peer.received.filter((frame) => frame.id >= 10).map((frame) => frame.id),
      requests.map((_, i) => 10 + i),
    );
    peer.session.abort("test over");
  });
});

Deno.test("stored DMs wait for a slow reader's queue to have room at login", async () => {
  await withDataDir(async (dir) => {
    await fill(dir, { count: 0, dms: 100 });
    const { store } = countingStore(dir);
    await using server = await listen({ store, maxQueueBytes: 200 * 1024 });
    await server.accounts.create("bob", "bobs password");
    const peer = slowPeer(server);
    peer.session.receive(hello("bob", "bobs password"));
    // The password check runs off the event loop: wait for the welcome.
    await peer.readUntil(() => peer.received.some((frame) => frame.type === "welcome"));
    await peer.stall();
    assert.equal(peer.session.closed, false, "dropped as a slow consumer");
    await peer.readUntil(() => peer.received.some((frame) => frame.type === "notice"));
    const dms = peer.received.filter((frame) => frame.type === "dm");
    assert.deepEqual(dms.map((dm) => dm.id), Array.from({ length: 100 }, (_, i) => i + 1));
    peer.session.abort("test over");
  });
});
