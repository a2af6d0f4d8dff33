/**
 * One conversation of the full-screen client (the server buffer, a room or
 * a direct-message peer): its scrollback entries, unread state, members,
 * topic, recent speakers and where its history loading stands. Text is kept
 * as it came; the view sanitizes when it makes spans.
 *
 * @module
 */
import { nameKey } from "../../shared/validation.ts";
import { applyChange, type MessageChange, type Reaction } from "../message_changes.ts";

/** A chat message in the scrollback. */
export interface MessageEntry {
  /** Always "message". */
  kind: "message";
  /** The message id (per room, or per server for DMs); absent for none. */
  id?: number;
  /** Server time, in ms since the epoch. */
  ts: number;
  /** Who sent it. */
  from: string;
  /** The body, line breaks as `\n`. */
  body: string;
  /** A `/me` action. */
  action: boolean;
  /** Replayed from history rather than delivered live. */
  history: boolean;
  /** Sent by the user. */
  self: boolean;
  /** Mentions the user by nickname. */
  mention: boolean;
  // Message changes (section 21): room messages only.
  /** The room, for a room message: its id can be named by /edit, /reply, ... */
  room?: string;
  /** The id of the message it answers. */
  replyTo?: number;
  /** When it was last edited. */
  edited?: number;
  /** Who deleted it and when: a tombstone, body "". */
  deleted?: { by: string; ts: number };
  /** Its reactions. */
  reactions?: Reaction[];
}

/** Joins and leaves in a row, folded into one line. */
export interface MembershipEntry {
  /** Always "membership". */
  kind: "membership";
  /** When the last of them happened. */
  ts: number;
  /** Who joined or left, in order; `reason` of a leave. */
  changes: ReadonlyArray<{ nick: string; joined: boolean; reason?: string }>;
}

/** How a notice reads: news, a failure, or something about the connection. */
export type NoticeTone = "info" | "error" | "status";

/** A line from the client or server that is not a chat message. */
export interface NoticeEntry {
  /** Always "notice". */
  kind: "notice";
  /** When it happened, in ms since the epoch. */
  ts: number;
  /** The text; may hold `\n` between lines. */
  text: string;
  /** How it is shown. */
  tone: NoticeTone;
}

/** Anything in a conversation's scrollback. */
export type Entry = MessageEntry | MembershipEntry | NoticeEntry;

/** The server buffer, a room, or a direct-message conversation. */
export type ConversationKind = "server" | "room" | "dm";

/** Where loading older history stands. */
export type HistoryState = "idle" | "loading" | "done" | "unsupported";

/** Options for {@linkcode Conversation}. */
export interface ConversationOptions {
  /** Most entries kept; the oldest go first. Default 5000. */
  maxEntries?: number;
}

/**
 * The key a conversation is found by: kind plus case-insensitive name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conversationKey } from "./conversation.ts";
 * assert.equal(conversationKey("room", "General"), "room:general");
 * ```
 */
export function conversationKey(kind: ConversationKind, name: string): string {
  return kind === "server" ? "server" : `${kind}:${nameKey(name)}`;
}

function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => nameKey(a).localeCompare(nameKey(b)));
}

/**
 * A conversation's state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Conversation } from "./conversation.ts";
 * const room = new Conversation("room", "general");
 * room.membership("bob", true, 1);
 * room.membership("eve", true, 2);
 * assert.equal(room.entries.length, 1); // folded into one line
 * ```
 */
export class Conversation {
  /** What kind of conversation. */
  readonly kind: ConversationKind;
  /** The name shown: room name, peer nickname, or server address. */
  name: string;
  /** Scrollback, oldest first. */
  entries: Entry[] = [];
  /** Messages that arrived while the user looked elsewhere. */
  unread = 0;
  /** Whether one of them mentioned the user (or was a DM to them). */
  mention = false;
  /** The room's topic. */
  topic = "";
  /** Whether the user is in the room (rooms only; DMs and the server buffer always true). */
  joined: boolean;
  /** Lines scrolled back from the bottom; 0 follows new messages. */
  scroll = 0;
  /** Messages that arrived below the view while scrolled back. */
  newBelow = 0;
  /** Loading older history on reaching the top. */
  history: HistoryState = "idle";
  #members: string[] = [];
  /** The messages held, by id. */
  #ids = new Map<number, MessageEntry>();
  #speakers: string[] = [];
  #maxEntries: number;

  /** Makes an empty conversation. */
  constructor(kind: ConversationKind, name: string, options: ConversationOptions = {}) {
    this.kind = kind;
    this.name = name;
    this.joined = kind !== "room";
    this.#maxEntries = options.maxEntries ?? 5000;
    if (kind !== "room") this.history = "unsupported";
  }

  /** The lookup key: see {@linkcode conversationKey}. */
  get key(): string {
    return conversationKey(this.kind, this.name);
  }

  /** Members, sorted case-insensitively. */
  get members(): readonly string[] {
    return this.#members;
  }

  /** Nicknames that spoke here, most recent first. */
  get speakers(): readonly string[] {
    return this.#speakers;
  }

  /** The id of the oldest message held, if any message has one. */
  get oldestId(): number | undefined {
    for (const entry of this.entries) {
      if (entry.kind === "message" && entry.id !== undefined) return entry.id;
    }
    return undefined;
  }

  /** Whether a message with this id is already held. */
  has(id: number): boolean {
    return this.#ids.has(id);
  }

  /** Appends an entry; a message already held (same id) is skipped. False when skipped. */
  add(entry: Entry): boolean {
    if (entry.kind === "message") {
      if (entry.id !== undefined) {
        if (this.#ids.has(entry.id)) return false;
        this.#ids.set(entry.id, entry);
      }
      if (!entry.history) this.noteSpeaker(entry.from);
    }
    this.entries.push(entry);
    this.#trim();
    return true;
  }

  /**
   * Adds messages from history where their ids put them: before any newer
   * message held, so a page of older history lands at the top. Returns how
   * many were new.
   */
  mergeHistory(messages: readonly MessageEntry[]): number {
    let added = 0;
    const sorted = [...messages].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    const oldest = this.oldestId;
    let top = 0;
    for (const message of sorted) {
      if (message.id !== undefined && this.#ids.has(message.id)) continue;
      let position: number;
      if (oldest === undefined || (message.id ?? 0) < oldest) {
        // Older than anything held: at the very top, above notices and join lines.
        position = top++;
      } else {
        position = this.entries.findIndex((entry) =>
          entry.kind === "message" && (entry.id ?? Infinity) > (message.id ?? 0)
        );
        // Newer than every message: before what followed the last one (a join line).
        if (position === -1) position = this.#afterLastMessage();
      }
      this.entries.splice(position, 0, message);
      if (message.id !== undefined) this.#ids.set(message.id, message);
      added++;
    }
    this.#trim();
    return added;
  }

  /** The message with this id, if held. */
  message(id: number): MessageEntry | undefined {
    return this.#ids.get(id);
  }

  /**
   * Applies an edit, delete, react or unreact to the message it changes,
   * in place: the entry is replaced by a new object (views cache rows per
   * entry object), so it is redrawn where it is; `adjust` may amend the
   * changed entry first (what depends on its new text). Returns the
   * changed message, or undefined when none is held or nothing changed.
   */
  change(
    change: MessageChange,
    adjust: (entry: MessageEntry) => MessageEntry = (entry) => entry,
  ): MessageEntry | undefined {
    const held = this.#ids.get(change.target);
    if (held === undefined) return undefined;
    const applied = applyChange(held, change);
    if (applied === undefined) return undefined;
    const changed = adjust(applied);
    // The newest are likeliest to change.
    this.entries[this.entries.lastIndexOf(held)] = changed;
    this.#ids.set(change.target, changed);
    return changed;
  }

  /** Records a join or leave, folded into the last line when that is one too. */
  membership(nick: string, joined: boolean, ts: number, reason?: string): void {
    const change = reason === undefined ? { nick, joined } : { nick, joined, reason };
    const last = this.entries.at(-1);
    if (last?.kind === "membership") {
      // A new object: views cache lines per entry object.
      this.entries[this.entries.length - 1] = {
        kind: "membership",
        ts,
        changes: [...last.changes, change],
      };
      return;
    }
    this.add({ kind: "membership", ts, changes: [change] });
  }

  /** Adds a notice line. */
  notice(text: string, ts: number, tone: NoticeTone = "info"): void {
    this.add({ kind: "notice", ts, text, tone });
  }

  /** Replaces the member list. */
  setMembers(names: Iterable<string>): void {
    this.#members = sortNames(new Set(names));
  }

  /** Adds members (a later page of the list); those present stay once. */
  addMembers(names: Iterable<string>): void {
    const known = new Set(this.#members.map(nameKey));
    const added = [...names].filter((name) => !known.has(nameKey(name)));
    if (added.length > 0) this.#members = sortNames([...this.#members, ...added]);
  }

  /** Adds a member (no-op when present). */
  addMember(nick: string): void {
    if (!this.hasMember(nick)) this.#members = sortNames([...this.#members, nick]);
  }

  /** Removes a member. */
  removeMember(nick: string): void {
    const key = nameKey(nick);
    this.#members = this.#members.filter((name) => nameKey(name) !== key);
    this.#speakers = this.#speakers.filter((name) => nameKey(name) !== key);
  }

  /** Whether `nick` is a member. */
  hasMember(nick: string): boolean {
    const key = nameKey(nick);
    return this.#members.some((name) => nameKey(name) === key);
  }

  /** Follows a nickname change in members and speakers. */
  rename(from: string, to: string): void {
    const key = nameKey(from);
    const swap = (name: string) => nameKey(name) === key ? to : name;
    this.#members = sortNames(this.#members.map(swap));
    this.#speakers = this.#speakers.map(swap);
  }

  /** Moves `nick` to the front of the recent speakers. */
  noteSpeaker(nick: string): void {
    const key = nameKey(nick);
    this.#speakers = [nick, ...this.#speakers.filter((name) => nameKey(name) !== key)].slice(
      0,
      100,
    );
  }

  /** Forgets unread state (the user is looking). */
  markRead(): void {
    this.unread = 0;
    this.mention = false;
  }

  /** Empties the scrollback. */
  clear(): void {
    this.entries = [];
    this.#ids.clear();
    this.scroll = 0;
    this.newBelow = 0;
  }

  #afterLastMessage(): number {
    for (let index = this.entries.length - 1; index >= 0; index--) {
      if (this.entries[index]!.kind === "message") return index + 1;
    }
    return 0;
  }

  #trim(): void {
    while (this.entries.length > this.#maxEntries) {
      const dropped = this.entries.shift()!;
      if (dropped.kind === "message" && dropped.id !== undefined) this.#ids.delete(dropped.id);
      // Older history can be fetched again once we scroll up to it.
      if (this.history === "done") this.history = "idle";
    }
  }
}
