// The browser chat client: the framed protocol over /ws, one binary
// WebSocket message per frame. Everything from the server is shown with
// textContent, never parsed as HTML, and with hidden characters made
// visible (visible.js). Requests go through chat_wire.js, whose results are
// typed by shared/protocol.ts; `deno task check` checks this file against
// those types with the browser's library (browser_check.json), JSDoc only:
// the page loads nothing but these scripts.
import { Wire } from "./chat_wire.js";
import { applyChange, renderMessage } from "./message_view.js";
import { decodeFrame, encodeFrame } from "./msgpack.js";
import { visible } from "./visible.js";

/** @typedef {import("../../../shared/protocol.ts").ServerFrame} ServerFrame */
/** @typedef {import("../../../shared/protocol.ts").ChatEvent} ChatEvent */
/** @typedef {import("../../../shared/protocol.ts").RoomMessageEvent} RoomMessageEvent */
/** @typedef {import("../../../shared/protocol.ts").MessageChangeEvent} MessageChangeEvent */
/** @typedef {import("../../../shared/protocol.ts").TimelineEntry} TimelineEntry */

/**
 * The page's element with this id (the page has every one this script names).
 * @param {string} id
 * @returns {HTMLInputElement}
 */
const $ = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
const PROTOCOL = "1.0";

/**
 * @typedef {object} RoomView
 * @property {string} name
 * @property {string} topic
 * @property {Set<string>} members
 * @property {HTMLElement[]} lines
 * @property {Map<number, { message: RoomMessageEvent, item: HTMLElement }>} messages by id
 */

const state = {
  /** @type {WebSocket | null} */
  socket: null,
  nick: "",
  /** @type {Map<string, RoomView>} room key -> what is shown of it */
  rooms: new Map(),
  /** @type {string | null} */
  current: null,
  closed: false,
};

/** @param {string} name */
const key = (name) => name.normalize("NFKC").toLowerCase();

/** @param {object} frame */
function send(frame) {
  if (state.socket?.readyState === WebSocket.OPEN) {
    state.socket.send(/** @type {Uint8Array<ArrayBuffer>} */ (encodeFrame(frame)));
  }
}

const wire = new Wire(send);

/**
 * Sends a request; resolves with its ack's result, typed by its type.
 * @template {import("./chat_wire.js").RequestBody} B
 * @param {B} body
 */
function request(body) {
  return wire.request(body);
}

/** @param {number} ts */
function time(ts) {
  const date = new Date(ts);
  return date.toTimeString().slice(0, 5);
}

// Files (docs/protocol.md section 23).

/** @typedef {import("../../../shared/protocol.ts").FileInfo} FileInfo */

/** @param {number} bytes */
function fileSize(bytes) {
  if (bytes < 1000) return bytes + " B";
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return value.toFixed(1) + " " + units[unit];
}

/**
 * A download link to /files/ID (same origin). A click asks the server for a
 * signed link first (file_url: the browser sends no credentials with a
 * plain GET), then opens it: the server sends it as an attachment.
 * @param {FileInfo} file
 */
function fileLink(file) {
  const link = document.createElement("a");
  link.className = "file";
  link.href = "/files/" + encodeURIComponent(file.id);
  link.download = file.name;
  link.textContent = visible(
    "[file] " + file.name + " (" + fileSize(file.size) + ", " +
      file.type + ")",
  );
  link.addEventListener("click", (event) => {
    event.preventDefault();
    request({ type: "file_url", file: file.id }).then(
      (result) => globalThis.location.assign(result.url),
      (error) => system("Cannot download " + file.name + ": " + error.message),
    );
  });
  return link;
}

/**
 * Shows a line in room `roomKey` (or in whatever room is shown, for null).
 * @param {string | null} roomKey
 * @param {{ ts?: number, from?: string | undefined, body: string, kind: string, file?: FileInfo }} line
 */
function line(roomKey, { ts, from, body, kind, file }) {
  const item = document.createElement("li");
  item.className = kind;
  const stamp = document.createElement("time");
  stamp.textContent = time(ts ?? Date.now());
  item.append(stamp);
  if (from !== undefined) {
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = visible(from);
    item.append(who);
  }
  const text = document.createElement("span");
  text.className = "body";
  if (file === undefined) {
    text.textContent = visible(body);
  } else {
    text.append(fileLink(file));
    if (body !== file.name) text.append(" " + visible(body));
  }
  item.append(text);
  place(roomKey, item);
}

/**
 * Adds a list item to room `roomKey`'s lines (or to whatever is shown, for null).
 * @param {string | null} roomKey
 * @param {HTMLElement} item
 */
function place(roomKey, item) {
  const room = roomKey === null ? null : state.rooms.get(roomKey);
  if (room) room.lines.push(item);
  if (roomKey === null || roomKey === state.current) {
    const log = $("log");
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    log.append(item);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }
}

/**
 * @param {string} body
 * @param {string | null} [roomKey]
 */
function system(body, roomKey = state.current) {
  line(roomKey, { body, kind: "system" });
}

function renderRooms() {
  const nav = $("rooms");
  nav.replaceChildren();
  for (const [roomKey, room] of state.rooms) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "#" + visible(room.name);
    button.dataset.room = room.name;
    if (roomKey === state.current) button.className = "current";
    button.addEventListener("click", () => show(roomKey));
    nav.append(button);
  }
}

function renderMembers() {
  const list = $("member-list");
  list.replaceChildren();
  const room = state.current === null ? undefined : state.rooms.get(state.current);
  if (!room) return;
  for (const nick of [...room.members].sort()) {
    const item = document.createElement("li");
    item.textContent = visible(nick);
    list.append(item);
  }
}

/** @param {string | null} roomKey */
function show(roomKey) {
  state.current = roomKey;
  const room = roomKey === null ? undefined : state.rooms.get(roomKey);
  $("log").replaceChildren(...(room?.lines ?? []));
  $("log").scrollTop = $("log").scrollHeight;
  $("topic").textContent = room?.topic ? "Topic: " + visible(room.topic) : "";
  renderRooms();
  renderMembers();
}

/**
 * @param {string} name
 * @param {string | undefined} roomKeyword
 */
async function join(name, roomKeyword) {
  const result = await request({
    type: "join",
    room: name,
    ...(roomKeyword ? { key: roomKeyword } : {}),
  });
  const roomKey = key(result.room);
  const room = state.rooms.get(roomKey) ??
    { name: result.room, topic: "", members: new Set(), lines: [], messages: new Map() };
  room.topic = result.topic;
  room.members = new Set(result.members);
  state.rooms.set(roomKey, room);
  show(roomKey);
  for (const entry of result.history) timeline(roomKey, { ...entry, history: true });
  system("You joined #" + result.room, roomKey);
  // A crowded room's members come in pages: follow them for the member list.
  let more = result.membersMore === true;
  let last = result.members.at(-1);
  while (more && last !== undefined) {
    const page = await request({ type: "who", room: result.room, after: last });
    for (const nick of page.members) room.members.add(nick);
    more = page.more === true;
    last = page.members.at(-1);
    if (state.current === roomKey) renderMembers();
  }
}

const HELP = "Commands: /join ROOM [KEY], /leave, /msg NICK TEXT, /me ACTION, /nick NICK, " +
  "/topic TEXT, /who [ROOM] [after NAME], /users [after NAME], /rooms [after NAME], " +
  "/away [MESSAGE], /back, /search TEXT [#ROOM], " +
  "/reply ID TEXT, /edit ID TEXT, /delete ID, /react ID EMOJI, /unreact ID EMOJI, /quit";

// ---- away and typing (docs/protocol.md, section 22)

/** How long an `active` from someone is shown without another, in ms. */
const TYPING_SHOWN_MS = 6000;
/** Least time between two typing states sent for one room (a `done` aside), in ms. */
const TYPING_SEND_MS = 3000;
/** Idle time after which our typing is `paused`, in ms. */
const TYPING_PAUSE_MS = 5000;

const typing = {
  /** @type {Map<string, Map<string, number>>} room key -> nick -> when its last active came */
  shown: new Map(),
  /** @type {{ room: string, state: "active" | "paused" | "done", at: number } | null} */
  sent: null,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  pause: undefined,
};

/** Shows who is typing in the room on screen, until they stop or TYPING_SHOWN_MS pass. */
function renderTyping() {
  const now = Date.now();
  const typers = state.current === null ? undefined : typing.shown.get(state.current);
  const names = [];
  for (const [nick, at] of typers ?? []) {
    if (now - at < TYPING_SHOWN_MS) names.push(nick);
    else typers?.delete(nick);
  }
  $("typing").textContent = names.length === 0
    ? ""
    : names.length > 2
    ? names.length + " people are typing"
    : visible(names.join(" and ")) + (names.length === 1 ? " is typing" : " are typing");
}
setInterval(renderTyping, 1000);

/**
 * Notes a typing event: `active` shows the sender in its room, anything else stops it.
 * @param {string} roomKey
 * @param {string} nick
 * @param {boolean} active
 */
function noteTyping(roomKey, nick, active) {
  let typers = typing.shown.get(roomKey);
  if (active) {
    if (typers === undefined) typing.shown.set(roomKey, typers = new Map());
    typers.set(nick, Date.now());
  } else {
    typers?.delete(nick);
  }
  if (roomKey === state.current) renderTyping();
}

/**
 * Tells the room on screen that we are typing, paused or done: `active` at
 * most every TYPING_SEND_MS, `paused` after TYPING_PAUSE_MS without a key,
 * `done` when the input is sent or cleared.
 * @param {"active" | "paused" | "done"} wanted
 */
function sendTyping(wanted) {
  const room = roomShown();
  clearTimeout(typing.pause);
  if (room === undefined) return;
  const now = Date.now();
  const last = typing.sent?.room === room.name ? typing.sent : null;
  if (wanted === "done" || wanted === "paused") {
    if (last === null || last.state !== "active") return;
  } else if (last !== null && now - last.at < TYPING_SEND_MS) {
    typing.pause = setTimeout(() => sendTyping("paused"), TYPING_PAUSE_MS);
    return;
  }
  typing.sent = { room: room.name, state: wanted, at: now };
  request({ type: "typing", room: room.name, state: wanted }).catch(() => {});
  if (wanted === "active") typing.pause = setTimeout(() => sendTyping("paused"), TYPING_PAUSE_MS);
}

/** The room on screen, if any. */
function roomShown() {
  return state.current === null ? undefined : state.rooms.get(state.current);
}

/**
 * The names of a who or users page, those away with their message.
 * @param {string[]} names
 * @param {Array<{ nick: string, message: string }> | undefined} away
 */
function withAway(names, away) {
  const messages = new Map((away ?? []).map((entry) => [entry.nick, entry.message]));
  return names.map((name) => {
    const message = messages.get(name);
    return message === undefined ? name : name + " (away: " + message + ")";
  }).join(", ");
}

/** `after NAME` at the end of a list command's words, as a request's cursor. */
/**
 * @param {string[]} words
 * @returns {{ after?: string }}
 */
function cursor(words) {
  const at = words.length - 2;
  const after = words[at + 1];
  return at >= 0 && words[at]?.toLowerCase() === "after" && after !== undefined ? { after } : {};
}

/** What to type for the next page of a list reply with `more`. */
/**
 * @param {{ more?: true }} result
 * @param {string | undefined} last
 * @param {string} command
 */
function nextPage(result, last, command) {
  return result.more && last !== undefined ? "; more: " + command + " after " + last : "";
}

// ---------------------------------------------------------------- search (protocol section 24)

/** Words as a search compares them: lower case, accents removed (docs/protocol.md section 24). */
const SEARCH_WORD = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{M}]*/gu;

/** @param {string} word */
const foldWord = (word) => word.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

/**
 * `body` as text with the words the search names in <mark>.
 * @param {string} body
 * @param {Set<string>} wanted
 */
function markedBody(body, wanted) {
  const span = document.createElement("span");
  span.className = "body";
  let at = 0;
  for (const found of body.matchAll(SEARCH_WORD)) {
    if (!wanted.has(foldWord(found[0]))) continue;
    span.append(visible(body.slice(at, found.index)));
    const mark = document.createElement("mark");
    mark.textContent = visible(found[0]);
    span.append(mark);
    at = found.index + found[0].length;
  }
  span.append(visible(body.slice(at)));
  return span;
}

/**
 * `/search [after:CURSOR] TEXT [#ROOM]`: the results in the log, newest
 * first, each with its room (or DM partner), id, time, sender and body.
 * @param {string} arg
 */
async function search(arg) {
  let text = arg;
  /** @type {{ room?: string, cursor?: string }} */
  const where = {};
  const first = /^after:(\S+)\s+(.*)$/s.exec(text);
  if (first) [where.cursor, text] = [first[1] ?? "", first[2] ?? ""];
  const last = /^(.*\S)\s+#(\S+)$/s.exec(text);
  if (last) [text, where.room] = [last[1] ?? "", last[2] ?? ""];
  if (!text.trim()) return system("Usage: /search TEXT [#ROOM]");
  const result = await request({ type: "search", text, ...where });
  const wanted = new Set((text.match(SEARCH_WORD) ?? []).map(foldWord));
  const scope = where.room === undefined ? "" : " in #" + where.room;
  system(
    result.results.length === 0
      ? 'No results for "' + text + '"' + scope
      : 'Search "' + text + '"' + scope + ":",
  );
  for (const found of result.results) {
    const item = document.createElement("li");
    item.className = "search";
    const stamp = document.createElement("time");
    stamp.textContent = new Date(found.ts).toLocaleString();
    const place = document.createElement("span");
    place.className = "where";
    place.textContent = (found.room === undefined ? "@" + visible(found.with ?? "") : "#" +
      visible(found.room)) + " (" + found.id + ")";
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = visible(found.from);
    item.append(stamp, place, who, markedBody(found.body, wanted));
    const room = state.current === null ? undefined : state.rooms.get(state.current);
    room?.lines.push(item);
    $("log").append(item);
  }
  $("log").scrollTop = $("log").scrollHeight;
  if (result.cursor !== undefined) {
    system(
      "More results: /search after:" + result.cursor + " " + text +
        (where.room ? " #" + where.room : ""),
    );
  }
}

/** @param {string} text */
async function command(text) {
  const room = state.current === null ? undefined : state.rooms.get(state.current);
  if (!text.startsWith("/") || text.startsWith("//")) {
    if (!room) return system("Join a room first: /join ROOM");
    await request({
      type: "say",
      room: room.name,
      body: text.startsWith("//") ? text.slice(1) : text,
    });
    return;
  }
  const [word = "", ...rest] = text.slice(1).split(" ");
  const arg = rest.join(" ").trim();
  switch (word.toLowerCase()) {
    case "join":
      return await join(rest[0] ?? "", rest[1]);
    case "leave": {
      const name = arg || room?.name;
      if (name === undefined) return;
      await request({ type: "leave", room: name });
      state.rooms.delete(key(name));
      show(state.rooms.keys().next().value ?? null);
      return;
    }
    case "msg": {
      const [to = "", ...words] = rest;
      await request({ type: "dm", to, body: words.join(" ") });
      return;
    }
    case "me":
      if (!room) return system("Join a room first: /join ROOM");
      await request({ type: "say", room: room.name, body: arg, action: true });
      return;
    case "nick": {
      const result = await request({ type: "nick", nick: arg });
      state.nick = result.nick;
      $("me").textContent = state.nick;
      return;
    }
    case "topic":
      if (!room) return;
      await request({ type: "topic", room: room.name, ...(arg ? { topic: arg } : {}) });
      return;
    case "who": {
      const page = cursor(rest);
      const named = rest.length === 1 || rest.length === 3 ? rest[0] : "";
      const result = await request({ type: "who", room: named || room?.name || "", ...page });
      return system(
        "In #" + result.room + " (" + result.total + "): " + withAway(result.members, result.away) +
          nextPage(result, result.members.at(-1), "/who " + result.room),
      );
    }
    case "users": {
      const result = await request({ type: "users", ...cursor(rest) });
      return system(
        "Online (" + result.total + "): " + withAway(result.users, result.away) +
          nextPage(result, result.users.at(-1), "/users"),
      );
    }
    case "rooms": {
      const result = await request({ type: "rooms", ...cursor(rest) });
      return system(
        "Rooms (" + result.total + "): " +
          result.rooms.map((r) => "#" + r.name + " (" + r.members + ")").join(", ") +
          nextPage(result, result.rooms.at(-1)?.name, "/rooms"),
      );
    }
    case "away": {
      const result = await request({ type: "away", message: arg || "away" });
      return system("You are away: " + (result.away ?? arg));
    }
    case "back":
      await request({ type: "away" });
      return system("You are back");
    case "search":
      return await search(arg);
    case "reply":
    case "edit":
    case "delete":
    case "react":
    case "unreact":
      if (!room) return system("Join a room first: /join ROOM");
      return await changeCommand(word.toLowerCase(), room.name, rest);
    case "quit":
      await request({ type: "quit" });
      return;
    case "help":
      return system(HELP);
    default:
      return system("Unknown command /" + word + ". " + HELP);
  }
}

// ------------------------------------------------------- message changes (section 21)

/**
 * Shows an entry of a room's timeline: a message as a new line, a change
 * (live or from catch-up) by drawing the message it changes again where it
 * is, with the replies that quote it; a change to a message not shown is
 * ignored.
 * @param {string} roomKey
 * @param {TimelineEntry} entry
 */
function timeline(roomKey, entry) {
  const room = state.rooms.get(roomKey);
  if (!room) return;
  if (entry.type === "message") {
    const known = room.messages.get(entry.id);
    const item = known?.item ?? document.createElement("li");
    room.messages.set(entry.id, { message: entry, item });
    const quoted = entry.replyTo === undefined ? undefined : room.messages.get(entry.replyTo);
    renderMessage(item, entry, quoted?.message, { fileLink });
    if (known === undefined) place(roomKey, item);
    return;
  }
  const held = room.messages.get(entry.target);
  const changed = held === undefined ? undefined : applyChange(held.message, entry);
  if (held === undefined || changed === undefined) return;
  held.message = changed;
  renderMessage(held.item, changed, room.messages.get(changed.replyTo ?? 0)?.message, {
    fileLink,
  });
  for (const reply of room.messages.values()) {
    if (reply.message.replyTo === entry.target) {
      renderMessage(reply.item, reply.message, changed, { fileLink });
    }
  }
}

/**
 * `/reply ID TEXT`, `/edit ID TEXT`, `/delete ID`, `/react ID EMOJI`,
 * `/unreact ID EMOJI` in room `room`: IDs as the messages show them (#42).
 * @param {string} command
 * @param {string} room
 * @param {string[]} words
 */
async function changeCommand(command, room, words) {
  // The text as typed after the id, inner spacing kept.
  const match = /^\s*#?(\d+)(?:\s+([\s\S]*))?$/.exec(words.join(" "));
  const target = Number(match?.[1] ?? NaN);
  const text = (match?.[2] ?? "").trim();
  const usage = {
    reply: "/reply ID TEXT",
    edit: "/edit ID TEXT",
    delete: "/delete ID",
    react: "/react ID EMOJI",
    unreact: "/unreact ID EMOJI",
  }[command] ?? "";
  const needsText = command !== "delete";
  if (!Number.isSafeInteger(target) || target < 1 || (needsText && text === "")) {
    return system("Usage: " + usage);
  }
  switch (command) {
    case "reply":
      await request({ type: "say", room, body: text, replyTo: target });
      return;
    case "edit":
      await request({ type: "edit", room, target, body: text });
      return;
    case "delete":
      await request({ type: "delete", room, target });
      return;
    case "react":
    case "unreact": {
      const result = await request({ type: command, room, target, emoji: text });
      if (result.unchanged) {
        system(command === "react" ? "You had reacted so already" : "You had not reacted so");
      }
      return;
    }
  }
}

/** @param {ChatEvent} frame */
function onEvent(frame) {
  switch (frame.type) {
    case "message":
      noteTyping(key(frame.room), frame.from, false);
      timeline(key(frame.room), frame);
      return;
    case "edit":
    case "delete":
    case "react":
    case "unreact":
      timeline(key(frame.room), frame);
      return;
    case "dm": {
      const peer = frame.from === state.nick ? "→ " + frame.to : frame.from;
      line(null, {
        ts: frame.ts,
        from: peer,
        body: frame.body,
        kind: "dm",
        ...(frame.file === undefined ? {} : { file: frame.file }),
      });
      return;
    }
    case "join": {
      const room = state.rooms.get(key(frame.room));
      if (!room) return;
      room.members.add(frame.nick);
      if (frame.nick !== state.nick) system(frame.nick + " joined", key(frame.room));
      if (key(frame.room) === state.current) renderMembers();
      return;
    }
    case "leave": {
      const roomKey = key(frame.room);
      const room = state.rooms.get(roomKey);
      if (!room) return;
      room.members.delete(frame.nick);
      system(frame.nick + " left" + (frame.reason ? " (" + frame.reason + ")" : ""), roomKey);
      if (frame.nick === state.nick) {
        state.rooms.delete(roomKey);
        show(state.rooms.keys().next().value ?? null);
      } else if (roomKey === state.current) renderMembers();
      return;
    }
    case "nick":
      for (const [roomKey, room] of state.rooms) {
        if (room.members.delete(frame.from)) {
          room.members.add(frame.to);
          system(frame.from + " is now " + frame.to, roomKey);
        }
      }
      renderMembers();
      return;
    case "topic": {
      const room = state.rooms.get(key(frame.room));
      if (!room) return;
      room.topic = frame.topic;
      system(frame.by + " set the topic: " + frame.topic, key(frame.room));
      if (key(frame.room) === state.current) {
        $("topic").textContent = "Topic: " + visible(frame.topic);
      }
      return;
    }
    case "away": {
      // In each room shown that has them, and the room on screen for oneself.
      const text = frame.message === undefined
        ? frame.nick + " is back"
        : frame.nick + " is away: " + frame.message;
      for (const [roomKey, room] of state.rooms) {
        if (room.members.has(frame.nick)) system(text, roomKey);
      }
      return;
    }
    case "typing":
      if (frame.room !== undefined) {
        noteTyping(key(frame.room), frame.from, frame.state === "active");
      }
      return;
    case "notice":
      line(frame.room ? key(frame.room) : null, {
        ts: frame.ts,
        from: frame.from,
        body: frame.body,
        kind: "system notice",
      });
      return;
  }
}

/** @param {ServerFrame} frame */
function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      state.nick = frame.nick;
      $("me").textContent = frame.nick;
      $("login").hidden = true;
      $("chat").hidden = false;
      $("status").textContent = "connected";
      join($("room").value.trim() || "general", undefined).catch((error) => system(error.message));
      $("input").focus();
      return;
    case "ack":
    case "error":
      if (!wire.settle(frame) && frame.type === "error") showError(frame.message);
      return;
    case "ping":
      send({ type: "pong" });
      return;
    case "bye":
      state.closed = true;
      showError(frame.message);
      $("status").textContent = "disconnected: " + frame.message;
      return;
    default:
      onEvent(frame);
  }
}

/** @param {string} message */
function showError(message) {
  if ($("chat").hidden) $("login-error").textContent = message;
  else system(message);
}

/**
 * @param {string} nick
 * @param {string} password
 */
function connect(nick, password) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(scheme + "//" + location.host + "/ws");
  socket.binaryType = "arraybuffer";
  state.socket = socket;
  state.closed = false;
  socket.addEventListener("open", () => {
    send({
      type: "hello",
      protocol: PROTOCOL,
      client: "chat-web",
      clientVersion: "1",
      nick,
      ...(password ? { password } : {}),
    });
  });
  socket.addEventListener("message", (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    try {
      onFrame(/** @type {ServerFrame} */ (decodeFrame(new Uint8Array(event.data))));
    } catch (error) {
      system("Bad frame from the server: " + /** @type {Error} */ (error).message);
    }
  });
  socket.addEventListener("close", () => {
    wire.failAll(new Error("Disconnected"));
    if ($("chat").hidden) {
      if (!$("login-error").textContent) $("login-error").textContent = "Could not connect";
    } else {
      $("status").textContent = state.closed ? $("status").textContent : "disconnected";
    }
  });
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  connect($("nick").value.trim(), $("password").value);
  $("password").value = "";
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("input").value;
  if (text.trim() === "") return;
  $("input").value = "";
  if (!text.startsWith("/") || text.startsWith("//")) sendTyping("done");
  command(text).catch((error) => system(error.message));
});

$("input").addEventListener("input", () => {
  const text = $("input").value;
  const message = text.trim() !== "" && (!text.startsWith("/") || text.startsWith("//"));
  sendTyping(message ? "active" : "done");
});

$("quit").addEventListener("click", () => {
  request({ type: "quit" }).catch(() => {});
});
