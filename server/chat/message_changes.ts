/**
 * Message changes (docs/protocol.md section 21): edits, deletions and
 * reactions of room messages. Who may act is decided from the session
 * here: members only, not while muted; whether one may delete others'
 * messages (an operator or owner of the room, or a server admin). What
 * depends on the target is checked by the bus, where the target's state is
 * exact and in turn with the room's messages: it exists, is not deleted,
 * is the maker's own (edits; deletions without that right), has the
 * reaction or room for one more emoji. Each change then takes the room's
 * next id, is committed before its ack and delivered with the messages.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import type { ResultOf } from "../../shared/protocol.ts";
import type { ChangeKind, ChangeRecord } from "../store/store.ts";
import type { ChatContext } from "./chat_context.ts";
import type { ChangeDraft, ChangeRules } from "./message_change_rules.ts";
import { changeEvent } from "./message_events.ts";
import type { Moderation } from "./moderation.ts";
import { type Member, Rank, rightsKey, type Room, userKey } from "./room.ts";
import { orStorageError } from "./storage_error.ts";

/** Settings of {@linkcode MessageChanges}. */
export interface MessageChangesOptions {
  moderation: Moderation;
  /** Most distinct emoji one message may carry (`--max-reactions-per-message`). */
  maxReactionsPerMessage: number;
}

/** What a change request names: the room and its message. */
export interface ChangeRequest {
  room: string;
  target: number;
}

/** The edits, deletions and reactions of one broker's rooms. */
export class MessageChanges {
  readonly #chat: ChatContext;
  readonly #moderation: Moderation;
  readonly #maxReactions: number;

  constructor(chat: ChatContext, options: MessageChangesOptions) {
    this.#chat = chat;
    this.#moderation = options.moderation;
    this.#maxReactions = options.maxReactionsPerMessage;
  }

  /** Replaces the text of `member`'s own message `request.target`. */
  async edit(
    member: Member,
    request: ChangeRequest & { body: string },
  ): Promise<ResultOf<"edit">> {
    return await this.#recorded(member, request, "edit", request.body);
  }

  /** Deletes message `request.target`: the author's own, or any as an operator or admin. */
  async delete(member: Member, request: ChangeRequest): Promise<ResultOf<"delete">> {
    return await this.#recorded(member, request, "delete", "");
  }

  /** Adds `member`'s reaction `request.emoji` to message `request.target`. */
  react(
    member: Member,
    request: ChangeRequest & { emoji: string },
  ): Promise<ResultOf<"react">> {
    return this.#reaction(member, request, "react");
  }

  /** Takes `member`'s reaction `request.emoji` to message `request.target` back. */
  unreact(
    member: Member,
    request: ChangeRequest & { emoji: string },
  ): Promise<ResultOf<"unreact">> {
    return this.#reaction(member, request, "unreact");
  }

  async #reaction(
    member: Member,
    request: ChangeRequest & { emoji: string },
    change: "react" | "unreact",
  ): Promise<ResultOf<"react">> {
    const { room, draft, rules } = this.#prepare(member, request, change, request.emoji);
    const outcome = await orStorageError(this.#chat.bus.sendChange(room, draft, rules));
    if (outcome.unchanged) return { ts: outcome.ts, unchanged: true };
    this.#originated(room, outcome.record);
    return { id: outcome.record.id, ts: outcome.record.ts };
  }

  async #recorded(
    member: Member,
    request: ChangeRequest,
    change: "edit" | "delete",
    text: string,
  ): Promise<{ id: number; ts: number }> {
    const { room, draft, rules } = this.#prepare(member, request, change, text);
    const outcome = await orStorageError(this.#chat.bus.sendChange(room, draft, rules));
    // Edits and deletions always change something: only reactions can be unchanged.
    if (outcome.record === undefined) {
      throw new ChatError("internal", `Cannot ${change} message ${request.target}: no entry made`);
    }
    this.#originated(room, outcome.record);
    return { id: outcome.record.id, ts: outcome.record.ts };
  }

  /** Tells room event observers (webhooks) of a change committed here: once, on this instance. */
  #originated(room: Room, record: ChangeRecord): void {
    this.#chat.originated(changeEvent(record, { room: room.name, history: false }));
  }

  /**
   * The room (a member's, not muted in it), the change as the bus takes it,
   * and the rules it is checked with. Synchronous: a change reaches the bus
   * in the order its request came, as a message does.
   */
  #prepare(
    member: Member,
    request: ChangeRequest,
    change: ChangeKind,
    text: string,
  ): { room: Room; draft: ChangeDraft; rules: ChangeRules } {
    const room = this.#chat.rooms.joinedBy(member, request.room);
    const now = this.#chat.now();
    this.#moderation.checkVoice(member, room, now);
    const draft: ChangeDraft = {
      room: room.key,
      change,
      target: request.target,
      from: member.nick,
      // The sender identity of a client message id: what authorship is checked by.
      user: userKey(member),
      text,
      ts: now,
    };
    const moderator = change === "delete" &&
      room.rankOf(rightsKey(member), member.admin, now) >= Rank.Operator;
    return { room, draft, rules: { maxReactions: this.#maxReactions, moderator } };
  }
}
