/**
 * Rights recorded under a guest's identity (rooms it owns, operator rights,
 * invitations): they end when the guest leaves, and move to the account
 * when the guest creates one (`register`).
 *
 * @module
 */
import type { Effect } from "../cluster/cluster.ts";
import type { StoreWrite } from "../store/store.ts";
import type { ChatContext } from "./chat_context.ts";
import { isGuestKey, type Member, rightsKey } from "./room.ts";

/** The guests' keys that may hold rights somewhere, and what ends or moves them. */
export class GuestRights {
  readonly #chat: ChatContext;
  // Guests' rights keys that may hold rights in some room (taken back when the guest leaves).
  readonly #holders = new Set<string>();

  constructor(chat: ChatContext) {
    this.#chat = chat;
  }

  /** Notes that the rights key `holder` may hold rights, if it is a guest's. */
  note(holder: string | null): void {
    if (holder !== null && isGuestKey(holder)) this.#holders.add(holder);
  }

  /** Notes that the guest `member` (when it is one) holds rights somewhere. */
  noteMember(member: Member): void {
    if (member.account === undefined) this.#holders.add(rightsKey(member));
  }

  /** The guests' rights keys that may hold rights. */
  holders(): string[] {
    return [...this.#holders];
  }

  /**
   * Moves what a guest holds under its guest key to the account it has just
   * created, so creating an account keeps the guest's rooms and rights.
   */
  async adopt(member: Member, guestKey: string): Promise<void> {
    const account = member.account;
    if (account === undefined || !this.#holders.delete(guestKey)) return;
    await this.#move(guestKey, account);
  }

  /**
   * Takes back every right recorded under a guest's key: ownership lapses
   * (the room is then nobody's until someone joins it empty) and operator
   * rights and invitations end.
   */
  async lapse(guestKey: string): Promise<void> {
    if (!this.#holders.delete(guestKey)) return;
    // In force at once; a save that fails leaves a rights key nobody can ever use.
    await this.#move(guestKey, null);
  }

  /** Moves every right under `guestKey` to the account `to`, or ends them (`null`). */
  async #move(guestKey: string, to: string | null): Promise<void> {
    // Each is both a write to the store and the change other instances apply.
    const writes: Array<StoreWrite & Effect> = [];
    for (const room of this.#chat.rooms.values()) {
      if (room.owner === guestKey) {
        room.owner = to;
        writes.push({ kind: "room", record: room.toRecord() });
      }
      for (const grant of room.grantsOf(guestKey)) {
        room.removeGrant(guestKey, grant.kind);
        writes.push({ kind: "ungrant", room: room.key, user: guestKey, grant: grant.kind });
        if (to === null) continue;
        const moved = { ...grant, user: to };
        room.setGrant(moved);
        writes.push({ kind: "grant", grant: moved });
      }
    }
    await Promise.all(writes.map((write) => this.#chat.persist(write)));
    if (writes.length > 0) await this.#chat.publish({ fx: writes });
  }
}
