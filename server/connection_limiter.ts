/**
 * Caps on open connections, in total and per IP address.
 *
 * @module
 */
import { ChatError } from "../shared/errors.ts";

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
  #maxPerIp: number;
  #total = 0;
  #perIp = new Map<string, number>();

  constructor(options: { maxConnections: number; maxConnectionsPerIp: number }) {
    this.#maxConnections = options.maxConnections;
    this.#maxPerIp = options.maxConnectionsPerIp;
  }

  /** Open connections counted. */
  get total(): number {
    return this.#total;
  }

  /** Counts a connection from `ip`, or throws `too_many_connections`. */
  acquire(ip: string): void {
    if (this.#total >= this.#maxConnections) {
      throw new ChatError(
        "too_many_connections",
        `Server full: ${this.#total} connections reached limit ${this.#maxConnections}`,
      );
    }
    const count = this.#perIp.get(ip) ?? 0;
    if (count >= this.#maxPerIp) {
      throw new ChatError(
        "too_many_connections",
        `Too many connections from ${ip}: limit ${this.#maxPerIp} per address`,
      );
    }
    this.#perIp.set(ip, count + 1);
    this.#total++;
  }

  /** Forgets a connection from `ip` counted by {@linkcode acquire}. */
  release(ip: string): void {
    const count = this.#perIp.get(ip) ?? 0;
    if (count <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, count - 1);
    this.#total--;
  }
}
