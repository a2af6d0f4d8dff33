/**
 * File sharing over real TCP (docs/protocol.md section 23): uploads in
 * chunks, announcement only once stored, downloads, rights and limits.
 * Every frame is checked against docs/protocol.schema.json by the peers.
 */
import assert from "node:assert/strict";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";
import { Peer } from "./support/peer.ts";
import { bytesOf, download, sha256, upload } from "./support/file_transfer.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import type { ChatServer } from "../server/chat_server.ts";

async function withServer(
  options: Partial<ServerOptions>,
  test: (server: ChatServer) => Promise<void>,
): Promise<void> {
  const server = await listenRelaxed({ guestUploads: true, ...options });
  try {
    await test(server);
  } finally {
    await server.shutdown();
  }
}

async function twoInRoom(server: ChatServer, room = "dev"): Promise<[Peer, Peer]> {
  const alice = await Peer.join(server.addr.port, "alice");
  const bob = await Peer.join(server.addr.port, "bob");
  assert.equal((await alice.request({ type: "join", room })).type, "ack");
  assert.equal((await bob.request({ type: "join", room })).type, "ack");
  return [alice, bob];
}

Deno.test("a file larger than the frame cap crosses in chunks; members get it and download the same bytes", async () => {
  await withServer({ maxFrameBytes: 16 * 1024 }, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    const bytes = bytesOf(100_000);
    const end = await upload(alice, bytes, { room: "dev" }, {
      name: "report.pdf",
      mediaType: "Application/PDF; x=1",
      sha256: sha256(bytes),
    });
    assert.equal(end.type, "ack", JSON.stringify(end));
    const file = end.result.file;
    assert.deepEqual({ ...file, id: undefined }, {
      id: undefined,
      name: "report.pdf",
      size: 100_000,
      type: "application/pdf",
    });
    const message = await bob.next((f) => f.type === "message" && f.file !== undefined);
    assert.deepEqual(message.file, file);
    assert.equal(message.id, end.result.id);
    assert.equal(message.body, "report.pdf");
    const { bytes: got, last } = await download(bob, file.id);
    assert.equal(last.result.sha256, sha256(bytes));
    assert.deepEqual(got, bytes);
    // In history too, with its file.
    const history = await bob.request({ type: "history", room: "dev" });
    assert.deepEqual(history.result.messages.at(-1).file, file);
  });
});

Deno.test("a partial upload is never announced; a stalled one is dropped; a closed connection drops its own", async () => {
  await withServer({ uploadTimeoutMs: 200 }, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    const begin = await alice.request({ type: "upload_begin", name: "a", size: 10, room: "dev" });
    const id = begin.result.upload;
    await alice.request({ type: "upload_chunk", upload: id, offset: 0, data: bytesOf(5) });
    const early = await alice.request({ type: "upload_end", upload: id });
    assert.equal(early.code, "upload_failed");
    // The stall timeout drops it: its next chunk is refused.
    assert.equal(server.files.uploads, 1);
    await waitFor(() => server.files.uploads === 0);
    const late = await alice.request({
      type: "upload_chunk",
      upload: id,
      offset: 5,
      data: bytesOf(5),
    });
    assert.equal(late.code, "upload_failed");
    await alice.request({ type: "upload_begin", name: "b", size: 10, room: "dev" });
    assert.equal(server.files.uploads, 1);
    alice.close();
    await waitFor(() => server.files.uploads === 0);
    assert.equal(server.files.uploadingBytes, 0);
    // Bob saw no file message at all.
    await bob.request({ type: "ping" });
    assert.deepEqual(bob.all((f) => f.type === "message"), []);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Polling a server counter: no event tells a test that a timer fired.
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("a wrong sha256, a wrong offset and too many bytes are refused, and nothing is announced", async () => {
  await withServer({}, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    const bytes = bytesOf(1000);
    const wrong = await upload(alice, bytes, { room: "dev" }, { sha256: "0".repeat(64) });
    assert.equal(wrong.code, "upload_failed");
    const begin = await alice.request({ type: "upload_begin", name: "x", size: 4, room: "dev" });
    const id = begin.result.upload;
    const gap = await alice.request({
      type: "upload_chunk",
      upload: id,
      offset: 2,
      data: bytesOf(2),
    });
    assert.equal(gap.code, "upload_failed");
    const long = await alice.request({
      type: "upload_chunk",
      upload: id,
      offset: 0,
      data: bytesOf(5),
    });
    assert.equal(long.code, "upload_failed");
    await bob.request({ type: "ping" });
    assert.deepEqual(bob.all((f) => f.type === "message"), []);
  });
});

Deno.test("limits: size, quota, uploads per connection, guests, rights", async () => {
  await withServer({
    maxUploadBytes: 1000,
    uploadQuotaBytes: 1500,
    maxUploadsPerConnection: 1,
  }, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    await using carol = await Peer.join(server.addr.port, "carol");
    const big = await alice.request({ type: "upload_begin", name: "x", size: 1001, room: "dev" });
    assert.equal(big.code, "file_too_large");
    const first = await alice.request({ type: "upload_begin", name: "x", size: 800, room: "dev" });
    assert.equal(first.type, "ack");
    const second = await alice.request({ type: "upload_begin", name: "y", size: 10, room: "dev" });
    assert.equal(second.code, "rate_limited");
    // The quota counts the upload in progress (from another connection of the same name key too).
    await alice.request({ type: "upload_cancel", upload: first.result.upload });
    assert.equal((await upload(alice, bytesOf(800), { room: "dev" })).type, "ack");
    const over = await alice.request({ type: "upload_begin", name: "z", size: 800, room: "dev" });
    assert.equal(over.code, "quota_exceeded");
    // Not a member: not_in_room; the file's id does not open it to outsiders.
    const outside = await carol.request({ type: "upload_begin", name: "x", size: 1, room: "dev" });
    assert.equal(outside.code, "not_in_room");
    const message = await bob.next((f) => f.type === "message" && f.file !== undefined);
    const refused = await carol.request({ type: "download", file: message.file.id });
    assert.equal(refused.code, "no_such_file");
    const unknown = await carol.request({ type: "download", file: "AAAAAAAAAAAAAAAAAAAAAA" });
    assert.equal(unknown.code, "no_such_file");
    // Neither room nor recipient, and both: bad_request.
    const neither = await alice.request({ type: "upload_begin", name: "x", size: 1 });
    assert.equal(neither.code, "bad_request");
    const nobody = await alice.request({ type: "upload_begin", name: "x", size: 1, to: "zed" });
    assert.equal(nobody.code, "no_such_user");
    const badName = await alice.request({
      type: "upload_begin",
      name: "../x",
      size: 1,
      room: "dev",
    });
    assert.equal(badName.code, "bad_request");
  });
  await withServer({ guestUploads: false }, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    const guest = await alice.request({ type: "upload_begin", name: "x", size: 1, room: "dev" });
    assert.equal(guest.code, "forbidden");
  });
});

Deno.test("a muted member cannot share a file", async () => {
  await withServer({}, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    assert.equal((await alice.request({ type: "mute", room: "dev", nick: "bob" })).type, "ack");
    const muted = await bob.request({ type: "upload_begin", name: "x", size: 1, room: "dev" });
    assert.equal(muted.code, "muted");
  });
});

Deno.test("a file sent as a DM reaches both parties and no one else", async () => {
  await withServer({}, async (server) => {
    await using alice = await Peer.join(server.addr.port, "alice");
    await using bob = await Peer.join(server.addr.port, "bob");
    await using carol = await Peer.join(server.addr.port, "carol");
    const bytes = bytesOf(3000);
    const end = await upload(alice, bytes, { to: "bob" }, {
      name: "notes.txt",
      mediaType: "text/plain",
    });
    assert.equal(end.type, "ack", JSON.stringify(end));
    const dm = await bob.next((f) => f.type === "dm" && f.file !== undefined);
    assert.deepEqual(dm.file, end.result.file);
    assert.deepEqual((await download(bob, dm.file.id)).bytes, bytes);
    assert.deepEqual((await download(alice, dm.file.id)).bytes, bytes);
    assert.equal((await download(carol, dm.file.id)).last.code, "no_such_file");
  });
});

Deno.test("files survive a restart (SQLite), and retention removes a pruned message's file and content", async () => {
  await withDataDir(async (dir) => {
    const bytes = bytesOf(50_000);
    let fileId = "";
    let server = await listenRelaxed({ dataDir: dir, guestUploads: true });
    try {
      await using alice = await Peer.join(server.addr.port, "alice");
      await alice.request({ type: "join", room: "dev" });
      const end = await upload(alice, bytes, { room: "dev" });
      assert.equal(end.type, "ack");
      fileId = end.result.file.id;
    } finally {
      await server.shutdown();
    }
    const blob = `${dir}/files/${sha256(bytes).slice(0, 2)}/${sha256(bytes)}`;
    assert.equal((await Deno.stat(blob)).size, 50_000);
    server = await listenRelaxed({ dataDir: dir, guestUploads: true, retentionMaxMessages: 1 });
    try {
      await using alice = await Peer.join(server.addr.port, "alice");
      const join = await alice.request({ type: "join", room: "dev" });
      assert.equal(join.result.history.at(-1).file.id, fileId);
      assert.deepEqual((await download(alice, fileId)).bytes, bytes);
      // A newer message pushes the file's out (keep 1); retention then drops the file.
      await alice.request({ type: "say", room: "dev", body: "newer" });
      await server.pruneNow();
      assert.equal(await server.files.prune({ graceMs: 0 }), 1);
      assert.equal((await download(alice, fileId)).last.code, "no_such_file");
      await assert.rejects(Deno.stat(blob), Deno.errors.NotFound);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("a deleted room's files go with it: the room made anew under its name cannot read them (SQLite)", async () => {
  await withDataDir(async (dir) => {
    const server = await listenRelaxed({
      dataDir: dir,
      guestUploads: true,
      guestRoomTtlMs: 0,
      http: "127.0.0.1:0",
    });
    try {
      await using alice = await Peer.join(server.addr.port, "alice");
      await using bob = await Peer.join(server.addr.port, "bob");
      await alice.request({ type: "join", room: "dev" });
      await alice.request({ type: "join", room: "ops" });
      const bytes = bytesOf(30_000, 5);
      const end = await upload(alice, bytes, { room: "dev" });
      assert.equal(end.type, "ack", JSON.stringify(end));
      const fileId = end.result.file.id;
      // The same content shared in #dev and in a room that stays: its bytes stay.
      const twice = bytesOf(20_000, 6);
      const shared = await upload(alice, twice, { room: "dev" });
      const kept = await upload(alice, twice, { room: "ops" });
      const link = await alice.request({ type: "file_url", file: fileId });
      assert.equal(link.type, "ack");
      await alice.request({ type: "leave", room: "dev" });
      assert.equal(await server.broker.expireRooms(), 1);
      await server.broker.flushed();
      // Bob makes #dev anew: nothing of the old room's is his to read.
      assert.equal((await bob.request({ type: "join", room: "dev" })).type, "ack");
      assert.equal((await download(bob, fileId)).last.code, "no_such_file");
      assert.equal((await bob.request({ type: "file_url", file: fileId })).code, "no_such_file");
      // Gone at once: even a link made before the room was deleted.
      const base = `http://127.0.0.1:${server.httpAddr!.port}`;
      const response = await fetch(base + link.result.url);
      assert.equal(response.status, 404);
      assert.equal((await response.json()).error.code, "no_such_file");
      assert.equal(await server.store.getFile(fileId), undefined);
      // Nor do they count against alice's quota any more: only #ops's file is kept.
      assert.equal(await server.store.uploadedBytes("alice", 0), 20_000);
      // Retention then removes the contents no file refers to, and no other.
      const blob = (data: Uint8Array) => {
        const hash = sha256(data);
        return `${dir}/files/${hash.slice(0, 2)}/${hash}`;
      };
      assert.equal((await download(bob, shared.result.file.id)).last.code, "no_such_file");
      assert.equal(await server.files.prune({ graceMs: 0 }), 1);
      await assert.rejects(Deno.stat(blob(bytes)), Deno.errors.NotFound);
      assert.equal((await Deno.stat(blob(twice))).size, 20_000);
      assert.deepEqual((await download(alice, kept.result.file.id)).bytes, twice);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("the same content uploaded twice is kept once, and stays while a message shares it", async () => {
  await withDataDir(async (dir) => {
    const server = await listenRelaxed({ dataDir: dir, guestUploads: true });
    try {
      await using alice = await Peer.join(server.addr.port, "alice");
      await alice.request({ type: "join", room: "dev" });
      await alice.request({ type: "join", room: "ops" });
      const bytes = bytesOf(2000, 7);
      const one = await upload(alice, bytes, { room: "dev" });
      const two = await upload(alice, bytes, { room: "ops" });
      assert.notEqual(one.result.file.id, two.result.file.id);
      await alice.request({ type: "leave", room: "ops" });
      // Nothing unreferenced: retention keeps both.
      assert.equal(await server.files.prune({ graceMs: 0 }), 0);
      assert.deepEqual((await download(alice, one.result.file.id)).bytes, bytes);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("the server's bytes in progress and, with --memory, the bytes kept are bounded", async () => {
  await withServer({ maxUploadingBytes: 1000, maxMemoryFileBytes: 1500 }, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    const first = await alice.request({ type: "upload_begin", name: "a", size: 600, room: "dev" });
    assert.equal(first.type, "ack");
    // Another connection, another user: the server-wide cap still holds.
    const busy = await bob.request({ type: "upload_begin", name: "b", size: 600, room: "dev" });
    assert.equal(busy.code, "server_busy");
    assert.ok(busy.retryAfterMs > 0);
    await alice.request({ type: "upload_cancel", upload: first.result.upload });
    assert.equal((await upload(alice, bytesOf(900, 1), { room: "dev" })).type, "ack");
    // 900 of 1500 bytes of memory kept: 700 more do not fit.
    const full = await bob.request({ type: "upload_begin", name: "c", size: 700, room: "dev" });
    assert.equal(full.code, "quota_exceeded");
    // What fits still goes.
    assert.equal((await upload(bob, bytesOf(500, 2), { room: "dev" })).type, "ack");
  });
});

Deno.test("one user's bytes in progress are bounded, whatever the server has left", async () => {
  await withServer({ maxUploadingBytes: 1000, maxUploadingBytesPerUser: 500 }, async (server) => {
    const [alice, bob] = await twoInRoom(server);
    await using _a = alice;
    await using _b = bob;
    const first = await alice.request({ type: "upload_begin", name: "a", size: 300, room: "dev" });
    assert.equal(first.type, "ack");
    // A second upload is allowed on the connection (2 at once), but not 600 bytes for one user.
    const over = await alice.request({ type: "upload_begin", name: "b", size: 300, room: "dev" });
    assert.equal(over.code, "rate_limited");
    assert.ok(over.retryAfterMs > 0);
    // Another user still has room on the server: alice did not take it all.
    const theirs = await bob.request({ type: "upload_begin", name: "c", size: 500, room: "dev" });
    assert.equal(theirs.type, "ack");
    // Once alice's first upload is gone, her second fits.
    await alice.request({ type: "upload_cancel", upload: first.result.upload });
    const now = await alice.request({ type: "upload_begin", name: "b", size: 300, room: "dev" });
    assert.equal(now.type, "ack");
  });
});
