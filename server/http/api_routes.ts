/**
 * The REST API, version 1 (`/api/v1/...`), for bots and operators holding
 * an API key (`Authorization: Bearer KEY`). Posts go through the same
 * validation as chat frames and the same broker calls as a session's, as
 * the key's bot; every request of a key draws on one token bucket with the
 * sessions' rate.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { isServerAdmin } from "../accounts/server_admin.ts";
import { parseClientFrame, type Request as ChatRequest } from "../../shared/protocol.ts";
import type { ListQuery } from "../chat/broker.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import type { ApiKeyRecord } from "../store/store.ts";
import { RequestRate } from "../limits/request_rate.ts";
import type { ApiBots } from "./api_bots.ts";
import type { ApiKeyService } from "./api_key_service.ts";
import { type ChatHost, describeSession } from "./chat_host.ts";
import { HttpError } from "./http_error.ts";
import { readBody, readJsonObject } from "./request_body.ts";
import { DEFAULT_FILE_TYPE } from "../../shared/file_fields.ts";
import type { FileService } from "../files/file_service.ts";
import type { FileRecord } from "../store/store.ts";
import type { RouteContext, Router } from "./router.ts";

/** What the API routes use. */
export interface ApiDependencies {
  host: ChatHost;
  apiKeys: ApiKeyService;
  bots: ApiBots;
  metrics: ServerMetrics;
  logger: Logger;
}

/** Options of an authorized route: `cost`, the rate tokens one request takes (default 1). */
interface RouteCost {
  cost?: number;
}

type Authorized = (
  request: Request,
  context: RouteContext & { apiKey: ApiKeyRecord },
) => Promise<Response> | Response;

/** Validates `fields` as the chat request `type` would be on the wire. */
function parse<T extends ChatRequest["type"]>(
  type: T,
  fields: Record<string, unknown>,
  maxBodyLength: number,
): ChatRequest & { type: T } {
  return parseClientFrame({ ...fields, type, id: 0 }, { maxBodyLength }) as never;
}

/** A query parameter as a whole number, or undefined when absent. */
function intParam(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  if (!/^\d{1,15}$/.test(text)) {
    throw new ChatError("bad_request", `Query parameter ${name} must be a whole number >= 0`);
  }
  return Number(text);
}

/** A message id in a path (section 21): digits, else `bad_request`. */
function messageId(text: string | undefined): number {
  if (text === undefined || !/^\d{1,15}$/.test(text)) {
    throw new ChatError("bad_request", "A message id in the path must be a whole number >= 1");
  }
  return Number(text);
}

/** The cursor of a list route: `?after=NAME&limit=N`, as the chat request takes them. */
function listParams(url: URL): Record<string, unknown> {
  const after = url.searchParams.get("after");
  return { ...(after === null ? {} : { after }), limit: intParam(url, "limit") };
}

/** The broker's list query from a parsed list request. */
function listQuery(request: { after?: string; limit?: number }): ListQuery {
  const query: ListQuery = {};
  if (request.after !== undefined) query.after = request.after;
  if (request.limit !== undefined) query.limit = request.limit;
  return query;
}

/** Copies the string and boolean fields of a JSON body that a chat request takes. */
function fields(body: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (body[name] !== undefined) out[name] = body[name];
  return out;
}

function requireAdmin(apiKey: ApiKeyRecord, what: string): void {
  if (!isServerAdmin({ apiKey })) {
    throw new ChatError("forbidden", `${what} needs an admin API key (chat apikey add --admin)`);
  }
}

/**
 * Adds the `/api/v1` routes to `router`.
 *
 * @example
 * ```ts ignore
 * import { addApiRoutes } from "./api_routes.ts";
 * addApiRoutes(router, { host, apiKeys, bots, metrics, logger });
 * ```
 */
export function addApiRoutes(router: Router, deps: ApiDependencies): void {
  const { host, apiKeys, bots, metrics, logger } = deps;
  const { broker, options } = host;
  const rates = new Map<string, RequestRate>();

  const authorized =
    (handler: Authorized, route: RouteCost = {}) =>
    async (request: Request, context: RouteContext) => {
      const header = request.headers.get("authorization");
      const bearer = header === null ? null : /^Bearer\s+(\S+)$/i.exec(header);
      if (bearer === null) {
        throw new HttpError(
          "unauthorized",
          401,
          "Send an API key as 'Authorization: Bearer KEY' (chat apikey add NAME makes one)",
          { headers: { "www-authenticate": 'Bearer realm="chat"' } },
        );
      }
      const apiKey = await apiKeys.verify(bearer[1]!);
      if (apiKey === undefined) {
        metrics.authFailures++;
        // Never the key itself: only that one was refused, and from where.
        logger.warn("Refused an unknown or malformed API key from {ip}", { ip: context.ip });
        throw new ChatError("auth_failed", "Unknown API key", {});
      }
      let rate = rates.get(apiKey.id);
      if (rate === undefined) {
        rate = new RequestRate(options, { holder: "API key", metrics });
        rates.set(apiKey.id, rate);
      }
      const refusal = rate.check(performance.now(), route.cost ?? 1);
      if (refusal !== undefined) throw refusal;
      return await handler(request, { ...context, apiKey });
    };
  const body = (request: Request) =>
    readJsonObject(request, { maxBytes: options.httpMaxBodyBytes });
  const maxBodyLength = options.maxBodyLength;

  router
    .add(
      "GET",
      "/api/v1/key",
      authorized((_request, { apiKey }) =>
        Response.json({
          name: apiKey.name,
          admin: apiKey.admin,
          createdAt: apiKey.createdAt,
        })
      ),
    )
    .add(
      "GET",
      "/api/v1/rooms",
      authorized(async (_request, { url }) => {
        const page = parse("rooms", listParams(url), maxBodyLength);
        return Response.json(await broker.rooms(listQuery(page)));
      }),
    )
    .add(
      "GET",
      "/api/v1/users",
      authorized(async (_request, { url }) => {
        const page = parse("users", listParams(url), maxBodyLength);
        return Response.json(await broker.users(listQuery(page)));
      }),
    )
    .add(
      "GET",
      "/api/v1/rooms/{room}/messages",
      authorized(async (_request, { apiKey, params, url }) => {
        const query = {
          room: params.room,
          before: intParam(url, "before"),
          after: intParam(url, "after"),
          limit: intParam(url, "limit"),
        };
        if (query.before !== undefined && query.after !== undefined) {
          throw new ChatError("bad_request", "Give before or after, not both");
        }
        const page = parse("history", query, maxBodyLength);
        const bot = await bots.inRoom(apiKey, page.room);
        const paging: { before?: number; after?: number; limit?: number } = {};
        if (page.before !== undefined) paging.before = page.before;
        if (page.after !== undefined) paging.after = page.after;
        if (page.limit !== undefined) paging.limit = page.limit;
        return Response.json(await broker.history(bot, page.room, paging));
      }),
    )
    // Search (docs/protocol.md section 24): the rooms the key's bot is in, or
    // one room it joins first, as reading that room's history does.
    .add(
      "GET",
      "/api/v1/search",
      authorized(async (_request, { apiKey, url }) => {
        const text = url.searchParams.get("q");
        if (text === null) throw new ChatError("bad_request", "Query parameter q is required");
        const room = url.searchParams.get("room");
        const cursor = url.searchParams.get("cursor");
        const search = parse("search", {
          text,
          ...(room === null ? {} : { room }),
          ...(cursor === null ? {} : { cursor }),
          limit: intParam(url, "limit"),
        }, maxBodyLength);
        const bot = search.room === undefined
          ? await bots.online(apiKey)
          : await bots.inRoom(apiKey, search.room);
        const query: { text: string; room?: string; cursor?: string; limit?: number } = {
          text: search.text,
        };
        if (search.room !== undefined) query.room = search.room;
        if (search.cursor !== undefined) query.cursor = search.cursor;
        if (search.limit !== undefined) query.limit = search.limit;
        return Response.json(await broker.search(bot, query));
      }, { cost: options.searchCost }),
    )
    .add(
      "POST",
      "/api/v1/rooms/{room}/messages",
      authorized(async (request, { apiKey, params }) => {
        const say = parse("say", {
          ...fields(await body(request), ["body", "action", "replyTo"]),
          room: params.room,
        }, maxBodyLength);
        const bot = await bots.inRoom(apiKey, say.room);
        const sent = await broker.say(bot, say);
        return Response.json({ room: say.room, from: bot.nick, ...sent }, { status: 201 });
      }),
    )
    // Message changes (docs/protocol.md section 21), as the key's bot.
    .add(
      "PATCH",
      "/api/v1/rooms/{room}/messages/{id}",
      authorized(async (request, { apiKey, params }) => {
        const edit = parse("edit", {
          ...fields(await body(request), ["body"]),
          room: params.room,
          target: messageId(params.id),
        }, maxBodyLength);
        const bot = await bots.inRoom(apiKey, edit.room);
        const done = await broker.messageChanges.edit(bot, edit);
        return Response.json({ room: edit.room, target: edit.target, ...done });
      }),
    )
    .add(
      "DELETE",
      "/api/v1/rooms/{room}/messages/{id}",
      authorized(async (_request, { apiKey, params }) => {
        const deletion = parse("delete", {
          room: params.room,
          target: messageId(params.id),
        }, maxBodyLength);
        const bot = await bots.inRoom(apiKey, deletion.room);
        const done = await broker.messageChanges.delete(bot, deletion);
        return Response.json({ room: deletion.room, target: deletion.target, ...done });
      }),
    )
    .add(
      "PUT",
      "/api/v1/rooms/{room}/messages/{id}/reactions/{emoji}",
      authorized(async (_request, { apiKey, params }) => {
        const react = parse("react", {
          room: params.room,
          target: messageId(params.id),
          emoji: params.emoji,
        }, maxBodyLength);
        const bot = await bots.inRoom(apiKey, react.room);
        const done = await broker.messageChanges.react(bot, react);
        return Response.json({
          room: react.room,
          target: react.target,
          emoji: react.emoji,
          ...done,
        });
      }),
    )
    .add(
      "DELETE",
      "/api/v1/rooms/{room}/messages/{id}/reactions/{emoji}",
      authorized(async (_request, { apiKey, params }) => {
        const unreact = parse("unreact", {
          room: params.room,
          target: messageId(params.id),
          emoji: params.emoji,
        }, maxBodyLength);
        const bot = await bots.inRoom(apiKey, unreact.room);
        const done = await broker.messageChanges.unreact(bot, unreact);
        return Response.json({
          room: unreact.room,
          target: unreact.target,
          emoji: unreact.emoji,
          ...done,
        });
      }),
    )
    .add(
      "POST",
      "/api/v1/users/{nick}/messages",
      authorized(async (request, { apiKey, params }) => {
        const dm = parse("dm", {
          ...fields(await body(request), ["body", "action"]),
          to: params.nick,
        }, maxBodyLength);
        const bot = await bots.online(apiKey);
        const sent = await broker.directMessages.send(bot, dm);
        return Response.json({ to: dm.to, from: bot.nick, ...sent }, { status: 201 });
      }),
    )
    .add(
      "POST",
      "/api/v1/broadcast",
      authorized(async (request, { apiKey }) => {
        requireAdmin(apiKey, "Broadcasting");
        const broadcast = parse("broadcast", fields(await body(request), ["body"]), maxBodyLength);
        const bot = await bots.online(apiKey);
        return Response.json(await broker.moderation.broadcast(bot, broadcast.body), {
          status: 201,
        });
      }),
    )
    .add(
      "POST",
      "/api/v1/rooms/{room}/kick",
      authorized(async (request, { apiKey, params }) => {
        const kick = parse("kick", {
          ...fields(await body(request), ["nick", "reason"]),
          room: params.room,
        }, maxBodyLength);
        const bot = await bots.online(apiKey);
        const options = kick.reason === undefined ? {} : { reason: kick.reason };
        return Response.json(
          await broker.moderation.moderate(bot, "kick", kick.room, kick.nick, options),
        );
      }),
    )
    // Files (docs/protocol.md section 23).
    .add("GET", "/files/{id}", async (request, context) => {
      const files = fileService(host.files);
      const token = context.url.searchParams.get("t");
      if (token !== null) return fileResponse(files, await files.byLink(context.params.id!, token));
      return await authorized(async (_request, { apiKey, params }) => {
        const bot = await bots.online(apiKey);
        const record = await files.readable(bot, params.id!, {
          canReadRoom: (member, room) => broker.isMemberOf(member, room),
        }).catch(async (error) => {
          // A room's file, as the room's history: the key's bot joins to read it.
          const found = await host.store.getFile(params.id!);
          if (found?.room == null) throw error;
          const inRoom = await bots.inRoom(apiKey, found.room);
          return await files.readable(inRoom, params.id!, {
            canReadRoom: (member, room) => broker.isMemberOf(member, room),
          });
        });
        return fileResponse(files, record);
      })(request, context);
    })
    .add(
      "POST",
      "/api/v1/rooms/{room}/files",
      authorized(async (request, { apiKey, params, url }) => {
        const files = fileService(host.files);
        const begin = parse("upload_begin", {
          name: url.searchParams.get("name") ?? "",
          size: 1,
          mediaType: request.headers.get("content-type") ?? DEFAULT_FILE_TYPE,
          room: params.room,
        }, maxBodyLength);
        const bot = await bots.inRoom(apiKey, begin.room!);
        const bytes = await readBody(request, { maxBytes: files.limits.maxUploadBytes });
        const { type: _type, id: _id, ...target } = begin;
        const sent = await files.uploadBytes(bot, target, bytes);
        return Response.json({ room: begin.room, from: bot.nick, ...sent }, { status: 201 });
      }),
    )
    .add(
      "GET",
      "/api/v1/sessions",
      authorized((_request, { apiKey }) => {
        requireAdmin(apiKey, "Listing sessions");
        const sessions = [...host.sessions()].map(describeSession);
        return Response.json({ sessions: sessions.slice(0, 1000), total: sessions.length });
      }),
    )
    .add(
      "DELETE",
      "/api/v1/sessions/{id}",
      authorized((_request, { apiKey, params }) => {
        requireAdmin(apiKey, "Disconnecting sessions");
        const entry = [...host.sessions()].find(({ session }) => session.id === params.id);
        if (entry === undefined || entry.session.finishing) {
          throw new HttpError("not_found", 404, `No session ${params.id} on this instance`);
        }
        const { session } = entry;
        logger.info("API key {key} disconnected {nick} (session {session})", {
          key: apiKey.name,
          nick: session.nick || "(not logged in)",
          session: session.id,
        });
        // Like any close on purpose: the requests started are answered before the bye.
        void session.finish(
          "forbidden",
          "Disconnected by a server admin",
          `disconnected by ${apiKey.name}`,
        );
        return Response.json({ id: session.id, nick: session.nick });
      }),
    );
}

function fileService(files: FileService | undefined): FileService {
  if (files === undefined) throw new ChatError("unsupported", "This server does not share files");
  return files;
}

/**
 * A file as an HTTP response: its stored type, but always an attachment,
 * never sniffed, and sandboxed should a browser show it anyway, so nothing
 * uploaded runs in the server's origin.
 */
function fileResponse(files: FileService, record: FileRecord): Response {
  const chunks = files.bytesOf(record);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
  const ascii = record.name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return new Response(body, {
    headers: {
      "content-type": record.type,
      "content-length": String(record.size),
      "content-disposition": `attachment; filename="${ascii}"; filename*=UTF-8''${
        encodeURIComponent(record.name)
      }`,
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox; default-src 'none'",
      "cache-control": "private, no-store",
    },
  });
}
