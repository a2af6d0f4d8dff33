// The web client's room messages with their changes (docs/protocol.md,
// section 21): how an edit, delete, react or unreact event changes a message
// held (as client/message_changes.ts does for `chat join`: idempotent, since
// catch-up repeats what a message's state already shows), and how a message
// is drawn into its list item: id, sender, the message it answers, text or
// tombstone, edit mark, reactions. Text only, through textContent and
// visible(); no inline style (the page's CSP forbids it): classes in
// style.css. Plain browser JavaScript, served as /assets/message_view.js.
import { visible } from "./visible.js";

/** @typedef {import("../../../shared/protocol.ts").RoomMessageEvent} RoomMessageEvent */
/** @typedef {import("../../../shared/protocol.ts").MessageChangeEvent} MessageChangeEvent */
/** @typedef {import("../../../shared/protocol.ts").ReactionSummary} ReactionSummary */

/** Most nicknames a reaction lists (MAX_REACTION_USERS_LISTED); `count` is the full count. */
const LISTED_USERS = 20;

/** @param {string} name */
const key = (name) => name.normalize("NFKC").toLowerCase();

/**
 * @param {readonly ReactionSummary[]} reactions
 * @param {Extract<MessageChangeEvent, { type: "react" | "unreact" }>} change
 * @returns {ReactionSummary[] | undefined}
 */
function react(reactions, change) {
  const who = key(change.from);
  const index = reactions.findIndex((reaction) => reaction.emoji === change.emoji);
  const found = reactions[index];
  const listed = found !== undefined && found.users.some((user) => key(user) === who);
  if (change.type === "react") {
    if (listed) return undefined;
    if (found === undefined) {
      return [...reactions, { emoji: change.emoji, count: 1, users: [change.from] }];
    }
    const users = found.users.length < LISTED_USERS ? [...found.users, change.from] : found.users;
    return reactions.map((reaction, at) =>
      at === index ? { ...found, count: found.count + 1, users } : reaction
    );
  }
  if (found === undefined || (!listed && found.users.length >= found.count)) return undefined;
  if (found.count <= 1) return reactions.filter((_, at) => at !== index);
  const users = found.users.filter((user) => key(user) !== who);
  return reactions.map((reaction, at) =>
    at === index ? { ...found, count: found.count - 1, users } : reaction
  );
}

/**
 * `message` with `change` applied, or undefined when it changes nothing
 * (a tombstone, another message, already so).
 * @param {RoomMessageEvent} message
 * @param {MessageChangeEvent} change
 * @returns {RoomMessageEvent | undefined}
 */
export function applyChange(message, change) {
  if (change.target !== message.id || message.deleted !== undefined) return undefined;
  switch (change.type) {
    case "edit":
      if (message.edited !== undefined && change.ts < message.edited) return undefined;
      return { ...message, body: change.body, edited: change.ts };
    case "delete": {
      const { reactions: _, edited: __, ...rest } = message;
      return { ...rest, body: "", deleted: { by: change.by, ts: change.ts } };
    }
    case "react":
    case "unreact": {
      const reactions = react(message.reactions ?? [], change);
      if (reactions === undefined) return undefined;
      const { reactions: _, ...rest } = message;
      return reactions.length === 0 ? rest : { ...rest, reactions };
    }
  }
}

/**
 * The start of `body` on one line, `…` after `length` characters.
 * @param {string} body
 * @param {number} length
 */
function firstWords(body, length = 40) {
  const line = body.replace(/\s+/g, " ").trim();
  const chars = [...line];
  return chars.length <= length ? line : chars.slice(0, length).join("").trimEnd() + "…";
}

/**
 * @param {string} className
 * @param {string} text
 */
function part(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

/** @param {number} ts */
function clock(ts) {
  return new Date(ts).toTimeString().slice(0, 5);
}

/**
 * Draws `message` into `item` (its list item, made again from scratch, so
 * a change redraws it where it is): `quoted` is the message it answers, if
 * the page holds it.
 * @param {HTMLElement} item
 * @param {RoomMessageEvent} message
 * @param {RoomMessageEvent | undefined} quoted
 * @param {{ fileLink?: (file: NonNullable<RoomMessageEvent["file"]>) => HTMLElement }} [options]
 *   how a shared file is drawn (section 23): a link the page handles
 */
export function renderMessage(item, message, quoted, options = {}) {
  item.className = message.history ? "message history" : "message";
  if (message.deleted !== undefined) item.classList.add("deleted");
  item.dataset.id = String(message.id);
  const stamp = document.createElement("time");
  stamp.textContent = clock(message.ts);
  /** @type {HTMLElement[]} */
  const parts = [stamp, part("msg-id", "#" + message.id)];
  if (message.replyTo !== undefined) {
    const answered = quoted === undefined
      ? "#" + message.replyTo
      : quoted.deleted !== undefined
      ? quoted.from + ": [deleted by " + quoted.deleted.by + "]"
      : quoted.from + ": " + firstWords(quoted.body);
    const reply = part("reply", visible("↪ " + answered));
    reply.dataset.replyTo = String(message.replyTo);
    parts.push(reply);
  }
  if (message.deleted !== undefined) {
    parts.push(part("from", visible(message.from)));
    parts.push(part("body tombstone", visible("[deleted by " + message.deleted.by + "]")));
  } else if (message.file !== undefined && options.fileLink !== undefined) {
    const body = part("body", "");
    body.append(options.fileLink(message.file));
    if (message.body !== message.file.name) body.append(" " + visible(message.body));
    parts.push(part("from", visible(message.from)), body);
  } else if (message.action) {
    parts.push(part("body", visible("* " + message.from + " " + message.body)));
  } else {
    parts.push(part("from", visible(message.from)), part("body", visible(message.body)));
  }
  if (message.edited !== undefined && message.deleted === undefined) {
    parts.push(part("edited", "(edited " + clock(message.edited) + ")"));
  }
  if (message.reactions !== undefined && message.reactions.length > 0) {
    const reactions = document.createElement("span");
    reactions.className = "reactions";
    for (const reaction of message.reactions) {
      const chip = part("reaction", visible(reaction.emoji + " " + reaction.count));
      chip.title = visible(reaction.users.join(", "));
      reactions.append(chip);
    }
    parts.push(reactions);
  }
  item.replaceChildren(...parts);
}
