/**
 * Moderation: ranks and what each may do, the refusals that name the
 * missing right, operators and invitations, bans and mutes (on the account
 * or nickname, and on the guest), kicks, topics and room modes, and the
 * audit log every change is written to.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import type { ModerationType } from "../../shared/protocol.ts";
import { nameKey } from "../../shared/validation.ts";
import type { Effect } from "../cluster/cluster.ts";
import type { GrantKind, GrantRecord } from "../store/store.ts";
import type { ChatContext } from "./chat_context.ts";
import type { GuestRights } from "./guest_rights.ts";
import {
  guestKeyOf,
  type Member,
  Rank,
  RANK_NAMES,
  rightsKey,
  type Room,
  userKey,
} from "./room.ts";
import { orStorageError } from "./storage_error.ts";

/** Whom a moderation request acts on, and the keys that decide it. */
interface ModerationTarget {
  /** The name key restrictions go under: the account's, or the nickname's. */
  key: string;
  /** The rights key: the account, or the guest online; none for an offline guest. */
  rights?: string;
  /** The guest's rights key when the target is a guest online (restrictions follow it too). */
  guest?: string;
  /** Whether a session of the target is a server admin. */
  admin: boolean;
}

/** What a refusal calls each action. */
const REFUSAL: Record<string, string> = {
  topic: "Setting the topic",
  op: "Giving operator rights",
  deop: "Taking operator rights",
  kick: "Kicking",
  ban: "Banning",
  unban: "Lifting a ban",
  mute: "Muting",
  unmute: "Lifting a mute",
  invite: "Inviting",
  uninvite: "Withdrawing an invitation",
  mode: "Changing room modes",
};

/** Who may do what in a room, and the requests that change it. */
export class Moderation {
  readonly #chat: ChatContext;
  readonly #guestRights: GuestRights;
  readonly #defaultMuteMs: number;

  constructor(chat: ChatContext, options: { guestRights: GuestRights; defaultMuteMs: number }) {
    this.#chat = chat;
    this.#guestRights = options.guestRights;
    this.#defaultMuteMs = options.defaultMuteMs;
  }

  /**
   * Refuses `member` entry to `room` when banned, not invited to an
   * invite-only room, or without its passphrase; operators always enter.
   */
  checkEntry(member: Member, room: Room, passphrase: string | undefined, now: number): void {
    if (room.rankOf(rightsKey(member), member.admin, now) >= Rank.Operator) return;
    const ban = this.#restriction(member, room, "ban", now);
    if (ban !== undefined) {
      const until = ban.until === null ? "" : ` until ${new Date(ban.until).toISOString()}`;
      throw new ChatError(
        "banned",
        `You are banned from #${room.name}${until}${ban.reason ? `: ${ban.reason}` : ""}`,
      );
    }
    if (room.inviteOnly && room.grant(rightsKey(member), "invite", now) === undefined) {
      throw new ChatError(
        "invite_only",
        `#${room.name} is invite-only: an operator must /invite you`,
      );
    }
    if (room.passphrase !== null && passphrase !== room.passphrase) {
      throw new ChatError("bad_key", `#${room.name} needs a key: /join ${room.name} KEY`);
    }
  }

  /** Refuses a message from `member` while muted in `room`. */
  checkVoice(member: Member, room: Room, now: number): void {
    const mute = this.#restriction(member, room, "mute", now);
    if (mute === undefined) return;
    throw new ChatError(
      "muted",
      `You are muted in #${room.name} until ${new Date(mute.until ?? 0).toISOString()}`,
      { retryAfterMs: (mute.until ?? now) - now },
    );
  }

  /** Shows, or (operators, when `topic` is given) sets, a room's topic. */
  async topic(
    member: Member,
    name: string,
    topic?: string,
  ): Promise<{ room: string; topic: string }> {
    const room = this.#chat.rooms.joinedBy(member, name);
    if (topic !== undefined) {
      this.#requireRank(member, room, Rank.Operator, "topic");
      await this.changeRoom(room, () => room.topic = topic);
      await this.#audit(member, "topic", room, null, topic);
      const event = {
        type: "topic" as const,
        room: room.name,
        topic,
        by: member.nick,
        ts: this.#chat.now(),
      };
      await this.#chat.publish({
        to: { room: room.key },
        event,
        fx: [{ kind: "room", record: room.toRecord() }],
      });
      this.#chat.originated(event);
    }
    return { room: room.name, topic: room.topic };
  }

  /** Sends a notice from a server admin to everyone online. */
  async broadcast(member: Member, body: string): Promise<{ ts: number }> {
    if (!member.admin) throw new ChatError("forbidden", "Broadcasting needs server admin rights");
    const ts = this.#chat.now();
    await this.#chat.persist({
      kind: "audit",
      entry: {
        ts,
        actor: member.nick,
        action: "broadcast",
        room: null,
        target: null,
        detail: body,
      },
    });
    await this.#chat.publish({
      to: { all: true },
      event: { type: "notice", from: member.nick, body, ts },
    });
    return { ts };
  }

  /** Applies a moderation request; refusals name the missing right. */
  async moderate(
    member: Member,
    type: ModerationType,
    name: string,
    target: string,
    options: { reason?: string; durationMs?: number } = {},
  ): Promise<{ room: string; nick: string }> {
    const room = this.#chat.rooms.joinedOrAdministeredBy(member, name);
    const now = this.#chat.now();
    const actorRank = this.#requireRank(member, room, Rank.Operator, type);
    const found = await this.#target(target);
    const targetKey = found.key;
    const targetRank = room.rankOf(found.rights ?? found.key, found.admin, now);
    const lifting = type === "invite" || type === "uninvite" || type === "unban" ||
      type === "unmute";
    if (!lifting && targetRank >= actorRank) {
      throw new ChatError(
        "forbidden",
        `${REFUSAL[type]} ${target} needs a higher rank than theirs (${
          RANK_NAMES[targetRank]
        }) in #${room.name}`,
      );
    }
    const reason = options.reason ?? "";
    // Rights go to the account, or to the guest online (never to a nickname,
    // which the next guest could take); restrictions hold for the nickname
    // and, for a guest online, also for the guest whatever its next nickname.
    const keysOf = (kind: GrantKind): string[] => {
      if (kind === "op" || kind === "invite") {
        if (found.rights !== undefined) return [found.rights];
        throw new ChatError(
          "no_such_user",
          `${target} is not online and has no account: rights go to accounts and to guests online`,
        );
      }
      return found.guest === undefined ? [targetKey] : [targetKey, found.guest];
    };
    let notice: string;
    const fx: Effect[] = [];
    // A change is in force at once (so a concurrent request sees it) and is
    // taken back when it cannot be saved: a refused save leaves nothing live.
    const give = async (kind: GrantKind, until: number | null): Promise<void> => {
      const records = keysOf(kind).map((user): GrantRecord => ({
        room: room.key,
        user,
        kind,
        until,
        by: member.nick,
        reason,
      }));
      const before = records.map((record) => room.recordedGrant(record.user, kind));
      for (const record of records) room.setGrant(record);
      try {
        await Promise.all(
          records.map((record) => this.#chat.persist({ kind: "grant", grant: record })),
        );
      } catch (error) {
        records.forEach((record, index) => {
          const previous = before[index];
          if (previous === undefined) room.removeGrant(record.user, kind);
          else room.setGrant(previous);
        });
        throw error;
      }
      for (const record of records) {
        this.#guestRights.note(record.user);
        fx.push({ kind: "grant", grant: record });
      }
    };
    const lift = async (kind: GrantKind, missing: string): Promise<void> => {
      const keys = kind === "op" || kind === "invite"
        ? [found.rights ?? targetKey]
        : [targetKey, ...(found.guest === undefined ? [] : [found.guest])];
      const held = keys.flatMap((user) => {
        const before = room.recordedGrant(user, kind);
        return before === undefined ? [] : [before];
      });
      if (held.length === 0) throw new ChatError("bad_request", missing);
      const writes = held.map((before) =>
        ({ kind: "ungrant", room: room.key, user: before.user, grant: kind }) as const
      );
      for (const before of held) room.removeGrant(before.user, kind);
      try {
        await Promise.all(writes.map((write) => this.#chat.persist(write)));
      } catch (error) {
        for (const before of held) room.setGrant(before);
        throw error;
      }
      fx.push(...writes);
    };
    switch (type) {
      case "op":
        await give("op", null);
        notice = `${member.nick} made ${target} an operator`;
        break;
      case "deop":
        await lift("op", `${target} is not an operator in #${room.name}`);
        notice = `${member.nick} took operator rights from ${target}`;
        break;
      case "kick":
        if (!(await this.#inRoom(room, targetKey, target))) {
          throw new ChatError("not_in_room", `${target} is not in #${room.name}`);
        }
        notice = `${member.nick} kicked ${target}${reason ? `: ${reason}` : ""}`;
        break;
      case "ban": {
        const until = options.durationMs === undefined ? null : now + options.durationMs;
        await give("ban", until);
        notice = `${member.nick} banned ${target}${reason ? `: ${reason}` : ""}`;
        break;
      }
      case "unban":
        await lift("ban", `${target} is not banned from #${room.name}`);
        notice = `${member.nick} lifted the ban on ${target}`;
        break;
      case "mute": {
        const until = now + (options.durationMs ?? this.#defaultMuteMs);
        await give("mute", until);
        notice = `${member.nick} muted ${target} until ${new Date(until).toISOString()}`;
        break;
      }
      case "unmute":
        await lift("mute", `${target} is not muted in #${room.name}`);
        notice = `${member.nick} lifted the mute on ${target}`;
        break;
      case "invite":
        await give("invite", null);
        notice = `${member.nick} invited ${target}`;
        await this.#chat.publish({
          to: { users: [targetKey] },
          event: {
            type: "notice",
            body: `${member.nick} invited you to #${room.name}`,
            room: room.name,
            ts: now,
          },
        });
        break;
      case "uninvite":
        await lift("invite", `${target} has no invitation to #${room.name}`);
        notice = `${member.nick} withdrew the invitation of ${target}`;
        break;
    }
    await this.#audit(
      member,
      type,
      room,
      target,
      reason || (options.durationMs ? `${options.durationMs} ms` : ""),
    );
    if (type === "kick" || type === "ban") {
      const why = `${type === "kick" ? "kicked" : "banned"} by ${member.nick}${
        reason ? `: ${reason}` : ""
      }`;
      fx.push({ kind: "evict", room: room.key, user: targetKey, reason: why });
    }
    await this.#chat.publish({
      to: { room: room.key },
      event: { type: "notice", body: notice, room: room.name, ts: now },
      fx,
    });
    return { room: room.name, nick: target };
  }

  /** Changes a room's invite-only flag and/or passphrase (operators). */
  async mode(
    member: Member,
    name: string,
    change: { inviteOnly?: boolean; passphrase?: string | null },
  ): Promise<{ room: string; inviteOnly: boolean; hasKey: boolean }> {
    const room = this.#chat.rooms.joinedOrAdministeredBy(member, name);
    this.#requireRank(member, room, Rank.Operator, "mode");
    const parts: string[] = [];
    if (change.inviteOnly !== undefined) {
      parts.push(change.inviteOnly ? "made the room invite-only" : "opened the room to all");
    }
    if (change.passphrase !== undefined) {
      parts.push(change.passphrase === null ? "removed the room key" : "set a room key");
    }
    await this.changeRoom(room, () => {
      if (change.inviteOnly !== undefined) room.inviteOnly = change.inviteOnly;
      if (change.passphrase !== undefined) room.passphrase = change.passphrase;
    });
    await this.#audit(member, "mode", room, null, parts.join(", "));
    await this.#chat.publish({
      to: { room: room.key },
      event: {
        type: "notice",
        body: `${member.nick} ${parts.join(" and ")}`,
        room: room.name,
        ts: this.#chat.now(),
      },
      fx: [{ kind: "room", record: room.toRecord() }],
    });
    // `hasKey`: the wire calls the passphrase a key.
    return { room: room.name, inviteOnly: room.inviteOnly, hasKey: room.passphrase !== null };
  }

  /**
   * Applies `change` to a room's settings at once (so requests behind it see
   * it) and saves them; when the save fails the settings are put back.
   */
  async changeRoom(room: Room, change: () => void): Promise<void> {
    const before = room.toRecord();
    change();
    try {
      await this.#chat.persist({ kind: "room", record: room.toRecord() });
    } catch (error) {
      room.owner = before.owner;
      room.topic = before.topic;
      room.inviteOnly = before.inviteOnly;
      room.passphrase = before.passphrase;
      throw error;
    }
  }

  /**
   * The key rights are recorded under for `nick` (the account's when one
   * is logged in), and whether a logged-in session of it is a server admin
   * (a guest with an admin's name is not).
   */
  async #target(nick: string): Promise<ModerationTarget> {
    const key = nameKey(nick);
    const sessions = this.#chat.users.sessions(key);
    const online = sessions.values().next().value;
    if (online !== undefined) {
      const admin = [...sessions].some((session) => session.admin);
      const target: ModerationTarget = { key: userKey(online), rights: rightsKey(online), admin };
      if (online.account === undefined) target.guest = rightsKey(online);
      return target;
    }
    const remote = await orStorageError(this.#chat.presence.user(key));
    if (remote !== undefined) {
      if (remote.account !== undefined) {
        return { key: remote.account, rights: remote.account, admin: remote.admin };
      }
      const guest = guestKeyOf(remote.guestId);
      return { key, rights: guest, guest, admin: false };
    }
    // Offline: an account keeps its rights and restrictions; a nickname
    // nobody registered can only be restricted.
    const account = await orStorageError(this.#chat.store.getAccount(key));
    const target: ModerationTarget = { key, admin: false };
    if (account !== undefined) target.rights = account.key;
    return target;
  }

  /** Whether some session of the user is in the room, on any instance. */
  async #inRoom(room: Room, key: string, nick: string): Promise<boolean> {
    if (room.hasUser(key) || room.hasUser(nameKey(nick))) return true;
    return await orStorageError(this.#chat.presence.inRoom(room.key, nameKey(nick)));
  }

  /** A ban or mute in force on `member`: on its nickname or account, or on the guest. */
  #restriction(
    member: Member,
    room: Room,
    kind: "ban" | "mute",
    now: number,
  ): GrantRecord | undefined {
    const own = room.grant(userKey(member), kind, now);
    if (own !== undefined || member.account !== undefined) return own;
    return room.grant(rightsKey(member), kind, now);
  }

  #requireRank(member: Member, room: Room, needed: Rank, what: string): Rank {
    const rank = room.rankOf(rightsKey(member), member.admin, this.#chat.now());
    if (rank < needed) {
      throw new ChatError(
        "forbidden",
        `${REFUSAL[what] ?? what} needs ${RANK_NAMES[needed]} rights in #${room.name}; you are a ${
          RANK_NAMES[rank]
        }`,
      );
    }
    return rank;
  }

  async #audit(
    member: Member,
    action: string,
    room: Room,
    target: string | null,
    detail: string,
  ): Promise<void> {
    await this.#chat.persist({
      kind: "audit",
      entry: { ts: this.#chat.now(), actor: member.nick, action, room: room.name, target, detail },
    });
  }
}
