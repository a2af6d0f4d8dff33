/**
 * One framed connection to a server: reads into a reused buffer, decodes
 * frames as they complete, and writes through a coalescing queue.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { encodeFrame, FrameDecoder, InvalidTextFrame } from "../shared/frame.ts";
import { GreetingFilter } from "../shared/greeting_filter.ts";
import { OutboundQueue } from "../shared/outbound_queue.ts";
import { type ClientFrame, parseServerFrame, type ServerFrame } from "../shared/protocol.ts";
import type { Transport } from "../shared/transport.ts";
import type { Address } from "./address.ts";

const logger = getLogger(["chat", "client", "connection"]);

/** Default cap on a frame from the server: acks listing many users can be big. */
export const DEFAULT_CLIENT_MAX_FRAME_BYTES = 1024 * 1024;
const READ_BUFFER_BYTES = 64 * 1024;

/** Options for {@linkcode FrameConnection}. */
export interface FrameConnectionOptions {
  /** Largest frame accepted from the server, in bytes. */
  maxFrameBytes?: number;
  /** Most bytes queued for the server before sends are refused. */
  maxQueueBytes?: number;
}

/** Where {@linkcode FrameConnection.open} connects, and how. */
export type ConnectTarget = Address & {
  /**
   * TLS only: PEM certificates to trust instead of the system's roots, for
   * a server whose certificate a private CA signed (or a self-signed one).
   */
  caCerts?: string[];
};

/** Default time a TLS handshake may take before the connection is given up. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** How a connection's read loop ended. */
export interface ConnectionEnd {
  /** Human-readable cause, e.g. "server closed the connection". */
  reason: string;
  /** The error behind it, if any. */
  error?: unknown;
}

/**
 * A framed connection. Call {@linkcode FrameConnection.run} once to read.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import type { ServerFrame } from "../shared/protocol.ts";
 * import { FrameConnection } from "./frame_connection.ts";
 * const connection = await FrameConnection.connect("127.0.0.1", 7007);
 * connection.send({ type: "hello", protocol: "1.0", client: "chat", clientVersion: "0.1.0", nick: "alice" });
 * const frames: ServerFrame[] = [];
 * const end = await connection.run((frame) => frames.push(frame));
 * assert.equal(frames[0]?.type, "welcome");
 * assert.equal(end.reason, "connection closed");
 * ```
 */
export class FrameConnection {
  #transport: Transport;
  #decoder: FrameDecoder;
  // A server that saw nothing from us for a moment greets in plain text first.
  #greeting = new GreetingFilter();
  #queue: OutboundQueue;
  #closed = false;
  #lastReceivedAt = Date.now();

  /** Wraps an open `transport` (a `Deno.Conn`, or an in-memory pair in tests). */
  constructor(transport: Transport, options: FrameConnectionOptions = {}) {
    this.#transport = transport;
    this.#decoder = new FrameDecoder({
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_CLIENT_MAX_FRAME_BYTES,
    });
    this.#queue = new OutboundQueue(transport, {
      ...(options.maxQueueBytes === undefined ? {} : { maxBytes: options.maxQueueBytes }),
      // A failed write means the peer is gone: ending the read loop reports it.
      onError: () => this.close(),
    });
  }

  /**
   * Opens a connection to `target`: plain TCP, TLS (the handshake done, so
   * an untrusted certificate fails here rather than at the first read) or
   * a Unix socket.
   *
   * @example
   * ```ts ignore
   * import { FrameConnection } from "./frame_connection.ts";
   * const caCerts = [await Deno.readTextFile("ca.pem")];
   * const connection = await FrameConnection.open({
   *   transport: "tls",
   *   hostname: "chat.example.org",
   *   port: 7443,
   *   caCerts,
   * });
   * ```
   */
  static async open(
    target: ConnectTarget,
    options: FrameConnectionOptions & { handshakeTimeoutMs?: number } = {},
  ): Promise<FrameConnection> {
    if (target.transport === "unix") {
      const conn = await Deno.connect({ transport: "unix", path: target.path });
      return new FrameConnection(conn, options);
    }
    if (target.transport === "tcp") {
      return await FrameConnection.connect(target.hostname, target.port, options);
    }
    const conn = await Deno.connectTls({
      hostname: target.hostname,
      port: target.port,
      ...(target.caCerts === undefined ? {} : { caCerts: target.caCerts }),
    });
    const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        conn.handshake(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Deno.errors.TimedOut(`TLS handshake took over ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      conn.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return new FrameConnection(conn, options);
  }

  /**
   * Opens a plain TCP connection to `hostname`:`port`.
   *
   * @example
   * ```ts ignore
   * import { FrameConnection } from "./frame_connection.ts";
   * const connection = await FrameConnection.connect("::1", 7007);
   * ```
   */
  static async connect(
    hostname: string,
    port: number,
    options: FrameConnectionOptions = {},
  ): Promise<FrameConnection> {
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    return new FrameConnection(conn, options);
  }

  /** When bytes last arrived, in ms since the epoch. */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /** Whether {@linkcode FrameConnection.close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues `frame` for the server. Returns false when it cannot be sent:
   * the connection is closed or its queue is full.
   */
  send(frame: ClientFrame): boolean {
    if (this.#closed) return false;
    return this.#queue.push(encodeFrame(frame));
  }

  /** Resolves once everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    return this.#queue.drained();
  }

  /**
   * Reads until the connection ends, calling `onFrame` for every valid frame
   * in arrival order; resolves (never rejects) with why it ended. Frames of
   * unknown type, from a newer server, are skipped.
   */
  async run(onFrame: (frame: ServerFrame) => void): Promise<ConnectionEnd> {
    // One buffer for the connection's life: the decoder copies what it keeps.
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (!this.#closed) {
        const count = await this.#transport.read(buffer);
        if (count === null) return { reason: "server closed the connection" };
        this.#lastReceivedAt = Date.now();
        const frames = this.#greeting.push(buffer.subarray(0, count));
        for (const value of this.#decoder.push(frames)) {
          if (this.#closed) break;
          let frame: ServerFrame | undefined;
          try {
            if (value instanceof InvalidTextFrame) throw value.error;
            frame = parseServerFrame(value);
          } catch (error) {
            logger.warn("Ignoring invalid frame from server: {error}", { error });
            continue;
          }
          if (frame === undefined) {
            logger.debug("Ignoring frame of unknown type {value}", { value });
            continue;
          }
          onFrame(frame);
        }
      }
      return { reason: "connection closed" };
    } catch (error) {
      if (this.#closed) return { reason: "connection closed" };
      const message = error instanceof Error ? error.message : String(error);
      return { reason: `connection failed: ${message}`, error };
    } finally {
      this.close();
    }
  }

  /** Closes the connection; a pending read ends. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#transport.close();
    } catch {
      // Already closed by the peer.
    }
  }
}
