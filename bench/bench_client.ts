/**
 * One load-generator connection, framed or plain text: it says hello (or
 * its nickname), joins the bench room, and then reads everything the
 * server sends through a cheap scanner that only counts.
 *
 * @module
 */
import { encodeFrame } from "../shared/frame.ts";
import { GreetingFilter } from "../shared/greeting_filter.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { writeAll } from "../shared/transport.ts";
import { VERSION } from "../shared/version.ts";
import { nowMs } from "./clock.ts";
import { FrameScanner } from "./frame_scanner.ts";
import type { ScannerOptions } from "./sampler.ts";
import { LineScanner } from "./line_scanner.ts";
import { concatBytes } from "../shared/bytes.ts";

/** The wire format a bench client speaks. */
export type Mode = "framed" | "text";

/** The modes, for flag parsing. */
export const MODES: readonly Mode[] = ["framed", "text"];

const PONG = encodeFrame({ type: "pong" });
const textEncoder = new TextEncoder();

/** Options for {@linkcode BenchClient.connect}. */
export interface BenchClientOptions extends ScannerOptions {
  port: number;
  mode: Mode;
  nick: string;
  /** Room to join. */
  room: string;
  /** Read buffer size in bytes. */
  readBufferBytes?: number;
  /** Called after each chunk is scanned. */
  onChunk?: (client: BenchClient) => void;
  /** Time allowed for hello and join, in ms. */
  timeoutMs?: number;
}

/** A connected, logged-in bench client. */
export class BenchClient {
  readonly conn: Deno.TcpConn;
  readonly mode: Mode;
  readonly nick: string;
  readonly scanner: FrameScanner | LineScanner;
  /** Resolves when the server closes the connection (or reading fails). */
  readonly ended: Promise<void>;
  /** Reads that returned data, and the bytes they returned. */
  reads = 0;
  bytes = 0;
  /** When the last read returned (ms, {@linkcode nowMs} clock): one clock read per read. */
  lastReadAt = 0;
  /** Whether reading has ended. */
  closed = false;
  /** Why reading ended, if it failed. */
  error: unknown;
  #onChunk: ((client: BenchClient) => void) | undefined;
  #waiter: (() => void) | undefined;
  #readBufferBytes: number;
  #pingsAnswered = 0;
  // A busy server may greet in plain text before it reads the hello.
  #greeting: GreetingFilter | undefined;

  private constructor(conn: Deno.TcpConn, options: BenchClientOptions) {
    this.conn = conn;
    this.mode = options.mode;
    this.nick = options.nick;
    this.scanner = options.mode === "framed" ? new FrameScanner(options) : new LineScanner(options);
    if (options.mode === "framed") this.#greeting = new GreetingFilter();
    this.#onChunk = options.onChunk;
    this.#readBufferBytes = options.readBufferBytes ?? 64 * 1024;
    this.ended = this.#read();
  }

  /** Connects to 127.0.0.1:`port`, logs in as `nick` and joins `room`. */
  static async connect(options: BenchClientOptions): Promise<BenchClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
    conn.setNoDelay(true);
    const client = new BenchClient(conn, options);
    try {
      const { nick, room } = options;
      if (options.mode === "framed") {
        const hello = {
          type: "hello",
          protocol: PROTOCOL_VERSION,
          client: "chat-bench",
          clientVersion: VERSION,
          nick,
        };
        await client.write(
          concatBytes([encodeFrame(hello), encodeFrame({ type: "join", id: 0, room })]),
        );
      } else {
        await client.write(textEncoder.encode(`${nick}\n/join ${room}\n`));
      }
      // The join's reply (framed: ack or error; text: "--- Now talking in #room" or "! code: …").
      await client.waitFor(() => client.scanner.replies > 0, options.timeoutMs ?? 30_000);
      if (client.scanner.errors > 0) {
        throw new Error(`${options.nick}: the server refused hello or join`);
      }
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Resolves once `condition()` holds (checked after each chunk), rejects after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`${this.nick}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = () => {
        if (condition()) {
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          this.#waiter = undefined;
          reject(new Error(`${this.nick}: connection closed (${this.error ?? "by the server"})`));
        }
      };
    });
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(this.#readBufferBytes);
    const scanner = this.scanner;
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        this.reads++;
        this.bytes += count;
        this.lastReadAt = nowMs();
        const chunk = buffer.subarray(0, count);
        scanner.push(this.#greeting?.push(chunk) ?? chunk, this.lastReadAt);
        if (scanner instanceof FrameScanner && scanner.pings > this.#pingsAnswered) {
          this.#pingsAnswered = scanner.pings;
          this.write(PONG).catch(() => {});
        }
        this.#onChunk?.(this);
        this.#waiter?.();
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)) {
        this.error = error;
      }
    } finally {
      this.closed = true;
      this.#onChunk?.(this);
      this.#waiter?.();
    }
  }
}
