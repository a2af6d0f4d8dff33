/**
 * The rules of a message change that depend on its target's state now
 * (docs/protocol.md section 21): a deleted message takes no change, a
 * reaction given twice or taken back when never given changes nothing, and
 * a message carries a bounded number of distinct emoji. The bus applies
 * them where the state is exact: in memory on one instance, in a Lua script
 * on Redis (which gives back the {@linkcode ChangeStatus} this module turns
 * into the error).
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { nameKey } from "../../shared/validation.ts";
import type { ChangeKind, ChangeRecord, MessageState } from "../store/store.ts";

/** A change as the broker makes it: the bus gives it its id. */
export type ChangeDraft = Omit<ChangeRecord, "id">;

/** What a change did: recorded (with its entry), or nothing to record. */
export type ChangeOutcome = { record: ChangeRecord; unchanged?: never } | {
  record?: never;
  unchanged: true;
  ts: number;
};

/** What the Redis script says of a change; the same words the in-memory check uses. */
export const ChangeStatus = {
  applied: 0,
  noSuchMessage: 1,
  deleted: 2,
  unchanged: 3,
  tooManyReactions: 4,
  /** An edit by another than the author, or a deletion by another without the right. */
  notAuthor: 5,
} as const;

/**
 * What a change is checked with besides its target's state: the most emoji
 * a message may carry, and whether its maker may delete others' messages
 * (an operator or owner of the room, or a server admin).
 */
export interface ChangeRules {
  maxReactions: number;
  moderator: boolean;
}

/** One of {@linkcode ChangeStatus}. */
export type ChangeStatus = typeof ChangeStatus[keyof typeof ChangeStatus];

const VERBS: Record<ChangeKind, string> = {
  edit: "edit",
  delete: "delete",
  react: "react to",
  unreact: "take back a reaction to",
};

/**
 * The error of a change refused for `status` (never `applied` or `unchanged`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChangeStatus, changeRefusal } from "./message_change_rules.ts";
 * const error = changeRefusal(ChangeStatus.deleted, { change: "edit", target: 42 }, { maxReactions: 20 });
 * assert.equal(error.message, "Cannot edit message 42: it was deleted");
 * ```
 */
export function changeRefusal(
  status: ChangeStatus,
  draft: Pick<ChangeDraft, "change" | "target">,
  rules: Pick<ChangeRules, "maxReactions">,
): ChatError {
  const what = `Cannot ${VERBS[draft.change]} message ${draft.target}`;
  switch (status) {
    case ChangeStatus.notAuthor:
      return draft.change === "edit"
        ? new ChatError(
          "forbidden",
          `${what}: only its author can (operators cannot rewrite others' words; they may delete)`,
        )
        : new ChatError(
          "forbidden",
          `${what}: it is another's; deleting others' messages needs operator rights in the room`,
        );
    case ChangeStatus.deleted:
      return new ChatError("no_such_message", `${what}: it was deleted`);
    case ChangeStatus.tooManyReactions:
      return new ChatError(
        "too_many_reactions",
        `${what}: it has ${rules.maxReactions} different reactions, the most a message may have; ` +
          "add to one of those instead",
      );
    case ChangeStatus.noSuchMessage:
      return new ChatError("no_such_message", `${what}: there is no such message in this room`);
    default:
      return new ChatError("internal", `${what}: unexpected change status ${status}`);
  }
}

/**
 * Checks `draft` against its target's `state`: `applied` when it is to be
 * recorded, `unchanged` when it would change nothing, else a refusal.
 * `author` says whether the draft's maker wrote the message (see
 * {@linkcode isAuthorKey}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChangeStatus, checkChange } from "./message_change_rules.ts";
 * const state = { id: 1, from: "ann", deleted: false, reactions: new Map([["👍", new Set(["bob"])]]) };
 * const draft = { change: "react", target: 1, user: "bob", text: "👍" } as const;
 * const rules = { maxReactions: 20, moderator: false };
 * assert.equal(checkChange(state, draft, { ...rules, author: false }), ChangeStatus.unchanged);
 * ```
 */
export function checkChange(
  state: Pick<MessageState, "deleted" | "reactions">,
  draft: Pick<ChangeDraft, "change" | "user" | "text">,
  rules: ChangeRules & { author: boolean },
): ChangeStatus {
  if (state.deleted) return ChangeStatus.deleted;
  const user = draft.user ?? "";
  switch (draft.change) {
    case "edit":
      return rules.author ? ChangeStatus.applied : ChangeStatus.notAuthor;
    case "delete":
      return rules.author || rules.moderator ? ChangeStatus.applied : ChangeStatus.notAuthor;
    case "react": {
      const users = state.reactions.get(draft.text);
      if (users?.has(user)) return ChangeStatus.unchanged;
      if (users === undefined && state.reactions.size >= rules.maxReactions) {
        return ChangeStatus.tooManyReactions;
      }
      return ChangeStatus.applied;
    }
    case "unreact":
      return state.reactions.get(draft.text)?.has(user)
        ? ChangeStatus.applied
        : ChangeStatus.unchanged;
  }
}

/**
 * Whether the user keyed `user` wrote a message sent as `from`: the sender
 * identity of a client message id, the account (whose sessions all bear its
 * name) or a guest's nickname, by name key.
 */
export function isAuthorKey(from: string, user: string): boolean {
  return nameKey(from) === user;
}

/** Applies a change that {@linkcode checkChange} let through to `state`. */
export function applyToState(state: MessageState, change: ChangeDraft): void {
  const user = change.user ?? "";
  switch (change.change) {
    case "edit":
      break;
    case "delete":
      state.deleted = true;
      state.reactions.clear();
      break;
    case "react": {
      let users = state.reactions.get(change.text);
      if (users === undefined) state.reactions.set(change.text, users = new Set());
      users.add(user);
      break;
    }
    case "unreact": {
      const users = state.reactions.get(change.text);
      users?.delete(user);
      if (users?.size === 0) state.reactions.delete(change.text);
      break;
    }
  }
}
