/**
 * Away state (docs/protocol.md, section 22): a user's away message, held
 * for all its sessions while it is online, announced to its sessions and
 * to everyone sharing a room with it, and limited in how often it may
 * change, so that toggling it cannot flood a room.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import type { AwayEvent, ResultOf } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import { TokenBucket } from "../limits/token_bucket.ts";
import type { ChatContext } from "./chat_context.ts";
import type { Member } from "./room.ts";
import { orStorageError } from "./storage_error.ts";

/** Limits of {@linkcode AwayStatus}. */
export interface AwayLimits {
  /** Longest away message, in code points. */
  maxAwayLength?: number;
  /** Changes one user may make per minute (a bucket of as many, refilled as fast). */
  awayChangesPerMinute?: number;
}

/**
 * The away messages of the users online here, by name key: the truth when
 * this instance is alone, else a copy kept from the `away` events (every
 * instance sees each of them) for the users with sessions here.
 */
export type AwayMessages = Map<string, string>;

/**
 * Sets and ends users' away state.
 *
 * @example
 * ```ts ignore
 * const result = await broker.away.set(session, "lunch"); // { away: "lunch" }
 * ```
 */
export class AwayStatus {
  readonly #chat: ChatContext;
  readonly #messages: AwayMessages;
  readonly #maxLength: number;
  readonly #perMinute: number;
  // Per user key, made at its first change and dropped when it goes offline.
  readonly #changes = new Map<string, TokenBucket>();

  constructor(chat: ChatContext, options: AwayLimits & { messages: AwayMessages }) {
    this.#chat = chat;
    this.#messages = options.messages;
    this.#maxLength = options.maxAwayLength ?? 200;
    this.#perMinute = options.awayChangesPerMinute ?? 6;
  }

  /** The away message of the online user with this name key, as this instance knows it. */
  messageOf(key: string): string | undefined {
    return this.#messages.get(key);
  }

  /**
   * Sets `member`'s user away with `message`, or back without one. The
   * same state again tells nobody and costs nothing; a change beyond the
   * user's allowance is `rate_limited`. Resolves once the `away` event is
   * delivered here (queued before the ack).
   */
  async set(member: Member, message: string | undefined): Promise<ResultOf<"away">> {
    if (message !== undefined && [...message].length > this.#maxLength) {
      throw new ChatError(
        "invalid_body",
        `Invalid away message: ${[...message].length} characters exceeds limit ${this.#maxLength}`,
      );
    }
    const key = nameKey(member.nick);
    const result = message === undefined ? {} : { away: message };
    if (this.#messages.get(key) === message) return result;
    let bucket = this.#changes.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket({ burst: this.#perMinute, ratePerSecond: this.#perMinute / 60 });
      this.#changes.set(key, bucket);
    }
    const wait = bucket.take(performance.now());
    if (wait > 0) {
      this.#chat.metrics.rateLimited++;
      throw new ChatError(
        "rate_limited",
        `Too many away changes: ${this.#perMinute} a minute`,
        { retryAfterMs: wait },
      );
    }
    const event: AwayEvent = {
      type: "away",
      nick: member.nick,
      ...(message === undefined ? {} : { message }),
      ts: this.#chat.now(),
    };
    await orStorageError(this.#chat.presence.setAway(member, message, event));
    return result;
  }

  /** Notes an `away` event from any instance: the copy of a user online here follows it. */
  noted(event: AwayEvent): void {
    const key = nameKey(event.nick);
    if (this.#chat.users.sessions(key).size === 0) return;
    if (event.message === undefined) this.#messages.delete(key);
    else this.#messages.set(key, event.message);
  }

  /** The user with this name key went offline here: its state and allowance go. */
  forget(key: string): void {
    this.#messages.delete(key);
    this.#changes.delete(key);
  }

  /** A guest was renamed: its state follows it (its allowance too). */
  renamed(from: string, to: string): void {
    const message = this.#messages.get(from);
    const bucket = this.#changes.get(from);
    this.forget(from);
    if (message !== undefined) this.#messages.set(to, message);
    if (bucket !== undefined) this.#changes.set(to, bucket);
  }
}
