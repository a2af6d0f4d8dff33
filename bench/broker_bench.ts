/**
 * Micro-benchmark of the broker's fan-out (server/chat/broker.ts): one room of
 * 500 in-memory members whose deliver() only counts, with the in-memory
 * SQLite store. `say` resolves once its message is committed (group
 * commit), so sending one message at a time also measures the wait for a
 * commit; sending 100 at once shows the fan-out itself, and with a
 * clientMsgId each what its lookup adds.
 *
 * @module
 */
import { Broker, type Member } from "../server/chat/broker.ts";
import type { Delivery } from "../server/chat/delivery.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";

const MEMBERS = 500;
const BODY = "x".repeat(64);

let delivered = 0;

function member(): Member {
  return {
    nick: "",
    rooms: new Set(),
    account: undefined,
    admin: false,
    guestId: crypto.randomUUID(),
    deliver(_delivery: Delivery) {
      delivered++;
    },
  };
}

const store = SqliteStore.memory();
const broker = await Broker.open(store);
const members = Array.from({ length: MEMBERS }, member);
for (let i = 0; i < MEMBERS; i++) {
  broker.claim(members[i]!, `m${i}`);
  await broker.join(members[i]!, "bench");
}
const sender = members[0]!;

Deno.bench(`say to ${MEMBERS} members, one at a time (waits for its commit)`, {
  group: "fan-out",
  baseline: true,
}, async () => {
  await broker.say(sender, { room: "bench", body: BODY });
});

Deno.bench(
  `say to ${MEMBERS} members, 100 at once (per batch of 100)`,
  { group: "fan-out" },
  async () => {
    const says: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) says.push(broker.say(sender, { room: "bench", body: BODY }));
    await Promise.all(says);
  },
);

// What `chat join` sends: each say with its own clientMsgId, looked up before it is sent.
let keyed = 0;
Deno.bench(
  `say to ${MEMBERS} members with a clientMsgId, 100 at once (per batch of 100)`,
  { group: "fan-out" },
  async () => {
    const says: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      says.push(broker.say(sender, { room: "bench", body: BODY, clientMsgId: `k${keyed++}` }));
    }
    await Promise.all(says);
  },
);

globalThis.addEventListener("unload", () => {
  if (delivered === 0) console.error("broker_bench: nothing was delivered");
});
