/**
 * The wire protocol: one definition of every frame, in both directions,
 * from which come its TypeScript types, its validation
 * ({@linkcode parseClientFrame}, {@linkcode parseServerFrame},
 * {@linkcode parseAck}) and its JSON Schema ({@linkcode protocolJsonSchema},
 * published as docs/protocol.schema.json). docs/protocol.md is the
 * contract in prose.
 *
 * @module
 */
import { ChatError, ERROR_CODES, type ErrorCode, type ErrorFrame } from "./errors.ts";
import {
  anyMap,
  array,
  boolean,
  checkValue,
  custom,
  type Infer,
  integer,
  isRecord,
  type JsonSchema,
  literal,
  nullable,
  number,
  object,
  type ObjectSchema,
  oneOfStrings,
  optional,
  type Schema,
  type Shape,
  string,
  toJsonSchema,
  union,
} from "./schema.ts";
import {
  DEFAULT_FILE_TYPE,
  FILE_ID,
  MAX_FILE_NAME_LENGTH,
  SHA256_HEX,
  validateFileName,
  validateFileType,
} from "./file_fields.ts";
import { Mismatch } from "./schema.ts";
import {
  DEFAULT_MAX_BODY_LENGTH,
  MAX_AWAY_LENGTH,
  MAX_EMOJI_LENGTH,
  MAX_NICK_LENGTH,
  MAX_ROOM_LENGTH,
  MAX_TOPIC_LENGTH,
  validateAwayMessage,
  validateBody,
  validateEmoji,
  validateNick,
  validateRoom,
  validateTopic,
} from "./validation.ts";

/** The protocol version this build speaks, `MAJOR.MINOR`. */
export const PROTOCOL_VERSION = "1.0";
/** The major version: a peer with another major version is refused. */
export const PROTOCOL_MAJOR = 1;

/** Largest page of history one request may ask for. */
export const MAX_HISTORY_PAGE = 500;

/** Most results in one page of `search` (section 24). */
export const MAX_SEARCH_PAGE = 100;

/** Longest `search` text on the wire, in UTF-16 code units; the server's own cap is lower. */
export const MAX_SEARCH_TEXT = 1024;
/** Most nicknames a message's reaction summary lists per emoji in history (section 21). */
export const MAX_REACTION_USERS_LISTED = 20;

/** Longest `clientMsgId` of a `say` or `dm`, in characters (each one byte: printable ASCII). */
export const MAX_CLIENT_MSG_ID_LENGTH = 64;

// Printable ASCII, no space: UUIDs, ULIDs, counters and hashes fit.
const CLIENT_MSG_ID = /^[\x21-\x7e]{1,64}$/;

/** The characters and length of a resume token (base64url, as the server makes them). */
const RESUME_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Most names (rooms, users, members) in one reply: frames carry at most
 * 1,024 array entries. Replies are also cut to fit the frame cap.
 */
export const MAX_LIST_PAGE = 1000;

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

// ---------------------------------------------------------------- fields

// Requests: a string field is capped before the rules of section 7 apply.
const CAP = 256;

/** An optional request field: the server takes `nil` for leaving it out. */
function opt<T>(schema: Schema<T>) {
  return optional(schema, { nilIsAbsent: true });
}

function requestNick(description: string): Schema<string> {
  return string({ maxLength: CAP }).then(
    validateNick,
    `${description}. A nickname (section 7): normalized to NFKC, then 1 to ${MAX_NICK_LENGTH} ` +
      "code points; at most 256 UTF-16 code units as sent",
  );
}

function requestRoom(description: string): Schema<string> {
  return string({ maxLength: CAP }).then(
    validateRoom,
    `${description}. A room name (section 7), a leading # dropped: normalized to NFKC, then 1 to ` +
      `${MAX_ROOM_LENGTH} code points; at most 256 UTF-16 code units as sent`,
  );
}

function body(description: string): Schema<string> {
  return custom(
    (value, options) =>
      validateBody(
        value,
        options.maxBodyLength === undefined ? {} : { maxLength: options.maxBodyLength },
      ),
    {
      type: "string",
      minLength: 1,
      description: `${description}: not only whitespace, at most welcome.limits.maxBodyLength ` +
        `code points (${DEFAULT_MAX_BODY_LENGTH} by default), no control characters but newline ` +
        "and tab (section 7)",
    },
  );
}

function topicText(description: string): Schema<string> {
  return custom(validateTopic, {
    type: "string",
    maxLength: MAX_TOPIC_LENGTH,
    description: `${description}: at most ${MAX_TOPIC_LENGTH} code points, no control ` +
      "characters; trimmed (section 7)",
  });
}

// `action: false` is the same as no action: it is dropped.
function actionFlag(): Schema<boolean | undefined> {
  return boolean().then(
    (action) => action || undefined,
    'An action ("/me waves"); false is the same as leaving it out',
  );
}

function clientMsgId(): Schema<string> {
  return string({
    maxLength: MAX_CLIENT_MSG_ID_LENGTH,
    pattern: CLIENT_MSG_ID,
    problem: `must be 1 to ${MAX_CLIENT_MSG_ID_LENGTH} printable ASCII characters without spaces`,
  }).describe(
    "The client's id for this message: a retry with the same one is not posted twice (section 8)",
  );
}

/** The id of a message a change or reply (section 21) refers to. */
function targetId(description: string): Schema<number> {
  return integer({ min: 1, problem: "must be a message id (an integer of at least 1)" }).describe(
    description,
  );
}

function emoji(description: string): Schema<string> {
  return custom(validateEmoji, {
    type: "string",
    minLength: 1,
    maxLength: MAX_EMOJI_LENGTH,
    description: `${description}: one emoji (a single grapheme cluster: an Extended_Pictographic ` +
      `sequence, a flag or a keycap), at most ${MAX_EMOJI_LENGTH} UTF-16 code units (section 21)`,
  });
}

function count(description: string, min = 0): Schema<number> {
  return integer({ min }).describe(description);
}

function cursor(): Schema<string> {
  return string({ maxLength: CAP }).describe(
    "A name: the page starts after it, by name key (section 8)",
  );
}

function pageLimit(description = "Most entries in the reply"): Schema<number> {
  return integer({ min: 1 }).describe(description);
}

// Replies: what the server sends, checked for shape.
function text(description: string): Schema<string> {
  return string().describe(description);
}

function timestamp(): Schema<number> {
  return integer({ min: 0 }).describe("Server time, ms since the Unix epoch");
}

/** A flag that is only ever sent as `true`, and otherwise left out. */
function only(description: string) {
  return optional(literal(true).describe(description));
}

// ---------------------------------------------------------------- client -> server

const ID = integer({ min: 0, problem: "must be a non-negative integer" }).describe(
  "Chosen by the client (a counter); the reply carries the same",
);

function request<const K extends string, S extends Shape>(
  type: K,
  shape: S,
  options: {
    refine?: (value: Infer<ObjectSchema<{ type: Schema<K>; id: Schema<number> } & S>>) => void;
  } = {},
) {
  return object({ type: literal(type), id: ID, ...shape }, options as never).named(
    `request.${type}`,
  );
}

function listRequest<const K extends string>(type: K) {
  return request(type, { after: opt(cursor()), limit: opt(pageLimit()) });
}

function moderationRequest<const K extends ModerationType>(type: K) {
  // The reason is checked first, as it always was.
  return request(type, {
    reason: opt(topicText("Why; shown to the room")),
    room: requestRoom("The room"),
    nick: requestNick("Whom it concerns"),
    durationMs: opt(count("How long a ban or mute lasts, in ms", 1)),
  });
}

// ---- away and typing (section 22)

/** What a `typing` request and event say of the sender's input. */
export const TYPING_STATES = ["active", "paused", "done"] as const;

/** A typing state: typing now, stopped for a while, or gone (sent, or the input cleared). */
export type TypingState = typeof TYPING_STATES[number];

function awayText(description: string): Schema<string> {
  return custom((value) => validateAwayMessage(value), {
    type: "string",
    maxLength: MAX_AWAY_LENGTH,
    description: `${description}: at most ${MAX_AWAY_LENGTH} code points (the server's ` +
      `--max-away-length may allow fewer), no control characters; trimmed, "" is "away" (section 22)`,
  });
}

function typingRequest() {
  return request("typing", {
    room: opt(requestRoom("The room one is typing in")),
    to: opt(requestNick("The user one is typing a direct message to")),
    state: oneOfStrings(TYPING_STATES).describe(
      "active: typing; paused: stopped typing for a while; done: sent, or cleared the input",
    ),
  }, {
    refine: (frame) => {
      if ((frame.room === undefined) === (frame.to === undefined)) {
        throw new ChatError(
          "bad_request",
          'Invalid typing frame: give exactly one of "room" and "to"',
        );
      }
    },
  });
}

const HELLO = object({
  type: literal("hello"),
  protocol: string({ maxLength: 16 }).describe(
    "The version the client speaks, MAJOR.MINOR (section 6)",
  ),
  client: string({ maxLength: 64 }).describe("The client program's name"),
  clientVersion: string({ maxLength: 64 }).describe("The client program's version"),
  nick: requestNick("The nickname wanted, or the account's name"),
  password: opt(
    string({ maxLength: 1024 }).describe(
      "The account's password (section 5); at most 1,024 UTF-16 code units",
    ),
  ),
  resume: opt(
    string({
      maxLength: 64,
      pattern: RESUME_TOKEN,
      problem: "must be a token from a welcome",
    }).describe("The resume token of an earlier welcome, to take that session over (section 4)"),
  ),
}).named("client.hello").describe("The first frame from a client (section 4)");

const PONG = object({ type: literal("pong") }).named("client.pong").describe(
  "The answer to the server's ping (section 15); no id, no reply",
);

const REQUEST_SCHEMAS = {
  join: request("join", {
    room: requestRoom("The room to join, created if need be"),
    since: opt(count("The last message id seen in this room: the reply replays what came after")),
    key: opt(string({ maxLength: CAP }).describe("The room's key, when it has one")),
  }),
  leave: request("leave", { room: requestRoom("The room to leave") }),
  // Checked in the order they always were: action, body, then where it goes.
  say: request("say", {
    action: opt(actionFlag()),
    body: body("The message"),
    room: requestRoom("The room to say it in"),
    clientMsgId: opt(clientMsgId()),
    replyTo: opt(targetId("The id of the message of the same room this one answers (section 21)")),
  }),
  dm: request("dm", {
    action: opt(actionFlag()),
    body: body("The message"),
    to: requestNick("The recipient"),
    clientMsgId: opt(clientMsgId()),
  }),
  broadcast: request("broadcast", { body: body("The notice for everyone online") }),
  rooms: listRequest("rooms"),
  who: request("who", {
    room: requestRoom("The room"),
    after: opt(cursor()),
    limit: opt(pageLimit()),
  }),
  users: listRequest("users"),
  topic: request("topic", {
    room: requestRoom("The room"),
    topic: opt(topicText('The new topic ("" clears it); without it, the topic is shown')),
  }),
  nick: request("nick", { nick: requestNick("The new nickname") }),
  ping: request("ping", {}),
  quit: request("quit", { reason: opt(topicText('Why, shown to the rooms (default "quit")')) }),
  history: request("history", {
    room: requestRoom("The room"),
    before: opt(count("Messages with ids below this one")),
    after: opt(count("Messages with ids above this one (before is then ignored)")),
    limit: opt(pageLimit(`Most messages (50 by default, at most ${MAX_HISTORY_PAGE})`)),
  }),
  dm_history: request("dm_history", {
    with: requestNick("The other user of the conversation"),
    before: opt(count("Messages with ids below this one")),
    after: opt(count("Messages with ids above this one (before is then ignored)")),
    limit: opt(pageLimit(`Most messages (50 by default, at most ${MAX_HISTORY_PAGE})`)),
  }),
  read: request("read", {
    upTo: count("The last direct message id read"),
    with: requestNick("Whose direct messages were read"),
  }),
  register: request("register", {
    password: string({ maxLength: 1024 }).describe(
      "The new account's password: 8 to 1,024 code points, no control characters",
    ),
  }),
  op: moderationRequest("op"),
  deop: moderationRequest("deop"),
  kick: moderationRequest("kick"),
  ban: moderationRequest("ban"),
  unban: moderationRequest("unban"),
  mute: moderationRequest("mute"),
  unmute: moderationRequest("unmute"),
  invite: moderationRequest("invite"),
  uninvite: moderationRequest("uninvite"),
  mode: request("mode", {
    inviteOnly: opt(boolean().describe("Whether joining needs an invitation")),
    key: optional(
      nullable(string({ maxLength: 64 })).describe(
        "The key needed to join (at most 64 UTF-16 code units); nil removes it",
      ),
    ),
    room: requestRoom("The room"),
  }, {
    refine: (frame) => {
      if (frame.inviteOnly === undefined && frame.key === undefined) {
        throw new ChatError("bad_request", 'Invalid mode frame: give "inviteOnly" and/or "key"');
      }
    },
  }),
  // Away and typing (section 22).
  away: request("away", {
    message: opt(awayText("The away message; without it (or nil) the user is back")),
  }),
  typing: typingRequest(),
  // Full-text search over what the user may read (section 24).
  search: request("search", {
    text: string({ maxLength: MAX_SEARCH_TEXT }).describe(
      "The words to find, all of them; taken literally (section 24); at most " +
        "--max-search-length code points (200 by default)",
    ),
    room: opt(requestRoom("Only this room (one is a member of)")),
    cursor: opt(
      string({ maxLength: CAP }).describe(
        "The cursor of the previous page's reply: the page goes on after it (older matches)",
      ),
    ),
    limit: opt(pageLimit(`Most results (20 by default, at most ${MAX_SEARCH_PAGE})`)),
  }),
  // Message changes (section 21).
  edit: request("edit", {
    room: requestRoom("The room of the message"),
    target: targetId("The id of the message to edit (one's own)"),
    body: body("The new text"),
  }),
  delete: request("delete", {
    room: requestRoom("The room of the message"),
    target: targetId("The id of the message to delete"),
  }),
  react: request("react", {
    room: requestRoom("The room of the message"),
    target: targetId("The id of the message to react to"),
    emoji: emoji("The reaction"),
  }),
  unreact: request("unreact", {
    room: requestRoom("The room of the message"),
    target: targetId("The id of the message"),
    emoji: emoji("The reaction to take back"),
  }),
  // Files (section 23).
  upload_begin: request("upload_begin", {
    name: string({ maxLength: CAP * 4 }).then(
      validateFileName,
      `The file's name (NFC, trimmed): 1 to ${MAX_FILE_NAME_LENGTH} code points, no / or \\, ` +
        "no control or format characters",
    ),
    size: count("The file's size in bytes, at most the server's --max-upload-bytes"),
    // Not "type": that is the frame's.
    mediaType: opt(
      string({ maxLength: CAP }).then(
        validateFileType,
        `Its media type, type/subtype (parameters dropped; default ${DEFAULT_FILE_TYPE})`,
      ),
    ),
    room: opt(requestRoom("The room to share it in (a member, not muted)")),
    to: opt(requestNick("The user to send it to as a direct message")),
    sha256: opt(
      string({ pattern: SHA256_HEX, problem: "must be 64 lower-case hex digits" }).describe(
        "The SHA-256 of the whole file, lower-case hex: checked before the file is announced",
      ),
    ),
    body: opt(body("A caption; default: the file's name")),
  }, {
    refine: (frame) => {
      if ((frame.room === undefined) === (frame.to === undefined)) {
        throw new ChatError("bad_request", 'Invalid upload_begin frame: give "room" or "to"');
      }
    },
  }),
  upload_chunk: request("upload_chunk", {
    upload: fileId("The upload's id, from the upload_begin result"),
    offset: count("Where the chunk goes: the bytes received so far"),
    data: binary("The next bytes of the file: MessagePack bin, at most chunkBytes, not empty"),
  }),
  upload_end: request("upload_end", {
    upload: fileId("The upload's id: every byte of it has been sent"),
  }),
  upload_cancel: request("upload_cancel", {
    upload: fileId("The upload's id: what was received is dropped"),
  }),
  download: request("download", {
    file: fileId("The file's id, from a message's file"),
    offset: opt(count("The first byte wanted (default 0)")),
  }),
  file_url: request("file_url", {
    file: fileId("The file's id: a link to GET it over HTTP, for a browser"),
  }),
};

function fileId(description: string): Schema<string> {
  return string({ maxLength: 64, pattern: FILE_ID, problem: "must be an id from the server" })
    .describe(description);
}

function binary(description: string): Schema<Uint8Array> {
  return custom((value) => {
    if (!(value instanceof Uint8Array)) {
      throw new Mismatch("must be binary (MessagePack bin)", "must be bin");
    }
    return value;
  }, { description: `${description} (MessagePack bin: no JSON type)` });
}

/** Every request type. */
export type RequestType = keyof typeof REQUEST_SCHEMAS;

/** Every request type, in the order of docs/protocol.md section 8. */
export const REQUEST_TYPES = Object.keys(REQUEST_SCHEMAS) as RequestType[];

/** The request of type `K`, as the server has it after validation. */
export type RequestOf<K extends RequestType> = Infer<typeof REQUEST_SCHEMAS[K]>;

/** Requests a client may send after `hello`; each carries a client-chosen `id`. */
export type Request = { [K in RequestType]: RequestOf<K> }[RequestType];

/** A request of type `K` (each of them, for a union) without its id, as built from a slash command. */
export type RequestBodyOf<K extends RequestType> = K extends RequestType ? Omit<RequestOf<K>, "id">
  : never;

/** A request without its id, as built from a slash command. */
export type RequestBody = RequestBodyOf<RequestType>;

/** First frame from a client. */
export type HelloFrame = Infer<typeof HELLO>;

/** The heartbeat answer; carries no id and gets no reply. */
export type PongFrame = Infer<typeof PONG>;

/** Any frame a client may send. */
export type ClientFrame = HelloFrame | Request | PongFrame;

// ---------------------------------------------------------------- server -> client

const ROOM = () => text("A room name, its canonical spelling, without #");

const LIMITS = object({
  maxFrameBytes: count("Largest frame payload the server accepts, in bytes", 1),
  maxBodyLength: count("Longest message body, in code points", 1),
  maxQueueBytes: count("Bytes queued towards this client before it is dropped as slow", 1),
  rateBurst: count("Requests that may be sent at once before the rate applies"),
  ratePerSecond: number({ min: 0 }).describe("Requests per second sustained (may be fractional)"),
  heartbeatMs: count("Heartbeat interval in ms (section 15); 0: no heartbeat"),
}).named("part.limits").describe("The limits the server announces; clients stay within them");

const WELCOME = object({
  type: literal("welcome"),
  protocol: text("The version the server speaks, MAJOR.MINOR"),
  server: text('Server program and version, e.g. "chat/0.1.0"'),
  session: text("Random id of this session (a UUID), for logs and bug reports"),
  nick: text("The nickname granted, normalized; for an account, its registered spelling"),
  limits: LIMITS,
  account: optional(
    object({ admin: boolean().describe("Whether the session is a server admin") }).describe(
      "Present only when logged in to an account",
    ),
  ),
  resume: optional(
    string({ pattern: RESUME_TOKEN }).describe(
      "A secret the next hello may give as resume to take this session over",
    ),
  ),
}).named("server.welcome").describe("The server's answer to hello (section 4)");

const ACK = object({
  type: literal("ack"),
  id: count("The request's id"),
  result: optional(
    anyMap().describe(
      'What the request did (absent: {}); for request type T it matches $defs["result.T"]',
    ),
  ),
}).named("server.ack").describe("Success reply to request id (section 8)");

const ERROR_CODE = () =>
  oneOfStrings(ERROR_CODES, { unknown: "internal" }).describe(
    "A stable machine code (section 9); one a client does not know reads as internal",
  );

const ERROR = object({
  type: literal("error"),
  id: optional(count("The request's id; absent when the frame had no valid id")),
  code: ERROR_CODE(),
  message: text("One English sentence for people; not stable, do not parse it"),
  retryAfterMs: optional(count("Ms until a retry can succeed (rate_limited, muted, ...)")),
}).named("server.error").describe(
  "A request refused, or a frame that could not be read (section 9)",
);

const REACTION_SUMMARY = object({
  emoji: text("The emoji"),
  count: count("How many users reacted so", 1),
  users: array(text("A nickname")).describe(
    `Who reacted so, earliest first; at most ${MAX_REACTION_USERS_LISTED} (count is the full count)`,
  ),
}).named("part.reaction");
const FILE_INFO = object({
  id: text("The file's id: download it with download or GET /files/ID"),
  name: text("Its name, as uploaded (NFC)"),
  size: count("Its size in bytes"),
  type: text("Its media type, type/subtype"),
}).named("part.file").describe("A file shared with the message (section 23)");

const MESSAGE_EVENT = object({
  type: literal("message"),
  room: ROOM(),
  from: text("Sender's nickname"),
  body: text("The body as sent"),
  id: count("Message id, monotonic per room (section 11)", 1),
  ts: timestamp(),
  action: only('An action ("/me")'),
  history: only("From history rather than delivered live"),
  // Section 21: a reply, and (in history only) the message's current state.
  replyTo: optional(count("The id of the message of the room this one answers", 1)),
  edited: optional(
    integer({ min: 0 }).describe(
      "History only: server time of the latest edit (body is the edited text)",
    ),
  ),
  deleted: optional(
    object({
      by: text("Who deleted it"),
      ts: timestamp(),
    }).named("part.deleted").describe('History only: the message was deleted (body is "")'),
  ),
  reactions: optional(
    array(REACTION_SUMMARY).describe("History only: its reactions, in the order first given"),
  ),
  file: optional(FILE_INFO),
}).named("event.message").describe("A message in a room (section 10)");

const DM_EVENT = object({
  type: literal("dm"),
  from: text("Sender's nickname"),
  to: text("Recipient's nickname: as online, or the account's registered name"),
  body: text("The body as sent"),
  id: count("Message id, increasing across the server (section 11)", 1),
  ts: timestamp(),
  action: only("An action"),
  history: only("From history, including those stored while the recipient was offline"),
  file: optional(FILE_INFO),
}).named("event.dm").describe(
  "A direct message, delivered to the recipient and echoed to the sender",
);

// Message changes (section 21): each an entry of the room's timeline, with its own id.
const CHANGE_ID = () => count("The change's own id, the room's next timeline id (section 11)", 1);
const CHANGE_TARGET = () => count("The id of the message it changes", 1);
const CHANGE_HISTORY = () => only("From catch-up history rather than delivered live");

const EDIT_EVENT = object({
  type: literal("edit"),
  room: ROOM(),
  id: CHANGE_ID(),
  target: CHANGE_TARGET(),
  from: text("The editor: the message's author"),
  body: text("The new text"),
  ts: timestamp(),
  history: CHANGE_HISTORY(),
}).named("event.edit").describe("A message was edited (section 21)");

const DELETE_EVENT = object({
  type: literal("delete"),
  room: ROOM(),
  id: CHANGE_ID(),
  target: CHANGE_TARGET(),
  by: text("Who deleted it: the author, an operator or owner, or a server admin"),
  ts: timestamp(),
  history: CHANGE_HISTORY(),
}).named("event.delete").describe("A message was deleted (section 21)");

const REACT_EVENT = object({
  type: literal("react"),
  room: ROOM(),
  id: CHANGE_ID(),
  target: CHANGE_TARGET(),
  from: text("Who reacted"),
  emoji: text("The emoji"),
  ts: timestamp(),
  history: CHANGE_HISTORY(),
}).named("event.react").describe("Someone reacted to a message (section 21)");

const UNREACT_EVENT = object({
  type: literal("unreact"),
  room: ROOM(),
  id: CHANGE_ID(),
  target: CHANGE_TARGET(),
  from: text("Who took the reaction back"),
  emoji: text("The emoji"),
  ts: timestamp(),
  history: CHANGE_HISTORY(),
}).named("event.unreact").describe("Someone took a reaction back (section 21)");

/** An entry of a room's timeline in history: a message or a change to one (section 21). */
const TIMELINE_ENTRY = union([MESSAGE_EVENT, EDIT_EVENT, DELETE_EVENT, REACT_EVENT, UNREACT_EVENT])
  .named("TimelineEntry").describe(
    "A message, or in catch-up history a change to one (edit, delete, react, unreact); by type",
  );

const JOIN_EVENT = object({
  type: literal("join"),
  room: ROOM(),
  nick: text("Who joined"),
  ts: timestamp(),
}).named("event.join").describe("Someone joined a room");

const LEAVE_EVENT = object({
  type: literal("leave"),
  room: ROOM(),
  nick: text("Who left"),
  ts: timestamp(),
  reason: optional(
    text("Absent for a leave request; why the connection ended, or who kicked or banned"),
  ),
}).named("event.leave").describe("Someone left a room, was removed from it or disconnected");

const NICK_EVENT = object({
  type: literal("nick"),
  from: text("Old nickname"),
  to: text("New nickname"),
  ts: timestamp(),
}).named("event.nick").describe("Someone changed nickname");

const TOPIC_EVENT = object({
  type: literal("topic"),
  room: ROOM(),
  topic: text('The new topic ("": cleared)'),
  by: text("Who set it"),
  ts: timestamp(),
}).named("event.topic").describe("A room's topic was set");

const UNREAD = object({
  peer: text("The sender"),
  count: count("Unread direct messages from them", 1),
}).named("part.unread");

const NOTICE_EVENT = object({
  type: literal("notice"),
  body: text("The text, for people"),
  ts: timestamp(),
  from: optional(
    text("The admin who broadcast it; or, with away, the user away a dm went to (section 22)"),
  ),
  room: optional(text("The room the notice concerns (moderation, modes, invitations)")),
  unread: optional(
    array(UNREAD).describe("Only in the notice after login: unread direct messages per sender"),
  ),
  away: optional(
    text("Only in the notice answering a dm to a user away (section 22): their away message"),
  ),
}).named("event.notice").describe("A broadcast, a moderation notice or a notice from the server");

const AWAY_EVENT = object({
  type: literal("away"),
  nick: text("Who went away or came back"),
  message: optional(text("The away message; absent: they are back")),
  ts: timestamp(),
}).named("event.away").describe("Someone went away or came back (section 22)");

const TYPING_EVENT = object({
  type: literal("typing"),
  room: optional(text("The room they are typing in; absent for a direct message")),
  from: text("Who is typing"),
  to: optional(text("The recipient of the direct message being typed; absent in a room")),
  state: oneOfStrings(TYPING_STATES, { unknown: "done" }).describe(
    "active: typing; paused: stopped for a while; done: sent or cleared (an unknown one reads as done)",
  ),
  ts: timestamp(),
}).named("event.typing").describe(
  "Someone is typing, paused or stopped (section 22); never stored",
);

const PING = object({ type: literal("ping") }).named("server.ping").describe(
  "Heartbeat probe (section 15); answer with pong",
);

const BYE = object({
  type: literal("bye"),
  code: ERROR_CODE(),
  message: text("The same for people"),
}).named("server.bye").describe("The server's last frame before it closes (section 16)");

const EVENT = union([
  MESSAGE_EVENT,
  EDIT_EVENT,
  DELETE_EVENT,
  REACT_EVENT,
  UNREACT_EVENT,
  DM_EVENT,
  JOIN_EVENT,
  LEAVE_EVENT,
  NICK_EVENT,
  TOPIC_EVENT,
  NOTICE_EVENT,
  AWAY_EVENT,
  TYPING_EVENT,
]).named("ChatEvent").describe("Events, delivered without a request (section 10)");

const SERVER_FRAME = union([
  WELCOME,
  ACK,
  ERROR,
  MESSAGE_EVENT,
  EDIT_EVENT,
  DELETE_EVENT,
  REACT_EVENT,
  UNREACT_EVENT,
  DM_EVENT,
  JOIN_EVENT,
  LEAVE_EVENT,
  NICK_EVENT,
  TOPIC_EVENT,
  NOTICE_EVENT,
  AWAY_EVENT,
  TYPING_EVENT,
  PING,
  BYE,
]).named("ServerFrame").describe("Any frame a server sends");

/** The server's answer to `hello`. */
export type WelcomeFrame = Infer<typeof WELCOME>;

/** Limits the server announces in `welcome`. */
export type ServerLimits = Infer<typeof LIMITS>;

/** A message in a room. `id` is monotonic per room; `ts` is server time in ms. */
export type RoomMessageEvent = Infer<typeof MESSAGE_EVENT>;

/** A message was edited (section 21); `id` is the edit's own timeline id. */
export type EditEvent = Infer<typeof EDIT_EVENT>;

/** A message was deleted (section 21). */
export type DeleteEvent = Infer<typeof DELETE_EVENT>;

/** Someone reacted to a message (section 21). */
export type ReactEvent = Infer<typeof REACT_EVENT>;

/** Someone took a reaction back (section 21). */
export type UnreactEvent = Infer<typeof UNREACT_EVENT>;

/** A change to a message: each takes the room's next timeline id (section 21). */
export type MessageChangeEvent = EditEvent | DeleteEvent | ReactEvent | UnreactEvent;

/** One reaction of a message in history: the emoji, how many, and (at most 20 of) who. */
export type ReactionSummary = Infer<typeof REACTION_SUMMARY>;

/** An item of room history: a message, or in catch-up a change to one (section 21). */
export type TimelineEntry = Infer<typeof TIMELINE_ENTRY>;

/** A direct message; delivered to the recipient and echoed to the sender. */
export type DirectMessageEvent = Infer<typeof DM_EVENT>;

/** Someone joined a room. */
export type JoinEvent = Infer<typeof JOIN_EVENT>;

/** Someone left a room (or disconnected). */
export type LeaveEvent = Infer<typeof LEAVE_EVENT>;

/** Someone changed nickname; sent to everyone sharing a room with them. */
export type NickEvent = Infer<typeof NICK_EVENT>;

/** A room's topic changed. */
export type TopicEvent = Infer<typeof TOPIC_EVENT>;

/** A file shared with a message or DM: what members see of it. */
export type FileInfo = Infer<typeof FILE_INFO>;

/** A system notice (from the server, or a broadcast `from` a user). */
export type NoticeEvent = Infer<typeof NOTICE_EVENT>;

/** Someone went away (with `message`) or came back (without). */
export type AwayEvent = Infer<typeof AWAY_EVENT>;

/** Someone is typing in a room or a direct message; never stored. */
export type TypingEvent = Infer<typeof TYPING_EVENT>;

/** Heartbeat probe; answer with `pong`. */
export type PingFrame = Infer<typeof PING>;

/** The server is closing this connection, and why. */
export type ByeFrame = Infer<typeof BYE>;

/** Events delivered without a request. */
export type ChatEvent = Infer<typeof EVENT>;

/**
 * Success reply to request `id`. `T` is the result of the request it
 * answers ({@linkcode RequestResults}); checked against it by
 * {@linkcode parseAck}.
 */
export interface AckFrame<T extends object = Record<string, unknown>> {
  type: "ack";
  id: number;
  /** What the request did; absent is the same as `{}`. */
  result?: T;
}

/** Any frame a server may send. */
export type ServerFrame =
  | WelcomeFrame
  | AckFrame
  | ErrorFrame
  | ChatEvent
  | PingFrame
  | ByeFrame;

// ---------------------------------------------------------------- results

function result<S extends Shape>(type: RequestType | "moderation", shape: S) {
  return object(shape).named(`result.${type}`);
}

/** `more: true`: the list goes on after the last entry. */
const MORE_NAMES = () => only("There are more after the last one: ask again with after");
const TOTAL = () => count("How many there are in all");

const ROOM_SUMMARY = object({
  name: ROOM(),
  members: count("Members online"),
  topic: text('Its topic ("" when none)'),
}).named("part.room_summary");

const GAP = object({
  after: count("The since sent"),
  oldest: count("The oldest id still stored, or lastId + 1 when none is"),
}).named("part.gap").describe("Ids after + 1 to oldest - 1 are gone for good (section 12)");

const AWAY_ENTRY = object({
  nick: text("A nickname in the page who is away"),
  message: text("Their away message"),
}).named("part.away");

/** The away users among the names of a page (section 22): present only when there is one. */
const AWAY_LIST = () =>
  optional(array(AWAY_ENTRY).describe("Those of the page who are away, in its order"));
const SEARCH_RESULT = object({
  room: optional(ROOM().describe("The room of a room message (absent for a direct message)")),
  with: optional(text("For a direct message: the other user of the conversation")),
  id: count("The message's id: in its room, or the direct message's id", 1),
  from: text("Sender's nickname"),
  body: text("The body as it reads now (an edited message's latest text)"),
  ts: timestamp(),
  action: only('An action ("/me")'),
}).named("part.search_result").describe(
  "A message that matches: a room message (room) or one of the account's direct messages (with)",
);

const MODERATION_RESULT = result("moderation", {
  room: ROOM(),
  nick: text("The nickname, as given"),
});

const RESULT_SCHEMAS = {
  join: result("join", {
    room: ROOM(),
    topic: text('Its topic ("" when none)'),
    members: array(text("A member online")).describe(
      "The first page of its members online, the joiner included",
    ),
    lastId: count("Id of the last message committed when the join took effect"),
    history: array(TIMELINE_ENTRY).describe(
      "Entries up to lastId, oldest first: messages, and with since also changes (sections 12, 21)",
    ),
    more: only("More missed messages than history holds: page with history after the last"),
    gap: optional(GAP),
    membersMore: only("More members than members holds: page with who after the last"),
  }),
  leave: result("leave", { room: ROOM() }),
  say: result("say", {
    id: count("The message's id", 1),
    ts: timestamp(),
    duplicate: only("A retry of a clientMsgId already posted: nothing new was sent"),
  }),
  dm: result("dm", {
    id: count("The message's id", 1),
    ts: timestamp(),
    stored: only("The recipient is offline: stored for their next login"),
    duplicate: only("A retry of a clientMsgId already posted: nothing new was sent"),
  }),
  broadcast: result("broadcast", { ts: timestamp() }),
  rooms: result("rooms", {
    rooms: array(ROOM_SUMMARY),
    total: TOTAL(),
    more: MORE_NAMES(),
  }),
  who: result("who", {
    room: ROOM(),
    members: array(text("A member online")),
    total: TOTAL(),
    more: MORE_NAMES(),
    away: AWAY_LIST(),
  }),
  users: result("users", {
    users: array(text("A nickname online")),
    total: TOTAL(),
    more: MORE_NAMES(),
    away: AWAY_LIST(),
  }),
  topic: result("topic", { room: ROOM(), topic: text('The topic ("" when none)') }),
  nick: result("nick", { nick: text("The nickname now") }),
  ping: result("ping", { ts: timestamp() }),
  quit: result("quit", {}),
  history: result("history", {
    room: ROOM(),
    messages: array(TIMELINE_ENTRY).describe(
      "Oldest first, each with history: true; with after also changes (sections 12, 21)",
    ),
    more: only("The page was cut to fit one frame (section 12)"),
  }),
  dm_history: result("dm_history", {
    with: text("The other user, as asked"),
    messages: array(DM_EVENT).describe("Oldest first, each with history: true"),
    more: only("The page was cut to fit one frame (section 12)"),
  }),
  read: result("read", {
    with: text("The other user, as asked"),
    upTo: count(
      "The marker now: the id given (at most the last DM from them), or higher if read before",
    ),
  }),
  register: result("register", { nick: text("The account's name") }),
  op: MODERATION_RESULT,
  deop: MODERATION_RESULT,
  kick: MODERATION_RESULT,
  ban: MODERATION_RESULT,
  unban: MODERATION_RESULT,
  mute: MODERATION_RESULT,
  unmute: MODERATION_RESULT,
  invite: MODERATION_RESULT,
  uninvite: MODERATION_RESULT,
  mode: result("mode", {
    room: ROOM(),
    inviteOnly: boolean().describe("Whether joining needs an invitation"),
    hasKey: boolean().describe("Whether joining needs a key (never sent back)"),
  }),
  // Away and typing (section 22).
  away: result("away", {
    away: optional(text("The away message now; absent: back")),
  }),
  typing: result("typing", {
    throttled: only("Not relayed: too soon after the last relay to this conversation"),
  }),
  search: result("search", {
    results: array(SEARCH_RESULT).describe("Matches, newest first"),
    more: only("There may be older matches: ask again with cursor"),
    cursor: optional(text("Where the next page starts: send it as the next request's cursor")),
  }),
  // Message changes (section 21).
  edit: result("edit", { id: count("The edit's timeline id", 1), ts: timestamp() }),
  delete: result("delete", { id: count("The deletion's timeline id", 1), ts: timestamp() }),
  react: result("react", {
    id: optional(count("The reaction's timeline id; absent when unchanged", 1)),
    ts: timestamp(),
    unchanged: only("Had already reacted so: nothing new was recorded, no event sent"),
  }),
  unreact: result("unreact", {
    id: optional(count("The entry's timeline id; absent when unchanged", 1)),
    ts: timestamp(),
    unchanged: only("Had not reacted so: nothing was recorded, no event sent"),
  }),
  // Files (section 23).
  upload_begin: result("upload_begin", {
    upload: text("The upload's id, for its chunks"),
    chunkBytes: count("Most bytes of data in one upload_chunk (and one download reply)", 1),
  }),
  upload_chunk: result("upload_chunk", { received: count("Bytes received so far") }),
  upload_end: result("upload_end", {
    file: FILE_INFO,
    id: count("The id of the message (or DM) that shares it", 1),
    ts: timestamp(),
    stored: only("A DM to a user offline: stored for their next login"),
  }),
  upload_cancel: result("upload_cancel", { upload: text("The upload dropped") }),
  download: result("download", {
    file: FILE_INFO,
    sha256: text("The SHA-256 of the whole file, lower-case hex"),
    offset: count("Where data starts in the file"),
    data: binary("The bytes from offset on, at most chunkBytes of them"),
    done: only("data reaches the end of the file"),
  }),
  file_url: result("file_url", {
    url: text(
      "A path on the server's HTTP listener, /files/ID?t=TOKEN: the link itself grants access",
    ),
    expiresAt: timestamp().describe("When the link stops working, ms since the Unix epoch"),
  }),
} satisfies Record<RequestType, Schema<unknown>>;

/** The `result` of the ack of each request type (docs/protocol.md, section 8). */
export type RequestResults = { [K in RequestType]: Infer<typeof RESULT_SCHEMAS[K]> };

/** The result of a request of type `K`. */
export type ResultOf<K extends RequestType> = RequestResults[K];

/** A request (without its id) and the result of its ack, for each request type `K`. */
export type Reply<K extends RequestType = RequestType> = K extends RequestType
  ? { request: RequestBodyOf<K>; result: RequestResults[K] }
  : never;

/**
 * Whether `reply` answers a request of type `type`; narrows its request and
 * result together.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isReplyTo, type Reply } from "./protocol.ts";
 * const reply = { request: { type: "users" }, result: { users: ["bob"], total: 1 } } as Reply;
 * assert.equal(isReplyTo(reply, "users") ? reply.result.users[0] : undefined, "bob");
 * assert.equal(isReplyTo(reply, "who"), false);
 * ```
 */
export function isReplyTo<K extends RequestType>(reply: Reply, type: K): reply is Reply<K> {
  return reply.request.type === type;
}

// ---------------------------------------------------------------- parsing

/**
 * Whether `value` may be a `clientMsgId`: 1 to
 * {@linkcode MAX_CLIENT_MSG_ID_LENGTH} printable ASCII characters
 * (`!` to `~`), so that it is also at most 64 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isClientMsgId } from "./protocol.ts";
 * assert.equal(isClientMsgId(crypto.randomUUID()), true);
 * assert.equal(isClientMsgId("has space"), false);
 * ```
 */
export function isClientMsgId(value: unknown): value is string {
  return typeof value === "string" && CLIENT_MSG_ID.test(value);
}

/**
 * The request id of a decoded frame, if it has a valid one; used to name the
 * request in an error reply even when the rest of the frame is bad.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestIdOf } from "./protocol.ts";
 * assert.equal(requestIdOf({ type: "join", id: 3 }), 3);
 * assert.equal(requestIdOf({ type: "join", id: -1 }), undefined);
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

const REQUEST_BY_TYPE: ReadonlyMap<string, Schema<unknown>> = new Map(
  Object.entries(REQUEST_SCHEMAS),
);

/**
 * Validates a decoded frame from a client and returns it typed and
 * normalized (names in NFKC, `#` dropped from rooms, unknown fields
 * dropped). Throws a {@linkcode ChatError} whose code says what is wrong:
 * `bad_frame` for what is not a frame, `unknown_command` for an unknown
 * request type, a field's own code (`invalid_name`, `invalid_room`,
 * `invalid_body`) for what breaks the rules of section 7, `bad_request`
 * for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientFrame } from "./protocol.ts";
 * const frame = parseClientFrame({ type: "join", id: 1, room: "#General" });
 * assert.deepEqual(frame, { type: "join", id: 1, room: "General" });
 * assert.throws(() => parseClientFrame({ type: "join", id: 1, room: 5 }), {
 *   code: "bad_request",
 *   message: 'Invalid join frame: "room" must be a string',
 * });
 * ```
 */
export function parseClientFrame(value: unknown, options: ParseOptions = {}): ClientFrame {
  if (!isRecord(value)) throw new ChatError("bad_frame", "Invalid frame: not a map");
  const type = value.type;
  if (type === "hello") return checkValue(HELLO, value, { subject: "hello frame" }, options);
  if (type === "pong") return { type };
  if (typeof type !== "string") {
    throw new ChatError("bad_frame", 'Invalid frame: "type" must be a string');
  }
  // The id first: an error names the request even when the rest is bad.
  if (requestIdOf(value) === undefined) {
    throw new ChatError(
      "bad_request",
      `Invalid ${type} frame: "id" must be a non-negative integer`,
    );
  }
  const schema = REQUEST_BY_TYPE.get(type);
  if (schema === undefined) {
    throw new ChatError("unknown_command", `Unknown request type "${type.slice(0, 32)}"`);
  }
  return checkValue(schema, value, { subject: `${type} frame` }, options) as Request;
}

/**
 * Checks that a hello's protocol version has a major version this build
 * speaks; throws `unsupported_version` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkProtocolVersion } from "./protocol.ts";
 * checkProtocolVersion("1.3"); // same major version: fine
 * assert.throws(() => checkProtocolVersion("2.0"), { code: "unsupported_version" });
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

const SERVER_BY_TYPE: ReadonlyMap<string, Schema<unknown>> = new Map(
  [
    WELCOME,
    ACK,
    ERROR,
    MESSAGE_EVENT,
    EDIT_EVENT,
    DELETE_EVENT,
    REACT_EVENT,
    UNREACT_EVENT,
    DM_EVENT,
    JOIN_EVENT,
    LEAVE_EVENT,
    NICK_EVENT,
    TOPIC_EVENT,
    NOTICE_EVENT,
    AWAY_EVENT,
    TYPING_EVENT,
    PING,
    BYE,
  ]
    .map((schema) => [schema.shape.type.value, schema]),
);

/**
 * Validates a decoded frame from a server. Returns `undefined` for a frame
 * type this build does not know (a newer minor version may add some), and
 * throws `bad_frame` for a known type with missing or mistyped fields.
 * Unknown fields are dropped and an unknown error code reads as
 * `internal`. An ack's `result` is left for {@linkcode parseAck}, which
 * knows the request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServerFrame } from "./protocol.ts";
 * assert.deepEqual(parseServerFrame({ type: "ping" }), { type: "ping" });
 * assert.equal(parseServerFrame({ type: "reaction", emoji: "👍" }), undefined);
 * assert.throws(() => parseServerFrame({ type: "join", room: "dev", nick: "bob" }), {
 *   code: "bad_frame",
 *   message: 'Invalid join frame: "ts" must be a number',
 * });
 * ```
 */
export function parseServerFrame(value: unknown): ServerFrame | undefined {
  if (!isRecord(value)) throw new ChatError("bad_frame", "Invalid frame: not a map");
  const type = value.type;
  if (typeof type !== "string") {
    throw new ChatError("bad_frame", 'Invalid frame: "type" must be a string');
  }
  const schema = SERVER_BY_TYPE.get(type);
  if (schema === undefined) return undefined;
  return checkValue(schema, value, {
    subject: `${type} frame`,
    code: "bad_frame",
    typeNames: true,
  }) as ServerFrame;
}

/**
 * Checks the result of `ack` against the request it answers and returns
 * the ack with that result typed (an absent `result` is `{}`); throws
 * `bad_frame` when the result is not what section 8 says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAck } from "./protocol.ts";
 * const ack = parseAck({ type: "ack", id: 4, result: { ts: 1700000000000 } }, { type: "ping" });
 * assert.equal(ack.result.ts, 1700000000000);
 * assert.throws(() => parseAck({ type: "ack", id: 5, result: {} }, { type: "users" }), {
 *   code: "bad_frame",
 *   message: 'Invalid users result: "users" must be an array',
 * });
 * ```
 */
export function parseAck<K extends RequestType>(
  ack: AckFrame,
  request: { type: K },
): AckFrame<RequestResults[K]> & { result: RequestResults[K] } {
  const schema: Schema<unknown> = RESULT_SCHEMAS[request.type];
  const result = checkValue(schema, ack.result ?? {}, {
    subject: `${request.type} result`,
    code: "bad_frame",
    typeNames: true,
  }) as RequestResults[K];
  return { type: "ack", id: ack.id, result };
}

// ---------------------------------------------------------------- JSON Schema

/**
 * The JSON Schema (draft 2020-12) of every frame, request, result and
 * event, made from the definitions above: what docs/protocol.schema.json
 * holds (`deno task docs:schema`) and `--http` serves at
 * `/api/protocol.schema.json`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { protocolJsonSchema } from "./protocol.ts";
 * const schema = protocolJsonSchema();
 * assert.equal(schema.$defs["request.join"]?.properties?.room?.type, "string");
 * assert.deepEqual(schema.$defs["result.leave"]?.required, ["room"]);
 * ```
 */
export function protocolJsonSchema(): JsonSchema & { $defs: Record<string, JsonSchema> } {
  const defs: Record<string, JsonSchema> = {};
  const client = toJsonSchema(
    union([HELLO, PONG, ...Object.values(REQUEST_SCHEMAS)] as never).named("ClientFrame")
      .describe("Any frame a client sends"),
    { defs },
  );
  const server = toJsonSchema(SERVER_FRAME, { defs });
  toJsonSchema(EVENT, { defs });
  for (const schema of Object.values(RESULT_SCHEMAS)) toJsonSchema(schema, { defs });
  // Each result under its request's type, so `result.T` is there for every T.
  for (const [type, schema] of Object.entries(RESULT_SCHEMAS)) {
    const name = `result.${type}`;
    if (!Object.hasOwn(defs, name)) defs[name] = toJsonSchema(schema, { defs });
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: `chat wire protocol ${PROTOCOL_VERSION}`,
    description:
      "Every frame of docs/protocol.md, as decoded from MessagePack (maps are objects). " +
      "Generated from shared/protocol.ts by `deno task docs:schema`: do not edit. " +
      '$defs["client.*"], $defs["request.*"], $defs["server.*"] and $defs["event.*"] are the ' +
      'frames; the ack of a request of type T carries a result matching $defs["result.T"]. ' +
      "The frames have exactly the fields listed (additionalProperties is false); receivers ignore " +
      "fields they do not know, as a newer minor version may add some.",
    anyOf: [client, server],
    $defs: sortedDefs(defs),
  };
}

function sortedDefs(defs: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(defs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Compile-time: the hand-written ErrorFrame (errors.ts has no imports) matches its schema. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
const _errorFrameMatches: Equal<Infer<typeof ERROR>, ErrorFrame> = true;
const _ackFrameMatches: Equal<Infer<typeof ACK>, AckFrame> = true;
const _codesMatch: Equal<Infer<ReturnType<typeof ERROR_CODE>>, ErrorCode> = true;
void [_errorFrameMatches, _ackFrameMatches, _codesMatch];
