/**
 * The bus of a single instance: ids are assigned here, commits go through
 * the broker's group commit, and events go straight to the broker's
 * sessions. This is the embedded default and the fast path.
 *
 * @module
 */
import type { Room } from "../room.ts";
import type { DmRecord, MessageRecord } from "../store/store.ts";
import type { Bus, BusNode, DmDraft, Envelope, MessageDraft } from "./cluster.ts";

/**
 * A {@linkcode Bus} within one process.
 *
 * @example
 * ```ts ignore
 * import { Broker } from "../broker.ts";
 * import { LocalBus } from "./local_bus.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * const store = SqliteStore.memory();
 * const broker = await Broker.open(store, { bus: new LocalBus({ lastDmId: await store.lastDmId() }) });
 * ```
 */
export class LocalBus implements Bus {
  #node: BusNode | undefined;
  #dmLastId: number;

  constructor(options: { lastDmId?: number } = {}) {
    this.#dmLastId = options.lastDmId ?? 0;
  }

  start(node: BusNode): Promise<void> {
    this.#node = node;
    return Promise.resolve();
  }

  async sendMessage(room: Room, draft: MessageDraft): Promise<MessageRecord> {
    const node = this.#started();
    const record: MessageRecord = {
      room: draft.room,
      id: ++room.lastId,
      from: draft.from,
      body: draft.body,
      ts: draft.ts,
      action: draft.action,
    };
    await node.commit({ kind: "message", record });
    // Commits resolve in order, so delivery follows id order.
    node.deliverMessage(room, record);
    return record;
  }

  async sendDm(
    draft: DmDraft,
    keys: { from: string; to: string; online: boolean },
  ): Promise<{ record: DmRecord; delivered: boolean }> {
    const record: DmRecord = { id: ++this.#dmLastId, ...draft };
    await this.#started().commit({ kind: "dm", record, delivered: keys.online });
    return { record, delivered: keys.online };
  }

  publish(envelope: Envelope): undefined {
    this.#started().receive(envelope);
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
