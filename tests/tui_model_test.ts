/**
 * The full-screen client's state model without a terminal: events and key
 * presses in, state and effects out, the screen read as text.
 */
import assert from "node:assert/strict";
import type { ClientEvent, ReplyEvent } from "../client/client_event.ts";
import { namedKey, type TuiKey } from "../client/tui/tui_key_decoder.ts";
import { mentions, type TuiEffect, TuiModel } from "../client/tui/tui_model.ts";
import { buildView, screenText } from "../client/tui/tui_view.ts";
import { ChatError } from "../shared/errors.ts";
import type { DirectMessageEvent, RequestBody, RoomMessageEvent } from "../shared/protocol.ts";

const T0 = Date.UTC(2024, 4, 6, 9, 30);

function makeModel(
  options: { columns?: number; rows?: number; account?: boolean } = {},
): TuiModel {
  return new TuiModel({
    nick: "alice",
    server: "127.0.0.1:7007",
    columns: options.columns ?? 100,
    rows: options.rows ?? 20,
    utc: true,
    now: () => T0,
    hasAccount: () => options.account ?? false,
  });
}

/** The reply event of `request` with `result` (the client checked them together). */
function reply(request: RequestBody, result: Record<string, unknown>): ReplyEvent {
  return { type: "reply", request, result, ts: T0 } as ReplyEvent;
}

/** The reply event of `request` that failed with `error`. */
function failed(request: RequestBody, error: Error): ReplyEvent {
  return { type: "reply", request, error, ts: T0 } as ReplyEvent;
}

function message(
  room: string,
  from: string,
  body: string,
  id: number,
  extra: Partial<RoomMessageEvent> = {},
): RoomMessageEvent {
  return { type: "message", room, from, body, id, ts: T0 + id * 1000, ...extra };
}

/** Joins `room` as the server would answer: the own join event, then the ack. */
function join(
  model: TuiModel,
  room: string,
  result: Record<string, unknown> = {},
): TuiEffect[] {
  model.applyEvent({ type: "join", room, nick: "alice", ts: T0 });
  return model.applyEvent(
    reply({ type: "join", room }, {
      room,
      topic: "",
      members: ["alice", "bob"],
      lastId: 0,
      history: [],
      ...result,
    }),
  );
}

function keys(model: TuiModel, ...pressed: TuiKey[]): TuiEffect[] {
  return pressed.flatMap((key) => model.handleKey(key));
}

function type(model: TuiModel, text: string): void {
  model.handleKey({ kind: "text", text });
}

function screen(model: TuiModel): string {
  return screenText(buildView(model)).join("\n");
}

function sends(effects: TuiEffect[]): RequestBody[] {
  return effects.flatMap((effect) => effect.type === "send" ? [effect.request] : []);
}

Deno.test("tui model: start joins the room; the join reply opens and shows it", () => {
  const model = makeModel();
  assert.deepEqual(sends(model.start("general")), [{ type: "join", room: "general" }]);
  join(model, "general", { topic: "Release day" });
  assert.equal(model.active.name, "general");
  assert.deepEqual(model.active.members, ["alice", "bob"]);
  const text = screen(model);
  assert.match(text, /#general — Release day/);
  assert.match(text, /alice joined/);
  assert.match(text, /2 people/);
  assert.match(text, /\[#general\] /);
});

Deno.test("tui model: messages arriving while typing leave the typed text alone", () => {
  const model = makeModel();
  join(model, "general");
  type(model, "half typ");
  model.applyEvent(message("general", "bob", "first", 1));
  model.applyEvent(message("general", "bob", "second", 2));
  assert.equal(model.input.text, "half typ");
  type(model, "ed");
  const effects = keys(model, namedKey("enter"));
  assert.deepEqual(sends(effects), [{ type: "say", room: "general", body: "half typed" }]);
  assert.match(screen(model), /bob │ second/);
});

Deno.test("tui model: unread counts and mentions elsewhere; bell and notification on a mention", () => {
  const model = makeModel();
  join(model, "general");
  join(model, "random");
  assert.equal(model.active.name, "random");
  assert.deepEqual(model.applyEvent(message("general", "bob", "plain", 1)), []);
  const effects = model.applyEvent(message("general", "bob", "hey Alice, look", 2));
  assert.deepEqual(effects, [
    { type: "bell" },
    { type: "notify", title: "bob in #general", body: "hey Alice, look" },
  ]);
  const general = model.conversations[1]!;
  assert.equal(general.unread, 2);
  assert.equal(general.mention, true);
  assert.match(screen(model), /2 #general +2!/);
  assert.match(screen(model), /mentioned in 1/);
  // Going there marks it read.
  keys(model, namedKey("2", { alt: true }));
  assert.equal(model.active.name, "general");
  assert.equal(general.unread, 0);
  assert.equal(general.mention, false);
  assert.match(screen(model), /bob » hey Alice, look/);
});

Deno.test("tui model: mentions are whole words, case-insensitive", () => {
  assert.equal(mentions("ping ALICE!", "alice"), true);
  assert.equal(mentions("alice: hi", "alice"), true);
  assert.equal(mentions("malice aforethought", "alice"), false);
  assert.equal(mentions("alice_bot says hi", "alice"), false);
});

Deno.test("tui model: Ctrl+N / Ctrl+P and Alt+digits switch conversations, wrapping", () => {
  const model = makeModel();
  join(model, "general");
  join(model, "random");
  keys(model, namedKey("n", { ctrl: true }));
  assert.equal(model.activeIndex, 0);
  keys(model, namedKey("p", { ctrl: true }));
  assert.equal(model.active.name, "random");
  keys(model, namedKey("1", { alt: true }));
  assert.equal(model.active.kind, "server");
  keys(model, namedKey("9", { alt: true })); // No ninth conversation: stays.
  assert.equal(model.active.kind, "server");
  keys(model, namedKey("right", { alt: true }));
  assert.equal(model.active.name, "general");
});

Deno.test("tui model: a multi-line message is one say with line breaks, shown as one entry", () => {
  const model = makeModel();
  join(model, "general");
  type(model, "line one");
  keys(model, namedKey("enter", { alt: true }));
  type(model, "line two");
  keys(model, namedKey("enter", { shift: true }));
  type(model, "three");
  assert.equal(buildView(model).layout.inputRows, 3);
  const effects = keys(model, namedKey("enter"));
  assert.deepEqual(sends(effects), [{
    type: "say",
    room: "general",
    body: "line one\nline two\nthree",
  }]);
  model.applyEvent(message("general", "alice", "line one\nline two\nthree", 1));
  const rows = screenText(buildView(model));
  const first = rows.findIndex((row) => row.includes("alice │ line one"));
  assert.ok(first > 0);
  assert.match(rows[first + 1]!, /^\s*│?.*│ line two/);
  assert.match(rows[first + 2]!, /│ three/);
});

Deno.test("tui model: a pasted block asks first: separate messages, one message, edit or cancel", () => {
  const model = makeModel();
  join(model, "general");
  const paste: TuiKey = { kind: "paste", text: "one\ntwo\n\nthree\n" };

  keys(model, paste);
  assert.match(screen(model), /Paste 4 lines to \[#general\]\? y: 4 messages/);
  assert.deepEqual(sends(keys(model, { kind: "text", text: "y" })), [
    { type: "say", room: "general", body: "one" },
    { type: "say", room: "general", body: "two" },
    { type: "say", room: "general", body: "three" },
  ]);

  keys(model, paste);
  assert.deepEqual(sends(keys(model, { kind: "text", text: "m" })), [
    { type: "say", room: "general", body: "one\ntwo\n\nthree" },
  ]);

  keys(model, paste);
  assert.deepEqual(keys(model, { kind: "text", text: "e" }), []);
  assert.equal(model.input.text, "one\ntwo\n\nthree");
  model.input.submit();

  keys(model, paste);
  keys(model, namedKey("escape"));
  assert.equal(model.pendingPaste, undefined);
  assert.equal(model.input.text, "");

  // One line pasted is just typed.
  keys(model, { kind: "paste", text: "single\n" });
  assert.equal(model.input.text, "single");
});

Deno.test("tui model: Tab completes recent speakers first, then members; again cycles", () => {
  const model = makeModel();
  join(model, "general", { members: ["alice", "barbara", "bob", "bruno"] });
  model.applyEvent(message("general", "bruno", "hi", 1));
  model.applyEvent(message("general", "bob", "hello", 2));
  type(model, "b");
  keys(model, namedKey("tab"));
  assert.equal(model.input.text, "bob: ");
  keys(model, namedKey("tab"));
  assert.equal(model.input.text, "bruno: ");
  keys(model, namedKey("tab"));
  assert.equal(model.input.text, "barbara: ");
  keys(model, namedKey("tab", { shift: true }));
  assert.equal(model.input.text, "bruno: ");
  type(model, "x");
  keys(model, namedKey("tab")); // "x" matches nobody: nothing changes.
  assert.equal(model.input.text, "bruno: x");
});

Deno.test("tui model: Tab completes commands and rooms", () => {
  const model = makeModel();
  join(model, "general");
  join(model, "gamedev");
  type(model, "/que");
  keys(model, namedKey("tab"));
  assert.equal(model.input.text, "/query ");
  model.input.submit();
  type(model, "/switch ge");
  keys(model, namedKey("tab"));
  assert.equal(model.input.text, "/switch general ");
});

Deno.test("tui model: direct messages get their own conversation; typing there sends DMs", () => {
  const model = makeModel();
  join(model, "general");
  const effects = model.applyEvent({
    type: "dm",
    from: "bob",
    to: "alice",
    body: "psst",
    id: 7,
    ts: T0,
  });
  assert.deepEqual(effects.map((effect) => effect.type), ["bell", "notify"]);
  const dm = model.conversations.find((conversation) => conversation.kind === "dm")!;
  assert.equal(dm.name, "bob");
  assert.equal(dm.unread, 1);
  keys(model, namedKey("3", { alt: true }));
  type(model, "hi back");
  assert.deepEqual(sends(keys(model, namedKey("enter"))), [
    { type: "dm", to: "bob", body: "hi back" },
  ]);
  type(model, "/me waves");
  assert.deepEqual(sends(keys(model, namedKey("enter"))), [
    { type: "dm", to: "bob", body: "waves", action: true },
  ]);
  // Our own echo lands in the same conversation, with no bell.
  assert.deepEqual(
    model.applyEvent({ type: "dm", from: "alice", to: "bob", body: "hi back", id: 8, ts: T0 }),
    [],
  );
  assert.equal(dm.entries.length, 2);
  type(model, "/close");
  keys(model, namedKey("enter"));
  assert.equal(model.conversations.includes(dm), false);
});

Deno.test("tui model: /query opens a DM conversation without sending anything", () => {
  const model = makeModel();
  type(model, "/query carol");
  assert.deepEqual(keys(model, namedKey("enter")), []);
  assert.equal(model.active.kind, "dm");
  assert.equal(model.active.name, "carol");
  assert.match(screen(model), /@carol: direct messages/);
});

Deno.test("tui model: joins and leaves in a row fold into one line", () => {
  const model = makeModel({ columns: 140 });
  join(model, "general");
  model.applyEvent(message("general", "bob", "hello", 1));
  for (const nick of ["carol", "dave", "erin"]) {
    model.applyEvent({ type: "join", room: "general", nick, ts: T0 });
  }
  model.applyEvent({ type: "leave", room: "general", nick: "bob", ts: T0, reason: "quit" });
  model.applyEvent({ type: "leave", room: "general", nick: "dave", ts: T0, reason: "quit" });
  const text = screen(model);
  assert.match(text, /<-> │ carol, erin joined · bob left \(quit\) · dave came and went/);
  assert.equal(text.match(/joined/g)?.length, 2); // Our own join, and the fold.
  assert.deepEqual(model.active.members, ["alice", "carol", "erin"]);
});

Deno.test("tui model: nick changes rename members and DM conversations", () => {
  const model = makeModel();
  join(model, "general");
  model.applyEvent({ type: "dm", from: "bob", to: "alice", body: "x", id: 1, ts: T0 });
  model.applyEvent({ type: "nick", from: "bob", to: "robert", ts: T0 });
  assert.deepEqual(model.conversations[1]!.members, ["alice", "robert"]);
  assert.equal(model.conversations[2]!.name, "robert");
  model.applyEvent({ type: "nick", from: "alice", to: "alicia", ts: T0 });
  assert.equal(model.nick, "alicia");
  assert.match(screen(model), /alicia/);
});

Deno.test("tui model: reconnecting shows in the status line and keeps the typed text", () => {
  const model = makeModel();
  join(model, "general");
  type(model, "still here");
  model.applyEvent({
    type: "reconnecting",
    attempt: 1,
    delayMs: 1500,
    reason: "connection reset",
    ts: T0,
  });
  assert.equal(model.connection.state, "reconnecting");
  assert.match(screen(model), /reconnecting \(attempt 1 in 1\.5s: connection reset\)/);
  assert.equal(model.input.text, "still here");
  const effects = model.applyEvent({
    type: "reconnected",
    attempt: 1,
    rooms: ["general"],
    failed: [],
    ts: T0,
  });
  // Members are asked for again, quietly: the reply updates the list and prints nothing.
  const [who] = sends(effects);
  assert.deepEqual(who, { type: "who", room: "general" });
  model.applyEvent(reply(who!, { room: "general", members: ["alice", "zed"], total: 2 }));
  assert.deepEqual(model.active.members, ["alice", "zed"]);
  assert.doesNotMatch(screen(model), /general \(2\)/);
  assert.match(screen(model), /connected/);
  assert.equal(model.input.text, "still here");
});

Deno.test("tui model: round-trip time and a lost connection show in the status line", () => {
  const model = makeModel();
  model.setRtt(12.4);
  assert.match(screen(model), /alice │ connected │ rtt 12 ms/);
  model.setClosed("gave up");
  assert.match(screen(model), /disconnected: gave up/);
});

Deno.test("tui model: scrolling to the top asks for older history before the oldest id", () => {
  const model = makeModel({ rows: 12 });
  const history = Array.from(
    { length: 20 },
    (_, index) => message("general", "bob", `old ${index + 31}`, index + 31, { history: true }),
  );
  join(model, "general", { history });
  assert.match(screen(model), /end of history/);
  let requests: RequestBody[] = [];
  for (let press = 0; press < 10 && requests.length === 0; press++) {
    requests = sends(keys(model, namedKey("pageup")));
  }
  const [request] = requests;
  assert.deepEqual(request, { type: "history", room: "general", before: 31, limit: 50 });
  assert.match(screen(model), /loading older messages/);
  assert.match(screen(model), /old 31/);
  // Only one request at a time.
  assert.deepEqual(sends(keys(model, namedKey("pageup"))), []);
  const older = Array.from(
    { length: 30 },
    (_, index) => message("general", "bob", `old ${index + 1}`, index + 1, { history: true }),
  );
  model.applyEvent(reply(request!, { room: "general", messages: older }));
  assert.equal(model.active.history, "done");
  assert.equal(model.active.oldestId, 1);
  // The rows on screen stay where they were; scrolling further shows the older page.
  assert.match(screen(model), /old 31/);
  for (let press = 0; press < 10; press++) keys(model, namedKey("pageup"));
  assert.match(screen(model), /beginning of history/);
  assert.match(screen(model), /old 1\b/);
  // Esc goes back to the newest.
  keys(model, namedKey("escape"));
  assert.equal(model.active.scroll, 0);
});

Deno.test("tui model: a server without history requests is not asked again", () => {
  const model = makeModel({ rows: 8 });
  join(model, "general");
  const [request] = sends(keys(model, namedKey("pageup")));
  assert.equal(request?.type, "history");
  model.applyEvent(failed(request!, new ChatError("unknown_command", "Unknown request type")));
  assert.equal(model.active.history, "unsupported");
  assert.deepEqual(sends(keys(model, namedKey("pageup"))), []);
  assert.doesNotMatch(screen(model), /Unknown request/);
});

Deno.test("tui model: while scrolled back, new messages do not move the view", () => {
  const model = makeModel({ rows: 10 });
  join(model, "general");
  for (let id = 1; id <= 30; id++) model.applyEvent(message("general", "bob", `m${id}`, id));
  keys(model, namedKey("pageup"));
  const before = screen(model).split("\n").slice(1, 7).join("\n");
  model.applyEvent(message("general", "bob", "m31", 31));
  const after = screen(model).split("\n").slice(1, 7).join("\n");
  assert.equal(after, before);
  assert.match(screen(model), /1 new below/);
  keys(model, namedKey("pagedown"), namedKey("pagedown"));
  assert.match(screen(model), /m31/);
});

Deno.test("tui model: the wheel scrolls, Alt+M turns mouse reporting off", () => {
  const model = makeModel({ rows: 10 });
  join(model, "general");
  for (let id = 1; id <= 30; id++) model.applyEvent(message("general", "bob", `m${id}`, id));
  keys(model, { kind: "wheel", lines: -3 });
  assert.equal(model.active.scroll, 3);
  keys(model, { kind: "wheel", lines: 3 });
  assert.equal(model.active.scroll, 0);
  assert.deepEqual(keys(model, namedKey("m", { alt: true })), [{ type: "mouse", enabled: false }]);
  assert.match(screen(model), /mouse off/);
});

Deno.test("tui model: history from the join is marked, with day separators", () => {
  const model = makeModel();
  const yesterday = T0 - 86_400_000;
  join(model, "general", {
    history: [
      message("general", "bob", "from yesterday", 1, { history: true, ts: yesterday }),
      message("general", "bob", "from today", 2, { history: true }),
    ],
  });
  model.applyEvent(message("general", "bob", "live", 3));
  const rows = screenText(buildView(model));
  const index = (pattern: RegExp) => rows.findIndex((row) => pattern.test(row));
  assert.ok(index(/Sunday, 5 May 2024/) < index(/from yesterday/));
  assert.ok(index(/from yesterday/) < index(/Monday, 6 May 2024/));
  assert.ok(index(/Monday, 6 May 2024/) < index(/from today/));
  assert.ok(index(/from today/) < index(/end of history/));
  assert.ok(index(/end of history/) < index(/alice joined/));
  assert.ok(index(/alice joined/) < index(/live/));
});

Deno.test("tui model: nothing from the wire reaches the screen as a control character", () => {
  const model = makeModel();
  const evil = "\x1b]0;pwned\x07\x1b[2J\u202eevil\u200b\x9b31m\r";
  join(model, "general", { topic: evil, members: ["alice", `m${evil}`] });
  model.applyEvent(message("general", `b${evil}`, `body ${evil}\nsecond ${evil}`, 1));
  model.applyEvent({ type: "notice", body: evil, ts: T0 });
  model.applyEvent({ type: "topic", room: "general", topic: evil, by: "bob", ts: T0 });
  model.applyEvent({ type: "error", code: "internal", message: evil, ts: T0 });
  model.applyEvent({ type: "leave", room: "general", nick: "bob", reason: evil, ts: T0 });
  model.applyEvent({ type: "dm", from: `d${evil}`, to: "alice", body: evil, id: 2, ts: T0 });
  const events: ClientEvent[] = [
    { type: "reconnecting", attempt: 1, delayMs: 10, reason: evil, ts: T0 },
    { type: "bye", code: "internal", message: evil, ts: T0 },
  ];
  for (const event of events) model.applyEvent(event);
  for (let index = 0; index < model.conversations.length; index++) {
    keys(model, namedKey(String(index + 1), { alt: true }));
    const view = buildView(model);
    const spans = [
      view.title,
      view.status,
      ...view.left,
      ...view.main,
      ...view.right,
      ...view.input,
    ].flat();
    for (const part of spans) {
      // deno-lint-ignore no-control-regex -- looking for control characters is the point
      assert.doesNotMatch(part.text, /[\x00-\x1f\x7f-\x9f\u202e\u200b]/, JSON.stringify(part.text));
    }
  }
  assert.match(screen(model), /\^\[\]0;pwned\^G/);
});

Deno.test("tui model: replies to reading commands show; errors show in the conversation", () => {
  const model = makeModel();
  join(model, "general");
  type(model, "/users");
  const [users] = sends(keys(model, namedKey("enter")));
  model.applyEvent(reply(users!, { users: ["alice", "bob"], total: 2 }));
  assert.match(screen(model), /users online \(2\): alice, bob/);
  type(model, "/nosuch");
  keys(model, namedKey("enter"));
  assert.match(screen(model), /!! │ Unknown command \/nosuch/);
  type(model, "/join secret");
  const [joinRequest] = sends(keys(model, namedKey("enter")));
  model.applyEvent(failed(joinRequest!, new ChatError("bad_key", "#secret needs a key")));
  assert.match(screen(model), /error: #secret needs a key \(bad_key\)/);
});

Deno.test("tui model: /quit and Ctrl+C quit; Ctrl+D quits only on an empty line", () => {
  const model = makeModel();
  type(model, "/quit see you");
  assert.deepEqual(keys(model, namedKey("enter")), [{ type: "quit", reason: "see you" }]);
  assert.deepEqual(keys(model, namedKey("c", { ctrl: true })), [{ type: "quit" }]);
  type(model, "ab");
  keys(model, namedKey("left"));
  assert.deepEqual(keys(model, namedKey("d", { ctrl: true })), []);
  assert.equal(model.input.text, "a");
});

Deno.test("tui model: /leave closes the room's conversation when the server confirms", () => {
  const model = makeModel();
  join(model, "general");
  join(model, "random");
  type(model, "/leave");
  const [leave] = sends(keys(model, namedKey("enter")));
  assert.deepEqual(leave, { type: "leave", room: "random" });
  model.applyEvent({ type: "leave", room: "random", nick: "alice", ts: T0 });
  model.applyEvent(reply(leave!, { room: "random" }));
  assert.deepEqual(model.conversations.map((conversation) => conversation.name), [
    "127.0.0.1:7007",
    "general",
  ]);
  assert.equal(model.active.name, "general");
});

Deno.test("tui model: log records go to the server buffer", () => {
  const model = makeModel();
  model.log("warning: No data from the server for 75000 ms");
  keys(model, namedKey("1", { alt: true }));
  assert.match(screen(model), /No data from the server/);
});

Deno.test("tui model: unread DMs announced at login open their conversations with counts", () => {
  const model = makeModel();
  model.applyEvent({
    type: "notice",
    body: "3 unread direct message(s): bob (2), carol (1)",
    ts: T0,
    unread: [{ peer: "bob", count: 2 }, { peer: "carol", count: 1 }],
  });
  assert.match(screen(model), /2 @bob +2!/);
  assert.match(screen(model), /3 @carol +1!/);
});

function dm(from: string, to: string, body: string, id: number): DirectMessageEvent {
  return { type: "dm", from, to, body, id, ts: T0 + id * 1000 };
}

function reads(effects: TuiEffect[]): Array<{ peer: string; upTo: number }> {
  return effects.flatMap((effect) =>
    effect.type === "read" ? [{ peer: effect.peer, upTo: effect.upTo }] : []
  );
}

Deno.test("tui model: with an account, a DM conversation opened fetches its history and pages back", () => {
  const model = makeModel({ account: true, rows: 12 });
  type(model, "/query bob");
  const opened = keys(model, namedKey("enter"));
  const [latest] = sends(opened);
  assert.deepEqual(latest, { type: "dm_history", with: "bob", limit: 50 });
  assert.equal(model.active.history, "loading");
  const page = Array.from(
    { length: 20 },
    (_, index) =>
      index % 2 === 0
        ? dm("bob", "alice", `from bob ${index + 100}`, index + 100)
        : dm("alice", "bob", `to bob ${index + 100}`, index + 100),
  );
  // The newest from bob (118) is on screen: marked read.
  const effects = model.applyEvent(reply(latest!, { with: "bob", messages: page, more: true }));
  assert.deepEqual(reads(effects), [{ peer: "bob", upTo: 118 }]);
  assert.equal(model.active.history, "idle");
  assert.match(screen(model), /to bob 119/);
  // The quiet request's result is not printed again as text.
  assert.doesNotMatch(screen(model), /direct messages with bob/);
  let older: RequestBody[] = [];
  for (let press = 0; press < 10 && older.length === 0; press++) {
    older = sends(keys(model, namedKey("pageup")));
  }
  assert.deepEqual(older, [{ type: "dm_history", with: "bob", before: 100, limit: 50 }]);
  model.applyEvent(reply(older[0]!, { with: "bob", messages: [dm("bob", "alice", "first", 3)] }));
  assert.equal(model.active.history, "done");
  for (let press = 0; press < 10; press++) keys(model, namedKey("pageup"));
  assert.match(screen(model), /beginning of history[\s\S]*first/);
});

Deno.test("tui model: DMs seen are marked read: on arrival on screen, or when their conversation is opened", () => {
  const model = makeModel({ account: true });
  join(model, "general");
  // Arriving elsewhere: a new conversation asks for its history; nothing is read yet.
  const arrived = model.applyEvent(dm("bob", "alice", "psst", 7));
  assert.deepEqual(sends(arrived), [{ type: "dm_history", with: "bob", limit: 50 }]);
  assert.deepEqual(reads(arrived), []);
  assert.deepEqual(reads(keys(model, namedKey("3", { alt: true }))), [{ peer: "bob", upTo: 7 }]);
  // On screen: read as it arrives. Our own messages are no news.
  assert.deepEqual(reads(model.applyEvent(dm("bob", "alice", "again", 9))), [
    { peer: "bob", upTo: 9 },
  ]);
  assert.deepEqual(reads(model.applyEvent(dm("alice", "bob", "ok", 10))), []);
  assert.deepEqual(reads(keys(model, namedKey("2", { alt: true }))), []);
  // A guest has no unread counts to keep: nothing to mark, no history to ask for.
  const guest = makeModel();
  assert.deepEqual(guest.applyEvent(dm("bob", "alice", "psst", 7)), [
    { type: "bell" },
    { type: "notify", title: "bob", body: "psst" },
  ]);
  assert.deepEqual(keys(guest, namedKey("2", { alt: true })), []);
});

Deno.test("tui model: stored DMs delivered at login are not counted twice by the unread notice", () => {
  const model = makeModel();
  model.applyEvent(dm("bob", "alice", "while you were away", 4));
  model.applyEvent(dm("bob", "alice", "hello?", 5));
  model.applyEvent({
    type: "notice",
    body: "2 unread direct message(s): bob (2)",
    ts: T0,
    unread: [{ peer: "bob", count: 2 }],
  });
  assert.equal(model.conversations.find((c) => c.kind === "dm")!.unread, 2);
});

Deno.test("tui model: /dmhistory shows the result in the DM conversation", () => {
  const model = makeModel();
  join(model, "general");
  type(model, "/dmhistory carol before 40");
  const [request] = sends(keys(model, namedKey("enter")));
  assert.deepEqual(request, { type: "dm_history", with: "carol", before: 40 });
  model.applyEvent(reply(request!, { with: "carol", messages: [dm("carol", "alice", "old", 12)] }));
  assert.equal(model.active.kind, "dm");
  assert.equal(model.active.name, "carol");
  assert.match(screen(model), /carol │ old/);
  // Nothing there: said where the user is.
  type(model, "/dmhistory dave");
  const [empty] = sends(keys(model, namedKey("enter")));
  model.applyEvent(reply(empty!, { with: "dave", messages: [] }));
  assert.equal(model.active.name, "carol");
  assert.match(screen(model), /dave/);
  type(model, "/dmhistory");
  keys(model, namedKey("enter"));
  assert.match(screen(model), /Usage: \/dmhistory NICK \[before ID \|/);
});

Deno.test("tui model: /register PASSWORD keeps the whole line and leaves it out of the input history", () => {
  const model = makeModel();
  type(model, "/register correct horse battery");
  assert.deepEqual(sends(keys(model, namedKey("enter"))), [
    { type: "register", password: "correct horse battery" },
  ]);
  type(model, "hello");
  keys(model, namedKey("enter"));
  keys(model, namedKey("up"), namedKey("up"));
  assert.equal(model.input.text, "hello");
});

Deno.test("tui model: /register alone asks for the password twice and never shows it", () => {
  const model = makeModel({ columns: 160 });
  type(model, "/register");
  assert.deepEqual(keys(model, namedKey("enter")), []);
  assert.equal(model.secretPrompt, "New password for alice (not shown): ");
  type(model, "s3cret pass");
  keys(model, namedKey("backspace"));
  const view = screen(model);
  assert.match(view, /New password for alice \(not shown\): *$/m);
  assert.doesNotMatch(view, /s3cret/);
  assert.deepEqual(keys(model, namedKey("enter")), []);
  assert.equal(model.secretPrompt, "Repeat the password: ");
  type(model, "s3cret pas");
  assert.deepEqual(sends(keys(model, namedKey("enter"))), [
    { type: "register", password: "s3cret pas" },
  ]);
  assert.equal(model.secretPrompt, undefined);
  assert.equal(model.input.text, "");
  keys(model, namedKey("up"));
  assert.equal(model.input.text, "/register", "only the command is in the history");

  // A mismatch, and giving up, register nothing.
  type(model, "x");
  keys(model, namedKey("escape"));
  model.input.setText("/register");
  keys(model, namedKey("enter"));
  type(model, "one");
  keys(model, namedKey("enter"));
  type(model, "two");
  assert.deepEqual(sends(keys(model, namedKey("enter"))), []);
  assert.match(screen(model), /the passwords do not match; not registered/);
  model.input.setText("/register");
  keys(model, namedKey("enter"));
  assert.deepEqual(keys(model, namedKey("c", { ctrl: true })), [], "Ctrl+C gives up, not quits");
  assert.equal(model.secretPrompt, undefined);
  assert.match(screen(model), /│ not registered/);
});

Deno.test("tui model: a crowded room's members come page by page, asked for quietly", () => {
  const model = makeModel();
  const effects = join(model, "crowd", { members: ["alice", "bob"], membersMore: true });
  const [first] = sends(effects);
  assert.deepEqual(first, { type: "who", room: "crowd", after: "bob" });
  const second = sends(model.applyEvent(reply(first!, {
    room: "crowd",
    members: ["carol", "dave"],
    total: 5,
    more: true,
  })));
  assert.deepEqual(second, [{ type: "who", room: "crowd", after: "dave" }]);
  assert.deepEqual(
    sends(model.applyEvent(reply(second[0]!, { room: "crowd", members: ["erin"], total: 5 }))),
    [],
  );
  assert.deepEqual(model.active.members, ["alice", "bob", "carol", "dave", "erin"]);
  // Quiet: the pages show in the member count, not as lines.
  assert.doesNotMatch(screen(model), /#crowd \(5\)/);
  assert.match(screen(model), /5 people/);
});

Deno.test("tui model: a /rooms page says how to get the next one; later pages feed Tab", () => {
  const model = makeModel({ columns: 120 });
  join(model, "general");
  model.applyEvent(reply({ type: "rooms" }, {
    rooms: [{ name: "art", members: 1, topic: "" }, { name: "dev", members: 2, topic: "" }],
    total: 9,
    more: true,
  }));
  assert.match(screen(model), /rooms \(9, this page\):/);
  assert.match(screen(model), /more rooms: \/rooms after dev/);
  // A later page adds to the rooms Tab completes.
  model.applyEvent(reply({ type: "rooms", after: "dev" }, {
    rooms: [{ name: "ops", members: 1, topic: "" }],
    total: 9,
  }));
  type(model, "/join a");
  keys(model, namedKey("tab"));
  assert.equal(model.input.text, "/join art ", "the first page's rooms stay");
});

// ---- typing (docs/protocol.md, section 22)

Deno.test("tui model: who is typing shows in the status line, goes on done, on their message or after 6 s", () => {
  let now = T0;
  const model = new TuiModel({
    nick: "alice",
    server: "127.0.0.1:7007",
    columns: 100,
    rows: 20,
    utc: true,
    now: () => now,
  });
  join(model, "dev");
  const status = () => screenText(buildView(model)).at(-2) ?? "";
  const typing = (from: string, state: "active" | "paused" | "done"): ClientEvent => ({
    type: "typing",
    room: "dev",
    from,
    state,
    ts: now,
  });
  model.applyEvent(typing("bob", "active"));
  assert.deepEqual(model.typing, ["bob"]);
  assert.match(status(), /│ bob is typing/);
  model.applyEvent(typing("carol", "active"));
  assert.match(status(), /bob and carol are typing/);
  model.applyEvent(typing("carol", "paused"));
  assert.deepEqual(model.typing, ["bob"]);
  // Their message ends it.
  model.applyEvent(message("dev", "bob", "here it is", 1));
  assert.deepEqual(model.typing, []);
  // Expiry: 6 s after the last active, without a word from them.
  model.applyEvent(typing("bob", "active"));
  now += 5999;
  assert.deepEqual(model.typing, ["bob"]);
  now += 1;
  assert.deepEqual(model.typing, []);
  assert.doesNotMatch(status(), /typing/);
  // Elsewhere: not shown in #dev; and our own typing never is.
  model.applyEvent({ type: "typing", from: "dave", to: "alice", state: "active", ts: now });
  model.applyEvent(typing("alice", "active"));
  assert.deepEqual(model.typing, []);
});

Deno.test("tui model: typing is sent at most every 3 s, paused when idle, done on send or clear", () => {
  let now = T0;
  const model = new TuiModel({
    nick: "alice",
    server: "127.0.0.1:7007",
    columns: 100,
    rows: 20,
    utc: true,
    now: () => now,
    sendTyping: true,
  });
  join(model, "dev");
  const typed = (text: string) => sends(model.handleKey({ kind: "text", text }));
  assert.deepEqual(typed("h"), [{ type: "typing", room: "dev", state: "active" }]);
  now += 1000;
  assert.deepEqual(typed("i"), []);
  now += 2000;
  assert.deepEqual(typed("!"), [{ type: "typing", room: "dev", state: "active" }]);
  // Idle: paused after 5 s, once.
  now += 4999;
  assert.deepEqual(sends(model.tick()), []);
  now += 1;
  assert.deepEqual(sends(model.tick()), [{ type: "typing", room: "dev", state: "paused" }]);
  assert.deepEqual(sends(model.tick()), []);
  // Sending: the message, then done.
  now += 3000;
  assert.deepEqual(sends(model.handleKey(namedKey("enter"))), [
    { type: "say", room: "dev", body: "hi!" },
    { type: "typing", room: "dev", state: "done" },
  ]);
  // A command is not a message being typed; /typing off stops it all.
  now += 3000;
  assert.deepEqual(typed("/who"), []);
  model.handleKey(namedKey("enter"));
  for (const key of "/typing off") model.handleKey({ kind: "text", text: key });
  model.handleKey(namedKey("enter"));
  now += 3000;
  assert.deepEqual(typed("x"), []);
});
