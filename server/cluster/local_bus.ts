/**
 * The bus of a single instance: ids are assigned here, commits go through
 * the broker's group commit, and events go straight to the broker's
 * sessions. This is the embedded default and the fast path.
 *
 * @module
 */
import { nameKey } from "../../shared/validation.ts";
import type { Room } from "../chat/room.ts";
import type {
  ChangeRecord,
  ClientMsgQuery,
  DmRecord,
  MessageRecord,
  MessageState,
  MsgIdWindow,
  Store,
} from "../store/store.ts";
import {
  applyToState,
  type ChangeDraft,
  type ChangeOutcome,
  changeRefusal,
  type ChangeRules,
  ChangeStatus,
  checkChange,
  isAuthorKey,
} from "../chat/message_change_rules.ts";
import { ChatError } from "../../shared/errors.ts";

/** The key of a message's state in {@linkcode LocalBus}'s pending changes. */
function stateKey(room: Room, id: number): string {
  return `${room.key}\u0000${id}`;
}
import {
  type Bus,
  type BusNode,
  type DmDraft,
  type Envelope,
  type MessageDraft,
  msgIdConflict,
  type SentMessage,
} from "./cluster.ts";

/** Options for {@linkcode LocalBus}. */
export interface LocalBusOptions {
  /** The last DM id committed (DM ids go on from it). */
  lastDmId?: number;
  /**
   * Where earlier messages are looked up by client message id; without it,
   * only a retry while the first send is still in flight is recognised.
   */
  store?: Pick<Store, "messageByClientMsgId" | "dmByClientMsgId" | "messageState">;
  /** How long and how many client message ids are remembered; none are by default. */
  msgIdWindow?: MsgIdWindow;
}

/** What a send under a client message id must match to be its retry. */
interface Sendable {
  body: string;
  action: boolean;
}

/**
 * A {@linkcode Bus} within one process.
 *
 * @example
 * ```ts ignore
 * import { Broker } from "../chat/broker.ts";
 * import { LocalBus } from "./local_bus.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * const store = SqliteStore.memory();
 * const broker = await Broker.open(store, { bus: new LocalBus({ lastDmId: await store.lastDmId() }) });
 * ```
 */
export class LocalBus implements Bus {
  #node: BusNode | undefined;
  #dmLastId: number;
  readonly #store: LocalBusOptions["store"];
  readonly #window: MsgIdWindow | undefined;
  // Per room, and one line for DMs: the latest send still looking its client
  // message id up. Later sends on that line take their ids after it, so ids
  // (and with them commits and deliveries) follow the order of the calls.
  readonly #lookups = new Map<string, Promise<void>>();
  // Sends under a client message id that are not committed yet, by sender,
  // target and id: a retry meanwhile gets their outcome.
  readonly #inFlight = new Map<string, Promise<Sendable>>();
  // Message changes (section 21): the state of each message with changes
  // not committed yet, as the store has it plus those changes, so the next
  // change is checked against it without waiting for their commits.
  readonly #states = new Map<string, { state: MessageState; pending: number }>();

  constructor(options: LocalBusOptions = {}) {
    this.#dmLastId = options.lastDmId ?? 0;
    this.#store = options.store;
    const window = options.msgIdWindow;
    this.#window = window !== undefined && window.ms > 0 && window.perUser > 0 ? window : undefined;
  }

  start(node: BusNode): Promise<void> {
    this.#node = node;
    return Promise.resolve();
  }

  async sendMessage(room: Room, draft: MessageDraft): Promise<SentMessage> {
    const node = this.#started();
    const clientMsgId = this.#window === undefined ? undefined : draft.clientMsgId;
    const post = async () => {
      const record: MessageRecord = {
        room: draft.room,
        id: ++room.lastId,
        from: draft.from,
        body: draft.body,
        ts: draft.ts,
        action: draft.action,
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
        ...(draft.replyTo === undefined ? {} : { replyTo: draft.replyTo }),
        ...(draft.file === undefined ? {} : { file: draft.file }),
      };
      await node.commit({ kind: "message", record });
      // Commits resolve in order, so delivery follows id order.
      node.deliverMessage(room, record);
      return record;
    };
    const line = `room:${room.key}`;
    const replyTo = draft.replyTo;
    if (clientMsgId === undefined && replyTo === undefined && !this.#lookups.has(line)) {
      return { record: await post(), duplicate: false };
    }
    const sender = nameKey(draft.from);
    return await this.#send(line, draft, post, {
      // Section 21: a reply answers a message of the room, stored (or being changed).
      check: replyTo === undefined ? undefined : async () => {
        if (
          replyTo > room.committedId ||
          (!this.#states.has(stateKey(room, replyTo)) &&
            await this.#store?.messageState(room.key, replyTo) === undefined)
        ) {
          throw new ChatError(
            "no_such_message",
            `Cannot reply to message ${replyTo}: there is no such message in #${room.name}`,
          );
        }
      },
      scope: clientMsgId === undefined ? undefined : `${sender}:r:${room.key}:${clientMsgId}`,
      find: (query) => this.#store?.messageByClientMsgId(room.key, query),
      query: clientMsgId === undefined ? undefined : this.#query(sender, clientMsgId, draft.ts),
    });
  }

  async sendChange(
    room: Room,
    draft: ChangeDraft,
    rules: ChangeRules,
  ): Promise<ChangeOutcome> {
    const node = this.#started();
    const store = this.#store;
    if (store === undefined) throw new Error("LocalBus needs a store for message changes");
    // On the room's line: each change is checked (its state read included)
    // after those before it, and takes its id in turn with the messages;
    // commits are not waited for.
    const line = `room:${room.key}`;
    const previous = this.#lookups.get(line);
    const { promise: turn, resolve: done } = Promise.withResolvers<void>();
    const tail = previous === undefined ? turn : previous.then(() => turn);
    this.#lookups.set(line, tail);
    void tail.then(() => {
      if (this.#lookups.get(line) === tail) this.#lookups.delete(line);
    });
    const key = stateKey(room, draft.target);
    let entry: { state: MessageState; pending: number } | undefined;
    let record: ChangeRecord;
    let committing: Promise<void>;
    try {
      await previous;
      entry = this.#states.get(key);
      if (entry === undefined) {
        // Ids above the last committed are not messages yet (or never were).
        const state = draft.target > room.committedId
          ? undefined
          : await store.messageState(room.key, draft.target);
        if (state === undefined) throw changeRefusal(ChangeStatus.noSuchMessage, draft, rules);
        entry = { state, pending: 0 };
      }
      const author = isAuthorKey(entry.state.from, draft.user ?? "");
      const status = checkChange(entry.state, draft, { ...rules, author });
      if (status === ChangeStatus.unchanged) return { unchanged: true, ts: draft.ts };
      if (status !== ChangeStatus.applied) throw changeRefusal(status, draft, rules);
      record = { ...draft, id: ++room.lastId };
      applyToState(entry.state, record);
      entry.pending++;
      this.#states.set(key, entry);
      committing = node.commit({ kind: "change", record });
    } finally {
      done();
    }
    const held = entry;
    try {
      await committing;
    } catch (error) {
      // The store has what was committed: read it again next time.
      if (this.#states.get(key) === held) this.#states.delete(key);
      throw error;
    } finally {
      if (--held.pending === 0 && this.#states.get(key) === held) this.#states.delete(key);
    }
    // Commits resolve in order, so delivery follows id order, messages included.
    node.deliverChange(room, record);
    return { record };
  }

  async sendDm(
    draft: DmDraft,
    keys: { from: string; to: string; online: boolean },
  ): Promise<{ record: DmRecord; delivered: boolean; duplicate: boolean }> {
    const node = this.#started();
    const clientMsgId = this.#window === undefined ? undefined : draft.clientMsgId;
    const post = async () => {
      const { clientMsgId: _given, ...fields } = draft;
      const record: DmRecord = {
        id: ++this.#dmLastId,
        ...fields,
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
      };
      await node.commit({ kind: "dm", record, delivered: keys.online });
      return record;
    };
    const line = "dm";
    if (clientMsgId === undefined && !this.#lookups.has(line)) {
      return { record: await post(), delivered: keys.online, duplicate: false };
    }
    const sent = await this.#send(line, draft, post, {
      scope: clientMsgId === undefined ? undefined : `${keys.from}:d:${keys.to}:${clientMsgId}`,
      find: (query) => this.#store?.dmByClientMsgId(keys.to, query),
      query: clientMsgId === undefined ? undefined : this.#query(keys.from, clientMsgId, draft.ts),
    });
    return { ...sent, delivered: !sent.duplicate && keys.online };
  }

  /**
   * Sends `draft` with `post` unless `lookup.query` names a message sent
   * before, in turn on `line` (see #lookups).
   */
  async #send<T extends Sendable>(
    line: string,
    draft: Sendable & { clientMsgId?: string },
    post: () => Promise<T>,
    lookup: {
      /** Refuses the send (after those before it on the line, before any retry lookup). */
      check?: (() => Promise<void>) | undefined;
      scope: string | undefined;
      query: ClientMsgQuery | undefined;
      find: (query: ClientMsgQuery) => Promise<T | undefined> | undefined;
    },
  ): Promise<{ record: T; duplicate: boolean }> {
    const previous = this.#lookups.get(line);
    const { promise: turn, resolve: done } = Promise.withResolvers<void>();
    const tail = previous === undefined ? turn : previous.then(() => turn);
    this.#lookups.set(line, tail);
    void tail.then(() => {
      if (this.#lookups.get(line) === tail) this.#lookups.delete(line);
    });
    let posting: Promise<T>;
    try {
      await previous;
      await lookup.check?.();
      const { scope, query } = lookup;
      if (scope !== undefined && query !== undefined) {
        const inFlight = this.#inFlight.get(scope) as Promise<T> | undefined;
        // A first send that failed stored nothing: this one goes out anew.
        const earlier = inFlight === undefined
          ? await lookup.find(query)
          : await inFlight.catch(() => undefined);
        if (earlier !== undefined) return { record: retryOf(earlier, draft), duplicate: true };
      }
      posting = post();
      if (scope !== undefined) {
        this.#inFlight.set(scope, posting);
        const forget = () => {
          if (this.#inFlight.get(scope) === posting) this.#inFlight.delete(scope);
        };
        posting.then(forget, forget);
      }
    } finally {
      done();
    }
    return { record: await posting, duplicate: false };
  }

  #query(sender: string, clientMsgId: string, ts: number): ClientMsgQuery {
    const window = this.#window!;
    return { sender, clientMsgId, since: ts - window.ms, perUser: window.perUser };
  }

  /**
   * Delivers `envelope` here. Alone, the broker has already made the changes
   * to rooms and grants it carries (re-applying a copy could undo a later
   * change): only evictions and take-overs remain to act on.
   */
  publish(envelope: Envelope): undefined {
    const fx = envelope.fx?.filter((effect) =>
      effect.kind === "evict" || effect.kind === "displace"
    );
    this.#started().receive({ ...envelope, fx });
    return undefined;
  }

  watch(_room: Room): undefined {
    return undefined;
  }

  unwatch(_room: Room): void {}

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #started(): BusNode {
    if (this.#node === undefined) throw new Error("LocalBus used before start()");
    return this.#node;
  }
}

/** `earlier`, if `draft` is the same message; a conflict otherwise. */
function retryOf<T extends Sendable>(earlier: T, draft: Sendable & { clientMsgId?: string }): T {
  if (earlier.body !== draft.body || earlier.action !== draft.action) {
    throw msgIdConflict(draft.clientMsgId ?? "");
  }
  return earlier;
}
