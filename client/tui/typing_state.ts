/**
 * Typing indicators in the full-screen client (docs/protocol.md, section
 * 22): who is typing in each conversation, each for at most
 * {@linkcode TYPING_SHOWN_MS} after its last `active`, and what this user's
 * own typing tells the server, at most once per {@linkcode TYPING_SEND_MS}
 * per conversation.
 *
 * @module
 */
import type { TypingState } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";

/** How long an `active` is shown without another, in ms. */
export const TYPING_SHOWN_MS = 6000;
/** Least time between two typing states sent for one conversation (a `done` aside), in ms. */
export const TYPING_SEND_MS = 3000;
/** Idle time after which typing is `paused`, in ms. */
export const TYPING_PAUSE_MS = 5000;

/**
 * Who is typing where, as the server said, expiring by the clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TypingIndicators } from "./typing_state.ts";
 * const typing = new TypingIndicators();
 * typing.set("room:dev", "bob", "active", 0);
 * assert.deepEqual(typing.typing("room:dev", 5999), ["bob"]);
 * assert.deepEqual(typing.typing("room:dev", 6000), []);
 * ```
 */
export class TypingIndicators {
  // Conversation key → nick key → who and since when.
  readonly #typing = new Map<string, Map<string, { nick: string; at: number }>>();

  /** Notes `nick`'s state in a conversation: shown while `active`, gone otherwise. */
  set(conversation: string, nick: string, state: TypingState, now: number): void {
    let typers = this.#typing.get(conversation);
    if (state === "active") {
      if (typers === undefined) this.#typing.set(conversation, typers = new Map());
      typers.set(nameKey(nick), { nick, at: now });
      return;
    }
    this.stop(conversation, nick);
  }

  /** `nick` stopped typing there (it said done, or its message came). */
  stop(conversation: string, nick: string): void {
    const typers = this.#typing.get(conversation);
    typers?.delete(nameKey(nick));
    if (typers?.size === 0) this.#typing.delete(conversation);
  }

  /** Who is typing in the conversation at `now`, in the order they started. */
  typing(conversation: string, now: number): string[] {
    const typers = this.#typing.get(conversation);
    if (typers === undefined) return [];
    const shown: string[] = [];
    for (const [key, { nick, at }] of typers) {
      if (now - at < TYPING_SHOWN_MS) shown.push(nick);
      else typers.delete(key);
    }
    if (typers.size === 0) this.#typing.delete(conversation);
    return shown;
  }

  /** Whether anyone is shown typing anywhere (a clock tick may change the screen). */
  get any(): boolean {
    return this.#typing.size > 0;
  }
}

/**
 * What this user's typing tells the server, per conversation: `active` while
 * typing (again every {@linkcode TYPING_SEND_MS} at most), `paused` after
 * {@linkcode TYPING_PAUSE_MS} idle, `done` when the input is sent or cleared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TypingSender } from "./typing_state.ts";
 * const sender = new TypingSender();
 * assert.equal(sender.edited("room:dev", "h", 0), "active");
 * assert.equal(sender.edited("room:dev", "hi", 1000), undefined); // sent 1 s ago
 * assert.deepEqual(sender.idle(6000), [["room:dev", "paused"]]);
 * assert.equal(sender.edited("room:dev", "", 6500), "done");
 * ```
 */
export class TypingSender {
  // Conversation key → what was last sent, when, and when the input last changed.
  readonly #sent = new Map<string, { state: TypingState; at: number; editedAt: number }>();

  /** The input of a conversation is now `text`: the state to send, if any. */
  edited(conversation: string, text: string, now: number): TypingState | undefined {
    const last = this.#sent.get(conversation);
    // A command is not a message being typed.
    const typing = text.trim() !== "" && !(text.startsWith("/") && !text.startsWith("//"));
    if (!typing) {
      if (last === undefined || last.state === "done") return undefined;
      this.#sent.set(conversation, { state: "done", at: now, editedAt: now });
      return "done";
    }
    if (last !== undefined) last.editedAt = now;
    if (last !== undefined && now - last.at < TYPING_SEND_MS) return undefined;
    this.#sent.set(conversation, { state: "active", at: now, editedAt: now });
    return "active";
  }

  /** The conversations whose typing has been idle long enough to say `paused`. */
  idle(now: number): Array<[string, TypingState]> {
    const paused: Array<[string, TypingState]> = [];
    for (const [conversation, last] of this.#sent) {
      if (last.state === "active" && now - last.editedAt >= TYPING_PAUSE_MS) {
        this.#sent.set(conversation, { state: "paused", at: now, editedAt: last.editedAt });
        paused.push([conversation, "paused"]);
      }
    }
    return paused;
  }

  /** Forgets a conversation (closed, left). */
  forget(conversation: string): void {
    this.#sent.delete(conversation);
  }
}
