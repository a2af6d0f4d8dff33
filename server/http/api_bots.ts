/**
 * The bots of API keys: each key posts as a {@linkcode Member} named like
 * the key, through the broker like any session, so messages get the same
 * ids, history, rate of fan-out, mutes and bans. A bot claims its name on
 * first use, joins a room the first time it acts there, and leaves
 * everything after a while without requests.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { nameKey } from "../../shared/validation.ts";
import type { AccountService } from "../accounts/account_service.ts";
import { isServerAdmin } from "../accounts/server_admin.ts";
import type { Broker } from "../chat/broker.ts";
import type { Delivery } from "../chat/delivery.ts";
import { type Member, newGuestId, type Room } from "../chat/room.ts";
import type { ApiKeyRecord } from "../store/store.ts";

/** How long a bot stays online without requests. */
export const BOT_IDLE_MS = 10 * 60_000;

/** The member an API key acts as. */
export class BotMember implements Member {
  nick = "";
  account: string | undefined = undefined;
  admin = false;
  guestId: string = newGuestId();
  readonly rooms: Set<Room> = new Set();
  /** The key's name: the nickname claimed. */
  readonly name: string;
  /** When a request last used the bot (ms, performance clock). */
  lastUsed: number = performance.now();
  /** Whether the bot's name is claimed in the broker (it is online). */
  claimed = false;
  // Claims and joins one at a time: the broker expects a member's own
  // membership changes in order, as a session sends them.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(name: string) {
    this.name = name;
  }

  /** Events to the bot are dropped: it reads history through the API instead. */
  deliver(_delivery: Delivery): void {}

  /** Runs `work` after every earlier call has finished. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }
}

/**
 * Every API key's bot on this instance.
 *
 * @example
 * ```ts ignore
 * import { ApiBots } from "./api_bots.ts";
 * const bots = new ApiBots(server.broker, server.accounts);
 * const bot = await bots.inRoom(keyRecord, "general");
 * await server.broker.say(bot, { room: "general", body: "deployed" });
 * ```
 */
export class ApiBots {
  #broker: Broker;
  #accounts: AccountService;
  #bots = new Map<string, BotMember>();
  #idleMs: number;
  #sweeper: ReturnType<typeof setInterval>;

  constructor(broker: Broker, accounts: AccountService, options: { idleMs?: number } = {}) {
    this.#broker = broker;
    this.#accounts = accounts;
    this.#idleMs = options.idleMs ?? BOT_IDLE_MS;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, this.#idleMs));
    Deno.unrefTimer(this.#sweeper);
  }

  /** The key's bot, online under the key's name; `name_taken` when someone else has it. */
  online(apiKey: ApiKeyRecord): Promise<BotMember> {
    const id = nameKey(apiKey.name);
    let bot = this.#bots.get(id);
    if (bot === undefined) this.#bots.set(id, bot = new BotMember(apiKey.name));
    const member = bot;
    member.lastUsed = performance.now();
    member.admin = isServerAdmin({ apiKey });
    if (member.claimed) return Promise.resolve(member);
    return member.serial(async () => {
      if (member.claimed) return member;
      if (await this.#accounts.exists(apiKey.name)) {
        throw new ChatError(
          "name_taken",
          `${apiKey.name} is a registered account: an API key's bot cannot post as it`,
        );
      }
      await this.#accounts.refuseLookalike(apiKey.name);
      await this.#broker.claim(member, apiKey.name, { multipleSessions: false });
      member.claimed = true;
      return member;
    });
  }

  /** The key's bot, online and in room `name` (joined if needed, never created). */
  async inRoom(apiKey: ApiKeyRecord, name: string): Promise<BotMember> {
    const bot = await this.online(apiKey);
    if (this.#has(bot, name)) return bot;
    return await bot.serial(async () => {
      if (this.#has(bot, name)) return bot;
      // who() throws no_such_room: an API call never creates a room by a typo.
      await this.#broker.who(name);
      await this.#broker.join(bot, name);
      return bot;
    });
  }

  /** Whether a bot named `name` is online through these bots (the name is the bot's, not a person's). */
  holds(name: string): boolean {
    return this.#bots.get(nameKey(name))?.claimed === true;
  }

  #has(bot: BotMember, name: string): boolean {
    const key = nameKey(name);
    for (const room of bot.rooms) if (room.key === key) return true;
    return false;
  }

  /** Takes every bot offline (at shutdown). */
  close(): void {
    clearInterval(this.#sweeper);
    for (const bot of this.#bots.values()) this.#offline(bot, "server shutting down");
    this.#bots.clear();
  }

  #sweep(): void {
    const now = performance.now();
    for (const [id, bot] of this.#bots) {
      if (now - bot.lastUsed < this.#idleMs) continue;
      this.#offline(bot, "idle");
      this.#bots.delete(id);
    }
  }

  #offline(bot: BotMember, reason: string): void {
    if (!bot.claimed) return;
    // Released while still claimed: its leaves are told as the bot's (webhook_hub.ts).
    this.#broker.release(bot, reason);
    bot.claimed = false;
  }
}
