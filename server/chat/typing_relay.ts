/**
 * Typing indicators (docs/protocol.md, section 22): relayed to a room's
 * members or to a direct message's recipient, on every instance, never
 * stored, and at most one relay per interval per user and conversation.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import type { ResultOf, TypingEvent, TypingState } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { ChatContext } from "./chat_context.ts";
import type { Moderation } from "./moderation.ts";
import type { Member } from "./room.ts";
import { orStorageError } from "./storage_error.ts";

/** What a `typing` request asks (exactly one of `room` and `to`). */
export interface TypingRequest {
  room?: string | undefined;
  to?: string | undefined;
  state: TypingState;
}

/** When a user last had a typing state relayed to a conversation, and which. */
interface LastRelay {
  at: number;
  state: TypingState;
}

// The throttle's memory is swept of stale entries once it holds this many.
const SWEEP_AT = 4096;

/**
 * Decides which typing states are relayed: one per interval per user and
 * conversation, and a `done` after a relayed `active` or `paused` even
 * sooner (once), so that no indicator lingers for lack of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TypingThrottle } from "./typing_relay.ts";
 * const throttle = new TypingThrottle({ intervalMs: 3000 });
 * assert.equal(throttle.admit("ann r:dev", "active", 0), true);
 * assert.equal(throttle.admit("ann r:dev", "active", 1000), false);
 * assert.equal(throttle.admit("ann r:dev", "done", 1500), true);
 * assert.equal(throttle.admit("ann r:dev", "done", 1600), false);
 * assert.equal(throttle.admit("ann r:dev", "active", 3000), false); // 1.5 s after the done
 * assert.equal(throttle.admit("ann r:dev", "active", 4500), true);
 * ```
 */
export class TypingThrottle {
  readonly #intervalMs: number;
  readonly #last = new Map<string, LastRelay>();

  constructor(options: { intervalMs: number }) {
    this.#intervalMs = options.intervalMs;
  }

  /** Whether `state` of `conversation` (user and where) is relayed at `now`; notes it if so. */
  admit(conversation: string, state: TypingState, now: number): boolean {
    const last = this.#last.get(conversation);
    const due = last === undefined || now - last.at >= this.#intervalMs;
    const ends = state === "done" && last !== undefined && last.state !== "done";
    if (!due && !ends) return false;
    if (this.#last.size >= SWEEP_AT) this.#sweep(now);
    this.#last.set(conversation, { at: now, state });
    return true;
  }

  /** Forgets what a user (name key) had relayed: it went offline. */
  forget(user: string): void {
    const prefix = `${user} `;
    for (const key of this.#last.keys()) if (key.startsWith(prefix)) this.#last.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, last] of this.#last) {
      if (now - last.at >= this.#intervalMs) this.#last.delete(key);
    }
  }
}

/** Relays typing states. */
export class TypingRelay {
  readonly #chat: ChatContext;
  readonly #moderation: Moderation;
  readonly #throttle: TypingThrottle;
  readonly #clock: () => number;

  constructor(
    chat: ChatContext,
    options: { moderation: Moderation; intervalMs?: number; clock?: () => number },
  ) {
    this.#chat = chat;
    this.#moderation = options.moderation;
    this.#throttle = new TypingThrottle({ intervalMs: options.intervalMs ?? 3000 });
    this.#clock = options.clock ?? (() => performance.now());
  }

  /**
   * Relays `member`'s typing state to the room's other members (it must be
   * a member, and not muted there) or to the recipient's sessions (who must
   * be online). Resolves `{throttled: true}` when it was too soon to relay.
   */
  async relay(member: Member, request: TypingRequest): Promise<ResultOf<"typing">> {
    const { rooms, users, presence } = this.#chat;
    const from = nameKey(member.nick);
    const ts = this.#chat.now();
    if (request.room !== undefined) {
      const room = rooms.joinedBy(member, request.room);
      this.#moderation.checkVoice(member, room, ts);
      if (!this.#throttle.admit(`${from} r:${room.key}`, request.state, this.#clock())) {
        return { throttled: true };
      }
      const event: TypingEvent = {
        type: "typing",
        room: room.name,
        from: member.nick,
        state: request.state,
        ts,
      };
      await this.#chat.publish({ to: { room: room.key, except: from }, event });
      return {};
    }
    const to = request.to ?? "";
    const key = nameKey(to);
    // To oneself: nobody to tell.
    if (key === from) return {};
    const recipient = users.first(key)?.nick ?? (await orStorageError(presence.user(key)))?.nick;
    if (recipient === undefined) throw new ChatError("no_such_user", `No user ${to} is online`);
    if (!this.#throttle.admit(`${from} d:${key}`, request.state, this.#clock())) {
      return { throttled: true };
    }
    const event: TypingEvent = {
      type: "typing",
      from: member.nick,
      to: recipient,
      state: request.state,
      ts,
    };
    await this.#chat.publish({ to: { users: [key] }, event });
    return {};
  }

  /** The user with this name key went offline here. */
  forget(user: string): void {
    this.#throttle.forget(user);
  }
}
