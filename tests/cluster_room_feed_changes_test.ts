/**
 * RoomFeed (server/cluster/room_feed.ts) with message changes (docs/protocol.md
 * section 21): messages and changes of a payload are delivered in one id
 * order, and a gap before either is filled from the timeline, changes
 * included. The feed is the unit under test: its room and cluster are stand-ins.
 */
import assert from "node:assert/strict";
import type { Room } from "../server/chat/room.ts";
import type { BusNode } from "../server/cluster/cluster.ts";
import { RoomFeed } from "../server/cluster/room_feed.ts";
import type { TimelineRecord } from "../server/store/store.ts";

function harness(stored: TimelineRecord[]) {
  const room = { key: "dev", name: "dev", members: new Set([{}]), committedId: 0, lastId: 0 };
  const delivered: string[] = [];
  const node = {
    deliverMessage: (_room: Room, record: { id: number; body: string }) => {
      room.committedId = record.id;
      delivered.push(`message ${record.id} ${record.body}`);
    },
    deliverChange: (_room: Room, record: { id: number; change: string; target: number }) => {
      room.committedId = record.id;
      delivered.push(`${record.change} ${record.id} of ${record.target}`);
    },
  } as unknown as BusNode;
  const reads: Array<[number, number]> = [];
  const feed = new RoomFeed(room as unknown as Room, {
    node,
    history: (_key, after, upTo) => {
      reads.push([after, upTo]);
      return Promise.resolve(stored.filter((record) => record.id > after && record.id <= upTo));
    },
    applied: () => {},
    lost: (_room, error) => {
      throw error;
    },
  });
  return { room, feed, delivered, reads };
}

const at = (id: number) => ({ room: "dev", id, ts: id, from: "ann" });

Deno.test("a payload's messages and changes are delivered in one id order", async () => {
  const { room, feed, delivered } = harness([]);
  feed.start(0);
  feed.push({
    m: [[1, "ann", "hi", "1", ""], [3, "ann", "again", "3", "", 1]],
    c: [[2, "edit", 1, "ann", "hi!", "2"], [4, "react", 3, "bob", "👍", "4"]],
  });
  await feed.reached(4);
  assert.equal(room.committedId, 4);
  assert.deepEqual(delivered, ["message 1 hi", "edit 2 of 1", "message 3 again", "react 4 of 3"]);
});

Deno.test("a gap before a change is filled from the timeline, changes included", async () => {
  const stored: TimelineRecord[] = [
    { ...at(1), body: "one", action: false },
    { ...at(2), change: "react", target: 1, text: "👍" },
    { ...at(3), change: "edit", target: 1, text: "uno" },
  ];
  const { feed, delivered, reads } = harness(stored);
  feed.start(0);
  // Ids 1 to 3 never came on the channel (a dropped subscription): 4 comes first.
  feed.push({ c: [[4, "delete", 1, "ann", "", "4"]] });
  await feed.reached(4);
  assert.deepEqual(reads, [[0, 3]]);
  assert.deepEqual(delivered, ["message 1 one", "react 2 of 1", "edit 3 of 1", "delete 4 of 1"]);
});
