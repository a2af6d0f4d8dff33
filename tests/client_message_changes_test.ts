/**
 * The client's side of message changes (docs/protocol.md, section 21): the
 * pure `applyChange`, the `MessageLog` of the line and piped modes, and how
 * format.ts shows message ids, edits, tombstones, reactions, replies and
 * the change events themselves, in text and JSON.
 */
import assert from "node:assert/strict";
import type { ClientEvent } from "../client/client_event.ts";
import {
  eventToJson,
  formatEvent,
  formatResult,
  formatTime,
  resultRecords,
} from "../client/format.ts";
import {
  applyChange,
  type HeldMessage,
  type MessageChange,
  MessageLog,
} from "../client/message_changes.ts";
import type { RoomMessageEvent, TimelineEntry } from "../shared/protocol.ts";

const TS = Date.UTC(2024, 0, 1, 12, 34, 56);
const UTC = { utc: true } as const;

function message(id: number, body: string, extra: Partial<RoomMessageEvent> = {}): HeldMessage {
  return { type: "message", room: "general", id, from: "alice", body, ts: TS, ...extra };
}

const edit = (id: number, target: number, body: string, ts = TS + id): MessageChange => ({
  type: "edit",
  room: "general",
  id,
  target,
  from: "alice",
  body,
  ts,
});
const remove = (id: number, target: number, by = "bob"): MessageChange => ({
  type: "delete",
  room: "general",
  id,
  target,
  by,
  ts: TS + id,
});
const react = (
  id: number,
  target: number,
  from: string,
  emoji: string,
  type: "react" | "unreact" = "react",
): MessageChange => ({ type, room: "general", id, target, from, emoji, ts: TS + id });

Deno.test("applyChange edits, deletes and counts reactions, each time a new object", () => {
  const original = message(41, "hello");
  const edited = applyChange(original, edit(42, 41, "hello there"))!;
  assert.equal(edited.body, "hello there");
  assert.equal(edited.edited, TS + 42);
  assert.notEqual(edited, original);
  assert.equal(original.body, "hello");

  let liked = applyChange(edited, react(43, 41, "bob", "👍"))!;
  liked = applyChange(liked, react(44, 41, "carol", "👍"))!;
  liked = applyChange(liked, react(45, 41, "bob", "🎉"))!;
  assert.deepEqual(liked.reactions, [
    { emoji: "👍", count: 2, users: ["bob", "carol"] },
    { emoji: "🎉", count: 1, users: ["bob"] },
  ]);
  const fewer = applyChange(liked, react(46, 41, "bob", "👍", "unreact"))!;
  assert.deepEqual(fewer.reactions, [
    { emoji: "👍", count: 1, users: ["carol"] },
    { emoji: "🎉", count: 1, users: ["bob"] },
  ]);
  // The last one of an emoji takes the emoji away; the last emoji, the field.
  const one = applyChange(fewer, react(47, 41, "carol", "👍", "unreact"))!;
  assert.deepEqual(one.reactions, [{ emoji: "🎉", count: 1, users: ["bob"] }]);
  assert.equal("reactions" in applyChange(one, react(48, 41, "BOB", "🎉", "unreact"))!, false);

  const tombstone = applyChange(liked, remove(49, 41))!;
  assert.equal(tombstone.body, "");
  assert.deepEqual(tombstone.deleted, { by: "bob", ts: TS + 49 });
  assert.equal(tombstone.reactions, undefined);
  assert.equal(tombstone.edited, undefined);
});

Deno.test("applyChange changes nothing that is already so: catch-up repeats what a state shows", () => {
  const liked = message(41, "hi", { reactions: [{ emoji: "👍", count: 1, users: ["bob"] }] });
  // A reaction the state lists already, by any spelling of the nickname.
  assert.equal(applyChange(liked, react(42, 41, "Bob", "👍")), undefined);
  // Taking back one the user never gave.
  assert.equal(applyChange(liked, react(43, 41, "carol", "👍", "unreact")), undefined);
  assert.equal(applyChange(liked, react(44, 41, "carol", "🎉", "unreact")), undefined);
  // An edit older than the state's.
  const edited = message(41, "newest", { edited: TS + 50 });
  assert.equal(applyChange(edited, edit(45, 41, "older", TS + 45)), undefined);
  assert.equal(applyChange(edited, edit(50, 41, "newest", TS + 50)), undefined);
  // A tombstone takes no change, a second delete included.
  const tombstone = message(41, "", { deleted: { by: "bob", ts: TS } });
  for (const change of [edit(46, 41, "back"), remove(47, 41), react(48, 41, "bob", "👍")]) {
    assert.equal(applyChange(tombstone, change), undefined);
  }
  // Another message's change.
  assert.equal(applyChange(liked, edit(49, 40, "no")), undefined);
  // An unreact beyond the 20 nicknames listed still counts down.
  const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
  const crowded = message(41, "hi", { reactions: [{ emoji: "👍", count: 25, users }] });
  assert.equal(
    applyChange(crowded, react(51, 41, "u24", "👍", "unreact"))!.reactions![0]!.count,
    24,
  );
  assert.equal(applyChange(crowded, react(52, 41, "u25", "👍"))!.reactions![0]!.users.length, 20);
});

Deno.test("MessageLog applies changes to the messages it holds and ignores the rest", () => {
  const log = new MessageLog();
  // A change before its message (out of order, or the message is older than what we hold).
  assert.equal(log.take(edit(42, 41, "early")), undefined);
  assert.equal(log.get("general", 41), undefined);
  log.take(message(41, "hello"));
  assert.equal(log.get("general", 41)?.body, "hello");
  // Rooms by name key; other rooms hold other messages under the same ids.
  assert.equal(log.take(edit(43, 41, "hello there"))?.body, "hello there");
  assert.equal(log.get("GENERAL", 41)?.body, "hello there");
  log.take({ ...message(41, "elsewhere"), room: "random" });
  assert.equal(log.get("random", 41)?.body, "elsewhere");
  assert.equal(log.get("general", 41)?.body, "hello there");
  // Nothing changed: undefined, the message stays.
  log.take(remove(44, 41));
  assert.equal(log.take(remove(45, 41)), undefined);
  assert.deepEqual(log.get("general", 41)?.deleted, { by: "bob", ts: TS + 44 });
  // Other events are not messages.
  assert.equal(log.take({ type: "join", room: "general", nick: "bob", ts: TS }), undefined);
  log.forget("general");
  assert.equal(log.get("general", 41), undefined);
  assert.equal(log.get("random", 41)?.body, "elsewhere");
});

Deno.test("MessageLog keeps at most maxPerRoom messages, the newest taken", () => {
  const log = new MessageLog({ maxPerRoom: 2 });
  for (const id of [1, 2, 3]) log.take(message(id, `m${id}`));
  assert.equal(log.get("general", 1), undefined);
  assert.deepEqual([log.get("general", 2)?.body, log.get("general", 3)?.body], ["m2", "m3"]);
  // A message taken again (history's current state) counts as new.
  log.take(message(2, "m2 again"));
  log.take(message(4, "m4"));
  assert.equal(log.get("general", 3), undefined);
  assert.equal(log.get("general", 2)?.body, "m2 again");
});

Deno.test("formatEvent shows a message's id, edit, reactions, tombstone and the reply it is", () => {
  const log = new MessageLog();
  log.take(message(41, "first words of a message that goes on and on"));
  const options = { ...UTC, messages: log };
  assert.equal(
    formatEvent(
      message(42, "agreed", {
        replyTo: 41,
        edited: Date.UTC(2024, 0, 1, 12, 40, 1),
        reactions: [
          { emoji: "👍", count: 2, users: ["bob", "carol"] },
          { emoji: "🎉", count: 1, users: ["bob"] },
        ],
      }) as ClientEvent,
      options,
    ),
    "[12:34:56] #general #42 <alice> (↪ alice: first words of a message that…) agreed " +
      "(edited 12:40:01)  👍 2  🎉 1",
  );
  // The answered message not held: its id.
  assert.equal(
    formatEvent(message(43, "yes", { replyTo: 7 }) as ClientEvent, options),
    "[12:34:56] #general #43 <alice> (↪ #7) yes",
  );
  assert.equal(
    formatEvent(
      message(44, "", { deleted: { by: "bob", ts: TS }, history: true }) as ClientEvent,
      options,
    ),
    "[2024-01-01 12:34:56] (history) #general #44 <alice> [deleted by bob]",
  );
  // Colour: the id and the marks dim.
  const colored = formatEvent(message(45, "hi", { edited: TS }) as ClientEvent, { color: 16 });
  assert.ok(colored.includes("\x1b[2m#45\x1b[0m"), colored);
  assert.ok(colored.endsWith(`\x1b[2m(edited ${formatTime(TS)})\x1b[0m`), colored);
  // Wire text in quotes and reactions is sanitized too.
  log.take(message(46, "\x1b[2Jboom"));
  const hostile = formatEvent(
    message(47, "x", {
      replyTo: 46,
      reactions: [{ emoji: "\x1b[1m", count: 1, users: [] }],
    }) as ClientEvent,
    options,
  );
  assert.equal(hostile.includes("\x1b"), false);
});

Deno.test("formatEvent describes changes with the message as it stood", () => {
  const log = new MessageLog();
  log.take(message(41, "hello", { reactions: [{ emoji: "🎉", count: 1, users: ["carol"] }] }));
  const options = { ...UTC, messages: log };
  const line = (change: MessageChange) =>
    formatEvent(change as ClientEvent, options).replace(/^\[[^\]]+\] /, "");
  assert.equal(line(edit(42, 41, "hello there")), "#general alice edited #41: hello there");
  assert.equal(
    line(react(43, 41, "bob", "👍")),
    "#general bob reacted 👍 to #41 (alice: hello): 🎉 1  👍 1",
  );
  assert.equal(
    line(react(44, 41, "carol", "🎉", "unreact")),
    "#general carol took back 🎉 on #41 (alice: hello)",
  );
  assert.equal(line(remove(45, 41)), "#general bob deleted #41 (alice: hello)");
  // Not held: the id alone.
  assert.equal(line(react(46, 7, "bob", "👍")), "#general bob reacted 👍 to #7");
  assert.equal(line(remove(47, 7, "root")), "#general root deleted #7");
  // From catch-up: dated and marked like history messages.
  assert.match(
    formatEvent({ ...edit(48, 41, "later"), history: true } as ClientEvent, options),
    /^\[2024-01-01 \d\d:\d\d:\d\d\] \(history\) #general alice edited #41: later$/,
  );
});

Deno.test("formatResult quotes and changes messages of the same catch-up in order", () => {
  const held = new MessageLog();
  held.take(message(10, "held before"));
  const history: TimelineEntry[] = [
    { ...message(11, "question?"), history: true },
    { ...message(12, "answer", { replyTo: 11 }), history: true },
    { ...react(13, 10, "bob", "👍"), history: true } as TimelineEntry,
    { ...react(14, 11, "bob", "👍"), history: true } as TimelineEntry,
  ];
  const lines = formatResult({ type: "join", room: "general", since: 10 }, {
    room: "general",
    topic: "",
    members: ["alice"],
    lastId: 14,
    history,
  }, { ...UTC, messages: held }).map((text) => text.replace(/^\[[^\]]+\] \(history\) /, ""));
  assert.deepEqual(lines, [
    "#general #11 <alice> question?",
    "#general #12 <alice> (↪ alice: question?) answer",
    "#general bob reacted 👍 to #10 (alice: held before): 👍 1",
    "#general bob reacted 👍 to #11 (alice: question?): 👍 1",
  ]);
  // Formatting reads the log, never writes it: the caller takes the items after.
  assert.equal(held.get("general", 11), undefined);
  assert.equal(held.get("general", 10)?.reactions, undefined);
});

Deno.test("eventToJson and resultRecords carry the changes and the new message fields", () => {
  assert.deepEqual(eventToJson(edit(42, 41, "new") as ClientEvent), {
    type: "edit",
    room: "general",
    from: "alice",
    body: "new",
    id: 42,
    target: 41,
    ts: TS + 42,
    history: false,
  });
  assert.deepEqual(eventToJson(remove(43, 41) as ClientEvent), {
    type: "delete",
    room: "general",
    from: "bob",
    body: null,
    id: 43,
    target: 41,
    by: "bob",
    ts: TS + 43,
    history: false,
  });
  const reacted = eventToJson(react(44, 41, "bob", "👍") as ClientEvent);
  assert.deepEqual([reacted.type, reacted.from, reacted.emoji, reacted.target, reacted.id], [
    "react",
    "bob",
    "👍",
    41,
    44,
  ]);
  const reply = eventToJson(message(45, "yes", { replyTo: 41 }) as ClientEvent);
  assert.equal(reply.replyTo, 41);
  const records = resultRecords({ type: "history", room: "general", after: 40 }, {
    room: "general",
    messages: [
      { ...message(41, "", { deleted: { by: "bob", ts: TS } }), history: true },
      { ...react(46, 41, "bob", "👍", "unreact"), history: true } as TimelineEntry,
    ],
  });
  assert.deepEqual(records.map((record) => [record.type, record.id, record.history]), [
    ["message", 41, true],
    ["unreact", 46, true],
  ]);
  assert.deepEqual(records[0]!.deleted, { by: "bob", ts: TS });
});

Deno.test("formatResult says when a reaction changed nothing, and nothing for other changes", () => {
  const react = { type: "react", room: "general", target: 41, emoji: "👍" } as const;
  assert.deepEqual(formatResult(react, { ts: 1, unchanged: true }), [
    "you had already reacted 👍 to #41",
  ]);
  assert.deepEqual(formatResult({ ...react, type: "unreact" }, { ts: 1, unchanged: true }), [
    "you had not reacted 👍 to #41",
  ]);
  assert.deepEqual(formatResult(react, { id: 42, ts: 1 }), []);
  assert.deepEqual(
    formatResult({ type: "edit", room: "general", target: 41, body: "x" }, { id: 43, ts: 1 }),
    [],
  );
});
