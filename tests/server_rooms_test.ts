/**
 * Rooms and their limits: rooms survive their last member, rooms no
 * account owns expire once empty, how many rooms a user may be in and an
 * account may own, and guests' rights that end with the guest.
 */
import assert from "node:assert/strict";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { Peer } from "./support/peer.ts";
import { listenRelaxed as listen, withDataDir } from "./support/test_server.ts";

async function roomNames(peer: Peer): Promise<string[]> {
  const reply = await peer.request({ type: "rooms" });
  return reply.result.rooms.map((room: { name: string }) => room.name);
}

Deno.test("rooms: a room survives its last member, with its history, until the guest room TTL", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "passing" });
  await alice.request({ type: "say", room: "passing", body: "still here?" });
  await alice.request({ type: "leave", room: "passing" });
  assert.equal(await server.broker.expireRooms(), 0);
  assert.deepEqual(await roomNames(alice), ["passing"]);
  const again = await alice.request({ type: "join", room: "passing" });
  assert.deepEqual(again.result.history.map((m: { body: string }) => m.body), ["still here?"]);
});

Deno.test("rooms: an empty room no account owns is deleted with its history after the TTL", async () => {
  await withDataDir(async (dir) => {
    await using server = await listen({ dataDir: dir, guestRoomTtlMs: 0, maxRooms: 1 });
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "passing" });
    await alice.request({ type: "say", room: "passing", body: "gone soon" });
    assert.equal((await alice.request({ type: "join", room: "other" })).code, "forbidden");
    await alice.request({ type: "leave", room: "passing" });
    assert.equal(await server.broker.expireRooms(), 1);
    assert.deepEqual(await roomNames(alice), []);
    await server.broker.flushed();
    assert.deepEqual(await server.store.loadRooms(), []);
    assert.deepEqual(await server.store.history("passing", { limit: 10 }), []);
    // The limit is free again, and a room made anew starts afresh.
    assert.equal((await alice.request({ type: "join", room: "other" })).type, "ack");
  });
});

Deno.test("rooms: the server deletes expired guest rooms by itself", async () => {
  await using server = await listen({ guestRoomTtlMs: 0 });
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "passing" });
  await alice.request({ type: "leave", room: "passing" });
  // The sweep runs on the server's one-second tick; wait for it, not for a time.
  const deadline = Date.now() + 5000;
  while ((await roomNames(alice)).length > 0) {
    assert.ok(Date.now() < deadline, "the empty guest room was not deleted within 5 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

Deno.test("rooms: a room an account owns is kept however long it is empty", async () => {
  await using server = await listen({ guestRoomTtlMs: 0 });
  await server.accounts.create("owner", "correct horse");
  await using owner = await Peer.join(server.addr.port, "owner", { password: "correct horse" });
  await owner.request({ type: "join", room: "club" });
  await owner.request({ type: "leave", room: "club" });
  assert.equal(await server.broker.expireRooms(), 0);
  assert.deepEqual(await roomNames(owner), ["club"]);
});

Deno.test("rooms: a user may be in --max-rooms-per-user rooms, its sessions together", async () => {
  await using server = await listen({ maxRoomsPerUser: 2 });
  await server.accounts.create("alice", "correct horse");
  await using phone = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  await using laptop = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  assert.equal((await phone.request({ type: "join", room: "one" })).type, "ack");
  assert.equal((await laptop.request({ type: "join", room: "two" })).type, "ack");
  const refused = await phone.request({ type: "join", room: "three" });
  assert.equal(refused.code, "too_many_rooms");
  assert.match(refused.message, /in 2 rooms/);
  // A room the user is in already (through another session) is fine.
  assert.equal((await phone.request({ type: "join", room: "two" })).type, "ack");
  await laptop.request({ type: "leave", room: "two" });
  await phone.request({ type: "leave", room: "two" });
  assert.equal((await phone.request({ type: "join", room: "three" })).type, "ack");
});

Deno.test("rooms: a second session of an account hears its own join and leave; the room sees one of each", async () => {
  await using server = await listen({});
  await server.accounts.create("alice", "correct horse");
  await using bob = await Peer.join(server.addr.port, "bob");
  await using phone = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  await using laptop = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  await bob.request({ type: "join", room: "dev" });
  await phone.request({ type: "join", room: "dev" });
  const joined = await laptop.request({ type: "join", room: "dev" });
  assert.equal(joined.type, "ack");
  // Its own join comes before the ack, as for a first session.
  const own = laptop.all((f) => f.type === "join" || f.type === "ack");
  assert.deepEqual(own.map((f) => [f.type, f.nick]), [["join", "alice"], ["ack", undefined]]);
  // Events a request causes are queued before its ack: bob's ping comes after any of them.
  await bob.request({ type: "ping" });
  const aliceJoins = (peer: Peer) => peer.all((f) => f.type === "join" && f.nick === "alice");
  assert.equal(aliceJoins(bob).length, 1);
  assert.equal(aliceJoins(phone).length, 1);

  await laptop.request({ type: "leave", room: "dev" });
  assert.equal(laptop.all((f) => f.type === "leave" && f.nick === "alice").length, 1);
  await bob.request({ type: "ping" });
  assert.equal(bob.all((f) => f.type === "leave").length, 0);
  await phone.request({ type: "leave", room: "dev" });
  assert.equal((await bob.next((f) => f.type === "leave")).nick, "alice");
});

Deno.test("rooms: an account may own --max-rooms-per-account rooms; joining others is fine", async () => {
  await using server = await listen({ maxRoomsPerAccount: 1 });
  await server.accounts.create("alice", "correct horse");
  await using alice = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  await using bob = await Peer.join(server.addr.port, "bob");
  assert.equal((await bob.request({ type: "join", room: "bobs" })).type, "ack");
  assert.equal((await alice.request({ type: "join", room: "mine" })).type, "ack");
  const refused = await alice.request({ type: "join", room: "second" });
  assert.equal(refused.code, "forbidden");
  assert.match(refused.message, /owns 1 rooms/);
  assert.equal((await alice.request({ type: "join", room: "bobs" })).type, "ack");
});

Deno.test("rooms: a guest's room is not inherited by the next guest who takes the nickname", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice");
  {
    await using bob = await Peer.join(port, "bob");
    await bob.request({ type: "join", room: "den" });
    await alice.request({ type: "join", room: "den" });
    assert.equal(
      (await bob.request({ type: "topic", room: "den", topic: "bob's den" })).type,
      "ack",
    );
  }
  await alice.next((f) => f.type === "leave" && f.nick === "bob");
  await using impostor = await Peer.join(port, "bob");
  await impostor.request({ type: "join", room: "den" });
  const topic = await impostor.request({ type: "topic", room: "den", topic: "mine now" });
  assert.equal(topic.code, "forbidden");
  const kick = await impostor.request({ type: "kick", room: "den", nick: "alice" });
  assert.equal(kick.code, "forbidden");
});

Deno.test("rooms: an empty room whose guest owner left goes to whoever joins it first", async () => {
  await using server = await listen();
  const port = server.addr.port;
  {
    await using bob = await Peer.join(port, "bob");
    await bob.request({ type: "join", room: "den" });
    await bob.request({ type: "say", room: "den", body: "kept" });
  }
  await using carol = await Peer.join(port, "carol");
  // bob's session is gone once his ownership has lapsed; wait for that.
  const deadline = Date.now() + 5000;
  while ((await carol.request({ type: "users" })).result.users.includes("bob")) {
    assert.ok(Date.now() < deadline);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const joined = await carol.request({ type: "join", room: "den" });
  assert.deepEqual(joined.result.history.map((m: { body: string }) => m.body), ["kept"]);
  assert.equal((await carol.request({ type: "topic", room: "den", topic: "carol's" })).type, "ack");
});

Deno.test("rooms: operator rights given to a guest end when the guest disconnects", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await server.accounts.create("owner", "correct horse");
  await using owner = await Peer.join(port, "owner", { password: "correct horse" });
  await owner.request({ type: "join", room: "club" });
  await using member = await Peer.join(port, "member");
  await member.request({ type: "join", room: "club" });
  {
    await using carol = await Peer.join(port, "carol");
    await carol.request({ type: "join", room: "club" });
    assert.equal((await owner.request({ type: "op", room: "club", nick: "carol" })).type, "ack");
    assert.equal(
      (await carol.request({ type: "topic", room: "club", topic: "carol was here" })).type,
      "ack",
    );
  }
  await owner.next((f) => f.type === "leave" && f.nick === "carol");
  await using next = await Peer.join(port, "carol");
  await next.request({ type: "join", room: "club" });
  assert.equal(
    (await next.request({ type: "topic", room: "club", topic: "mine" })).code,
    "forbidden",
  );
  // Rights go to accounts and to guests online, never to a free nickname.
  const offline = await owner.request({ type: "op", room: "club", nick: "nobody" });
  assert.equal(offline.code, "no_such_user");
});

Deno.test("rooms: a guest who registers keeps the rooms it owns and its rights", async () => {
  await withDataDir(async (dir) => {
    {
      await using server = await listen({ dataDir: dir });
      await using bob = await Peer.join(server.addr.port, "bob");
      await bob.request({ type: "join", room: "den" });
      assert.equal(
        (await bob.request({ type: "register", password: "correct horse" })).type,
        "ack",
      );
    }
    await using server = await listen({ dataDir: dir });
    await using bob = await Peer.join(server.addr.port, "bob", { password: "correct horse" });
    await bob.request({ type: "join", room: "den" });
    assert.equal(
      (await bob.request({ type: "topic", room: "den", topic: "still mine" })).type,
      "ack",
    );
  });
});

Deno.test("rooms: a restart ends the rights guests held", async () => {
  await withDataDir(async (dir) => {
    {
      // What a crash leaves: rights under the key of a guest who is gone.
      const store = SqliteStore.open(dir);
      await store.write([
        {
          kind: "room",
          record: {
            key: "den",
            name: "den",
            owner: "guest:0123",
            topic: "",
            inviteOnly: false,
            passphrase: null,
            createdAt: 0,
            lastId: 0,
          },
        },
        {
          kind: "grant",
          grant: { room: "den", user: "guest:4567", kind: "op", until: null, by: "x", reason: "" },
        },
        {
          kind: "grant",
          grant: { room: "den", user: "mallory", kind: "ban", until: null, by: "x", reason: "" },
        },
      ]);
      await store.close();
    }
    await using server = await listen({ dataDir: dir });
    await server.broker.flushed();
    assert.deepEqual((await server.store.loadRooms()).map((room) => room.owner), [null]);
    assert.deepEqual((await server.store.loadGrants()).map((grant) => grant.user), ["mallory"]);
  });
});

Deno.test("rooms: a mute follows a guest across a nickname change", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await server.accounts.create("owner", "correct horse");
  await using owner = await Peer.join(port, "owner", { password: "correct horse" });
  await owner.request({ type: "join", room: "club" });
  await using bob = await Peer.join(port, "bob");
  await bob.request({ type: "join", room: "club" });
  assert.equal((await owner.request({ type: "mute", room: "club", nick: "bob" })).type, "ack");
  assert.equal((await bob.request({ type: "nick", nick: "bobby" })).type, "ack");
  assert.equal((await bob.request({ type: "say", room: "club", body: "free?" })).code, "muted");
  assert.equal((await owner.request({ type: "unmute", room: "club", nick: "bobby" })).type, "ack");
  assert.equal((await bob.request({ type: "say", room: "club", body: "free!" })).type, "ack");
});

/** Completes hello as `nick` from the loopback address `from`. */
async function joinFrom(port: number, from: string, nick: string): Promise<Peer> {
  const peer = await Peer.connectFrom(port, from);
  const reply = await peer.hello(nick);
  assert.equal(reply.type, "welcome", JSON.stringify(reply));
  return peer;
}

Deno.test("rooms: one address may create --max-room-creations-per-ip rooms an hour, whoever asks", async () => {
  await using server = await listen({ maxRoomCreationsPerIp: 2 });
  const port = server.addr.port;
  await using first = await joinFrom(port, "127.0.0.2", "first");
  await using second = await joinFrom(port, "127.0.0.2", "second");
  assert.equal((await first.request({ type: "join", room: "one" })).type, "ack");
  assert.equal((await second.request({ type: "join", room: "two" })).type, "ack");
  const refused = await second.request({ type: "join", room: "three" });
  assert.equal(refused.code, "rate_limited");
  assert.match(refused.message, /2 rooms created from your address in the last hour/);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 61 * 60_000);
  // Rooms that exist are joined as before; another address has its own allowance.
  assert.equal((await second.request({ type: "join", room: "one" })).type, "ack");
  await using other = await joinFrom(port, "127.0.0.3", "other");
  assert.equal((await other.request({ type: "join", room: "three" })).type, "ack");
});

Deno.test("rooms: one address may register --max-registrations-per-ip accounts an hour", async () => {
  await using server = await listen({ maxRegistrationsPerIp: 1 });
  const port = server.addr.port;
  await using first = await joinFrom(port, "127.0.0.2", "first");
  await using second = await joinFrom(port, "127.0.0.2", "second");
  assert.equal((await first.request({ type: "register", password: "correct horse" })).type, "ack");
  const refused = await second.request({ type: "register", password: "correct horse" });
  assert.equal(refused.code, "rate_limited");
  assert.match(refused.message, /1 accounts registered from your address/);
  await using other = await joinFrom(port, "127.0.0.3", "other");
  assert.equal((await other.request({ type: "register", password: "correct horse" })).type, "ack");
  // chat user (no address) is the operator's, not counted.
  await server.accounts.create("operator", "correct horse");
});
