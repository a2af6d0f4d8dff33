/**
 * Caps on open connections: in total, per IP address (IPv6: per /64, as
 * one host usually has a whole /64), and per IP address among those that
 * have not logged in yet (handshakes). With a
 * {@linkcode RemoteConnections} (several instances over Redis) the caps are
 * the cluster's: other instances' connections count too.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ChatError } from "../../shared/errors.ts";
import { ipKey } from "../net/ip_key.ts";

/** A change in one address's counts: connections opened or closed, handshakes begun or done. */
export interface ConnectionChange {
  connections: -1 | 0 | 1;
  handshakes: -1 | 0 | 1;
}

/** Other instances' open connections, as a cluster publishes them. */
export interface RemoteConnections {
  /**
   * Open connections on the other live instances: in total, from `ip`, and
   * from `ip` that have not logged in yet.
   */
  others(ip: string): Promise<{ total: number; ip: number; handshakes: number }>;
  /** Publishes a change in this instance's counts from `ip`. */
  count(ip: string, change: ConnectionChange): void;
}

/** Options for {@linkcode ConnectionLimiter}. */
export interface ConnectionLimiterOptions {
  /** Most connections in total. */
  maxConnections: number;
  /** Most connections from one address. */
  maxConnectionsPerIp: number;
  /** Most connections from one address that have not logged in yet. */
  maxHandshakesPerIp: number;
  /** Most connections on this instance, whatever the cluster's cap (its open file limit). */
  maxLocalConnections?: number | undefined;
  /** Other instances' counts, when the caps are a cluster's. */
  remote?: RemoteConnections | undefined;
}

/**
 * One admitted connection's place in the counts. It counts as a handshake
 * until {@linkcode ConnectionSlot.loggedIn}, and as a connection until
 * {@linkcode ConnectionSlot.release}; both are safe to call more than once.
 */
export interface ConnectionSlot {
  /** The connection has logged in: it no longer counts against the handshake cap. */
  loggedIn(): void;
  /** The connection is closed: it no longer counts at all. */
  release(): void;
}

/**
 * Counts open connections and refuses those over the caps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionLimiter } from "./connection_limiter.ts";
 * const limiter = new ConnectionLimiter({
 *   maxConnections: 10,
 *   maxConnectionsPerIp: 2,
 *   maxHandshakesPerIp: 1,
 * });
 * const slot = limiter.acquire("127.0.0.1");
 * assert.throws(() => limiter.acquire("127.0.0.1"), { code: "too_many_connections" });
 * slot.loggedIn();
 * limiter.acquire("127.0.0.1").release(); // admitted: the first no longer logs in
 * slot.release();
 * ```
 */
export class ConnectionLimiter {
  #maxConnections: number;
  #maxLocal: number;
  #maxPerIp: number;
  #maxHandshakesPerIp: number;
  #counts: Counts;

  constructor(options: ConnectionLimiterOptions) {
    this.#maxConnections = options.maxConnections;
    this.#maxLocal = options.maxLocalConnections ?? Infinity;
    this.#maxPerIp = options.maxConnectionsPerIp;
    this.#maxHandshakesPerIp = options.maxHandshakesPerIp;
    this.#counts = new Counts(options.remote);
  }

  /** Open connections counted here (this instance only). */
  get total(): number {
    return this.#counts.total;
  }

  /** Connections counted here that have not logged in yet (this instance only). */
  get handshakes(): number {
    return this.#counts.handshakes;
  }

  /** Whether {@linkcode admit} asks other instances (else {@linkcode acquire} does the same). */
  get clustered(): boolean {
    return this.#counts.remote !== undefined;
  }

  /**
   * Counts a connection from `ip`, not logged in yet, against this
   * instance's counts only, or throws `too_many_connections`.
   */
  acquire(ip: string): ConnectionSlot {
    const address = ipKey(ip);
    this.#check(address, { total: 0, ip: 0, handshakes: 0 });
    return new Slot(this.#counts, address);
  }

  /**
   * Counts a connection from `ip`, not logged in yet, against the cluster's
   * caps (this instance's connections plus the other instances'), or throws
   * `too_many_connections`. When the other instances' counts cannot be had
   * within the Redis command timeout, only this instance's are checked: a
   * lost Redis must not lock everyone out.
   */
  async admit(ip: string): Promise<ConnectionSlot> {
    const remote = this.#counts.remote;
    if (remote === undefined) return this.acquire(ip);
    const address = ipKey(ip);
    let others = { total: 0, ip: 0, handshakes: 0 };
    try {
      others = await remote.others(address);
    } catch (error) {
      getLogger(["chat", "server"]).debug(
        "Connection caps checked on this instance only: {error}",
        { error },
      );
    }
    // Checked after the wait against the local counts as they are now, so
    // connections admitted here meanwhile are not counted twice or missed.
    this.#check(address, others);
    return new Slot(this.#counts, address);
  }

  #check(ip: string, others: { total: number; ip: number; handshakes: number }): void {
    const counts = this.#counts;
    if (counts.total >= this.#maxLocal) {
      throw new ChatError(
        "too_many_connections",
        `Server full: ${counts.total} connections reached this instance's limit ${this.#maxLocal}`,
      );
    }
    const total = counts.total + others.total;
    if (total >= this.#maxConnections) {
      throw new ChatError(
        "too_many_connections",
        `Server full: ${total} connections reached limit ${this.#maxConnections}`,
      );
    }
    const count = (counts.perIp.get(ip) ?? 0) + others.ip;
    if (count >= this.#maxPerIp) {
      throw new ChatError(
        "too_many_connections",
        `Too many connections from ${ip}: limit ${this.#maxPerIp} per address`,
      );
    }
    const handshakes = (counts.handshakesPerIp.get(ip) ?? 0) + others.handshakes;
    if (handshakes >= this.#maxHandshakesPerIp) {
      throw new ChatError(
        "too_many_connections",
        `Too many connections logging in from ${ip}: limit ${this.#maxHandshakesPerIp} per address`,
      );
    }
  }
}

/** This instance's counts; every change is published to the cluster, if any. */
class Counts {
  readonly remote: RemoteConnections | undefined;
  readonly perIp = new Map<string, number>();
  readonly handshakesPerIp = new Map<string, number>();
  total = 0;
  handshakes = 0;

  constructor(remote: RemoteConnections | undefined) {
    this.remote = remote;
  }

  change(ip: string, change: ConnectionChange): void {
    add(this.perIp, ip, change.connections);
    add(this.handshakesPerIp, ip, change.handshakes);
    this.total += change.connections;
    this.handshakes += change.handshakes;
    this.remote?.count(ip, change);
  }
}

const OPENED: ConnectionChange = Object.freeze({ connections: 1, handshakes: 1 });
const LOGGED_IN: ConnectionChange = Object.freeze({ connections: 0, handshakes: -1 });
const CLOSED_HANDSHAKING: ConnectionChange = Object.freeze({ connections: -1, handshakes: -1 });
const CLOSED: ConnectionChange = Object.freeze({ connections: -1, handshakes: 0 });

// One per open connection, so it is small: no closures.
class Slot implements ConnectionSlot {
  #counts: Counts;
  #ip: string;
  #state: "handshaking" | "logged in" | "released" = "handshaking";

  constructor(counts: Counts, ip: string) {
    this.#counts = counts;
    this.#ip = ip;
    counts.change(ip, OPENED);
  }

  loggedIn(): void {
    if (this.#state !== "handshaking") return;
    this.#state = "logged in";
    this.#counts.change(this.#ip, LOGGED_IN);
  }

  release(): void {
    if (this.#state === "released") return;
    const change = this.#state === "handshaking" ? CLOSED_HANDSHAKING : CLOSED;
    this.#state = "released";
    this.#counts.change(this.#ip, change);
  }
}

/** Adds `delta` to the count of `key`, forgetting counts that reach 0. */
function add(counts: Map<string, number>, key: string, delta: number): void {
  if (delta === 0) return;
  const count = (counts.get(key) ?? 0) + delta;
  if (count <= 0) counts.delete(key);
  else counts.set(key, count);
}
