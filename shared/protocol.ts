/**
 * The wire protocol's frame types and the validation functions that define
 * them. See docs/protocol.md for the contract in prose.
 *
 * @module
 */
import { ChatError, type ErrorCode, type ErrorFrame, isErrorCode } from "./errors.ts";
import { validateBody, validateNick, validateRoom, validateTopic } from "./validation.ts";

/** The protocol version this build speaks, `MAJOR.MINOR`. */
export const PROTOCOL_VERSION = "1.0";
/** The major version: a peer with another major version is refused. */
export const PROTOCOL_MAJOR = 1;

/** Limits the server announces in `welcome`. */
export interface ServerLimits {
  maxFrameBytes: number;
  maxBodyLength: number;
  maxQueueBytes: number;
  rateBurst: number;
  ratePerSecond: number;
  heartbeatMs: number;
}

// ---------------------------------------------------------------- client -> server

/** First frame from a client. */
export interface HelloFrame {
  type: "hello";
  protocol: string;
  client: string;
  clientVersion: string;
  nick: string;
  /** Needed for a registered nickname (and for every login under `--auth required`). */
  password?: string;
  /**
   * The `resume` token of an earlier `welcome`: a session of this nickname
   * that still holds that token (its connection died silently) is taken
   * over at once instead of the nickname being `name_taken`.
   */
  resume?: string;
}

/** Requests a client may send after `hello`; each carries a client-chosen `id`. */
export type Request =
  | {
    type: "join";
    id: number;
    room: string;
    /** The last message id seen in this room: the server replays what came after. */
    since?: number;
    /** The room's key, when it has one. */
    key?: string;
  }
  | { type: "leave"; id: number; room: string }
  | {
    type: "say";
    id: number;
    room: string;
    body: string;
    action?: boolean;
    /** The client's id for this message: a retry with the same one is not posted twice. */
    clientMsgId?: string;
  }
  | {
    type: "dm";
    id: number;
    to: string;
    body: string;
    action?: boolean;
    /** The client's id for this message: a retry with the same one is not posted twice. */
    clientMsgId?: string;
  }
  | { type: "broadcast"; id: number; body: string }
  | {
    type: "rooms";
    id: number;
    /** A room name: the page starts after it (by name key). */
    after?: string;
    limit?: number;
  }
  | { type: "who"; id: number; room: string; after?: string; limit?: number }
  | { type: "users"; id: number; after?: string; limit?: number }
  | { type: "topic"; id: number; room: string; topic?: string }
  | { type: "nick"; id: number; nick: string }
  | { type: "ping"; id: number }
  | { type: "quit"; id: number; reason?: string }
  | { type: "history"; id: number; room: string; before?: number; after?: number; limit?: number }
  | {
    type: "dm_history";
    id: number;
    with: string;
    before?: number;
    after?: number;
    limit?: number;
  }
  | { type: "read"; id: number; with: string; upTo: number }
  | { type: "register"; id: number; password: string }
  | {
    type: ModerationType;
    id: number;
    room: string;
    nick: string;
    reason?: string;
    durationMs?: number;
  }
  | { type: "mode"; id: number; room: string; inviteOnly?: boolean; key?: string | null };

/** Moderation requests: each names a room and a user. */
export type ModerationType =
  | "op"
  | "deop"
  | "kick"
  | "ban"
  | "unban"
  | "mute"
  | "unmute"
  | "invite"
  | "uninvite";

/** Every moderation request type. */
export const MODERATION_TYPES: readonly ModerationType[] = [
  "op",
  "deop",
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
  "invite",
  "uninvite",
];

/** A request without its id, as built from a slash command. */
export type RequestBody = Request extends infer R ? R extends Request ? Omit<R, "id"> : never
  : never;

/** The heartbeat answer; carries no id and gets no reply. */
export interface PongFrame {
  type: "pong";
}

/** Any frame a client may send. */
export type ClientFrame = HelloFrame | Request | PongFrame;

// ---------------------------------------------------------------- server -> client

/** The server's answer to `hello`. */
export interface WelcomeFrame {
  type: "welcome";
  protocol: string;
  server: string;
  session: string;
  nick: string;
  limits: ServerLimits;
  /** Present when logged in to an account. */
  account?: { admin: boolean };
  /** A secret that a later `hello` of this nickname may give to take this session over. */
  resume?: string;
}

/** Success reply to request `id`; `result` depends on the request. */
export interface AckFrame {
  type: "ack";
  id: number;
  result?: Record<string, unknown>;
}

/** A message in a room. `id` is monotonic per room; `ts` is server time in ms. */
export interface RoomMessageEvent {
  type: "message";
  room: string;
  from: string;
  body: string;
  id: number;
  ts: number;
  action?: boolean;
  /** Set on messages replayed from history rather than delivered live. */
  history?: boolean;
}

/** A direct message; delivered to the recipient and echoed to the sender. */
export interface DirectMessageEvent {
  type: "dm";
  from: string;
  to: string;
  body: string;
  id: number;
  ts: number;
  action?: boolean;
  /** Set on messages from history, including those stored while the recipient was offline. */
  history?: boolean;
}

/** Someone joined a room. */
export interface JoinEvent {
  type: "join";
  room: string;
  nick: string;
  ts: number;
}

/** Someone left a room (or disconnected). */
export interface LeaveEvent {
  type: "leave";
  room: string;
  nick: string;
  ts: number;
  reason?: string;
}

/** Someone changed nickname; sent to everyone sharing a room with them. */
export interface NickEvent {
  type: "nick";
  from: string;
  to: string;
  ts: number;
}

/** A room's topic changed. */
export interface TopicEvent {
  type: "topic";
  room: string;
  topic: string;
  by: string;
  ts: number;
}

/** A system notice (from the server, or a broadcast `from` a user). */
export interface NoticeEvent {
  type: "notice";
  body: string;
  ts: number;
  from?: string;
  /** The room a notice concerns (moderation, mode changes), if any. */
  room?: string;
  /** Unread direct messages per peer, in the notice sent after login. */
  unread?: Array<{ peer: string; count: number }>;
}

/** Heartbeat probe; answer with `pong`. */
export interface PingFrame {
  type: "ping";
}

/** The server is closing this connection, and why. */
export interface ByeFrame {
  type: "bye";
  code: ErrorCode;
  message: string;
}

/** Events delivered without a request. */
export type ChatEvent =
  | RoomMessageEvent
  | DirectMessageEvent
  | JoinEvent
  | LeaveEvent
  | NickEvent
  | TopicEvent
  | NoticeEvent;

/** Any frame a server may send. */
export type ServerFrame = WelcomeFrame | AckFrame | ErrorFrame | ChatEvent | PingFrame | ByeFrame;

// ---------------------------------------------------------------- parsing

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

function bad(message: string): ChatError {
  return new ChatError("bad_request", message);
}

function str(frame: Record<string, unknown>, key: string, max = 256): string {
  const value = frame[key];
  if (typeof value !== "string") {
    throw bad(`Invalid ${frame.type} frame: "${key}" must be a string`);
  }
  if (value.length > max) throw bad(`Invalid ${frame.type} frame: "${key}" longer than ${max}`);
  return value;
}

function optionalBool(frame: Record<string, unknown>, key: string): boolean | undefined {
  const value = frame[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") {
    throw bad(`Invalid ${frame.type} frame: "${key}" must be a boolean`);
  }
  return value;
}

function optionalInt(frame: Record<string, unknown>, key: string, min = 0): number | undefined {
  const value = frame[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw bad(`Invalid ${frame.type} frame: "${key}" must be an integer >= ${min}`);
  }
  return value;
}

function optionalStr(frame: Record<string, unknown>, key: string, max = 256): string | undefined {
  const value = frame[key];
  if (value === undefined || value === null) return undefined;
  return str(frame, key, max);
}

/** The characters and length of a resume token (base64url, as the server makes them). */
const RESUME_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

function optionalResumeToken(frame: Record<string, unknown>): string | undefined {
  const token = optionalStr(frame, "resume", 64);
  if (token !== undefined && !RESUME_TOKEN.test(token)) {
    throw bad('Invalid hello frame: "resume" must be a token from a welcome');
  }
  return token;
}

/** Copies the defined entries of `fields` (exactOptionalPropertyTypes forbids explicit undefined). */
function defined<T extends Record<string, unknown>>(
  fields: T,
): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out as never;
}

/** Largest page of history one request may ask for. */
export const MAX_HISTORY_PAGE = 500;

/** Longest `clientMsgId` of a `say` or `dm`, in characters (each one byte: printable ASCII). */
export const MAX_CLIENT_MSG_ID_LENGTH = 64;

// Printable ASCII, no space: UUIDs, ULIDs, counters and hashes fit.
const CLIENT_MSG_ID = /^[\x21-\x7e]+$/;

/**
 * Whether `value` may be a `clientMsgId`: 1 to
 * {@linkcode MAX_CLIENT_MSG_ID_LENGTH} printable ASCII characters
 * (`!` to `~`), so that it is also at most 64 bytes.
 *
 * @example
 * ```ts
 * import { isClientMsgId } from "./protocol.ts";
 * console.log(isClientMsgId(crypto.randomUUID())); // true
 * console.log(isClientMsgId("has space")); // false
 * ```
 */
export function isClientMsgId(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_CLIENT_MSG_ID_LENGTH &&
    CLIENT_MSG_ID.test(value);
}

function optionalClientMsgId(frame: Record<string, unknown>): string | undefined {
  const value = frame.clientMsgId;
  if (value === undefined || value === null) return undefined;
  if (!isClientMsgId(value)) {
    throw bad(
      `Invalid ${frame.type} frame: "clientMsgId" must be 1 to ${MAX_CLIENT_MSG_ID_LENGTH} printable ASCII characters without spaces`,
    );
  }
  return value;
}

/**
 * Most names (rooms, users, members) in one reply: frames carry at most
 * 1,024 array entries. Replies are also cut to fit the frame cap.
 */
export const MAX_LIST_PAGE = 1000;

/** The cursor fields of a list request: `after` a name, at most `limit` names. */
function listPage(frame: Record<string, unknown>): { after?: string; limit?: number } {
  return defined({ after: optionalStr(frame, "after"), limit: optionalInt(frame, "limit", 1) });
}

/**
 * The request id of a decoded frame, if it has a valid one; used to name the
 * request in an error reply even when the rest of the frame is bad.
 *
 * @example
 * ```ts
 * import { requestIdOf } from "./protocol.ts";
 * console.log(requestIdOf({ type: "join", id: 3 })); // 3
 * ```
 */
export function requestIdOf(value: unknown): number | undefined {
  if (!isRecord(value)) return undefined;
  const id = value.id;
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

/** Options for {@linkcode parseClientFrame}. */
export interface ParseOptions {
  /** Longest message body accepted, in code points. */
  maxBodyLength?: number;
}

/**
 * Validates a decoded frame from a client and returns it typed and
 * normalized (names in NFKC, `#` dropped from rooms). Throws a
 * {@linkcode ChatError} whose code says what is wrong.
 *
 * @example
 * ```ts
 * import { parseClientFrame } from "./protocol.ts";
 * const frame = parseClientFrame({ type: "join", id: 1, room: "#General" });
 * console.log(frame); // { type: "join", id: 1, room: "General" }
 * ```
 */
export function parseClientFrame(value: unknown, options: ParseOptions = {}): ClientFrame {
  if (!isRecord(value)) throw new ChatError("bad_frame", "Invalid frame: not a map");
  const type = value.type;
  if (type === "hello") {
    return {
      type,
      protocol: str(value, "protocol", 16),
      client: str(value, "client", 64),
      clientVersion: str(value, "clientVersion", 64),
      nick: validateNick(str(value, "nick", 256)),
      ...defined({
        password: optionalStr(value, "password", 1024),
        resume: optionalResumeToken(value),
      }),
    };
  }
  if (type === "pong") return { type };
  if (typeof type !== "string") {
    throw new ChatError("bad_frame", 'Invalid frame: "type" must be a string');
  }
  const id = requestIdOf(value);
  if (id === undefined) throw bad(`Invalid ${type} frame: "id" must be a non-negative integer`);
  const bodyOptions = options.maxBodyLength === undefined
    ? {}
    : { maxLength: options.maxBodyLength };
  switch (type) {
    case "join":
      return {
        type,
        id,
        room: validateRoom(str(value, "room")),
        ...defined({ since: optionalInt(value, "since"), key: optionalStr(value, "key") }),
      };
    case "leave":
      return { type, id, room: validateRoom(str(value, "room")) };
    case "who":
      return { type, id, room: validateRoom(str(value, "room")), ...listPage(value) };
    case "history":
      return {
        type,
        id,
        room: validateRoom(str(value, "room")),
        ...defined({
          before: optionalInt(value, "before"),
          after: optionalInt(value, "after"),
          limit: optionalInt(value, "limit", 1),
        }),
      };
    case "dm_history":
      return {
        type,
        id,
        with: validateNick(str(value, "with")),
        ...defined({
          before: optionalInt(value, "before"),
          after: optionalInt(value, "after"),
          limit: optionalInt(value, "limit", 1),
        }),
      };
    case "read": {
      const upTo = optionalInt(value, "upTo");
      if (upTo === undefined) throw bad(`Invalid read frame: "upTo" must be an integer >= 0`);
      return { type, id, with: validateNick(str(value, "with")), upTo };
    }
    case "register":
      return { type, id, password: str(value, "password", 1024) };
    case "op":
    case "deop":
    case "kick":
    case "ban":
    case "unban":
    case "mute":
    case "unmute":
    case "invite":
    case "uninvite": {
      const reason = value.reason === undefined || value.reason === null
        ? undefined
        : validateTopic(value.reason);
      return {
        type,
        id,
        room: validateRoom(str(value, "room")),
        nick: validateNick(str(value, "nick")),
        ...defined({ reason, durationMs: optionalInt(value, "durationMs", 1) }),
      };
    }
    case "mode": {
      const inviteOnly = optionalBool(value, "inviteOnly");
      const key = value.key === null ? null : optionalStr(value, "key", 64);
      if (inviteOnly === undefined && key === undefined) {
        throw bad('Invalid mode frame: give "inviteOnly" and/or "key"');
      }
      return { type, id, room: validateRoom(str(value, "room")), ...defined({ inviteOnly, key }) };
    }
    case "say": {
      const action = optionalBool(value, "action");
      const body = validateBody(value.body, bodyOptions);
      return {
        type,
        id,
        room: validateRoom(str(value, "room")),
        body,
        ...(action ? { action } : {}),
        ...defined({ clientMsgId: optionalClientMsgId(value) }),
      };
    }
    case "dm": {
      const action = optionalBool(value, "action");
      const body = validateBody(value.body, bodyOptions);
      return {
        type,
        id,
        to: validateNick(str(value, "to")),
        body,
        ...(action ? { action } : {}),
        ...defined({ clientMsgId: optionalClientMsgId(value) }),
      };
    }
    case "broadcast":
      return { type, id, body: validateBody(value.body, bodyOptions) };
    case "rooms":
    case "users":
      return { type, id, ...listPage(value) };
    case "ping":
      return { type, id };
    case "topic": {
      const room = validateRoom(str(value, "room"));
      if (value.topic === undefined || value.topic === null) return { type, id, room };
      return { type, id, room, topic: validateTopic(value.topic) };
    }
    case "nick":
      return { type, id, nick: validateNick(str(value, "nick", 256)) };
    case "quit": {
      if (value.reason === undefined || value.reason === null) return { type, id };
      return { type, id, reason: validateTopic(value.reason) };
    }
    default:
      throw new ChatError("unknown_command", `Unknown request type "${type.slice(0, 32)}"`);
  }
}

/**
 * Checks that a hello's protocol version has a major version this build
 * speaks; throws `unsupported_version` otherwise.
 *
 * @example
 * ```ts
 * import { checkProtocolVersion } from "./protocol.ts";
 * checkProtocolVersion("1.3"); // ok: same major version
 * ```
 */
export function checkProtocolVersion(version: string): void {
  const match = /^(\d+)\.(\d+)$/.exec(version);
  if (!match) {
    throw new ChatError(
      "unsupported_version",
      `Invalid protocol version "${version}": expected MAJOR.MINOR`,
    );
  }
  if (Number(match[1]) !== PROTOCOL_MAJOR) {
    throw new ChatError(
      "unsupported_version",
      `Unsupported protocol version ${version}: this server speaks ${PROTOCOL_VERSION}`,
    );
  }
}

const SERVER_FIELDS: Record<string, Record<string, "string" | "number" | "object" | "boolean">> = {
  welcome: {
    protocol: "string",
    server: "string",
    session: "string",
    nick: "string",
    limits: "object",
  },
  ack: { id: "number" },
  error: { code: "string", message: "string" },
  message: { room: "string", from: "string", body: "string", id: "number", ts: "number" },
  dm: { from: "string", to: "string", body: "string", id: "number", ts: "number" },
  join: { room: "string", nick: "string", ts: "number" },
  leave: { room: "string", nick: "string", ts: "number" },
  nick: { from: "string", to: "string", ts: "number" },
  topic: { room: "string", topic: "string", by: "string", ts: "number" },
  notice: { body: "string", ts: "number" },
  ping: {},
  bye: { code: "string", message: "string" },
};

/**
 * Validates a decoded frame from a server. Returns `undefined` for a frame
 * type this build does not know (a newer minor version may add some), and
 * throws `bad_frame` for a known type with missing or mistyped fields.
 *
 * @example
 * ```ts
 * import { parseServerFrame } from "./protocol.ts";
 * console.log(parseServerFrame({ type: "ping" })); // { type: "ping" }
 * ```
 */
export function parseServerFrame(value: unknown): ServerFrame | undefined {
  if (!isRecord(value)) throw new ChatError("bad_frame", "Invalid frame: not a map");
  const type = value.type;
  if (typeof type !== "string") {
    throw new ChatError("bad_frame", 'Invalid frame: "type" must be a string');
  }
  // Own keys only: "constructor" or "__proto__" is not a known frame type.
  const fields = Object.hasOwn(SERVER_FIELDS, type) ? SERVER_FIELDS[type] : undefined;
  if (fields === undefined) return undefined;
  for (const [key, kind] of Object.entries(fields)) {
    const actual = value[key];
    if (typeof actual !== kind || actual === null) {
      throw new ChatError("bad_frame", `Invalid ${type} frame: "${key}" must be a ${kind}`);
    }
  }
  if (type === "error" && !isErrorCode(value.code)) {
    // An unknown code from a newer server still reads as an error.
    value.code = "internal";
  }
  return value as unknown as ServerFrame;
}
