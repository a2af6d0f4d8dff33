/**
 * Message changes (docs/protocol.md section 21): edits, deletions and
 * reactions of room messages, and the check of a reply's target. Who may
 * do what is decided here: the author edits (the same sender identity as
 * a `clientMsgId`'s: the account, or a guest's nickname); the author, an
 * operator or owner of the room, or a server admin deletes; any member
 * reacts. Members only, not while muted. What depends on the target's
 * state now (deleted? reacted so already? how many emoji?) is checked by
 * the bus, where that state is exact, and each change takes the room's
 * next id, is committed before its ack and delivered with the messages.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import type { ResultOf } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { ChangeKind, ChangeRecord, MessageState } from "../store/store.ts";
import type { ChatContext } from "./chat_context.ts";
import type { ChangeDraft } from "./message_change_rules.ts";
import type { Moderation } from "./moderation.ts";
import { type Member, Rank, rightsKey, type Room, userKey } from "./room.ts";
import { orStorageError } from "./storage_error.ts";

/** Settings of {@linkcode MessageChanges}. */
export interface MessageChangesOptions {
  moderation: Moderation;
  /** Most distinct emoji one message may carry (`--max-reactions-per-message`). */
  maxReactionsPerMessage: number;
}

/** What a change request names: the room, its message, and the change's own fields. */
export interface ChangeRequest {
  room: string;
  target: number;
}

/** The edits, deletions and reactions of one broker's rooms. */
export class MessageChanges {
  readonly #chat: ChatContext;
  readonly #moderation: Moderation;
  readonly #rules: { maxReactions: number };

  constructor(chat: ChatContext, options: MessageChangesOptions) {
    this.#chat = chat;
    this.#moderation = options.moderation;
    this.#rules = { maxReactions: options.maxReactionsPerMessage };
  }

  /** Replaces the text of `member`'s own message `request.target`. */
  async edit(
    member: Member,
    request: ChangeRequest & { body: string },
  ): Promise<ResultOf<"edit">> {
    const { room, target } = await this.#target(member, request, "edit");
    if (!isAuthor(member, target)) {
      throw new ChatError(
        "forbidden",
        `Cannot edit message ${request.target}: only its author can (operators cannot rewrite ` +
          "others' words; they may delete)",
      );
    }
    return await this.#recorded(room, this.#draft(member, room, request, "edit", request.body));
  }

  /** Deletes message `request.target`: the author's own, or any as an operator or admin. */
  async delete(member: Member, request: ChangeRequest): Promise<ResultOf<"delete">> {
    const { room, target } = await this.#target(member, request, "delete");
    if (
      !isAuthor(member, target) &&
      room.rankOf(rightsKey(member), member.admin, this.#chat.now()) < Rank.Operator
    ) {
      throw new ChatError(
        "forbidden",
        `Cannot delete message ${request.target}: it is ${target.from}'s; deleting others' ` +
          `messages needs operator rights in #${room.name}`,
      );
    }
    return await this.#recorded(room, this.#draft(member, room, request, "delete", ""));
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

  /**
   * Refuses a reply to what is not a message of `room` (unknown, a change
   * entry, pruned): `no_such_message`. A deleted message may be answered.
   */
  async checkReply(room: Room, replyTo: number): Promise<void> {
    const target = replyTo > room.committedId
      ? undefined
      : await orStorageError(this.#chat.store.messageState(room.key, replyTo));
    if (target === undefined) {
      throw new ChatError(
        "no_such_message",
        `Cannot reply to message ${replyTo}: there is no such message in #${room.name}`,
      );
    }
  }

  async #reaction(
    member: Member,
    request: ChangeRequest & { emoji: string },
    change: "react" | "unreact",
  ): Promise<ResultOf<"react">> {
    const { room } = await this.#target(member, request, change);
    const draft = this.#draft(member, room, request, change, request.emoji);
    const outcome = await orStorageError(this.#chat.bus.sendChange(room, draft, this.#rules));
    if (outcome.unchanged) return { ts: outcome.ts, unchanged: true };
    return { id: outcome.record.id, ts: outcome.record.ts };
  }

  /** The room (a member's, not muted in it) and the message a change names. */
  async #target(
    member: Member,
    request: ChangeRequest,
    change: ChangeKind,
  ): Promise<{ room: Room; target: MessageState }> {
    const room = this.#chat.rooms.joinedBy(member, request.room);
    this.#moderation.checkVoice(member, room, this.#chat.now());
    // Ids above the last committed are not messages yet (or never were).
    const target = request.target > room.committedId
      ? undefined
      : await orStorageError(this.#chat.store.messageState(room.key, request.target));
    if (target === undefined) {
      const verb = change === "unreact"
        ? "take back a reaction to"
        : change === "react"
        ? "react to"
        : change;
      throw new ChatError(
        "no_such_message",
        `Cannot ${verb} message ${request.target}: there is no such message in #${room.name}`,
      );
    }
    return { room, target };
  }

  #draft(
    member: Member,
    room: Room,
    request: ChangeRequest,
    change: ChangeKind,
    text: string,
  ): ChangeDraft {
    const draft: ChangeDraft = {
      room: room.key,
      change,
      target: request.target,
      from: member.nick,
      text,
      ts: this.#chat.now(),
    };
    if (change === "react" || change === "unreact") draft.user = userKey(member);
    return draft;
  }

  async #recorded(room: Room, draft: ChangeDraft): Promise<{ id: number; ts: number }> {
    const outcome = await orStorageError(this.#chat.bus.sendChange(room, draft, this.#rules));
    // Edits and deletions always change something: the bus says unchanged only of reactions.
    const record: ChangeRecord | undefined = outcome.record;
    if (record === undefined) {
      throw new ChatError("internal", `Cannot ${draft.change} message ${draft.target}: no entry`);
    }
    return { id: record.id, ts: record.ts };
  }
}

/**
 * Whether `member` wrote `message`: the same sender identity as for a
 * client message id, the account (whose sessions all bear its name) or a
 * guest's nickname, compared by name key.
 */
function isAuthor(member: Member, message: Pick<MessageState, "from">): boolean {
  return nameKey(message.from) === userKey(member);
}
