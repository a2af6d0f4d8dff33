import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { Store } from "../server/store/store.ts";
import { Peer } from "./support/peer.ts";

/**
 * A real in-memory SQLite store whose batch writes can be made to fail, as a
 * full disk would make them: the broker is the unit under test here.
 */
function failingStore(): { store: Store; failing: { on: boolean } } {
  const real = SqliteStore.memory();
  const failing = { on: false };
  const store = new Proxy(real, {
    get(target, property) {
      if (property === "write") {
        return (batch: Parameters<Store["write"]>[0]) =>
          failing.on ? Promise.reject(new Error("database or disk is full")) : target.write(batch);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store, failing };
}

Deno.test("moderation: a change that cannot be saved is refused with a storage error and leaves nothing in force", async () => {
  const { store, failing } = failingStore();
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    store,
    rateBurst: 1000,
    ratePerSecond: 1000,
  });
  const port = server.addr.port;
  await using alice = await Peer.join(port, "alice"); // creates #dev: owner
  await using bob = await Peer.join(port, "bob");
  await using carol = await Peer.join(port, "carol");
  assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
  assert.equal((await bob.request({ type: "join", room: "dev" })).type, "ack");
  assert.equal((await alice.request({ type: "ban", room: "dev", nick: "mallory" })).type, "ack");

  failing.on = true;
  const refused = [
    await alice.request({ type: "ban", room: "dev", nick: "bob", reason: "spam" }),
    await alice.request({ type: "mute", room: "dev", nick: "bob", durationMs: 60_000 }),
    await alice.request({ type: "op", room: "dev", nick: "bob" }),
    await alice.request({ type: "unban", room: "dev", nick: "mallory" }),
    await alice.request({ type: "topic", room: "dev", topic: "never saved" }),
    await alice.request({ type: "mode", room: "dev", inviteOnly: true }),
  ];
  assert.deepEqual(refused.map((reply) => reply.code), Array(6).fill("storage"));
  failing.on = false;

  // None of it is in force: bob is neither banned, muted nor an operator, …
  assert.equal((await bob.request({ type: "say", room: "dev", body: "still here" })).type, "ack");
  assert.equal((await bob.request({ type: "kick", room: "dev", nick: "alice" })).code, "forbidden");
  // … mallory is still banned, the topic and the room's openness are as they were.
  await using mallory = await Peer.join(port, "mallory");
  assert.equal((await mallory.request({ type: "join", room: "dev" })).code, "banned");
  const joined = await carol.request({ type: "join", room: "dev" });
  assert.equal(joined.type, "ack");
  assert.equal(joined.result.topic, "");
  // And the same requests succeed once the store takes writes again.
  assert.equal((await alice.request({ type: "op", room: "dev", nick: "bob" })).type, "ack");
  assert.equal(
    (await bob.request({ type: "topic", room: "dev", topic: "saved" })).type,
    "ack",
  );
});
