/**
 * One connection to Redis (or Valkey) for the store and the cluster: every
 * command is bounded in time and in number, so a stalled or lost Redis turns
 * into prompt `storage` errors instead of requests that hang or memory that
 * grows.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createClient } from "@redis/client";
import { ChatError } from "../../shared/errors.ts";

/** Options for {@linkcode RedisConnection.open}. */
export interface RedisConnectionOptions {
  /** Most time a command may take before it fails with `storage`, in ms. */
  commandTimeoutMs?: number;
  /** Most commands waiting for Redis at once; more fail at once with `storage`. */
  maxPending?: number;
  /** Name shown by CLIENT LIST. */
  name?: string;
}

/** A Lua script run by EVALSHA, loaded again by EVAL when Redis has forgotten it. */
export class RedisScript {
  readonly source: string;
  /** The script's SHA-1, as EVALSHA wants it. */
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    // Synchronous, so a script call is queued in the order it was made.
    this.sha = createHash("sha1").update(source).digest("hex");
  }
}

type Argument = string | number;

/** A message received on a subscribed channel. */
export type ChannelListener = (message: string, channel: string) => void;

// The part of node-redis used here (its generic client type is unwieldy).
interface Client {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[]): Promise<unknown>;
  subscribe(channel: string, listener: ChannelListener): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  duplicate(): Client;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

const RECONNECT_MAX_MS = 1000;

/**
 * A Redis client with bounded commands, a subscriber connection, and
 * notification of losing and regaining Redis.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { RedisConnection } from "./redis_connection.ts";
 * const redis = await RedisConnection.open("redis://127.0.0.1:6379");
 * assert.equal(await redis.command(["PING"]), "PONG");
 * await redis.close();
 * ```
 */
export class RedisConnection {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly maxPending: number;
  #client: Client;
  #subscriber: Client | undefined;
  #pending = 0;
  #down = false;
  #stalled = false;
  #probing: Promise<void> | undefined;
  #closed = false;
  #downListeners = new Set<(reason: string) => void>();
  #upListeners = new Set<() => void>();
  #idle: Array<() => void> = [];

  private constructor(url: string, client: Client, options: RedisConnectionOptions) {
    this.url = url;
    this.#client = client;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    this.maxPending = options.maxPending ?? 10_000;
  }

  /** Connects to `url` (redis://host:port[/db]); rejects if Redis does not answer in time. */
  static async open(url: string, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
    const timeout = options.commandTimeoutMs ?? 2000;
    const client = createClient({
      url,
      name: options.name ?? "chat",
      // Fail fast while disconnected rather than queue without bound.
      disableOfflineQueue: true,
      commandsQueueMaxLength: options.maxPending ?? 10_000,
      socket: {
        connectTimeout: timeout,
        keepAlive: true,
        noDelay: true,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, RECONNECT_MAX_MS),
      },
    }) as unknown as Client;
    const connection = new RedisConnection(url, client, options);
    client.on("error", () => connection.#markDown("connection error"));
    client.on("reconnecting", () => connection.#markDown("reconnecting"));
    client.on("ready", () => connection.#markUp());
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new Error(`Redis at ${redactUrl(url)} did not answer within ${timeout} ms`)),
            timeout,
          );
        }),
      ]);
    } catch (error) {
      client.destroy();
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot connect to Redis at ${redactUrl(url)}: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    return connection;
  }

  /** Whether Redis is reachable and answering, as far as this connection knows. */
  get healthy(): boolean {
    return !this.#down && !this.#stalled && !this.#closed;
  }

  /** Commands waiting for Redis. */
  get pending(): number {
    return this.#pending;
  }

  /** Calls `listener` whenever Redis is lost (disconnected, or not answering in time). */
  onDown(listener: (reason: string) => void): void {
    this.#downListeners.add(listener);
  }

  /** Calls `listener` whenever Redis answers again after having been lost. */
  onUp(listener: () => void): void {
    this.#upListeners.add(listener);
  }

  /** Sends one command; fails with `storage` when Redis is lost, slow or over the pending cap. */
  command<T = unknown>(args: readonly Argument[]): Promise<T> {
    if (this.#closed) return Promise.reject(unavailable("the connection is closed"));
    if (this.#down) return Promise.reject(unavailable("it is unreachable"));
    if (this.#stalled) {
      return Promise.reject(unavailable(`it did not answer within ${this.commandTimeoutMs} ms`));
    }
    if (this.#pending >= this.maxPending) {
      return Promise.reject(
        new ChatError(
          "storage",
          `Storage (Redis) busy: ${this.#pending} commands waiting; try again shortly`,
          {
            retryAfterMs: 100,
          },
        ),
      );
    }
    return this.#send<T>(args.map(String));
  }

  /** Runs `script` with `args` (no KEYS: scripts build keys from a prefix argument). */
  async eval<T = unknown>(script: RedisScript, args: readonly Argument[]): Promise<T> {
    try {
      return await this.command<T>(["EVALSHA", script.sha, 0, ...args]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await this.command<T>(["EVAL", script.source, 0, ...args]);
    }
  }

  /** Subscribes to `channel` on the subscriber connection; resolves once Redis confirmed. */
  async subscribe(channel: string, listener: ChannelListener): Promise<void> {
    const subscriber = await this.#subscriberClient();
    await this.#bounded(subscriber.subscribe(channel, listener));
  }

  /** Unsubscribes from `channel`; errors are ignored (a lost connection forgets it anyway). */
  async unsubscribe(channel: string): Promise<void> {
    const subscriber = this.#subscriber;
    if (subscriber === undefined || this.#closed) return;
    await this.#bounded(subscriber.unsubscribe(channel)).catch(() => {});
  }

  /** Resolves once no command is waiting for Redis (or after `timeoutMs`). */
  async drained(timeoutMs = this.commandTimeoutMs): Promise<void> {
    if (this.#pending === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#idle.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  /** Closes both connections; waiting commands fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.drained();
    this.#closed = true;
    await this.#probing;
    for (const client of [this.#subscriber, this.#client]) {
      if (client === undefined) continue;
      try {
        if (client.isOpen) await this.#bounded(client.close()).catch(() => client.destroy());
        else client.destroy();
      } catch {
        // Already gone.
      }
    }
  }

  async #subscriberClient(): Promise<Client> {
    if (this.#subscriber !== undefined) return this.#subscriber;
    const subscriber = this.#client.duplicate();
    // The subscriber reconnects and resubscribes by itself; errors are reported by the main client.
    subscriber.on("error", () => {});
    this.#subscriber = subscriber;
    await this.#bounded(subscriber.connect());
    return subscriber;
  }

  async #send<T>(args: string[]): Promise<T> {
    this.#pending++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.#client.sendCommand(args) as Promise<T>,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // A command already written cannot be taken back: stop sending
            // until Redis answers a probe, so nothing piles up meanwhile.
            this.#markStalled();
            reject(unavailable(`it did not answer within ${this.commandTimeoutMs} ms`));
          }, this.commandTimeoutMs);
        }),
      ]);
    } catch (error) {
      if (error instanceof ChatError) throw error;
      if (error instanceof Error && /queue is full/i.test(error.message)) {
        throw new ChatError("storage", "Storage (Redis) busy: too many commands waiting", {
          retryAfterMs: 100,
          cause: error,
        });
      }
      if (error instanceof Error && isReplyError(error)) throw error;
      throw unavailable("the connection failed", error);
    } finally {
      clearTimeout(timer);
      this.#pending--;
      if (this.#pending === 0) {
        const idle = this.#idle;
        this.#idle = [];
        for (const resolve of idle) resolve();
      }
    }
  }

  async #bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(unavailable(`it did not answer within ${this.commandTimeoutMs} ms`)),
            this.commandTimeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #markStalled(): void {
    if (this.#stalled || this.#closed) return;
    this.#stalled = true;
    this.#emitDown(`no answer within ${this.commandTimeoutMs} ms`);
    this.#probing ??= this.#probe();
  }

  /** Pings until Redis answers again; only then may commands flow. */
  async #probe(): Promise<void> {
    try {
      while (this.#stalled && !this.#closed) {
        const started = Date.now();
        try {
          if (!this.#down) {
            await this.#bounded(this.#client.sendCommand(["PING"]));
            this.#stalled = false;
            if (!this.#down) this.#emitUp();
            return;
          }
        } catch {
          // Still stalled.
        }
        const left = this.commandTimeoutMs - (Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, Math.max(50, Math.min(left, 250))));
      }
    } finally {
      this.#probing = undefined;
    }
  }

  #markDown(reason: string): void {
    if (this.#closed) return;
    if (this.#down) return;
    this.#down = true;
    this.#emitDown(reason);
  }

  #markUp(): void {
    if (!this.#down || this.#closed) return;
    this.#down = false;
    this.#stalled = false;
    this.#emitUp();
  }

  #wasDown = false;

  #emitDown(reason: string): void {
    if (this.#wasDown) return;
    this.#wasDown = true;
    for (const listener of this.#downListeners) listener(reason);
  }

  #emitUp(): void {
    if (!this.#wasDown) return;
    this.#wasDown = false;
    for (const listener of this.#upListeners) listener();
  }
}

function isReplyError(error: Error): boolean {
  // Errors Redis itself answered (a script error, NOSCRIPT): not a connection problem.
  return error.name === "SimpleError" || error.name === "BlobError" ||
    /^[A-Z]+ /.test(error.message);
}

function unavailable(why: string, cause?: unknown): ChatError {
  return new ChatError("storage", `Storage (Redis) unavailable: ${why}; try again shortly`, {
    retryAfterMs: 1000,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
