/**
 * The server's outgoing webhooks: it reads the webhook list from the store
 * at start and again every `--webhook-reload` (so `chat webhook add` and
 * `remove` reach a running server, SQLite or Redis alike, without a
 * restart), hears the room events this instance originates (so with
 * several instances on one Redis each event goes out once, from the
 * instance that committed it), queues each to the webhooks of its room and
 * type, and posts their replies back into the room as the webhook's bot,
 * through the broker like any message: same validation, rate, mutes.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { parseClientFrame } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { AccountService } from "../accounts/account_service.ts";
import type { Broker } from "../chat/broker.ts";
import type { RoomEvent } from "../chat/room_events.ts";
import { ApiBots } from "../http/api_bots.ts";
import { RequestRate } from "../limits/request_rate.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import type { ApiKeyRecord, Store, WebhookRecord } from "../store/store.ts";
import {
  type DispatchSettings,
  type QueuedDelivery,
  type WebhookClock,
  WebhookDispatcher,
} from "./webhook_dispatcher.ts";
import { httpSender, type HttpSenderOptions, type Sender } from "./webhook_sender.ts";
import { WebhookCounters } from "./webhook_counters.ts";

const logger = getLogger(["chat", "webhooks"]);

/** Everything a {@linkcode WebhookHub} is configured with. */
export interface WebhookHubSettings extends DispatchSettings, HttpSenderOptions {
  /** How often the webhook list is read again, in ms (0: only at start). */
  reloadMs: number;
  /** Longest reply body, in code points (the server's `maxBodyLength`). */
  maxBodyLength: number;
  /** The rate of a webhook's replies: the sessions' request rate. */
  ratePerSecond: number;
  rateBurst: number;
}

/** What a hub works with. */
export interface WebhookHubParts {
  store: Store;
  broker: Broker;
  accounts: AccountService;
  metrics: ServerMetrics;
  /** The HTTP sender by default. */
  send?: Sender;
  clock?: WebhookClock;
  random?: () => number;
}

interface Hook {
  dispatcher: WebhookDispatcher;
  rooms: Set<string>;
  events: Set<string>;
  bot: string;
  rate: RequestRate;
}

/** The reply a webhook may answer 200 with: one message into the event's room. */
function replyOf(text: string): { body: string; action?: boolean } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { body, action } = value as { body?: unknown; action?: unknown };
  if (body === undefined) return undefined;
  if (typeof body !== "string") {
    throw new ChatError("bad_request", "A webhook reply's body must be a string");
  }
  if (action !== undefined && typeof action !== "boolean") {
    throw new ChatError("bad_request", "A webhook reply's action must be true or false");
  }
  return action === undefined ? { body } : { body, action };
}

/**
 * Every webhook of one server.
 *
 * @example
 * ```ts ignore
 * import { WebhookHub } from "./webhook_hub.ts";
 * const hub = await WebhookHub.start(settings, { store, broker, accounts, metrics });
 * await hub.close();
 * ```
 */
export class WebhookHub {
  #settings: WebhookHubSettings;
  #parts: WebhookHubParts;
  #send: Sender;
  #hooks = new Map<string, Hook>();
  #bots: ApiBots;
  #stopListening: () => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reloading: Promise<void> | undefined;
  #closed = false;

  private constructor(settings: WebhookHubSettings, parts: WebhookHubParts) {
    this.#settings = settings;
    this.#parts = parts;
    this.#send = parts.send ?? httpSender(settings);
    this.#bots = new ApiBots(parts.broker, parts.accounts);
    this.#stopListening = parts.broker.roomEvents.listen((event) => this.#hear(event));
  }

  /** Reads the webhooks and starts delivering; then re-reads them every `reloadMs`. */
  static async start(settings: WebhookHubSettings, parts: WebhookHubParts): Promise<WebhookHub> {
    const hub = new WebhookHub(settings, parts);
    try {
      await hub.reload();
    } catch (error) {
      // A store that fails now may answer at the next reload: the server still starts.
      logger.error("Could not read the webhooks: {error}", { error });
    }
    if (settings.reloadMs > 0) {
      hub.#timer = setInterval(() => {
        hub.reload().catch((error) => {
          logger.warn("Could not read the webhooks again: {error}", { error });
        });
      }, settings.reloadMs);
      Deno.unrefTimer(hub.#timer);
    }
    return hub;
  }

  /** The dispatcher of webhook `id`, if it is active here (tests and the dashboard). */
  dispatcher(id: string): WebhookDispatcher | undefined {
    return this.#hooks.get(id)?.dispatcher;
  }

  /** Reads the webhook list now: new ones start, removed ones stop (their queue dropped). */
  reload(): Promise<void> {
    return this.#reloading ??= this.#reload().finally(() => this.#reloading = undefined);
  }

  async #reload(): Promise<void> {
    const records = await this.#parts.store.listWebhooks();
    if (this.#closed) return;
    const seen = new Set<string>();
    for (const record of records) {
      seen.add(record.id);
      if (!this.#hooks.has(record.id)) this.#add(record);
    }
    for (const [id, hook] of this.#hooks) {
      if (seen.has(id)) continue;
      this.#hooks.delete(id);
      this.#parts.metrics.webhooks.delete(id);
      await hook.dispatcher.close();
      logger.info("Webhook {webhook} removed", { webhook: id });
    }
  }

  #add(record: WebhookRecord): void {
    const counters = new WebhookCounters();
    const dispatcher = new WebhookDispatcher(record, this.#settings, {
      send: this.#send,
      counters,
      logger,
      ...(this.#parts.clock === undefined ? {} : { clock: this.#parts.clock }),
      ...(this.#parts.random === undefined ? {} : { random: this.#parts.random }),
      onReply: (delivered, body) => this.#reply(record, delivered, body),
    });
    this.#hooks.set(record.id, {
      dispatcher,
      rooms: new Set(record.rooms.map(nameKey)),
      events: new Set(record.events),
      bot: nameKey(record.name),
      rate: new RequestRate(this.#settings, { holder: "webhook", metrics: this.#parts.metrics }),
    });
    this.#parts.metrics.webhooks.set(record.id, counters);
    // The origin only: a path or query may hold a receiver's token.
    logger.info("Webhook {webhook} active: {events} in {rooms} to {origin}, as {name}", {
      webhook: record.id,
      events: record.events.join(","),
      rooms: record.rooms.map((room) => `#${room}`).join(","),
      origin: new URL(record.url).origin,
      name: record.name,
    });
  }

  #hear(event: RoomEvent): void {
    if (this.#hooks.size === 0) return;
    const room = nameKey(event.room);
    const actor = event.type === "join" || event.type === "leave"
      ? event.nick
      : event.type === "topic" || event.type === "delete"
      ? event.by
      : event.from;
    // A webhook bot's own doings (the bot online, not a person who took the name while it was
    // not): never to its webhook, and to other webhooks without a reply, so bots cannot loop.
    const byBot = this.#bots.holds(actor);
    for (const hook of this.#hooks.values()) {
      if (!hook.rooms.has(room) || !hook.events.has(event.type)) continue;
      if (byBot && hook.bot === nameKey(actor)) continue;
      const queued: QueuedDelivery = { delivery: crypto.randomUUID(), event };
      if (byBot) queued.noReply = true;
      hook.dispatcher.enqueue(queued);
    }
  }

  async #reply(record: WebhookRecord, delivered: QueuedDelivery, text: string): Promise<void> {
    const hook = this.#hooks.get(record.id);
    if (hook === undefined) return;
    const room = delivered.event.room;
    try {
      const reply = replyOf(text);
      if (reply === undefined) return;
      const refusal = hook.rate.check();
      if (refusal !== undefined) throw refusal;
      // The same checks as a `say` frame: body length, controls, room name.
      const say = parseClientFrame(
        { type: "say", id: 0, room, ...reply },
        { maxBodyLength: this.#settings.maxBodyLength },
      ) as { room: string; body: string; action?: boolean };
      const identity: ApiKeyRecord = {
        id: `webhook:${record.id}`,
        name: record.name,
        hash: "",
        admin: false,
        createdAt: record.createdAt,
      };
      const bot = await this.#bots.inRoom(identity, say.room);
      await this.#parts.broker.say(bot, {
        room: say.room,
        body: say.body,
        ...(say.action === undefined ? {} : { action: say.action }),
      });
      this.#parts.metrics.webhooks.get(record.id)!.replies++;
    } catch (error) {
      const reason = error instanceof ChatError ? `${error.code}: ${error.message}` : String(error);
      logger.warn("Webhook {webhook}: reply not posted in #{room}: {reason}", {
        webhook: record.id,
        room,
        reason,
      });
    }
  }

  /** Stops every webhook (at shutdown): waiting events are dropped, the bots go offline. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#stopListening();
    await this.#reloading?.catch(() => {});
    await Promise.all([...this.#hooks.values()].map((hook) => hook.dispatcher.close()));
    for (const id of this.#hooks.keys()) this.#parts.metrics.webhooks.delete(id);
    this.#hooks.clear();
    this.#bots.close();
  }
}
