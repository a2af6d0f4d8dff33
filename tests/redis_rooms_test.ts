/**
 * Rooms over several instances sharing one real Redis: guests' rights end
 * with the guest whichever instance it was on, rooms no account owns
 * expire once empty everywhere, and an empty ownerless room goes to the
 * first to join it.
 */
import assert from "node:assert/strict";
import type { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { listenRelaxed } from "./support/test_server.ts";

function instance(redis: RedisServer, options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return listenRelaxed({ redis: redis.url, redisPresenceTtlMs: 3000, ...options });
}

/** Waits until `check` holds, polling; fails after `ms`. */
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `not true within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("redis rooms: a guest's ownership and operator rights end with it, on every instance", async () => {
  await using redis = await RedisServer.start();
  await using a = await instance(redis);
  await using b = await instance(redis);
  await using alice = await Peer.join(b.addr.port, "alice");
  {
    await using bob = await Peer.join(a.addr.port, "bob");
    await using carol = await Peer.join(b.addr.port, "carol");
    await bob.request({ type: "join", room: "den" });
    await alice.request({ type: "join", room: "den" });
    await carol.request({ type: "join", room: "den" });
    // Rights go to the guest online on the other instance, not to its nickname.
    assert.equal((await bob.request({ type: "op", room: "den", nick: "carol" })).type, "ack");
    await until(async () =>
      (await carol.request({ type: "topic", room: "den", topic: "carol's" })).type === "ack"
    );
  }
  await until(async () => {
    const users = (await alice.request({ type: "users" })).result.users;
    return !users.includes("bob") && !users.includes("carol");
  });
  await using impostor = await Peer.join(a.addr.port, "bob");
  await using carol2 = await Peer.join(a.addr.port, "carol");
  await impostor.request({ type: "join", room: "den" });
  await carol2.request({ type: "join", room: "den" });
  await until(async () =>
    (await impostor.request({ type: "topic", room: "den", topic: "x" })).code === "forbidden"
  );
  assert.equal(
    (await carol2.request({ type: "topic", room: "den", topic: "y" })).code,
    "forbidden",
  );
  assert.equal(
    (await impostor.request({ type: "kick", room: "den", nick: "alice" })).code,
    "forbidden",
  );
});

Deno.test("redis rooms: an empty room no account owns expires everywhere; an account's stays", async () => {
  await using redis = await RedisServer.start();
  await using a = await instance(redis, { guestRoomTtlMs: 0 });
  await using b = await instance(redis, { guestRoomTtlMs: 0 });
  await a.accounts.create("owner", "correct horse");
  await using guest = await Peer.join(a.addr.port, "guest");
  await using owner = await Peer.join(b.addr.port, "owner", { password: "correct horse" });
  await guest.request({ type: "join", room: "passing" });
  await guest.request({ type: "say", room: "passing", body: "gone soon" });
  await owner.request({ type: "join", room: "club" });
  await guest.request({ type: "leave", room: "passing" });
  await owner.request({ type: "leave", room: "club" });
  // Either instance may sweep; the rooms go from both.
  assert.equal(await b.broker.expireRooms(), 1);
  assert.equal(await a.broker.expireRooms(), 0);
  for (const peer of [guest, owner]) {
    await until(async () => {
      const rooms = (await peer.request({ type: "rooms" })).result.rooms;
      return rooms.length === 1 && rooms[0].name === "club";
    });
  }
  // Its history went with it: the room made anew starts from nothing.
  const again = await guest.request({ type: "join", room: "passing" });
  assert.deepEqual(again.result.history, []);
  assert.equal((await guest.request({ type: "say", room: "passing", body: "new" })).result.id, 1);
});

Deno.test("redis rooms: an empty room whose guest owner left goes to whoever joins it first", async () => {
  await using redis = await RedisServer.start();
  await using a = await instance(redis);
  await using b = await instance(redis);
  await using carol = await Peer.join(b.addr.port, "carol");
  {
    await using bob = await Peer.join(a.addr.port, "bob");
    await bob.request({ type: "join", room: "den" });
  }
  await until(async () => !(await carol.request({ type: "users" })).result.users.includes("bob"));
  await carol.request({ type: "join", room: "den" });
  assert.equal((await carol.request({ type: "topic", room: "den", topic: "carol's" })).type, "ack");
});

Deno.test("redis rooms: the per-address allowance of new rooms is the cluster's", async () => {
  await using redis = await RedisServer.start();
  await using a = await instance(redis, { maxRoomCreationsPerIp: 1 });
  await using b = await instance(redis, { maxRoomCreationsPerIp: 1 });
  await using alice = await Peer.join(a.addr.port, "alice");
  await using bob = await Peer.join(b.addr.port, "bob");
  assert.equal((await alice.request({ type: "join", room: "one" })).type, "ack");
  const refused = await bob.request({ type: "join", room: "two" });
  assert.equal(refused.code, "rate_limited");
  assert.match(refused.message, /1 rooms created from your address/);
  assert.equal((await bob.request({ type: "join", room: "one" })).type, "ack");
});
