/**
 * Direct messages: sending one (live to every session of both users, or
 * kept for a registered user offline), delivering those kept at login,
 * unread counts and read markers.
 *
 * @module
 */
import { utf8ByteLength } from "../../shared/bytes.ts";
import { ChatError } from "../../shared/errors.ts";
import {
  type FileInfo,
  MAX_HISTORY_PAGE,
  MAX_LIST_PAGE,
  type ResultOf,
} from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { DmRecord, UnreadCount } from "../store/store.ts";
import type { ChatContext } from "./chat_context.ts";
import { Delivery } from "./delivery.ts";
import type { HistoryReader } from "./history.ts";
import { dmEvent } from "./message_events.ts";
import type { Member } from "./room.ts";
import { orStorageError } from "./storage_error.ts";

/** A message to send, as `say` and `dm` carry it. */
export interface OutgoingMessage {
  body: string;
  /** An action ("/me waves"). */
  action?: boolean;
  /** The sender's id for it: a retry under the same id is not sent twice. */
  clientMsgId?: string;
  /** The file it shares, stored and checked already (server/files/file_service.ts). */
  file?: FileInfo;
}

/** Direct messages between users, online or not. */
export class DirectMessages {
  readonly #chat: ChatContext;
  readonly #history: HistoryReader;
  readonly #maxReplyBytes: number;
  // The highest DM id seen here, for re-asserting it after Redis lost data.
  #lastSeenId: number;

  constructor(
    chat: ChatContext,
    options: { history: HistoryReader; maxReplyBytes: number; lastId: number },
  ) {
    this.#chat = chat;
    this.#history = options.history;
    this.#maxReplyBytes = options.maxReplyBytes;
    this.#lastSeenId = options.lastId;
  }

  /** The highest DM id this instance has seen. */
  get lastSeenId(): number {
    return this.#lastSeenId;
  }

  /**
   * Sends a direct message. Online recipients get it at once (every session);
   * a registered user who is offline gets it at next login. A retry under a
   * `clientMsgId` the sender already used for this recipient resolves with
   * the first message's id and time and `duplicate: true`.
   */
  async send(
    member: Member,
    message: OutgoingMessage & { to: string },
  ): Promise<ResultOf<"dm">> {
    const { to, body, action = false, clientMsgId, file } = message;
    const { users, presence, store, bus } = this.#chat;
    const key = nameKey(to);
    const here = users.first(key);
    let recipientName: string;
    // Away (section 22): as this instance knows it, or as the presence said.
    let away = here === undefined ? undefined : this.#chat.awayMessages.get(key);
    if (here !== undefined) {
      recipientName = here.nick;
    } else {
      const remote = await orStorageError(presence.user(key));
      if (remote !== undefined) {
        recipientName = remote.nick;
        away = remote.away;
      } else {
        const account = await store.getAccount(key);
        if (account === undefined) {
          throw new ChatError("no_such_user", `No user ${to} is online or registered`);
        }
        recipientName = account.name;
      }
    }
    const fromKey = nameKey(member.nick);
    const sent = await orStorageError(bus.sendDm(
      {
        from: member.nick,
        to: recipientName,
        body,
        ts: this.#chat.now(),
        action,
        ...(clientMsgId === undefined ? {} : { clientMsgId }),
        ...(file === undefined ? {} : { file }),
      },
      { from: fromKey, to: key, online: users.sessions(key).size > 0 },
    ));
    const { record, delivered } = sent;
    if (sent.duplicate) return { id: record.id, ts: record.ts, duplicate: true };
    this.#chat.metrics.messagesIn++;
    this.deliver(record, [key, fromKey]);
    // The sender hears that the recipient is away, before the ack.
    if (delivered && away !== undefined && key !== fromKey) {
      member.deliver(
        new Delivery({
          type: "notice",
          body: `${recipientName} is away: ${away}`,
          ts: this.#chat.now(),
          from: recipientName,
          away,
        }),
      );
    }
    return delivered
      ? { id: record.id, ts: record.ts }
      : { id: record.id, ts: record.ts, stored: true };
  }

  /** Refuses `to` with `no_such_user` unless a DM could reach it: online, or an account (files). */
  async checkRecipient(to: string): Promise<void> {
    const { users, presence, store } = this.#chat;
    const key = nameKey(to);
    if (users.first(key) !== undefined) return;
    if (await orStorageError(presence.user(key)) !== undefined) return;
    if (await store.getAccount(key) !== undefined) return;
    throw new ChatError("no_such_user", `No user ${to} is online or registered`);
  }

  /** Delivers a DM to the sessions here of the users with these name keys. */
  deliver(record: DmRecord, users: readonly string[]): void {
    if (record.id > this.#lastSeenId) this.#lastSeenId = record.id;
    const delivery = new Delivery(dmEvent(record, { history: false }));
    const audience = new Set<Member>();
    for (const user of users) {
      for (const session of this.#chat.users.sessions(user)) audience.add(session);
    }
    for (const session of audience) session.deliver(delivery);
  }

  /**
   * Delivers DMs stored while the account was offline, page by page (each
   * bounded like a history page, and marked delivered once queued); between
   * pages it waits for `ready`, which resolves once the member can take
   * more (false: it is gone). Returns unread counts per peer, the first by
   * name that fit in a third of a reply (`more` when some were left out).
   */
  async deliverPending(
    member: Member,
    options: { ready?: () => Promise<boolean> } = {},
  ): Promise<{ unread: UnreadCount[]; more: boolean }> {
    const account = member.account;
    if (account === undefined) return { unread: [], more: false };
    const { store } = this.#chat;
    let after = 0;
    while (true) {
      const page = await this.#history.patiently(
        member,
        () =>
          store.pendingDms(account, {
            after,
            limit: MAX_HISTORY_PAGE,
            maxBytes: this.#maxReplyBytes,
          }),
        options.ready,
      );
      const last = page?.[page.length - 1];
      if (page === undefined || last === undefined) break;
      for (const record of page) member.deliver(new Delivery(dmEvent(record, { history: true })));
      await this.#chat.persist({ kind: "delivered", user: account, upTo: last.id });
      after = last.id;
      if (options.ready !== undefined && !(await options.ready())) {
        return { unread: [], more: false };
      }
    }
    const counts = await store.unreadCounts(account);
    // The notice lists them twice (in its body too): a third of a reply each.
    let bytes = 0;
    let fit = 0;
    for (const { peer } of counts.slice(0, MAX_LIST_PAGE)) {
      bytes += utf8ByteLength(peer) + 16;
      if (bytes > this.#maxReplyBytes / 3) break;
      fit++;
    }
    return { unread: counts.slice(0, fit), more: fit < counts.length };
  }

  /** A page of the account's direct messages with `peer`. */
  history(
    member: Member,
    peer: string,
    query: { before?: number; after?: number; limit?: number },
  ): ReturnType<HistoryReader["dmPage"]> {
    return this.#history.dmPage(member, peer, query);
  }

  /**
   * Marks DMs from `peer` read up to `upTo` (at most the last one `peer`
   * sent); resolves with the marker then, which never moves back.
   */
  async markRead(
    member: Member,
    peer: string,
    upTo: number,
  ): Promise<{ with: string; upTo: number }> {
    if (member.account === undefined) {
      throw new ChatError("forbidden", "Unread counts need a registered account");
    }
    const user = member.account;
    const peerKey = nameKey(peer);
    const store = this.#chat.store;
    // Up to the last DM from `peer` at most: a marker past it would hide DMs
    // not sent yet, and one for a user who sent none would be a row for nothing.
    const last = await orStorageError(store.lastDmFrom(user, peerKey));
    const marker = Math.min(upTo, last);
    if (marker > 0) await this.#chat.persist({ kind: "read", user, peer: peerKey, upTo: marker });
    // The marker never moves back: the ack says where it is now, not what was asked.
    return { with: peer, upTo: await orStorageError(store.readMarker(user, peerKey)) };
  }
}
