/**
 * Webhooks as an operator manages them (`chat webhook add|list|remove`):
 * checked, given an id and a secret, and kept in the {@linkcode Store}.
 * Running servers read the list again every `--webhook-reload` (see
 * webhook_hub.ts), so a change reaches them without a restart.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { nameKey, validateNick, validateRoom } from "../../shared/validation.ts";
import type { Store, WebhookRecord } from "../store/store.ts";

/** The room events a webhook may hear (docs/webhooks.md). */
export const WEBHOOK_EVENTS = [
  "message",
  "join",
  "leave",
  "topic",
  // Message changes (docs/protocol.md section 21).
  "edit",
  "delete",
  "react",
  "unreact",
] as const;

/** One of {@linkcode WEBHOOK_EVENTS}. */
export type WebhookEvent = typeof WEBHOOK_EVENTS[number];

/** What a webhook hears when `--events` is not given. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEvent[] = ["message"];

/** Most rooms one webhook may hear. */
export const MAX_WEBHOOK_ROOMS = 100;

/** Longest webhook URL accepted, in characters. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** A webhook just made: `record.secret` is shown once by `chat webhook add`. */
export interface NewWebhook {
  record: WebhookRecord;
}

/**
 * Checks a webhook URL: http or https, a host, no credentials in it (they
 * would be logged with the URL), no fragment. Loopback and private
 * addresses are allowed: only an operator adds webhooks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateWebhookUrl } from "./webhook_service.ts";
 * assert.equal(validateWebhookUrl("http://127.0.0.1:9000/hook"), "http://127.0.0.1:9000/hook");
 * assert.throws(() => validateWebhookUrl("ftp://example.org/"), /http or https/);
 * ```
 */
export function validateWebhookUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ChatError("bad_request", `Webhook URL ${JSON.stringify(input)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ChatError(
      "bad_request",
      `Webhook URL ${JSON.stringify(input)} must be http or https, not ${url.protocol}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new ChatError(
      "bad_request",
      "A webhook URL must not carry a user or password: the signature authenticates the server",
    );
  }
  if (url.hash !== "") {
    throw new ChatError("bad_request", "A webhook URL must not have a #fragment");
  }
  const text = url.toString();
  if (text.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new ChatError(
      "bad_request",
      `Webhook URL is ${text.length} characters, over the limit of ${MAX_WEBHOOK_URL_LENGTH}`,
    );
  }
  return text;
}

/**
 * Parses a comma-separated list of event types, each once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWebhookEvents } from "./webhook_service.ts";
 * assert.deepEqual(parseWebhookEvents("message, join"), ["message", "join"]);
 * assert.throws(() => parseWebhookEvents("message,typing"), /Unknown webhook event "typing"/);
 * ```
 */
export function parseWebhookEvents(list: string): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  for (const part of list.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(part)) {
      throw new ChatError(
        "bad_request",
        `Unknown webhook event "${part}": use ${WEBHOOK_EVENTS.join(", ")}`,
      );
    }
    if (!events.includes(part as WebhookEvent)) events.push(part as WebhookEvent);
  }
  if (events.length === 0) throw new ChatError("bad_request", "A webhook needs at least one event");
  return events;
}

/**
 * Parses a comma-separated list of rooms (with or without `#`), each once by name key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWebhookRooms } from "./webhook_service.ts";
 * assert.deepEqual(parseWebhookRooms("#general,ops,General"), ["general", "ops"]);
 * ```
 */
export function parseWebhookRooms(list: string): string[] {
  const rooms: string[] = [];
  const keys = new Set<string>();
  for (const part of list.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
    const room = validateRoom(part);
    if (keys.has(nameKey(room))) continue;
    keys.add(nameKey(room));
    rooms.push(room);
  }
  if (rooms.length === 0) throw new ChatError("bad_request", "A webhook needs at least one room");
  if (rooms.length > MAX_WEBHOOK_ROOMS) {
    throw new ChatError(
      "bad_request",
      `A webhook may hear at most ${MAX_WEBHOOK_ROOMS} rooms, not ${rooms.length}`,
    );
  }
  return rooms;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Makes, lists and removes webhooks in a {@linkcode Store}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebhookService } from "./webhook_service.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * const store = SqliteStore.memory();
 * const webhooks = new WebhookService(store);
 * const { record } = await webhooks.create("https://bots.example.org/chat", {
 *   rooms: ["general"],
 *   name: "echobot",
 * });
 * assert.equal((await webhooks.list())[0]?.id, record.id);
 * assert.equal(await webhooks.remove(record.id), true);
 * await store.close();
 * ```
 */
export class WebhookService {
  #store: Store;
  #now: () => number;

  constructor(store: Store, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
  }

  /** Checks and stores a new webhook with a fresh id and secret. */
  async create(
    url: string,
    options: { rooms: readonly string[]; name: string; events?: readonly WebhookEvent[] },
  ): Promise<NewWebhook> {
    const record: WebhookRecord = {
      id: hex(crypto.getRandomValues(new Uint8Array(8))),
      url: validateWebhookUrl(url),
      name: validateNick(options.name),
      rooms: parseWebhookRooms(options.rooms.join(",")),
      events: [...(options.events ?? DEFAULT_WEBHOOK_EVENTS)],
      secret: `whsec_${base64url(crypto.getRandomValues(new Uint8Array(32)))}`,
      createdAt: this.#now(),
    };
    await this.#store.putWebhook(record);
    return { record };
  }

  /** Every webhook, oldest first (secrets included: callers must not show them). */
  list(): Promise<WebhookRecord[]> {
    return this.#store.listWebhooks();
  }

  /** Removes the webhook `id`; false when there was none. */
  remove(id: string): Promise<boolean> {
    return this.#store.deleteWebhook(id);
  }
}
