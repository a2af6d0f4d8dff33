/**
 * Message changes in the full-screen client's model (docs/protocol.md,
 * section 21): live and catch-up changes redraw the message where it is in
 * the scrollback, replies quote what they answer, ids show for /edit.
 */
import assert from "node:assert/strict";
import type { ReplyEvent } from "../client/client_event.ts";
import { Conversation, type MessageEntry } from "../client/tui/conversation.ts";
import { conversationRows, entryRows } from "../client/tui/scrollback.ts";
import { lineText } from "../client/tui/styled_line.ts";
import { TuiModel } from "../client/tui/tui_model.ts";
import type {
  MessageChangeEvent,
  RequestBody,
  RoomMessageEvent,
  TimelineEntry,
} from "../shared/protocol.ts";

const T0 = Date.UTC(2024, 4, 6, 9, 30);

function makeModel(): TuiModel {
  return new TuiModel({
    nick: "alice",
    server: "127.0.0.1:7007",
    columns: 80,
    rows: 16,
    utc: true,
    now: () => T0,
  });
}

function reply(request: RequestBody, result: Record<string, unknown>): ReplyEvent {
  return { type: "reply", request, result, ts: T0 } as ReplyEvent;
}

function message(
  id: number,
  from: string,
  body: string,
  extra: Partial<RoomMessageEvent> = {},
): RoomMessageEvent {
  return { type: "message", room: "general", from, body, id, ts: T0 + id * 60_000, ...extra };
}

function change(
  type: MessageChangeEvent["type"],
  id: number,
  target: number,
  fields: Record<string, string>,
): MessageChangeEvent {
  return {
    type,
    room: "general",
    id,
    target,
    ts: T0 + id * 60_000,
    ...fields,
  } as MessageChangeEvent;
}

function join(model: TuiModel, history: TimelineEntry[] = [], since?: number): void {
  model.applyEvent({ type: "join", room: "general", nick: "alice", ts: T0 });
  model.applyEvent(
    reply({ type: "join", room: "general", ...(since === undefined ? {} : { since }) }, {
      room: "general",
      topic: "",
      members: ["alice", "bob"],
      lastId: history.at(-1)?.id ?? 0,
      history,
    }),
  );
}

function rows(model: TuiModel): string[] {
  return conversationRows(model.active, { width: 100, color: 0, utc: true }).map(lineText);
}

/** The scrollback rows about messages, without the day rules and notices. */
function said(model: TuiModel): string[] {
  return rows(model).filter((row) => /│/.test(row) && !/ (--|-->) │/.test(row))
    .map((row) => row.trimEnd());
}

Deno.test("TUI: an edit and a reaction redraw the message in place, its id shown", () => {
  const model = makeModel();
  join(model);
  model.applyEvent(message(1, "bob", "helo"));
  model.applyEvent(message(2, "carol", "after it"));
  assert.deepEqual(said(model), [
    "09:31          bob │ helo #1",
    "09:32        carol │ after it #2",
  ]);
  const before = model.active.entries.find((entry) => entry.kind === "message" && entry.id === 1);
  model.applyEvent(change("edit", 3, 1, { from: "bob", body: "hello" }));
  model.applyEvent(change("react", 4, 1, { from: "carol", emoji: "👍" }));
  model.applyEvent(change("react", 5, 1, { from: "alice", emoji: "👍" }));
  model.applyEvent(change("react", 6, 1, { from: "alice", emoji: "🎉" }));
  assert.deepEqual(said(model), [
    "09:31          bob │ hello #1 (edited 09:33)",
    "                   │ 👍 2  🎉 1",
    "09:32        carol │ after it #2",
  ]);
  // A new entry object, so views that cache rows per entry draw it again.
  const after = model.active.entries.find((entry) => entry.kind === "message" && entry.id === 1);
  assert.notEqual(after, before);
  model.applyEvent(change("unreact", 7, 1, { from: "carol", emoji: "👍" }));
  model.applyEvent(change("delete", 8, 1, { by: "bob" }));
  assert.deepEqual(said(model), [
    "09:31          bob │ [deleted by bob] #1",
    "09:32        carol │ after it #2",
  ]);
  // No unread count, no new line: a change is not a message.
  assert.equal(model.active.entries.filter((entry) => entry.kind === "message").length, 2);
});

Deno.test("TUI: a change to a message not held, or in a room not open, is ignored", () => {
  const model = makeModel();
  join(model);
  model.applyEvent(message(5, "bob", "hi"));
  const screen = rows(model);
  assert.deepEqual(model.applyEvent(change("edit", 6, 4, { from: "bob", body: "x" })), []);
  assert.deepEqual(
    model.applyEvent({ ...change("react", 7, 5, { from: "bob", emoji: "👍" }), room: "elsewhere" }),
    [],
  );
  assert.deepEqual(rows(model), screen);
  assert.equal(
    model.conversations.some((conversation) => conversation.name === "elsewhere"),
    false,
  );
});

Deno.test("TUI: replies quote the message they answer, which may change later", () => {
  const model = makeModel();
  join(model);
  model.applyEvent(message(1, "bob", "shall we meet at noon on Friday for the release?"));
  model.applyEvent(message(2, "alice", "yes", { replyTo: 1 }));
  model.applyEvent(message(3, "alice", "and this", { replyTo: 99 }));
  assert.deepEqual(said(model).slice(1), [
    "09:32        alice │ ↪ bob: shall we meet at noon on Friday for the…",
    "                   │ yes #2",
    "09:33        alice │ ↪ #99",
    "                   │ and this #3",
  ]);
  model.applyEvent(change("edit", 4, 1, { from: "bob", body: "noon?" }));
  assert.equal(said(model)[1], "09:32        alice │ ↪ bob: noon?");
  model.applyEvent(change("delete", 5, 1, { by: "root" }));
  assert.equal(said(model)[1], "09:32        alice │ ↪ bob: [deleted by root]");
});

Deno.test("TUI: catch-up history applies its changes to messages held and carries states", () => {
  const model = makeModel();
  join(model, [message(1, "bob", "first"), message(2, "carol", "second")]);
  // Rejoined after a drop: what came after id 2, changes to held messages included.
  join(model, [
    { ...change("edit", 3, 1, { from: "bob", body: "first, edited" }), history: true },
    {
      ...message(4, "bob", "", { deleted: { by: "bob", ts: T0 } }),
      history: true,
    },
    {
      ...message(5, "carol", "third", {
        reactions: [{ emoji: "🎉", count: 1, users: ["bob"] }],
      }),
      history: true,
    },
    // Already in message 5's state: not counted twice.
    { ...change("react", 6, 5, { from: "bob", emoji: "🎉" }), history: true },
    { ...change("react", 7, 2, { from: "bob", emoji: "👍" }), history: true },
  ] as TimelineEntry[], 2);
  assert.deepEqual(said(model), [
    "09:31          bob │ first, edited #1 (edited 09:33)",
    "09:32        carol │ second #2",
    "                   │ 👍 1",
    "09:34          bob │ [deleted by bob] #4",
    "09:35        carol │ third #5",
    "                   │ 🎉 1",
  ]);
});

Deno.test("entryRows: ids show for room messages only, reactions wrap under the text", () => {
  const style = { width: 40, color: 0, utc: true } as const;
  const dm: MessageEntry = {
    kind: "message",
    id: 7,
    ts: T0,
    from: "bob",
    body: "psst",
    action: false,
    history: false,
    self: false,
    mention: false,
  };
  assert.deepEqual(entryRows(dm, style).map(lineText), ["09:30       bob │ psst"]);
  const room: MessageEntry = {
    ...dm,
    room: "general",
    action: true,
    reactions: [{ emoji: "👍", count: 3, users: ["a", "b", "c"] }],
  };
  assert.deepEqual(entryRows(room, style).map(lineText), [
    "09:30         * │ bob psst #7",
    "                │ 👍 3",
  ]);
  const conversation = new Conversation("room", "general");
  conversation.add(room);
  assert.equal(
    conversation.change({
      type: "react",
      room: "general",
      id: 8,
      target: 7,
      from: "a",
      emoji: "👍",
      ts: T0,
    }),
    undefined,
  );
  assert.equal(conversation.message(7), room);
});

Deno.test("TUI: /react sends the request; its ack adds no line unless it changed nothing", () => {
  const model = makeModel();
  join(model);
  model.applyEvent(message(1, "bob", "hi"));
  for (const text of "/react #1 👍") model.handleKey({ kind: "text", text });
  const effects = model.handleKey({
    kind: "key",
    name: "enter",
    ctrl: false,
    alt: false,
    shift: false,
  });
  const request = { type: "react", room: "general", target: 1, emoji: "👍" } as const;
  assert.deepEqual(effects, [{ type: "send", request }]);
  const notices = () => model.active.entries.filter((entry) => entry.kind === "notice").length;
  const shown = notices();
  model.applyEvent(reply(request, { id: 2, ts: T0 }));
  assert.equal(notices(), shown);
  model.applyEvent(reply(request, { ts: T0, unchanged: true }));
  assert.equal(notices(), shown + 1);
  assert.match(rows(model).at(-1)!, /you had already reacted 👍 to #1/);
});

Deno.test("TUI: an edit that names the user highlights the message; a delete takes it away", () => {
  const model = makeModel();
  join(model);
  model.applyEvent(message(1, "bob", "hi all"));
  const held = () => model.active.message(1)!;
  assert.equal(held().mention, false);
  model.applyEvent(change("edit", 2, 1, { from: "bob", body: "hi alice" }));
  assert.equal(held().mention, true);
  model.applyEvent(change("delete", 3, 1, { by: "bob" }));
  assert.equal(held().mention, false);
});

Deno.test("TUI: a reply to one of the user's messages rings like a mention", () => {
  const model = makeModel();
  join(model);
  model.applyEvent(message(1, "alice", "anyone for lunch?"));
  model.applyEvent(message(2, "carol", "not me"));
  assert.deepEqual(model.applyEvent(message(3, "bob", "me", { replyTo: 2 })), []);
  const effects = model.applyEvent(message(4, "bob", "yes", { replyTo: 1 }));
  assert.deepEqual(effects.map((effect) => effect.type), ["bell", "notify"]);
  assert.equal(model.active.message(4)?.mention, true);
  // The user's own reply to themselves is no news.
  assert.deepEqual(model.applyEvent(message(5, "alice", "anyone?", { replyTo: 1 })), []);
});
