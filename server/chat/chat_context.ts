/**
 * What the parts of the chat (history, direct messages, moderation, guest
 * rights) share with the broker that owns them: the state online, the
 * store, and how changes are committed, published and delivered.
 *
 * @module
 */
import type { ChatEvent } from "../../shared/protocol.ts";
import type { Bus, Envelope, Presence } from "../cluster/cluster.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import type { Store, StoreWrite } from "../store/store.ts";
import type { OnlineUsers } from "./online_users.ts";
import type { Member } from "./room.ts";
import type { RoomIndex } from "./room_index.ts";
import type { RoomEvent } from "./room_events.ts";

/** The broker's state and actions, as its parts see them. */
export interface ChatContext {
  readonly store: Store;
  readonly metrics: ServerMetrics;
  /** Sessions online on this instance. */
  readonly users: OnlineUsers;
  /** Rooms this instance knows. */
  readonly rooms: RoomIndex;
  /** Who is online anywhere (this instance's maps when it is the only one). */
  readonly presence: Presence;
  readonly bus: Bus;
  /** Away messages of the users online here, by name key (section 22). */
  readonly awayMessages: ReadonlyMap<string, string>;
  now(): number;
  /** Commits `write` through the group commit; rejects with a `storage` error. */
  persist(write: StoreWrite): Promise<void>;
  /** Publishes `envelope` to every instance; resolves once applied here. */
  publish(envelope: Envelope): Promise<void>;
  /** Delivers `event` to these sessions, encoded once. */
  fanOut(members: Iterable<Member>, event: ChatEvent): void;
  /** Tells room event observers (webhooks) of an event this instance originated. */
  originated(event: RoomEvent): void;
}
