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
  ClientMsgQuery,
  DmRecord,
  MessageRecord,
  MsgIdWindow,
  Store,
} from "../store/store.ts";
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
  store?: Pick<Store, "messageByClientMsgId" | "dmByClientMsgId">;
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
        ...(draft.file === undefined ? {} : { file: draft.file }),
      };
      await node.commit({ kind: "message", record });
      // Commits resolve in order, so delivery follows id order.
      node.deliverMessage(room, record);
      return record;
    };
    const line = `room:${room.key}`;
    if (clientMsgId === undefined && !this.#lookups.has(line)) {
      return { record: await post(), duplicate: false };
    }
    const sender = nameKey(draft.from);
    return await this.#send(line, draft, post, {
      scope: clientMsgId === undefined ? undefined : `${sender}:r:${room.key}:${clientMsgId}`,
      find: (query) => this.#store?.messageByClientMsgId(room.key, query),
      query: clientMsgId === undefined ? undefined : this.#query(sender, clientMsgId, draft.ts),
    });
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
