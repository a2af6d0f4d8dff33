/**
 * A raw protocol peer over real TCP for server tests: it sends exactly the
 * frames a test asks for and records every frame the server sends.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { GreetingFilter } from "../../shared/greeting_filter.ts";
import { PROTOCOL_VERSION } from "../../shared/protocol.ts";
import { connectFrom } from "../../bench/source_address_conn.ts";
import { ConformanceCheck } from "./conformance.ts";

/** A decoded server frame, loosely typed for assertions. */
// deno-lint-ignore no-explicit-any
export type Frame = Record<string, any>;

/**
 * A framed peer with a background reader. Every frame received is checked
 * against docs/protocol.schema.json: one that does not conform fails the
 * next `next()`, `all()` or the disposal.
 */
export class Peer implements AsyncDisposable {
  readonly conn: Deno.Conn;
  readonly frames: Frame[] = [];
  /** The schema check of what the server sends. */
  readonly conformance = new ConformanceCheck();
  /** Skips the plain-text greeting, as a framed client must; counts what it skipped. */
  readonly greeting = new GreetingFilter();
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;
  #waiters: Array<() => void> = [];
  #scanned = 0;
  #untaken: Frame[] = [];
  #nextId = 1;
  #error: unknown;

  /** A peer over an open connection: TCP, TLS or a Unix socket. */
  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.closed = this.#read();
  }

  static async connect(port: number): Promise<Peer> {
    return new Peer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Connects to 127.0.0.1:`port` from `localAddress` (another loopback address: 127.0.0.2...). */
  static async connectFrom(port: number, localAddress: string): Promise<Peer> {
    return new Peer(await connectFrom(localAddress, { port }));
  }

  /** Sends hello as `nick`; resolves to the welcome or the error frame. */
  async hello(nick: string, options: { password?: string } = {}): Promise<Frame> {
    this.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      client: "test",
      clientVersion: "0",
      nick,
      ...options,
    });
    return await this.next((f) => f.type === "welcome" || f.type === "error");
  }

  /** Connects over TCP (or uses `conn`) and completes hello as `nick`. */
  static async join(
    port: number | Deno.Conn,
    nick: string,
    options: { password?: string } = {},
  ): Promise<Peer> {
    const peer = typeof port === "number" ? await Peer.connect(port) : new Peer(port);
    const reply = await peer.hello(nick, options);
    if (reply.type !== "welcome") {
      await peer[Symbol.asyncDispose]();
      throw new Error(`hello refused: ${reply.code} ${reply.message}`);
    }
    return peer;
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 - 1 });
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        for (const value of decoder.push(this.greeting.push(buffer.subarray(0, count)))) {
          this.conformance.received(value);
          this.frames.push(value as Frame);
          this.#wake();
        }
      }
    } catch (error) {
      if (
        !(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset)
      ) {
        this.#error = error;
      }
    } finally {
      this.#ended = true;
      // As a client does once the server has closed its side (it waits for that).
      this.close();
      this.#wake();
    }
  }

  #ended = false;

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  send(frame: Record<string, unknown>): void {
    this.conformance.sent(frame);
    this.sendRaw(encodeFrame(frame));
  }

  sendRaw(bytes: Uint8Array): void {
    // Tests send little; a write left pending would leak, so await none.
    this.conn.write(bytes).catch(() => {});
  }

  /** Sends a request with a fresh id; resolves to its ack or error frame. */
  async request(body: Record<string, unknown>): Promise<Frame> {
    const id = this.#nextId++;
    this.send({ ...body, id });
    return await this.next((f) => (f.type === "ack" || f.type === "error") && f.id === id);
  }

  /**
   * Takes the oldest frame not yet taken that matches `match`; frames that do
   * not match stay for later calls. Rejects after `timeoutMs` or at end of stream.
   */
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      this.conformance.assertConforms();
      for (; this.#scanned < this.frames.length; this.#scanned++) {
        this.#untaken.push(this.frames[this.#scanned]!);
      }
      const index = this.#untaken.findIndex(match);
      if (index !== -1) return this.#untaken.splice(index, 1)[0]!;
      if (this.#ended) {
        throw new Error(`connection closed before a matching frame (error: ${this.#error})`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const recent = JSON.stringify(this.#untaken.slice(-5)).slice(0, 2000);
        throw new Error(`no matching frame within ${timeoutMs} ms; untaken: ${recent}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Every frame received so far matching `match` (not consumed). */
  all(match: (frame: Frame) => boolean): Frame[] {
    this.conformance.assertConforms();
    return this.frames.filter(match);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
    this.conformance.assertConforms();
  }
}

/** A plain-text peer: writes lines, collects everything received as text. */
export class TextPeer implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  text = "";
  readonly closed: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.closed = (async () => {
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(16 * 1024);
      try {
        while (true) {
          const count = await conn.read(buffer);
          if (count === null) break;
          this.text += decoder.decode(buffer.subarray(0, count), { stream: true });
        }
      } catch {
        // Closed.
      }
      // As a client does once the server has closed its side (it waits for that).
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    })();
  }

  static async connect(port: number): Promise<TextPeer> {
    return new TextPeer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  write(text: string): void {
    this.conn.write(new TextEncoder().encode(text)).catch(() => {});
  }

  /** Resolves once the received text contains `needle`; rejects after `timeoutMs`. */
  async waitFor(needle: string | RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const found = () =>
      typeof needle === "string" ? this.text.includes(needle) : needle.test(this.text);
    while (!found()) {
      if (Date.now() > deadline) {
        throw new Error(`no ${needle} within ${timeoutMs} ms; got:\n${this.text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.closed;
  }
}
