/**
 * Files with --redis (docs/protocol.md section 23): contents and metadata
 * live in Redis, so a file uploaded through one instance is announced on
 * the others and downloaded from any of them, and a link from one works on
 * another; retention removes the content once no message shares it.
 */
import assert from "node:assert/strict";
import type { ServerOptions } from "../server/config/server_options.ts";
import type { ChatServer } from "../server/chat_server.ts";
import type { RedisStore } from "../server/store/redis_store.ts";
import { listenRelaxed } from "./support/test_server.ts";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { bytesOf, download, sha256, upload } from "./support/file_transfer.ts";

function instance(redis: RedisServer, options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return listenRelaxed({
    redis: redis.url,
    redisPresenceTtlMs: 3000,
    guestUploads: true,
    http: "127.0.0.1:0",
    ...options,
  });
}

Deno.test("with --redis a file uploaded on one instance is announced and downloaded on another", async () => {
  await using redis = await RedisServer.start();
  const a = await instance(redis);
  const b = await instance(redis, { retentionMaxMessages: 1 });
  try {
    await using alice = await Peer.join(a.addr.port, "alice");
    await using bob = await Peer.join(b.addr.port, "bob");
    await alice.request({ type: "join", room: "dev" });
    await bob.request({ type: "join", room: "dev" });
    const bytes = bytesOf(150_000, 9);
    const end = await upload(alice, bytes, { room: "dev" }, { sha256: sha256(bytes) });
    assert.equal(end.type, "ack", JSON.stringify(end));
    const message = await bob.next((f) => f.type === "message" && f.file !== undefined);
    assert.deepEqual(message.file, end.result.file);
    const got = await download(bob, message.file.id);
    assert.deepEqual(got.bytes, bytes);
    // History on the other instance carries the file too.
    const history = await bob.request({ type: "history", room: "dev" });
    assert.deepEqual(history.result.messages.at(-1).file, end.result.file);
    // A link made on a works on b.
    const link = await alice.request({ type: "file_url", file: message.file.id });
    const response = await fetch(`http://127.0.0.1:${b.httpAddr!.port}${link.result.url}`);
    assert.equal(response.status, 200);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);
    // A DM's file crosses instances as well.
    const dm = await upload(bob, bytesOf(70_000, 2), { to: "alice" }, { name: "n.txt" });
    const received = await alice.next((f) => f.type === "dm" && f.file !== undefined);
    assert.deepEqual(received.file, dm.result.file);
    assert.deepEqual((await download(alice, received.file.id)).bytes, bytesOf(70_000, 2));
    // Retention (keep 1 message) drops the room file, its metadata and its content.
    await bob.request({ type: "say", room: "dev", body: "newer" });
    await b.pruneNow();
    assert.equal(await b.files.prune({ graceMs: 0 }), 1);
    assert.equal((await download(alice, message.file.id)).last.code, "no_such_file");
    assert.equal((await download(alice, received.file.id)).bytes.length, 70_000);
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

Deno.test("with --redis a deleted room's files go with it: the room made anew under its name cannot read them", async () => {
  await using redis = await RedisServer.start();
  // Only b sweeps at once: a's rooms expire after the default hour, so its
  // own timer cannot delete #dev before b is asked to.
  const a = await instance(redis);
  const b = await instance(redis, { guestRoomTtlMs: 0 });
  try {
    await using alice = await Peer.join(a.addr.port, "alice");
    await using bob = await Peer.join(b.addr.port, "bob");
    await alice.request({ type: "join", room: "dev" });
    await alice.request({ type: "join", room: "ops" });
    const bytes = bytesOf(60_000, 4);
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
    // Any instance may sweep: b deletes the room a's member left.
    assert.equal(await b.broker.expireRooms(), 1);
    // Bob, on the other instance, makes #dev anew: nothing of the old room's is his.
    assert.equal((await bob.request({ type: "join", room: "dev" })).type, "ack");
    assert.equal((await download(bob, fileId)).last.code, "no_such_file");
    assert.equal((await download(bob, shared.result.file.id)).last.code, "no_such_file");
    assert.equal((await bob.request({ type: "file_url", file: fileId })).code, "no_such_file");
    // Gone at once: even a link made before the room was deleted.
    const response = await fetch(`http://127.0.0.1:${b.httpAddr!.port}${link.result.url}`);
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error.code, "no_such_file");
    assert.equal(await a.store.getFile(fileId), undefined);
    // Nor do they count against alice's quota any more: only #ops's file is kept.
    assert.equal(await a.store.uploadedBytes("alice", 0), 20_000);
    // Retention then removes the content no file refers to, and no other.
    assert.equal(await a.files.prune({ graceMs: 0 }), 1);
    const keys = await (a.store as RedisStore).redis.command<string[]>(["KEYS", "*"]);
    assert.ok(!keys.some((key) => key.includes(sha256(bytes))), keys.join(" "));
    assert.ok(keys.some((key) => key.includes(`blob:${sha256(twice)}`)), keys.join(" "));
    assert.deepEqual((await download(alice, kept.result.file.id)).bytes, twice);
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});
