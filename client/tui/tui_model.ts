/**
 * The full-screen client's state and behaviour without a terminal: the
 * conversations, the input, completion, scrolling, unread counts and the
 * connection status. Keys and client events go in; state changes, and the
 * effects the runner must carry out (send a request, ring the bell, quit)
 * come out. The view is computed from this state by `tui_view.ts`.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { COMMAND_HELP } from "../../shared/commands.ts";
import { describeFile } from "../../shared/file_fields.ts";
import {
  type DirectMessageEvent,
  isReplyTo,
  type MessageChangeEvent,
  type RequestBody,
  type ResultOf,
  type RoomMessageEvent,
  type TimelineEntry,
} from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import {
  CLIENT_COMMAND_HELP,
  parseClientCommand,
  REGISTER_PROMPT_HELP,
} from "../client_commands.ts";
import { type ClientEvent, type ReplyEvent, replyOf } from "../client_event.ts";
import type { FileCommand } from "../file_commands.ts";
import { type ColorDepth, describeError, formatResult } from "../format.ts";
import { commandNames, type Completion, cycleCompletion, startCompletion } from "./completion.ts";
import {
  Conversation,
  conversationKey,
  type ConversationKind,
  type MessageEntry,
} from "./conversation.ts";
import { InputBuffer } from "./input_buffer.ts";
import { inputRows } from "./input_view.ts";
import { conversationRows, type ScrollWindow, scrollWindow } from "./scrollback.ts";
import { graphemes } from "./text_width.ts";
import { computeLayout, type TuiLayout } from "./tui_layout.ts";
import type { TuiKey } from "./tui_key_decoder.ts";
import { TypingIndicators, TypingSender } from "./typing_state.ts";

/** Something the runner must do for the model. */
export type TuiEffect =
  /** Send a request; its reply comes back as a `reply` event. */
  | { type: "send"; request: RequestBody }
  /** Say goodbye and leave. */
  | { type: "quit"; reason?: string }
  /** Ring the terminal bell. */
  | { type: "bell" }
  /** A desktop notification (OSC 777 / OSC 9). */
  | { type: "notify"; title: string; body: string }
  /** Clear the screen and draw everything again. */
  | { type: "redraw" }
  /** Turn mouse reporting on or off. */
  | { type: "mouse"; enabled: boolean }
  /** The user has seen the direct messages from `peer` up to id `upTo`: tell the server. */
  | { type: "read"; peer: string; upTo: number }
  /** `/upload` or `/download`: run it, telling its progress to {@linkcode TuiModel.fileNotice}. */
  | { type: "file"; command: FileCommand; currentRoom: string | undefined; conversation: number };

/** The connection as the status line shows it. */
export interface ConnectionStatus {
  /** Connected, trying again, or gone for good. */
  state: "connected" | "reconnecting" | "closed";
  /** Round-trip time of the last `ping` request, in ms. */
  rttMs?: number;
  /** Why it is not connected, and what happens next. */
  detail?: string;
}

/** Options for {@linkcode TuiModel}. */
export interface TuiModelOptions {
  /** The user's nickname. */
  nick: string;
  /** The server, as shown: "127.0.0.1:7007". */
  server: string;
  /** Terminal columns. */
  columns: number;
  /** Terminal rows. */
  rows: number;
  /** Colour support. Default 0. */
  color?: ColorDepth;
  /** Times and days in UTC (tests). */
  utc?: boolean;
  /** Messages asked for per page of older history. Default 50. */
  historyPageSize?: number;
  /** Most entries kept per conversation. Default 5000. */
  maxEntries?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Whether the user is logged in to an account (it may register later):
   * only accounts have DM history and unread counts. Default: never.
   */
  hasAccount?: () => boolean;
  /** Whether the user's typing is sent (section 22); shown typing does not need it. Default false. */
  sendTyping?: boolean;
}

/** Keys and commands of the full-screen client, for `/help`. */
export const TUI_KEY_HELP: ReadonlyArray<readonly [string, string]> = [
  ["Enter", "send"],
  ["Alt+Enter, Shift+Enter, Ctrl+J", "new line in the message"],
  ["Up/Down", "input history (lines, in a multi-line message)"],
  ["Tab, Shift+Tab", "complete commands, nicknames (recent speakers first), #rooms"],
  ["Alt+1..9, Alt+0", "go to conversation 1..10"],
  ["Ctrl+N/Ctrl+P, Alt+Right/Left", "next / previous conversation"],
  ["PgUp/PgDn, Shift+Up/Down, wheel", "scroll (older history loads at the top)"],
  ["Ctrl+Home/Ctrl+End, Esc", "top / back to the newest"],
  ["Ctrl+A/E, Ctrl+U/K/W", "start / end of line, delete to start / end / word"],
  ["Alt+M", "mouse wheel on/off (off lets the terminal select text)"],
  ["Ctrl+L", "redraw"],
  ["Ctrl+C, /quit", "quit"],
  ["/query NICK, /close, /clear", "open a DM, close this conversation, clear it"],
];

const CLIENT_COMMANDS = ["/query", "/close", "/clear", "/mouse"];
const COMMANDS = commandNames(CLIENT_COMMANDS);
const WORD = "[\\p{L}\\p{N}_\\-\\[\\]\\\\`^{}|]";

/** Whether `body` names `nick` as a word (case-insensitive). */
export function mentions(body: string, nick: string): boolean {
  const key = nameKey(nick).replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp(`(?<!${WORD})${key}(?!${WORD})`, "u").test(nameKey(body));
}

/** What section 21 adds to a room message's entry: its room, reply, edit, tombstone, reactions. */
function changedParts(message: RoomMessageEvent): Partial<MessageEntry> {
  return {
    room: message.room,
    ...(message.replyTo === undefined ? {} : { replyTo: message.replyTo }),
    ...(message.edited === undefined ? {} : { edited: message.edited }),
    ...(message.deleted === undefined ? {} : { deleted: message.deleted }),
    ...(message.reactions === undefined || message.reactions.length === 0
      ? {}
      : { reactions: message.reactions }),
  };
}

/**
 * The state of the full-screen client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TuiModel } from "./tui_model.ts";
 * const model = new TuiModel({ nick: "alice", server: "127.0.0.1:7007", columns: 80, rows: 24 });
 * const effects = model.start("general");
 * assert.deepEqual(effects, [{ type: "send", request: { type: "join", room: "general" } }]);
 * model.handleKey({ kind: "text", text: "hi" });
 * assert.equal(model.input.text, "hi");
 * ```
 */
export class TuiModel {
  /** What is being typed. */
  readonly input: InputBuffer = new InputBuffer();
  #conversations: Conversation[];
  #active = 0;
  #nick: string;
  #server: string;
  #columns: number;
  #rows: number;
  #color: ColorDepth;
  #utc: boolean;
  #historyPageSize: number;
  #maxEntries: number;
  #now: () => number;
  #hasAccount: () => boolean;
  /** A password being typed for /register: never shown, never in the input history. */
  #secret: { label: string; input: InputBuffer; first?: string } | undefined;
  #completion: Completion | undefined;
  #pendingPaste: string | undefined;
  #connection: ConnectionStatus = { state: "connected" };
  #mouse = true;
  /** Requests the model sent for itself: their replies are not shown. */
  #quiet = new WeakSet<RequestBody>();
  /** Rooms seen in a `/rooms` reply, for completion. */
  #knownRooms: string[] = [];
  /** Who is typing where, and what this user's typing told the server (section 22). */
  #typingShown = new TypingIndicators();
  #typingSent = new TypingSender();
  /** `/typing off` stops both showing and sending typing. */
  #typingOn = true;
  #sendTyping: boolean;

  /** Makes the model with only the server buffer. */
  constructor(options: TuiModelOptions) {
    this.#nick = options.nick;
    this.#server = options.server;
    this.#columns = options.columns;
    this.#rows = options.rows;
    this.#color = options.color ?? 0;
    this.#utc = options.utc ?? false;
    this.#historyPageSize = options.historyPageSize ?? 50;
    this.#maxEntries = options.maxEntries ?? 5000;
    this.#now = options.now ?? Date.now;
    this.#hasAccount = options.hasAccount ?? (() => false);
    this.#sendTyping = options.sendTyping ?? false;
    this.#conversations = [
      new Conversation("server", options.server, { maxEntries: this.#maxEntries }),
    ];
  }

  // ------------------------------------------------------------ state for the view

  /** The conversations in list order; the server buffer first. */
  get conversations(): readonly Conversation[] {
    return this.#conversations;
  }

  /** The conversation on screen. */
  get active(): Conversation {
    return this.#conversations[this.#active]!;
  }

  /** Its index in {@linkcode TuiModel.conversations}. */
  get activeIndex(): number {
    return this.#active;
  }

  /** The user's nickname. */
  get nick(): string {
    return this.#nick;
  }

  /** The server address shown. */
  get server(): string {
    return this.#server;
  }

  /** Colour support. */
  get color(): ColorDepth {
    return this.#color;
  }

  /** Whether times are in UTC. */
  get utc(): boolean {
    return this.#utc;
  }

  /** The connection status. */
  get connection(): ConnectionStatus {
    return this.#connection;
  }

  /** Whether mouse reporting (wheel scrolling) is on. */
  get mouse(): boolean {
    return this.#mouse;
  }

  /** What the input asks for while a password is typed (nothing of it is shown), else undefined. */
  get secretPrompt(): string | undefined {
    return this.#secret?.label;
  }

  /** A multi-line paste waiting for the user to say what to do with it. */
  get pendingPaste(): string | undefined {
    return this.#pendingPaste;
  }

  /** The prompt before the input, e.g. "[#general] ". */
  get prompt(): string {
    const active = this.active;
    const name = active.kind === "room"
      ? `#${active.name}`
      : active.kind === "dm"
      ? `@${active.name}`
      : active.name;
    return `[${name}] `;
  }

  /** Pane sizes for the current terminal size and input. */
  get layout(): TuiLayout {
    const prompt = this.prompt;
    const wanted = this.#pendingPaste === undefined && this.#secret === undefined
      ? inputRows({
        clusters: this.input.clusters,
        cursor: this.input.cursor,
        prompt,
        width: this.#columns,
      }).rows.length
      : 1;
    return computeLayout({ columns: this.#columns, rows: this.#rows, inputRows: wanted });
  }

  /** The scrollback rows the active conversation shows now. */
  window(): ScrollWindow {
    return this.#window(this.active);
  }

  // ------------------------------------------------------------ inputs

  /** The first requests: join `room` when given. */
  start(room?: string): TuiEffect[] {
    this.#serverBuffer.notice(
      `Connected to ${this.#server} as ${this.#nick}. /help lists commands and keys.`,
      this.#now(),
      "status",
    );
    return room === undefined ? [] : [this.#send({ type: "join", room })];
  }

  /** Follows a terminal resize. */
  resize(columns: number, rows: number): void {
    this.#columns = Math.max(1, columns);
    this.#rows = Math.max(1, rows);
    for (const conversation of this.#conversations) {
      conversation.scroll = Math.min(conversation.scroll, this.#window(conversation).maxScroll);
    }
  }

  /** Records a round-trip time measured with a `ping` request. */
  setRtt(ms: number): void {
    this.#connection = { ...this.#connection, rttMs: Math.round(ms) };
  }

  /** The connection ended for good. */
  setClosed(reason?: string): void {
    this.#connection = reason === undefined
      ? { state: "closed" }
      : { state: "closed", detail: reason };
  }

  /** Shows a log record in the server buffer. */
  log(text: string, error = false): void {
    const buffer = this.#serverBuffer;
    this.#keepPosition(buffer, () => buffer.notice(text, this.#now(), error ? "error" : "status"));
  }

  /** Applies one key press and returns what must be done. */
  handleKey(key: TuiKey): TuiEffect[] {
    const conversation = this.active;
    const before = this.input.text;
    const effects = this.#handleKey(key);
    return [...effects, ...this.#typingAfter(conversation, before)];
  }

  // ------------------------------------------------------------ typing (section 22)

  /** Who is typing in the conversation on screen, now (for the status line). */
  get typing(): string[] {
    if (!this.#typingOn) return [];
    return this.#typingShown.typing(this.active.key, this.#now());
  }

  /**
   * Called every second or so: typing left idle becomes `paused`; returns
   * what to send (the runner redraws, so expired indicators go).
   */
  tick(): TuiEffect[] {
    if (!this.#typingOn || !this.#sendTyping) return [];
    return this.#typingSent.idle(this.#now()).flatMap(([key, state]) => {
      const conversation = this.#conversations.find((candidate) => candidate.key === key);
      return conversation === undefined ? [] : this.#typingRequest(conversation, state);
    });
  }

  /** What the input's change in `conversation` tells the server. */
  #typingAfter(conversation: Conversation, before: string): TuiEffect[] {
    const text = this.input.text;
    if (!this.#typingOn || !this.#sendTyping || text === before || this.#secret !== undefined) {
      return [];
    }
    const state = this.#typingSent.edited(conversation.key, text, this.#now());
    return state === undefined ? [] : this.#typingRequest(conversation, state);
  }

  #typingRequest(conversation: Conversation, state: "active" | "paused" | "done"): TuiEffect[] {
    if (conversation.kind === "room" && conversation.joined) {
      return [this.#send({ type: "typing", room: conversation.name, state }, true)];
    }
    if (conversation.kind === "dm") {
      return [this.#send({ type: "typing", to: conversation.name, state }, true)];
    }
    return [];
  }

  #handleKey(key: TuiKey): TuiEffect[] {
    if (this.#secret !== undefined) return this.#secretKey(key);
    if (this.#pendingPaste !== undefined) return this.#answerPaste(key);
    const tab = key.kind === "key" && key.name === "tab" && !key.ctrl && !key.alt;
    if (!tab) this.#completion = undefined;
    switch (key.kind) {
      case "text":
        this.input.insert(key.text);
        return [];
      case "paste": {
        const text = key.text.replace(/\n+$/, "");
        if (text.includes("\n")) {
          this.#pendingPaste = text;
        } else {
          this.input.insert(text);
        }
        return [];
      }
      case "wheel":
        return this.#scrollBy(-key.lines);
      case "key":
        return this.#namedKey(key);
    }
  }

  /** Applies one client event and returns what must be done. */
  applyEvent(event: ClientEvent): TuiEffect[] {
    const now = this.#now();
    switch (event.type) {
      case "message": {
        const conversation = this.#room(event.room);
        this.#typingShown.stop(conversation.key, event.from);
        const entry = this.#messageEntry(event);
        // A reply to one of the user's messages is for them, named or not (section 21).
        const answered = event.replyTo === undefined
          ? undefined
          : conversation.message(event.replyTo);
        if (answered?.self === true && !entry.self) entry.mention = true;
        return this.#deliver(conversation, entry);
      }
      case "edit":
      case "delete":
      case "react":
      case "unreact":
        this.#change(event);
        return [];
      case "dm": {
        const outgoing = nameKey(event.from) === nameKey(this.#nick);
        const peer = outgoing ? event.to : event.from;
        const [conversation, opened] = this.#dm(peer);
        this.#typingShown.stop(conversation.key, event.from);
        return [
          ...opened,
          ...this.#deliver(conversation, {
            ...this.#messageEntry(event),
            // A direct message to us is always worth a look.
            mention: !outgoing,
          }),
        ];
      }
      case "join": {
        const conversation = this.#room(event.room);
        this.#keepPosition(conversation, () => conversation.membership(event.nick, true, event.ts));
        conversation.addMember(event.nick);
        if (this.#isSelf(event.nick)) conversation.joined = true;
        return [];
      }
      case "leave": {
        const conversation = this.#find("room", event.room);
        if (conversation === undefined) return [];
        this.#keepPosition(
          conversation,
          () => conversation.membership(event.nick, false, event.ts, event.reason),
        );
        conversation.removeMember(event.nick);
        if (this.#isSelf(event.nick)) {
          conversation.joined = false;
          conversation.setMembers([]);
        }
        return [];
      }
      case "nick":
        this.#renamed(event.from, event.to, event.ts);
        return [];
      case "typing": {
        if (this.#isSelf(event.from)) return [];
        const key = event.room === undefined
          ? conversationKey("dm", event.from)
          : conversationKey("room", event.room);
        this.#typingShown.set(key, event.from, event.state, now);
        return [];
      }
      case "away": {
        // Shown where it matters: the server buffer, and a DM with them if open.
        const text = event.message === undefined
          ? `${event.nick} is back`
          : `${event.nick} is away: ${event.message}`;
        const dm = this.#find("dm", event.nick);
        for (const target of dm === undefined ? [this.#serverBuffer] : [this.#serverBuffer, dm]) {
          this.#keepPosition(target, () => target.notice(text, event.ts, "status"));
        }
        return [];
      }
      case "topic": {
        const conversation = this.#room(event.room);
        conversation.topic = event.topic;
        conversation.notice(
          event.topic === ""
            ? `${event.by} cleared the topic`
            : `${event.by} set the topic: ${event.topic}`,
          event.ts,
        );
        return [];
      }
      case "notice": {
        // A dm's answer from a user away (section 22) goes with the conversation.
        const awayDm = event.away !== undefined && event.from !== undefined
          ? this.#find("dm", event.from)
          : undefined;
        const target = awayDm ??
          (event.room === undefined ? undefined : this.#find("room", event.room)) ??
          this.#serverBuffer;
        const text = event.from === undefined
          ? event.body
          : event.away !== undefined
          ? event.body
          : `broadcast from ${event.from}: ${event.body}`;
        this.#keepPosition(target, () => target.notice(text, event.ts));
        if (target !== this.active) target.unread++;
        // Direct messages that waited for us: their conversations, with the counts.
        const effects: TuiEffect[] = [];
        for (const { peer, count } of event.unread ?? []) {
          const [conversation, opened] = this.#dm(peer);
          effects.push(...opened);
          // The stored messages just delivered are among those counted: not twice.
          conversation.unread = Math.max(conversation.unread, count);
          conversation.mention = true;
        }
        return effects;
      }
      case "bye":
        this.#everywhere(
          `server closed the connection: ${event.message} (${event.code})`,
          now,
          "error",
        );
        return [];
      case "error":
        this.active.notice(`error: ${event.message} (${event.code})`, now, "error");
        return [];
      case "reconnecting": {
        const seconds = (event.delayMs / 1000).toFixed(1);
        this.#connection = {
          state: "reconnecting",
          detail: `attempt ${event.attempt} in ${seconds}s: ${event.reason}`,
        };
        if (event.attempt === 1) {
          this.#everywhere(`disconnected (${event.reason}); reconnecting…`, now, "status");
        }
        return [];
      }
      case "reconnected": {
        this.#connection = { state: "connected" };
        const rooms = event.rooms.map((room) => `#${room}`).join(", ");
        this.#everywhere(`reconnected${rooms ? `; rejoined ${rooms}` : ""}`, now, "status");
        for (const failure of event.failed) {
          const conversation = this.#find("room", failure.room);
          if (conversation) {
            conversation.joined = false;
            conversation.notice(`could not rejoin: ${failure.message}`, now, "error");
          }
        }
        // Who came and went while we were away: ask again, quietly.
        return event.rooms.map((room) => this.#send({ type: "who", room }, true));
      }
      case "reply":
        return this.#onReply(event);
    }
  }

  // ------------------------------------------------------------ keys

  #namedKey(key: Extract<TuiKey, { kind: "key" }>): TuiEffect[] {
    const { name, ctrl, alt, shift } = key;
    if (alt && !ctrl && /^[0-9]$/.test(name)) {
      const index = name === "0" ? 9 : Number(name) - 1;
      return this.#select(index);
    }
    if (ctrl && !alt) {
      switch (name) {
        case "c":
          return [{ type: "quit" }];
        case "d":
          if (this.input.text === "") return [{ type: "quit" }];
          this.input.delete();
          return [];
        case "a":
          this.input.moveTo(this.input.lineStart());
          return [];
        case "e":
          this.input.moveTo(this.input.lineEnd());
          return [];
        case "b":
          this.input.moveBy(-1);
          return [];
        case "f":
          this.input.moveBy(1);
          return [];
        case "u":
          this.input.killToLineStart();
          return [];
        case "k":
          this.input.killToLineEnd();
          return [];
        case "w":
        case "backspace":
          this.input.killWordBack();
          return [];
        case "j":
        case "enter":
          this.input.newline();
          return [];
        case "l":
          return [{ type: "redraw" }];
        case "n":
          return this.#select(this.#active + 1, true);
        case "p":
          return this.#select(this.#active - 1, true);
        case "left":
          this.input.moveTo(this.input.wordStart());
          return [];
        case "right":
          this.input.moveTo(this.input.wordEnd());
          return [];
        case "home":
          return this.#scrollBy(Number.MAX_SAFE_INTEGER);
        case "end":
          return this.#scrollTo(0);
      }
      return [];
    }
    if (alt) {
      switch (name) {
        case "enter":
          this.input.newline();
          return [];
        case "left":
          return this.#select(this.#active - 1, true);
        case "right":
          return this.#select(this.#active + 1, true);
        case "b":
          this.input.moveTo(this.input.wordStart());
          return [];
        case "f":
          this.input.moveTo(this.input.wordEnd());
          return [];
        case "backspace":
          this.input.killWordBack();
          return [];
        case "m":
          return this.#toggleMouse();
      }
      return [];
    }
    switch (name) {
      case "enter":
        if (shift) {
          this.input.newline();
          return [];
        }
        return this.#submit();
      case "tab":
        this.#complete(shift ? -1 : 1);
        return [];
      case "backspace":
        this.input.backspace();
        return [];
      case "delete":
        this.input.delete();
        return [];
      case "left":
        this.input.moveBy(-1);
        return [];
      case "right":
        this.input.moveBy(1);
        return [];
      case "home":
        this.input.moveTo(this.input.lineStart());
        return [];
      case "end":
        this.input.moveTo(this.input.lineEnd());
        return [];
      case "up":
        if (shift) return this.#scrollBy(1);
        this.input.up();
        return [];
      case "down":
        if (shift) return this.#scrollBy(-1);
        this.input.down();
        return [];
      case "pageup":
        return this.#scrollBy(this.#page());
      case "pagedown":
        return this.#scrollBy(-this.#page());
      case "escape":
        return this.#scrollTo(0);
    }
    return [];
  }

  #answerPaste(key: TuiKey): TuiEffect[] {
    const text = this.#pendingPaste!;
    const answer = key.kind === "text"
      ? key.text.toLowerCase()
      : key.kind === "key" && key.name === "enter" && !key.alt
      ? "y"
      : key.kind === "key" && (key.name === "escape" || (key.ctrl && key.name === "c"))
      ? "n"
      : "";
    switch (answer) {
      case "y":
        this.#pendingPaste = undefined;
        return text.split("\n").filter((line) => line.trim() !== "").flatMap((line) =>
          this.#runLine(line)
        );
      case "m":
        this.#pendingPaste = undefined;
        return this.#runLine(text);
      case "e":
        this.#pendingPaste = undefined;
        this.input.insert(text);
        return [];
      case "n":
        this.#pendingPaste = undefined;
        return [];
      default:
        return [];
    }
  }

  /** A key while a password is typed: editing, Enter to go on, Esc or Ctrl+C to give up. */
  #secretKey(key: TuiKey): TuiEffect[] {
    const secret = this.#secret!;
    const input = secret.input;
    const now = this.#now();
    const giveUp = () => {
      this.#secret = undefined;
      this.active.notice("not registered", now, "status");
      return [];
    };
    switch (key.kind) {
      case "text":
        input.insert(key.text);
        return [];
      case "paste":
        input.insert(key.text.split("\n")[0]!);
        return [];
      case "wheel":
        return [];
    }
    const { name, ctrl, alt } = key;
    if (name === "escape" || (ctrl && name === "c")) return giveUp();
    if (ctrl && name === "d" && input.text === "") return giveUp();
    if (ctrl && name === "u") input.killToLineStart();
    else if ((ctrl && name === "w") || (alt && name === "backspace")) input.killWordBack();
    else if (name === "backspace" && !ctrl && !alt) input.backspace();
    else if (name === "enter" && !ctrl && !alt) {
      const typed = input.submit({ remember: false });
      if (typed === "") return giveUp();
      if (secret.first === undefined) {
        this.#secret = { label: "Repeat the password: ", input, first: typed };
        return [];
      }
      this.#secret = undefined;
      if (typed !== secret.first) {
        return this.#error("the passwords do not match; not registered");
      }
      return [this.#send({ type: "register", password: typed })];
    }
    return [];
  }

  #complete(step: 1 | -1): void {
    let completion = this.#completion;
    if (completion === undefined) {
      completion = startCompletion(this.input.clusters, this.input.cursor, {
        commands: COMMANDS,
        nicks: this.#nickCandidates(),
        rooms: this.#roomCandidates(),
      });
      if (completion === undefined) return;
      if (step === -1) completion = { ...completion, index: completion.candidates.length - 1 };
    } else {
      completion = cycleCompletion(completion, step);
    }
    const end = this.#completion === undefined ? this.input.cursor : this.#completion.start +
      graphemes(this.#completion.candidates[this.#completion.index]!).length;
    this.input.replace(completion.start, end, completion.candidates[completion.index]!);
    this.#completion = completion;
  }

  #nickCandidates(): string[] {
    const active = this.active;
    const self = nameKey(this.#nick);
    const names = active.kind === "dm" ? [active.name] : [...active.speakers, ...active.members];
    return names.filter((name) => nameKey(name) !== self);
  }

  #roomCandidates(): string[] {
    const joined = this.#conversations.filter((conversation) => conversation.kind === "room")
      .map((conversation) => conversation.name);
    return [...joined, ...this.#knownRooms];
  }

  #toggleMouse(): TuiEffect[] {
    this.#mouse = !this.#mouse;
    this.#serverBuffer.notice(
      this.#mouse ? "mouse wheel on" : "mouse wheel off: the terminal can select text again",
      this.#now(),
      "status",
    );
    return [{ type: "mouse", enabled: this.#mouse }];
  }

  // ------------------------------------------------------------ conversations

  get #serverBuffer(): Conversation {
    return this.#conversations[0]!;
  }

  #find(kind: ConversationKind, name: string): Conversation | undefined {
    const key = conversationKey(kind, name);
    return this.#conversations.find((conversation) => conversation.key === key);
  }

  #open(kind: ConversationKind, name: string): Conversation {
    const conversation = new Conversation(kind, name, { maxEntries: this.#maxEntries });
    this.#conversations.push(conversation);
    return conversation;
  }

  /** The room's conversation, made when it has none. */
  #room(name: string): Conversation {
    return this.#find("room", name) ?? this.#open("room", name);
  }

  /**
   * The conversation with `peer`, made when it has none; a new one asks
   * for the latest page of its history (accounts only).
   */
  #dm(peer: string): [Conversation, TuiEffect[]] {
    const found = this.#find("dm", peer);
    if (found !== undefined) return [found, []];
    const conversation = this.#open("dm", peer);
    if (!this.#hasAccount()) return [conversation, []];
    conversation.history = "loading";
    const request: RequestBody = { type: "dm_history", with: peer, limit: this.#historyPageSize };
    return [conversation, [this.#send(request, true)]];
  }

  /** Tells the server the newest direct message in `conversation` has been seen. */
  #seen(conversation: Conversation): TuiEffect[] {
    if (conversation.kind !== "dm" || !this.#hasAccount()) return [];
    for (let index = conversation.entries.length - 1; index >= 0; index--) {
      const entry = conversation.entries[index]!;
      if (entry.kind === "message" && !entry.self && entry.id !== undefined) {
        return [{ type: "read", peer: entry.from, upTo: entry.id }];
      }
    }
    return [];
  }

  #select(index: number, wrap = false): TuiEffect[] {
    const count = this.#conversations.length;
    if (wrap) index = (index + count) % count;
    if (index < 0 || index >= count) return [];
    this.#active = index;
    this.active.markRead();
    return this.#seen(this.active);
  }

  #activate(conversation: Conversation): TuiEffect[] {
    const index = this.#conversations.indexOf(conversation);
    return index >= 0 ? this.#select(index) : [];
  }

  #close(conversation: Conversation): void {
    const index = this.#conversations.indexOf(conversation);
    if (index <= 0) return;
    this.#conversations.splice(index, 1);
    if (this.#active >= index) this.#active = Math.max(0, this.#active - 1);
    this.active.markRead();
  }

  #isSelf(nick: string): boolean {
    return nameKey(nick) === nameKey(this.#nick);
  }

  #everywhere(text: string, ts: number, tone: "status" | "error"): void {
    this.#serverBuffer.notice(text, ts, tone);
    if (this.active !== this.#serverBuffer) this.active.notice(text, ts, tone);
  }

  #renamed(from: string, to: string, ts: number): void {
    const self = this.#isSelf(from);
    if (self) this.#nick = to;
    for (const conversation of this.#conversations) {
      if (conversation.kind === "room" && conversation.hasMember(from)) {
        conversation.rename(from, to);
        conversation.notice(`${from} is now known as ${to}`, ts);
      } else if (conversation.kind === "dm" && nameKey(conversation.name) === nameKey(from)) {
        conversation.name = to;
        conversation.notice(`${from} is now known as ${to}`, ts);
      }
    }
    if (self) this.#serverBuffer.notice(`you are now known as ${to}`, ts, "status");
  }

  #messageEntry(event: RoomMessageEvent | DirectMessageEvent): MessageEntry {
    const self = this.#isSelf(event.from);
    // A file reads as its line (section 23), with its caption when it has one.
    const file = event.file === undefined ? undefined : describeFile(event.file);
    const body = file === undefined
      ? event.body
      : event.body === event.file!.name
      ? file
      : `${file}: ${event.body}`;
    return {
      kind: "message",
      id: event.id,
      ts: event.ts,
      from: event.from,
      body,
      action: event.action ?? false,
      history: event.history ?? false,
      self,
      mention: !self && mentions(event.body, this.#nick),
      ...(event.type === "message" ? changedParts(event) : {}),
    };
  }

  /** Redraws the message a change changes in place, if its room's conversation holds it. */
  #change(change: MessageChangeEvent): void {
    const conversation = this.#find("room", change.room);
    if (conversation === undefined) return;
    // An edited text may name us or no longer; a tombstone names nobody.
    const mention = (entry: MessageEntry) => ({
      ...entry,
      mention: !entry.self && entry.deleted === undefined && mentions(entry.body, this.#nick),
    });
    // A reaction row may come or go: the rows on screen stay where they are.
    this.#keepPosition(conversation, () => conversation.change(change, mention));
  }

  /**
   * Takes the items of a join's history or a history page: the messages
   * where their ids put them, then the changes (catch-up) to those held.
   */
  #mergeTimeline(conversation: Conversation, items: readonly TimelineEntry[]): void {
    const messages = items.filter((item) => item.type === "message");
    conversation.mergeHistory(
      messages.map((message) => this.#messageEntry({ ...message, history: true })),
    );
    for (const item of items) {
      if (item.type !== "message") this.#change(item);
    }
  }

  /** Adds a message and decides what it is worth: unread, highlight, bell. */
  #deliver(conversation: Conversation, entry: MessageEntry): TuiEffect[] {
    let added = false;
    this.#keepPosition(conversation, () => added = conversation.add(entry));
    if (!added) return [];
    if (conversation.kind === "room" && !conversation.hasMember(entry.from) && !entry.history) {
      conversation.addMember(entry.from);
    }
    if (entry.self || entry.history) return [];
    // A direct message arriving in the conversation on screen is seen.
    const seen = conversation === this.active ? this.#seen(conversation) : [];
    if (conversation !== this.active) {
      conversation.unread++;
      if (entry.mention) conversation.mention = true;
    } else if (conversation.scroll > 0) {
      conversation.newBelow++;
    }
    if (!entry.mention) return seen;
    const where = conversation.kind === "room" ? ` in #${conversation.name}` : "";
    return [{ type: "bell" }, {
      type: "notify",
      title: `${entry.from}${where}`,
      body: entry.body,
    }, ...seen];
  }

  // ------------------------------------------------------------ scrolling

  #window(conversation: Conversation): ScrollWindow {
    const layout = this.layout;
    const rows = conversationRows(conversation, {
      width: layout.mainWidth,
      color: this.#color,
      utc: this.#utc,
    });
    return scrollWindow(rows, { height: layout.bodyHeight, scroll: conversation.scroll });
  }

  #page(): number {
    return Math.max(1, this.layout.bodyHeight - 2);
  }

  /** Scrolls back by `lines` (forward when negative); at the top, asks for older history. */
  #scrollBy(lines: number): TuiEffect[] {
    const conversation = this.active;
    const { maxScroll } = this.#window(conversation);
    const target = Math.max(0, Math.min(conversation.scroll + lines, maxScroll));
    conversation.scroll = target;
    if (target === 0) conversation.newBelow = 0;
    if (lines > 0 && target >= maxScroll) return this.#loadOlder(conversation);
    return [];
  }

  #scrollTo(position: number): TuiEffect[] {
    this.active.scroll = position;
    if (position === 0) this.active.newBelow = 0;
    return [];
  }

  /** Keeps the rows on screen still while `change` adds rows below them. */
  #keepPosition(conversation: Conversation, change: () => void): void {
    if (conversation.scroll === 0) {
      change();
      return;
    }
    const before = this.#window(conversation).maxScroll;
    change();
    const after = this.#window(conversation).maxScroll;
    conversation.scroll += Math.max(0, after - before);
  }

  #loadOlder(conversation: Conversation): TuiEffect[] {
    if (conversation.kind === "server" || !conversation.joined) return [];
    if (conversation.history !== "idle") return [];
    const before = conversation.oldestId;
    if (before === 1) {
      conversation.history = "done";
      return [];
    }
    conversation.history = "loading";
    // Stay at the top, where the "loading" line just appeared.
    conversation.scroll = this.#window(conversation).maxScroll;
    const page = {
      limit: this.#historyPageSize,
      ...(before === undefined ? {} : { before }),
    };
    const request: RequestBody = conversation.kind === "dm"
      ? { type: "dm_history", with: conversation.name, ...page }
      : { type: "history", room: conversation.name, ...page };
    return [this.#send(request, true)];
  }

  // ------------------------------------------------------------ sending

  #send(request: RequestBody, quiet = false): TuiEffect {
    if (quiet) this.#quiet.add(request);
    return { type: "send", request };
  }

  #submit(): TuiEffect[] {
    if (this.input.text.trim() === "") return [];
    // A password typed on the line stays out of the input history.
    const remember = !/^\/register\s+\S/i.test(this.input.text);
    const text = this.input.submit({ remember }).replace(/\n+$/, "");
    // Typing is a sign of attention: back to the newest messages.
    this.#scrollTo(0);
    return this.#runLine(text);
  }

  #error(text: string): TuiEffect[] {
    this.active.notice(text, this.#now(), "error");
    return [];
  }

  /** Runs one typed (or pasted) line: a message or a command. */
  #runLine(text: string): TuiEffect[] {
    const active = this.active;
    const now = this.#now();
    const command = /^\/(\S+)(?:\s+([\s\S]*))?$/.exec(text);
    const name = command?.[1]?.toLowerCase();
    const args = command?.[2]?.trim() ?? "";
    if (name === "query" || ((name === "msg" || name === "dm") && !/\s/.test(args))) {
      if (args === "" || /\s/.test(args)) return this.#error("Usage: /query NICK");
      const [conversation, opened] = this.#dm(args);
      return [...opened, ...this.#activate(conversation)];
    }
    if (name === "close" || name === "wc") {
      if (active.kind === "server") return this.#error("The server buffer stays open");
      if (active.kind === "room" && active.joined) {
        return [this.#send({ type: "leave", room: active.name })];
      }
      this.#close(active);
      return [];
    }
    if (name === "clear") {
      active.clear();
      return [];
    }
    if (name === "mouse") return this.#toggleMouse();
    if (active.kind === "dm" && (command === null || text.startsWith("//") || name === "me")) {
      if (name === "me") {
        if (args === "") return this.#error("Usage: /me ACTION");
        return [this.#send({ type: "dm", to: active.name, body: args, action: true })];
      }
      return [this.#send({ type: "dm", to: active.name, body: text.replace(/^\/\//, "/") })];
    }
    let parsed;
    try {
      parsed = parseClientCommand(text, {
        currentRoom: active.kind === "room" && active.joined ? active.name : undefined,
      }, { secretPrompt: true });
    } catch (error) {
      if (error instanceof ChatError && error.code === "not_in_room" && active.kind === "server") {
        return this.#error("This is the server buffer: /join ROOM, or switch with Alt+2");
      }
      return this.#error(describeError(error));
    }
    switch (parsed.kind) {
      case "help":
        for (
          const [usage, what] of [
            ...COMMAND_HELP,
            ...CLIENT_COMMAND_HELP,
            REGISTER_PROMPT_HELP,
            ...TUI_KEY_HELP,
          ]
        ) {
          active.notice(`${usage.padEnd(32)} ${what}`, now);
        }
        return [];
      case "register_prompt":
        this.#secret = {
          label: `New password for ${this.#nick} (not shown): `,
          input: new InputBuffer({ historySize: 0 }),
        };
        return [];
      case "quit":
        return [
          parsed.reason === undefined ? { type: "quit" } : {
            type: "quit",
            reason: parsed.reason,
          },
        ];
      case "switch": {
        const conversation = this.#find("room", parsed.room.replace(/^#/, ""));
        if (conversation !== undefined) return this.#activate(conversation);
        return [this.#send({ type: "join", room: parsed.room })];
      }
      case "upload":
      case "download":
        return [{
          type: "file",
          command: parsed,
          currentRoom: active.kind === "room" && active.joined ? active.name : undefined,
          conversation: this.#active,
        }];
      case "request":
        return [this.#send(parsed.request)];
      case "typing":
        this.#typingOn = parsed.on;
        active.notice(parsed.on ? "Typing shown and sent" : "Typing neither shown nor sent", now);
        return [];
    }
  }

  /** A line about a file transfer, in the conversation it was started from. */
  fileNotice(conversation: number, text: string, error = false): void {
    const target = this.#conversations[conversation] ?? this.active;
    target.notice(text, this.#now(), error ? "error" : "info");
  }

  // ------------------------------------------------------------ replies

  #onReply(event: ReplyEvent): TuiEffect[] {
    const { request } = event;
    const quiet = this.#quiet.has(request);
    const now = this.#now();
    // Requests for the next page of a list this reply is part of.
    let follow: TuiEffect[] = [];
    if (event.error !== undefined) {
      if (request.type === "history") {
        const conversation = this.#find("room", request.room);
        if (conversation !== undefined) {
          const code = event.error instanceof ChatError ? event.error.code : undefined;
          // An older server that does not know the request: stop asking.
          const unsupported = code === "unknown_command" || code === "bad_request";
          conversation.history = unsupported ? "unsupported" : "idle";
          if (!unsupported) {
            conversation.notice(`history: ${describeError(event.error)}`, now, "error");
          }
        }
        return [];
      }
      if (request.type === "dm_history") {
        const conversation = this.#find("dm", request.with);
        if (conversation !== undefined && conversation.history === "loading") {
          const code = event.error instanceof ChatError ? event.error.code : undefined;
          // A guest (forbidden) or an older server: no DM history to page through.
          const unsupported = code === "forbidden" || code === "unknown_command" ||
            code === "bad_request";
          conversation.history = unsupported ? "unsupported" : "idle";
        }
      }
      if (quiet || request.type === "ping") return [];
      return this.#error(`error: ${describeError(event.error)}`);
    }
    const reply = replyOf(event);
    if (reply === undefined) return [];
    if (isReplyTo(reply, "join")) return this.#joined(reply.result, quiet);
    if (isReplyTo(reply, "leave")) {
      const conversation = this.#find("room", reply.result.room);
      if (conversation !== undefined) this.#close(conversation);
      return [];
    }
    if (isReplyTo(reply, "who")) {
      follow = this.#members(reply.result.room, reply.result.members, {
        more: reply.result.more === true,
        firstPage: reply.request.after === undefined,
      });
    } else if (isReplyTo(reply, "history")) {
      const { request, result } = reply;
      const conversation = this.#find("room", request.room.replace(/^#/, ""));
      if (conversation === undefined) return [];
      const messages = result.messages;
      this.#mergeTimeline(conversation, messages);
      const limit = request.limit ?? this.#historyPageSize;
      const reachedStart = messages.length === 0 ||
        (result.more !== true && messages.length < limit) ||
        messages.some((message) => message.id <= 1);
      conversation.history = reachedStart ? "done" : "idle";
      return [];
    } else if (isReplyTo(reply, "dm_history")) {
      const { request, result } = reply;
      const peer = result.with;
      const messages = result.messages;
      // With nothing to show, /dmhistory opens no conversation: the lines below say so.
      if (quiet || messages.length > 0) {
        // Our own requests were for a conversation that may have been closed since.
        const conversation = quiet
          ? this.#find("dm", peer)
          : this.#find("dm", peer) ?? this.#open("dm", peer);
        if (conversation === undefined) return [];
        conversation.mergeHistory(
          messages.map((message) => this.#messageEntry({ ...message, history: true })),
        );
        // Paging back, a page the server did not cut (no `more`) reached the first message.
        conversation.history = request.after === undefined && result.more !== true
          ? "done"
          : "idle";
        if (quiet) return conversation === this.active ? this.#seen(conversation) : [];
        // Asked for with /dmhistory: shown where it belongs.
        return this.#activate(conversation);
      }
    } else if (isReplyTo(reply, "nick")) {
      // The nick event that came before the ack said it already.
      this.#nick = reply.result.nick;
      return [];
    } else if (isReplyTo(reply, "rooms")) {
      const names = reply.result.rooms.map((room) => room.name);
      // A later page (after NAME) adds to the names completion knows.
      this.#knownRooms = reply.request.after === undefined
        ? names
        : [...new Set([...this.#knownRooms, ...names])];
    } else if (isReplyTo(reply, "dm")) {
      if (reply.result.stored === true) {
        this.active.notice(
          `${reply.request.to} is offline; they will get it at their next login`,
          now,
          "status",
        );
      }
      return [];
    } else if (
      isReplyTo(reply, "say") || isReplyTo(reply, "ping") || isReplyTo(reply, "broadcast")
    ) {
      return [];
    } else if (
      isReplyTo(reply, "edit") || isReplyTo(reply, "delete") || isReplyTo(reply, "react") ||
      isReplyTo(reply, "unreact")
    ) {
      // The change shows in place; a reaction that changed nothing says so.
      for (const line of formatResult(reply.request, reply.result)) this.active.notice(line, now);
      return [];
    }
    if (quiet) return follow;
    const lines = formatResult(reply.request, reply.result, { color: 0 });
    const text = lines.length > 0 ? lines.join("\n") : `ok: /${request.type}`;
    this.active.notice(text, now);
    return follow;
  }

  /**
   * Takes a page of a room's members (from `join` or `who`): the first page
   * replaces the list, later ones add to it; while the server says there are
   * more, the next page is asked for, quietly.
   */
  #members(
    room: string,
    members: string[],
    page: { more: boolean; firstPage: boolean },
  ): TuiEffect[] {
    const name = room.replace(/^#/, "");
    const conversation = this.#find("room", name);
    if (conversation === undefined) return [];
    if (page.firstPage) conversation.setMembers(members);
    else conversation.addMembers(members);
    const last = members.at(-1);
    if (!page.more || last === undefined) return [];
    return [this.#send({ type: "who", room: name, after: last }, true)];
  }

  #joined(result: ResultOf<"join">, quiet: boolean): TuiEffect[] {
    const now = this.#now();
    const name = result.room;
    const conversation = this.#room(name);
    conversation.name = name;
    conversation.joined = true;
    if (conversation.history === "unsupported") conversation.history = "idle";
    const follow = this.#members(name, result.members, {
      more: result.membersMore === true,
      firstPage: true,
    });
    conversation.topic = result.topic;
    const gap = result.gap;
    if (gap !== undefined) {
      conversation.notice(
        `messages ${gap.after + 1} to ${gap.oldest - 1} are too old to recover`,
        now,
        "status",
      );
    }
    const history = result.history;
    this.#mergeTimeline(conversation, history);
    if (history.some((message) => message.id <= 1)) conversation.history = "done";
    if (result.more === true) {
      conversation.notice("more missed messages than fit: scroll up for older ones", now);
    }
    if (conversation.topic !== "") conversation.notice(`topic: ${conversation.topic}`, now);
    if (!quiet) this.#activate(conversation);
    return follow;
  }
}
