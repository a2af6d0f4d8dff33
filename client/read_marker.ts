/**
 * Tells the server which direct messages the user has been shown, so the
 * unread counts it announces at login stay true.
 *
 * @module
 */
import { nameKey } from "../shared/validation.ts";
import type { ChatClient } from "./chat_client.ts";
import type { ClientEvent } from "./client_event.ts";

/** Options for {@linkcode ReadMarker}. */
export interface ReadMarkerOptions {
  /** How long to gather what was shown before telling the server, in ms. Default 250. */
  delayMs?: number;
}

/**
 * Gathers the newest direct message shown from each peer and sends one
 * `read` request per peer a little later, so the burst of stored messages
 * at login costs a request per peer, not per message. Only for accounts:
 * guests have no unread counts. Failures are ignored; the next message
 * shown tries again.
 *
 * @example
 * ```ts ignore
 * import { ReadMarker } from "./read_marker.ts";
 * const marker = new ReadMarker(client);
 * for await (const event of client) {
 *   show(event); // however the client shows it
 *   marker.shown(event);
 * }
 * await marker.flush();
 * ```
 */
export class ReadMarker {
  #client: ChatClient;
  #delayMs: number;
  /** Newest id shown per peer key, not yet sent. */
  #pending = new Map<string, { peer: string; upTo: number }>();
  /** Newest id sent per peer key: history shown again is not news to the server. */
  #sent = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending = new Set<Promise<void>>();

  /** Marks what `client` shows. */
  constructor(client: ChatClient, options: ReadMarkerOptions = {}) {
    this.#client = client;
    this.#delayMs = options.delayMs ?? 250;
  }

  /** Notes that `event` was shown; only direct messages to us count. */
  shown(event: ClientEvent): void {
    if (event.type !== "dm") return;
    if (nameKey(event.to) !== nameKey(this.#client.nick)) return;
    this.read(event.from, event.id);
  }

  /**
   * Notes that the direct messages from `peer` up to id `upTo` have been
   * seen, for a view that knows it without an event at hand (a
   * conversation opened on screen).
   */
  read(peer: string, upTo: number): void {
    if (!this.#client.hasAccount) return;
    if (nameKey(peer) === nameKey(this.#client.nick)) return;
    const key = nameKey(peer);
    const known = Math.max(this.#pending.get(key)?.upTo ?? -1, this.#sent.get(key) ?? -1);
    if (known >= upTo) return;
    this.#pending.set(key, { peer, upTo });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#send();
    }, this.#delayMs);
  }

  /** Sends what is gathered now; resolves once the server has answered. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#send();
    await Promise.all(this.#sending);
  }

  #send(): void {
    if (this.#client.state === "closed") {
      this.#pending.clear();
      return;
    }
    for (const [key, { peer, upTo }] of this.#pending) {
      this.#sent.set(key, upTo);
      const sending = this.#client.request({ type: "read", with: peer, upTo }).then(
        () => {},
        () => {},
      );
      this.#sending.add(sending);
      void sending.finally(() => this.#sending.delete(sending));
    }
    this.#pending.clear();
  }
}
