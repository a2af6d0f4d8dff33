/**
 * The broker in process: members are plain objects that record what is
 * delivered to them, the store is an in-memory SQLite database, and the
 * presence is the broker's own ({@linkcode LocalPresence}). No socket, no
 * session: what is tested is membership, fan-out and the parts' wiring.
 */
import assert from "node:assert/strict";
import { Broker, type Member } from "../server/chat/broker.ts";
import type { Delivery } from "../server/chat/delivery.ts";
import { LocalAddressQuota } from "../server/limits/address_quota.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { ChatEvent } from "../shared/protocol.ts";

const T0 = 1_700_000_000_000;

/** A member that keeps every event delivered to it. */
class FakeMember implements Member {
  nick = "";
  readonly rooms = new Set<never>() as Member["rooms"];
  account: string | undefined;
  admin = false;
  guestId: string;
  readonly ip: string;
  readonly events: ChatEvent[] = [];
  static #next = 0;

  constructor(options: { account?: string; admin?: boolean; ip?: string } = {}) {
    this.account = options.account;
    this.ip = options.ip ?? "192.0.2.1";
    this.admin = options.admin ?? false;
    this.guestId = `g${++FakeMember.#next}`;
  }

  deliver(delivery: Delivery): void {
    this.events.push(delivery.event);
  }

  /** Events delivered so far of `type`, taken (the next call sees only later ones). */
  take(type: ChatEvent["type"]): ChatEvent[] {
    const taken = this.events.filter((event) => event.type === type);
    this.events.splice(0, this.events.length, ...this.events.filter((e) => e.type !== type));
    return taken;
  }
}

async function open(options: Parameters<typeof Broker.open>[1] = {}) {
  let now = T0;
  const store = SqliteStore.memory();
  const broker = await Broker.open(store, { now: () => now, ...options });
  return {
    broker,
    store,
    advance(ms: number) {
      now += ms;
    },
    async [Symbol.asyncDispose]() {
      await broker.close();
      await store.close();
    },
  };
}

async function online(
  broker: Broker,
  nick: string,
  options: { account?: string; ip?: string } = {},
) {
  const member = new FakeMember(options);
  await broker.claim(member, nick);
  return member;
}

Deno.test("Broker: the first to join creates the room; every member hears each join, the joiner included", async () => {
  await using chat = await open();
  const ann = await online(chat.broker, "Ann");
  const bob = await online(chat.broker, "bob");
  const first = await chat.broker.join(ann, "dev");
  assert.deepEqual(first, { room: "dev", topic: "", members: ["Ann"], lastId: 0, history: [] });
  assert.deepEqual(ann.take("join").map((e) => e.type === "join" && e.nick), ["Ann"]);
  const second = await chat.broker.join(bob, "DEV");
  assert.deepEqual(second.members, ["Ann", "bob"]);
  assert.equal(second.room, "dev");
  assert.deepEqual(ann.take("join").map((e) => e.type === "join" && e.nick), ["bob"]);
  assert.deepEqual(bob.take("join").map((e) => e.type === "join" && e.nick), ["bob"]);
  // Joining again is no new join and replies with the room as it is.
  assert.deepEqual((await chat.broker.join(bob, "dev")).members, ["Ann", "bob"]);
  assert.equal(ann.take("join").length, 0);
  assert.equal(chat.broker.roomCount, 1);
});

Deno.test("Broker: say is delivered once committed, to every member with its id; a retry delivers nothing", async () => {
  await using chat = await open();
  const ann = await online(chat.broker, "ann");
  const bob = await online(chat.broker, "bob");
  await chat.broker.join(ann, "dev");
  await chat.broker.join(bob, "dev");
  const sent = await chat.broker.say(ann, { room: "dev", body: "hi", clientMsgId: "m1" });
  assert.deepEqual(sent, { id: 1, ts: T0 });
  for (const member of [ann, bob]) {
    assert.deepEqual(member.take("message"), [
      { type: "message", room: "dev", id: 1, from: "ann", body: "hi", ts: T0 },
    ]);
  }
  assert.deepEqual(await chat.store.history("dev", { limit: 10 }).then((page) => page.length), 1);
  const retry = await chat.broker.say(ann, { room: "dev", body: "hi", clientMsgId: "m1" });
  assert.deepEqual(retry, { id: 1, ts: T0, duplicate: true });
  assert.equal(bob.take("message").length, 0);
  await assert.rejects(
    chat.broker.say(ann, { room: "dev", body: "other", clientMsgId: "m1" }),
    (error: Error & { code?: string }) => error.code === "msg_id_conflict",
  );
  await assert.rejects(
    chat.broker.say(ann, { room: "ops", body: "nowhere" }),
    (error: Error & { code?: string }) => error.code === "not_in_room",
  );
});

Deno.test("Broker: a join with since replays what was missed, then the rest arrives live", async () => {
  await using chat = await open();
  const ann = await online(chat.broker, "ann");
  const bob = await online(chat.broker, "bob");
  await chat.broker.join(ann, "dev");
  await chat.broker.join(bob, "dev");
  for (const body of ["one", "two", "three"]) await chat.broker.say(ann, { room: "dev", body });
  chat.broker.leave(bob, "dev");
  await chat.broker.say(ann, { room: "dev", body: "four" });
  bob.events.length = 0;
  const back = await chat.broker.join(bob, "dev", { since: 2 });
  assert.deepEqual(
    back.history.map((m) => [m.id, m.type === "message" ? m.body : m.type, m.history]),
    [
      [3, "three", true],
      [4, "four", true],
    ],
  );
  assert.equal(back.lastId, 4);
  await chat.broker.say(ann, { room: "dev", body: "five" });
  assert.deepEqual(bob.take("message").map((m) => m.type === "message" && m.id), [5]);
});

Deno.test("Broker: leaving tells the room and the leaver; the last member out leaves a guest room to expire", async () => {
  await using chat = await open({ guestRoomTtlMs: 60_000 });
  const ann = await online(chat.broker, "ann");
  const bob = await online(chat.broker, "bob");
  await chat.broker.join(ann, "dev");
  await chat.broker.join(bob, "dev");
  ann.events.length = 0;
  assert.deepEqual(chat.broker.leave(bob, "dev"), { room: "dev" });
  assert.deepEqual(bob.take("leave").map((e) => e.type === "leave" && e.nick), ["bob"]);
  assert.deepEqual(ann.take("leave").map((e) => e.type === "leave" && e.nick), ["bob"]);
  chat.broker.release(ann, "quit");
  assert.equal(chat.broker.isOnline("ann"), false);
  assert.equal(await chat.broker.expireRooms(), 0);
  chat.advance(60_000);
  assert.equal(await chat.broker.expireRooms(), 1);
  assert.equal(chat.broker.roomCount, 0);
  assert.deepEqual(await chat.store.loadRooms(), []);
});

Deno.test("Broker: nicknames are claimed once; a rename is seen by the room and the renamed", async () => {
  await using chat = await open();
  const ann = await online(chat.broker, "ann");
  await assert.rejects(
    online(chat.broker, "ANN"),
    (error: Error & { code?: string }) => error.code === "name_taken",
  );
  const bob = await online(chat.broker, "bob");
  await chat.broker.join(ann, "dev");
  await chat.broker.join(bob, "dev");
  assert.deepEqual(await chat.broker.rename(ann, "anna"), { nick: "anna" });
  for (const member of [ann, bob]) {
    assert.deepEqual(
      member.take("nick").map((e) => e.type === "nick" && [e.from, e.to]),
      [["ann", "anna"]],
    );
  }
  assert.deepEqual((await chat.broker.who("dev")).members, ["anna", "bob"]);
  assert.deepEqual((await chat.broker.users()).users, ["anna", "bob"]);
  assert.equal(chat.broker.isOnline("ann"), false);
});

Deno.test("Broker: a kick through moderation removes the target from the room alone", async () => {
  await using chat = await open();
  const ann = await online(chat.broker, "ann");
  const bob = await online(chat.broker, "bob");
  await chat.broker.join(ann, "dev");
  await chat.broker.join(bob, "dev");
  ann.events.length = 0;
  bob.events.length = 0;
  // ann created the room, so she owns it.
  await chat.broker.moderation.moderate(ann, "kick", "dev", "bob", { reason: "spam" });
  assert.deepEqual(bob.take("leave").map((e) => e.type === "leave" && [e.nick, e.reason]), [
    ["bob", "kicked by ann: spam"],
  ]);
  assert.equal(bob.rooms.size, 0);
  assert.deepEqual((await chat.broker.who("dev")).members, ["ann"]);
  await assert.rejects(
    chat.broker.moderation.moderate(bob, "kick", "dev", "ann"),
    (error: Error & { code?: string }) => error.code === "not_in_room",
  );
});

Deno.test("Broker: lists page by name key with total and more", async () => {
  await using chat = await open();
  const members: FakeMember[] = [];
  for (const nick of ["cy", "Al", "bo"]) members.push(await online(chat.broker, nick));
  for (const [index, member] of members.entries()) {
    await chat.broker.join(member, `r${index}`);
  }
  assert.deepEqual(await chat.broker.users({ limit: 2 }), {
    users: ["Al", "bo"],
    total: 3,
    more: true,
  });
  assert.deepEqual(await chat.broker.users({ after: "bo" }), { users: ["cy"], total: 3 });
  assert.deepEqual(await chat.broker.rooms({ after: "r0" }), {
    rooms: [{ name: "r1", members: 1, topic: "" }, { name: "r2", members: 1, topic: "" }],
    total: 3,
  });
});

Deno.test("Broker: joins of a room being created wait for it: one creation, one allowance taken", async () => {
  const roomCreations = new LocalAddressQuota({ limit: 2 });
  await using chat = await open({ roomCreations });
  const members: FakeMember[] = [];
  for (let i = 0; i < 25; i++) {
    members.push(await online(chat.broker, `u${i}`, { ip: "192.0.2.9" }));
  }
  // All at once, as many connections' joins arrive in one turn of the event loop.
  const joins = await Promise.allSettled(
    members.map((member) => chat.broker.join(member, "lobby")),
  );
  assert.deepEqual(joins.filter((join) => join.status === "rejected"), []);
  assert.equal(chat.broker.roomCount, 1);
  assert.equal((await chat.broker.who("lobby")).total, 25);
  // One of the address's two creations is left.
  await chat.broker.join(members[0]!, "second");
  await assert.rejects(
    chat.broker.join(members[0]!, "third"),
    (error: Error & { code?: string }) => error.code === "rate_limited",
  );
});
