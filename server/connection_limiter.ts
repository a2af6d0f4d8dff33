/**
 * Caps on open connections, in total and per IP address. With a
 * {@linkcode RemoteConnections} (several instances over Redis) the caps are
 * the cluster's: other instances' connections count too.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ChatError } from "../shared/errors.ts";

/** Other instances' open connections, as a cluster publishes them. */
export interface RemoteConnections {
  /** Open connections on the other live instances: in total, and from `ip`. */
  others(ip: string): Promise<{ total: number; ip: number }>;
  /** Publishes that this instance now has `delta` more (or fewer) connections from `ip`. */
  count(ip: string, delta: 1 | -1): void;
}

/**
 * Counts open connections and refuses those over the caps.
 *
 * @example
 * ```ts
 * import { ConnectionLimiter } from "./connection_limiter.ts";
 * const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 1 });
 * limiter.acquire("127.0.0.1");
 * try { limiter.acquire("127.0.0.1"); } catch (error) { console.log(error); } // too_many_connections
 * limiter.release("127.0.0.1");
 * ```
 */
export class ConnectionLimiter {
  #maxConnections: number;
  #maxLocal: number;
  #maxPerIp: number;
  #total = 0;
  #perIp = new Map<string, number>();
  #remote: RemoteConnections | undefined;

  constructor(
    options: {
      maxConnections: number;
      maxConnectionsPerIp: number;
      /** Most connections on this instance, whatever the cluster's cap (its open file limit). */
      maxLocalConnections?: number | undefined;
      remote?: RemoteConnections | undefined;
    },
  ) {
    this.#maxConnections = options.maxConnections;
    this.#maxLocal = options.maxLocalConnections ?? Infinity;
    this.#maxPerIp = options.maxConnectionsPerIp;
    this.#remote = options.remote;
  }

  /** Open connections counted here (this instance only). */
  get total(): number {
    return this.#total;
  }

  /** Whether {@linkcode admit} asks other instances (else {@linkcode acquire} does the same). */
  get clustered(): boolean {
    return this.#remote !== undefined;
  }

  /** Counts a connection from `ip` against this instance's counts only, or throws `too_many_connections`. */
  acquire(ip: string): void {
    this.#check(ip, 0, 0);
    this.#count(ip);
    this.#remote?.count(ip, 1);
  }

  /**
   * Counts a connection from `ip` against the cluster's caps (this
   * instance's connections plus the other instances'), or throws
   * `too_many_connections`. When the other instances' counts cannot be had
   * within the Redis command timeout, only this instance's are checked: a
   * lost Redis must not lock everyone out.
   */
  async admit(ip: string): Promise<void> {
    const remote = this.#remote;
    if (remote === undefined) return this.acquire(ip);
    let others = { total: 0, ip: 0 };
    try {
      others = await remote.others(ip);
    } catch (error) {
      getLogger(["chat", "server"]).debug(
        "Connection caps checked on this instance only: {error}",
        { error },
      );
    }
    // Checked after the wait against the local counts as they are now, so
    // connections admitted here meanwhile are not counted twice or missed.
    this.#check(ip, others.total, others.ip);
    this.#count(ip);
    remote.count(ip, 1);
  }

  /** Forgets a connection from `ip` counted by {@linkcode acquire} or {@linkcode admit}. */
  release(ip: string): void {
    const count = this.#perIp.get(ip) ?? 0;
    if (count <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, count - 1);
    this.#total--;
    this.#remote?.count(ip, -1);
  }

  #check(ip: string, otherTotal: number, otherIp: number): void {
    if (this.#total >= this.#maxLocal) {
      throw new ChatError(
        "too_many_connections",
        `Server full: ${this.#total} connections reached this instance's limit ${this.#maxLocal}`,
      );
    }
    const total = this.#total + otherTotal;
    if (total >= this.#maxConnections) {
      throw new ChatError(
        "too_many_connections",
        `Server full: ${total} connections reached limit ${this.#maxConnections}`,
      );
    }
    const count = (this.#perIp.get(ip) ?? 0) + otherIp;
    if (count >= this.#maxPerIp) {
      throw new ChatError(
        "too_many_connections",
        `Too many connections from ${ip}: limit ${this.#maxPerIp} per address`,
      );
    }
  }

  #count(ip: string): void {
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.#total++;
  }
}
