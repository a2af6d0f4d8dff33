/**
 * The OpenAPI 3.1 description of everything the HTTP listener serves,
 * at `/api/openapi.json`. A test keeps it true: its paths and the router's
 * routes are the same set, and each request example is sent to a server and
 * must get a documented status with a body of the documented shape.
 *
 * @module
 */
import { VERSION } from "../../shared/version.ts";

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const STRING = { type: "string" };
const INTEGER = { type: "integer" };
const BOOLEAN = { type: "boolean" };
const arrayOf = (items: unknown) => ({ type: "array", items });
/** An object schema: every property of `required` is required, those of `optional` are not. */
const object = (required: Record<string, unknown>, optional: Record<string, unknown> = {}) => ({
  type: "object",
  required: Object.keys(required),
  properties: { ...required, ...optional },
});
const error = (description: string) => ({ description, content: json(ref("Error")) });

const ROOM = {
  name: "room",
  in: "path",
  required: true,
  description: "Room name, without `#`",
  schema: { type: "string" },
  example: "general",
};

const API_ERRORS = {
  "400": error("Invalid request (`bad_request`, `invalid_body`, `invalid_room`, `invalid_name`)"),
  "401": error("No API key (`unauthorized`) or an unknown one (`auth_failed`)"),
  "429": error(
    "Over the key's rate limit, or too many of its history reads waiting (`rate_limited`); " +
      "see Retry-After",
  ),
};

/** `after` and `limit` of the list routes. */
const LIST_PAGE = [
  {
    name: "after",
    in: "query",
    description: "Start after this name (by name key); the last name of the page before",
    schema: { type: "string" },
  },
  {
    name: "limit",
    in: "query",
    description: "At most this many (default and most: 1000)",
    schema: { type: "integer", minimum: 1, maximum: 1000 },
    example: 100,
  },
];

/** The message a change names (section 21). */
const MESSAGE_ID = {
  name: "id",
  in: "path",
  required: true,
  description: "The message's id in the room",
  schema: { type: "integer", minimum: 1 },
  example: 1,
};

const EMOJI = {
  name: "emoji",
  in: "path",
  required: true,
  description: "One emoji (one grapheme cluster), percent-encoded",
  schema: { type: "string" },
  example: "👍",
};

/** The refusals of a message change, besides those of every API call. */
const CHANGE_ERRORS = {
  ...API_ERRORS,
  "403": error(
    "Not the bot's message to edit, or to delete without an admin key (`forbidden`); " +
      "the bot may not post there (`muted`, `banned`, `invite_only`, `bad_key`)",
  ),
  "404": error("No such room (`no_such_room`), or no such message in it (`no_such_message`)"),
};

const messageBody = (example: unknown) => ({
  required: true,
  content: {
    "application/json": {
      schema: {
        type: "object",
        required: ["body"],
        properties: {
          body: { type: "string", description: "The text, as in chat (--max-body-length)" },
          action: { type: "boolean", description: "An action, like /me" },
          replyTo: {
            type: "integer",
            minimum: 1,
            description: "The id of the message of the room it answers (`no_such_message` if none)",
          },
        },
      },
      example,
    },
  },
});

/** The document served at `/api/openapi.json`. */
export const OPENAPI_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "chat HTTP API",
    version: VERSION,
    description: "Health, metrics, the REST API for bots and operators (v1), the WebSocket " +
      "endpoint, the web client and the admin dashboard of `chat serve --http HOST:PORT`. " +
      'Every error is `{"error": {"code", "message"}}`. See docs/http_api.md.',
  },
  servers: [{ url: "/" }],
  tags: [
    { name: "health", description: "Liveness and readiness probes" },
    { name: "metrics", description: "Prometheus metrics" },
    { name: "api", description: "REST API, version 1: needs an API key" },
    { name: "admin", description: "API key with the admin flag (chat apikey add --admin)" },
    { name: "websocket", description: "The chat protocol for browsers" },
    { name: "web", description: "Web client and dashboard files" },
    { name: "dashboard", description: "The dashboard's own API: admin login and cookie" },
  ],
  paths: {
    "/healthz": {
      get: {
        tags: ["health"],
        operationId: "healthz",
        summary: "The process is alive",
        responses: { "200": { description: "Alive", content: json(ref("Health")) } },
      },
    },
    "/readyz": {
      get: {
        tags: ["health"],
        operationId: "readyz",
        summary: "Accepting connections and the store (SQLite or Redis) answers",
        responses: {
          "200": { description: "Ready", content: json(ref("Ready")) },
          "503": {
            description: "Draining, shutting down, store unreachable, or its commits failing",
            content: json(ref("Ready")),
          },
        },
      },
    },
    "/metrics": {
      get: {
        tags: ["metrics"],
        operationId: "metrics",
        summary: "Prometheus text exposition format 0.0.4",
        responses: {
          "200": {
            description: "Every metric; see docs/http_api.md for the list",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
      },
    },
    "/api/openapi.json": {
      get: {
        tags: ["api"],
        operationId: "openapi",
        summary: "This document",
        responses: { "200": { description: "OpenAPI 3.1", content: json({ type: "object" }) } },
      },
    },
    "/api/protocol.schema.json": {
      get: {
        tags: ["api"],
        operationId: "protocolSchema",
        summary: "JSON Schema of the chat protocol's frames (docs/protocol.schema.json)",
        description: "Every frame, request, result and event of docs/protocol.md, in JSON Schema " +
          "draft 2020-12, generated from the server's own definitions.",
        responses: {
          "200": {
            description: "The JSON Schema",
            content: { "application/schema+json": { schema: { type: "object" } } },
          },
        },
      },
    },
    "/api/v1/key": {
      get: {
        tags: ["api"],
        operationId: "getKey",
        summary: "The API key used: its name (the bot's nickname) and flags",
        security: [{ apiKey: [] }],
        responses: { "200": { description: "The key", content: json(ref("Key")) }, ...API_ERRORS },
      },
    },
    "/api/v1/rooms": {
      get: {
        tags: ["api"],
        operationId: "listRooms",
        summary: "A page of the rooms, by name, with their member counts and topics",
        description: "At most `limit` rooms and one frame's worth of bytes (--max-frame-bytes); " +
          "`more` says there are rooms after the last one: ask again with `after` set to its name.",
        security: [{ apiKey: [] }],
        parameters: LIST_PAGE,
        responses: {
          "200": {
            description: "A page of rooms and how many exist",
            content: json(ref("RoomList")),
          },
          ...API_ERRORS,
        },
      },
    },
    "/api/v1/users": {
      get: {
        tags: ["api"],
        operationId: "listUsers",
        summary: "A page of the users online, by name",
        description: "Paged as listRooms is.",
        security: [{ apiKey: [] }],
        parameters: LIST_PAGE,
        responses: {
          "200": {
            description: "A page of nicknames and how many are online",
            content: json(ref("UserList")),
          },
          ...API_ERRORS,
        },
      },
    },
    "/api/v1/rooms/{room}/messages": {
      post: {
        tags: ["api"],
        operationId: "postRoomMessage",
        summary: "Post to a room as the key's bot (it joins the room first if needed)",
        security: [{ apiKey: [] }],
        parameters: [ROOM],
        requestBody: messageBody({ body: "Deploy 1.4.2 finished" }),
        responses: {
          "201": { description: "Committed and delivered", content: json(ref("Posted")) },
          ...API_ERRORS,
          "403": error("The bot may not post there (`muted`, `banned`, `invite_only`, `bad_key`)"),
          "404": error("No such room (`no_such_room`); the API never creates rooms"),
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
        },
      },
      get: {
        tags: ["api"],
        operationId: "roomHistory",
        summary: "A page of a room's history, newest last",
        description: "Without before/after: the latest messages. `before`: older ones. " +
          "`after`: newer ones, oldest first. A page holds at most one frame's worth of " +
          "bytes (--max-frame-bytes); `more` says there is more in that direction. " +
          "The key's bot joins the room to read it; its history requests are read one at a time.",
        security: [{ apiKey: [] }],
        parameters: [
          ROOM,
          {
            name: "before",
            in: "query",
            description: "Only messages with ids below this",
            schema: { type: "integer", minimum: 0 },
          },
          {
            name: "after",
            in: "query",
            description: "Only messages with ids above this",
            schema: { type: "integer", minimum: 0 },
          },
          {
            name: "limit",
            in: "query",
            description: "At most this many (default 50, at most 500)",
            schema: { type: "integer", minimum: 1, maximum: 500 },
            example: 20,
          },
        ],
        responses: {
          "200": { description: "A page", content: json(ref("HistoryPage")) },
          ...API_ERRORS,
          "403": error("The bot may not enter the room (`banned`, `invite_only`, `bad_key`)"),
          "404": error("No such room (`no_such_room`)"),
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
          "503": error("Too much history queued (`server_busy`); see Retry-After"),
        },
      },
    },
    "/api/v1/search": {
      get: {
        tags: ["api"],
        operationId: "search",
        summary: "Search the rooms the key's bot is in (or one room), newest first",
        description: "Every word of q must be in a message, as whole words, without case or " +
          "accents; nothing in q is syntax (docs/protocol.md section 24). With room the bot " +
          "joins that room first, as reading its history does; without it, the rooms it is in. " +
          "A page holds at most one frame's worth of bytes; with more, pass cursor for the " +
          "next. Costs --search-cost rate tokens. With --redis only each room's latest " +
          "--redis-search-scan messages are searched.",
        security: [{ apiKey: [] }],
        parameters: [
          {
            name: "q",
            in: "query",
            required: true,
            description: "The words to find (at most --max-search-length code points)",
            schema: { type: "string" },
            example: "deploy",
          },
          {
            name: "room",
            in: "query",
            description: "Only this room, without `#`",
            schema: { type: "string" },
          },
          {
            name: "cursor",
            in: "query",
            description: "The cursor of the previous page",
            schema: { type: "string" },
          },
          {
            name: "limit",
            in: "query",
            description: "At most this many (default 20, at most 100)",
            schema: { type: "integer", minimum: 1, maximum: 100 },
            example: 20,
          },
        ],
        responses: {
          "200": { description: "A page of matches", content: json(ref("SearchPage")) },
          ...API_ERRORS,
          "403": error("The bot may not enter the room (`banned`, `invite_only`, `bad_key`)"),
          "404": error("No such room (`no_such_room`)"),
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
          "503": error("Too many searches running and waiting (`server_busy`); see Retry-After"),
        },
      },
    },
    // Message changes (docs/protocol.md section 21), as the key's bot.
    "/api/v1/rooms/{room}/messages/{id}/reactions/{emoji}": {
      put: {
        tags: ["api"],
        operationId: "addReaction",
        summary: "React to a message as the key's bot (once per emoji; again changes nothing)",
        security: [{ apiKey: [] }],
        parameters: [ROOM, MESSAGE_ID, EMOJI],
        responses: {
          "200": { description: "Committed and delivered", content: json(ref("Reacted")) },
          ...CHANGE_ERRORS,
          "409": error(
            "The message has the most distinct emoji it may (`too_many_reactions`, " +
              "--max-reactions-per-message), or someone else holds the bot's nickname " +
              "(`name_taken`)",
          ),
        },
      },
      delete: {
        tags: ["api"],
        operationId: "removeReaction",
        summary: "Take the bot's reaction back",
        security: [{ apiKey: [] }],
        parameters: [ROOM, MESSAGE_ID, EMOJI],
        responses: {
          "200": { description: "Committed and delivered", content: json(ref("Reacted")) },
          ...CHANGE_ERRORS,
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
        },
      },
    },
    "/api/v1/rooms/{room}/messages/{id}": {
      patch: {
        tags: ["api"],
        operationId: "editMessage",
        summary: "Edit one of the bot's own messages",
        security: [{ apiKey: [] }],
        parameters: [ROOM, MESSAGE_ID],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["body"],
                properties: {
                  body: { type: "string", description: "The new text, as in chat" },
                },
              },
              example: { body: "Deploy 1.4.2 finished (all green)" },
            },
          },
        },
        responses: {
          "200": { description: "Committed and delivered", content: json(ref("Changed")) },
          ...CHANGE_ERRORS,
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
        },
      },
      delete: {
        tags: ["api"],
        operationId: "deleteMessage",
        summary: "Delete a message: the bot's own, or any with an admin key",
        security: [{ apiKey: [] }],
        parameters: [ROOM, MESSAGE_ID],
        responses: {
          "200": { description: "Committed and delivered", content: json(ref("Changed")) },
          ...CHANGE_ERRORS,
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
        },
      },
    },
    // Files (docs/protocol.md section 23).
    "/api/v1/rooms/{room}/files": {
      post: {
        tags: ["api"],
        operationId: "postRoomFile",
        summary: "Share a file in a room as the key's bot (it joins the room first if needed)",
        description: "The body is the file, at most --max-upload-bytes (413 beyond); its " +
          "Content-Type is the file's media type. Members get a message with `file`; the " +
          "upload counts against the key's --upload-quota-bytes.",
        security: [{ apiKey: [] }],
        parameters: [
          ROOM,
          {
            name: "name",
            in: "query",
            required: true,
            description: "The file's name (1 to 255 characters, no slashes)",
            schema: { type: "string" },
            example: "build.log",
          },
        ],
        requestBody: {
          required: true,
          content: {
            "application/octet-stream": {
              schema: { type: "string", format: "binary" },
              example: "build 1.4.2: ok\n",
            },
          },
        },
        responses: {
          "201": { description: "Stored and shared", content: json(ref("FilePosted")) },
          ...API_ERRORS,
          "403": error(
            "The bot may not post there (`muted`, `banned`, ...), or its quota is used " +
              "(`quota_exceeded`)",
          ),
          "404": error("No such room (`no_such_room`)"),
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
          "413": error("The body is over --max-upload-bytes"),
          "503": error("Too many uploads in progress (`server_busy`)"),
        },
      },
    },
    "/files/{id}": {
      get: {
        tags: ["api"],
        operationId: "downloadFile",
        summary: "A shared file's bytes",
        description: "With `t`, a link from the chat request file_url (the link is the right " +
          "to it, for 10 minutes); otherwise with an API key, whose bot may read a room's file " +
          "as the room's history, and a DM's file when it is a party. Always served as an " +
          "attachment (Content-Disposition), never sniffed, sandboxed (Content-Security-Policy).",
        security: [{ apiKey: [] }, {}],
        parameters: [
          {
            name: "id",
            in: "path",
            required: true,
            description: "The file's id, from a message's file",
            schema: { type: "string" },
            example: "nOSuChFiLeXXXXXXXXXXXX",
          },
          {
            name: "t",
            in: "query",
            description: "A link token from file_url",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": {
            description: "The file, with its stored Content-Type",
            content: {
              "application/octet-stream": { schema: { type: "string", format: "binary" } },
            },
          },
          ...API_ERRORS,
          "404": error(
            "No such file, not one the key may read, or the link expired (`no_such_file`)",
          ),
        },
      },
    },
    "/api/v1/users/{nick}/messages": {
      post: {
        tags: ["api"],
        operationId: "postDirectMessage",
        summary: "Send a direct message as the key's bot (stored for a registered user offline)",
        security: [{ apiKey: [] }],
        parameters: [{
          name: "nick",
          in: "path",
          required: true,
          description: "The recipient's nickname",
          schema: { type: "string" },
          example: "alice",
        }],
        requestBody: messageBody({ body: "Your build is green" }),
        responses: {
          "201": { description: "Sent", content: json(ref("DirectPosted")) },
          ...API_ERRORS,
          "404": error("Nobody of that name is online or registered (`no_such_user`)"),
          "409": error("Someone else holds the bot's nickname (`name_taken`)"),
        },
      },
    },
    "/api/v1/broadcast": {
      post: {
        tags: ["admin"],
        operationId: "broadcast",
        summary: "A notice to everyone online, from the key's bot",
        security: [{ apiKey: [] }],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["body"],
                properties: { body: { type: "string" } },
              },
              example: { body: "Maintenance at 22:00 UTC" },
            },
          },
        },
        responses: {
          "201": { description: "Sent", content: json(ref("Broadcasted")) },
          ...API_ERRORS,
          "403": error("Not an admin key (`forbidden`)"),
        },
      },
    },
    "/api/v1/rooms/{room}/kick": {
      post: {
        tags: ["admin"],
        operationId: "kick",
        summary: "Remove a user from a room, as /kick would (an admin key may kick anyone)",
        security: [{ apiKey: [] }],
        parameters: [ROOM],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["nick"],
                properties: { nick: { type: "string" }, reason: { type: "string" } },
              },
              example: { nick: "mallory", reason: "spam" },
            },
          },
        },
        responses: {
          "200": { description: "Kicked", content: json(ref("Kicked")) },
          ...API_ERRORS,
          "403": error(
            "The key's bot lacks the rank (`forbidden`) or is not in the room (`not_in_room`)",
          ),
          "404": error("No such room (`no_such_room`)"),
        },
      },
    },
    "/api/v1/sessions": {
      get: {
        tags: ["admin"],
        operationId: "listSessions",
        summary: "Connections on this instance",
        security: [{ apiKey: [] }],
        responses: {
          "200": {
            description: "Sessions (at most 1000) and how many",
            content: json(ref("SessionList")),
          },
          ...API_ERRORS,
          "403": error("Not an admin key (`forbidden`)"),
        },
      },
    },
    "/api/v1/sessions/{id}": {
      delete: {
        tags: ["admin"],
        operationId: "disconnectSession",
        summary: "Disconnect one session (its client gets bye `forbidden`)",
        security: [{ apiKey: [] }],
        parameters: [{
          name: "id",
          in: "path",
          required: true,
          description: "Session id, from GET /api/v1/sessions",
          schema: { type: "string" },
          example: "00000000-0000-4000-8000-000000000000",
        }],
        responses: {
          "200": { description: "Disconnected", content: json(ref("Disconnected")) },
          ...API_ERRORS,
          "403": error("Not an admin key (`forbidden`)"),
          "404": error("No such session on this instance (`not_found`)"),
        },
      },
    },
    "/ws": {
      get: {
        tags: ["websocket"],
        operationId: "webSocket",
        summary: "WebSocket carrying the chat protocol: one binary message per frame",
        description: "Each message is exactly one frame as on TCP (4-byte big-endian length, " +
          "then MessagePack); docs/protocol.md. Same limits, rate limits and connection caps.",
        responses: {
          "101": { description: "Switching protocols" },
          "400": error("Not a WebSocket upgrade (`bad_request`)"),
        },
      },
    },
    "/": { get: webFile("webClient", "The browser chat client", "text/html") },
    "/admin": { get: webFile("dashboard", "The admin dashboard", "text/html") },
    "/assets/chat.js": { get: webFile("chatScript", "The web client's script", "text/javascript") },
    "/assets/chat_wire.js": {
      get: webFile("chatWireScript", "The web client's requests and replies", "text/javascript"),
    },
    "/assets/admin.js": {
      get: webFile("adminScript", "The dashboard's script", "text/javascript"),
    },
    "/assets/msgpack.js": {
      get: webFile("msgpackScript", "MessagePack codec of both pages", "text/javascript"),
    },
    "/assets/visible.js": {
      get: webFile(
        "visibleScript",
        "How the web client shows hidden characters",
        "text/javascript",
      ),
    },
    "/assets/message_view.js": {
      get: webFile(
        "messageViewScript",
        "How the web client draws a message and applies edits, deletes and reactions",
        "text/javascript",
      ),
    },
    "/assets/style.css": { get: webFile("stylesheet", "Both pages' styles", "text/css") },
    "/admin/login": {
      post: {
        tags: ["dashboard"],
        operationId: "adminLogin",
        summary: "Log in with a server admin account; sets an HttpOnly SameSite=Strict cookie",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["name", "password"],
                properties: { name: { type: "string" }, password: { type: "string" } },
              },
              example: { name: "root", password: "correct horse battery" },
            },
          },
        },
        responses: {
          "200": {
            description: "Logged in",
            content: json({
              type: "object",
              required: ["name"],
              properties: { name: { type: "string" } },
            }),
          },
          "400": error("Bad body (`bad_request`)"),
          "401": error("Wrong name or password (`auth_failed`)"),
          "403": error("Not an admin (`forbidden`), or a request from another origin"),
          "429": error("Too many failures (`rate_limited`)"),
        },
      },
    },
    "/admin/api/overview": {
      get: {
        tags: ["dashboard"],
        operationId: "adminOverview",
        summary: "Everything the dashboard shows; needs the login cookie",
        responses: {
          "200": { description: "Overview", content: json(ref("Overview")) },
          "401": error("Not logged in (`unauthorized`)"),
        },
      },
    },
    "/admin/api/sessions/{id}/disconnect": {
      post: {
        tags: ["dashboard"],
        operationId: "adminDisconnect",
        summary: "Disconnect a session from the dashboard; needs the login cookie",
        parameters: [{
          name: "id",
          in: "path",
          required: true,
          schema: { type: "string" },
          example: "00000000-0000-4000-8000-000000000000",
        }],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { type: "object" }, example: {} } },
        },
        responses: {
          "200": { description: "Disconnected", content: json(ref("Disconnected")) },
          "401": error("Not logged in (`unauthorized`)"),
          "403": error("A request from another origin (`forbidden`)"),
          "404": error("No such session (`not_found`)"),
        },
      },
    },
    "/admin/logout": {
      post: {
        tags: ["dashboard"],
        operationId: "adminLogout",
        summary: "End the dashboard login",
        requestBody: {
          required: true,
          content: { "application/json": { schema: { type: "object" }, example: {} } },
        },
        responses: {
          "200": {
            description: "Logged out; the cookie is cleared",
            content: json({ type: "object" }),
          },
          "403": error("A request from another origin (`forbidden`)"),
        },
      },
    },
  },
  components: {
    securitySchemes: {
      apiKey: {
        type: "http",
        scheme: "bearer",
        description: "A key from `chat apikey add NAME`",
      },
    },
    schemas: {
      Error: object({
        error: object({ code: STRING, message: STRING }, { retryAfterMs: INTEGER }),
      }),
      Health: object({
        status: { type: "string", enum: ["ok"] },
        version: STRING,
        uptimeSeconds: INTEGER,
      }),
      Ready: object({
        status: { type: "string", enum: ["ready", "unavailable"] },
        checks: object(
          { accepting: BOOLEAN, draining: BOOLEAN, store: BOOLEAN, commits: BOOLEAN },
          {
            storeKind: { type: "string", enum: ["sqlite", "redis"] },
          },
        ),
      }),
      Key: object({ name: STRING, admin: BOOLEAN, createdAt: INTEGER }),
      RoomList: object({
        rooms: arrayOf(object({ name: STRING, members: INTEGER, topic: STRING })),
        total: INTEGER,
      }, { more: BOOLEAN }),
      UserList: object({ users: arrayOf(STRING), total: INTEGER }, {
        more: BOOLEAN,
        // docs/protocol.md, section 22: those of the page who are away.
        away: arrayOf(object({ nick: STRING, message: STRING })),
      }),
      Message: object({
        type: { type: "string", enum: ["message"] },
        room: STRING,
        from: STRING,
        body: STRING,
        id: INTEGER,
        ts: INTEGER,
      }, { action: BOOLEAN, history: BOOLEAN }),
      HistoryPage: object({ room: STRING, messages: arrayOf(ref("Message")) }, { more: BOOLEAN }),
      SearchResult: object({ id: INTEGER, from: STRING, body: STRING, ts: INTEGER }, {
        room: STRING,
        with: { type: "string", description: "A direct message's other user (never for bots)" },
        action: BOOLEAN,
      }),
      SearchPage: object({ results: arrayOf(ref("SearchResult")) }, {
        more: BOOLEAN,
        cursor: { type: "string", description: "Pass as cursor for the next, older, page" },
      }),
      Posted: object({ room: STRING, from: STRING, id: INTEGER, ts: INTEGER }),
      DirectPosted: object({ to: STRING, from: STRING, id: INTEGER, ts: INTEGER }, {
        stored: { type: "boolean", description: "The recipient was offline: stored for later" },
      }),
      FilePosted: object({
        room: STRING,
        from: STRING,
        file: object({ id: STRING, name: STRING, size: INTEGER, type: STRING }),
        id: INTEGER,
        ts: INTEGER,
      }),
      Broadcasted: object({ ts: INTEGER }),
      // Message changes (section 21).
      Changed: object({ room: STRING, target: INTEGER, id: INTEGER, ts: INTEGER }),
      Reacted: object({ room: STRING, target: INTEGER, emoji: STRING, ts: INTEGER }, {
        id: { type: "integer", description: "The reaction's timeline id; absent when unchanged" },
        unchanged: {
          type: "boolean",
          description: "Nothing to do: already reacted so (PUT), or had not (DELETE)",
        },
      }),
      Kicked: object({ room: STRING, nick: STRING }),
      Session: object({
        id: STRING,
        nick: { type: "string", description: "Empty before login" },
        transport: { type: "string", enum: ["tcp", "tls", "unix", "ws"] },
        ip: STRING,
        account: BOOLEAN,
        admin: BOOLEAN,
        rooms: arrayOf(STRING),
        connectedAt: INTEGER,
        queuedBytes: INTEGER,
      }),
      SessionList: object({ sessions: arrayOf(ref("Session")), total: INTEGER }),
      Disconnected: object({ id: STRING, nick: STRING }),
      Overview: object({
        admin: STRING,
        server: { type: "object" },
        connections: { type: "object" },
        rooms: ref("RoomList"),
        users: ref("UserList"),
        messages: object({
          total: INTEGER,
          ratePerSecond: { type: "number" },
          perSecond: arrayOf(INTEGER),
        }),
        sessions: ref("SessionList"),
        logs: arrayOf({ type: "object" }),
      }),
    },
  },
};

function webFile(operationId: string, summary: string, type: string) {
  return {
    tags: ["web"],
    operationId,
    summary,
    responses: {
      "200": { description: summary, content: { [type]: { schema: { type: "string" } } } },
      "304": { description: "Not modified (ETag)" },
    },
  };
}
