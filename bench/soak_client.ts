/**
 * A small framed client for soak scenarios: connects from a chosen loopback
 * address, says hello, sends requests and waits for their replies by id.
 * Events are ignored: soaks count answers, not deliveries.
 *
 * @module
 */
import { DEFAULT_SERVER_OPTIONS } from "../server/config/server_options.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { connectFrom } from "./source_address_conn.ts";

/** A decoded frame, loosely typed. */
// deno-lint-ignore no-explicit-any
export type Frame = Record<string, any>;

/** A framed connection from one address. */
export class SoakClient {
  #conn: Deno.Conn;
  #decoder = new FrameDecoder({ maxFrameBytes: DEFAULT_SERVER_OPTIONS.maxFrameBytes });
  // The hello's answer (no id) and each request's, by id.
  #waiters = new Map<number | "hello", (frame: Frame) => void>();
  #nextId = 1;
  #closed = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#read();
  }

  /** Connects to `port` on 127.0.0.1 from `localAddress`. */
  static async open(port: number, localAddress: string): Promise<SoakClient> {
    return new SoakClient(await connectFrom(localAddress, { port }));
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends hello as `nick` (with `password` unless it is empty or absent);
   * resolves to the welcome or error frame, rejects if the connection ends.
   */
  hello(nick: string, password = ""): Promise<Frame> {
    return this.#send("hello", {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      client: "soak",
      clientVersion: "0",
      nick,
      ...(password === "" ? {} : { password }),
    });
  }

  /** Sends a request with a fresh id; resolves to its ack or error. */
  request(body: Frame): Promise<Frame> {
    const id = this.#nextId++;
    return this.#send(id, { ...body, id });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed by the server.
    }
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const wake of waiters) wake({ type: "error", code: "closed", message: "closed" });
  }

  async #send(key: number | "hello", frame: Frame): Promise<Frame> {
    if (this.#closed) throw new Error("connection closed");
    const reply = new Promise<Frame>((resolve) => this.#waiters.set(key, resolve));
    await this.#conn.write(encodeFrame(frame));
    const answer = await reply;
    if (answer.code === "closed" && this.#closed) throw new Error("connection closed");
    return answer;
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const count = await this.#conn.read(buffer);
        if (count === null) break;
        for (const value of this.#decoder.push(buffer.subarray(0, count))) {
          const frame = value as Frame;
          const key = frame.type === "welcome" || (frame.type === "error" && frame.id === undefined)
            ? "hello"
            : (frame.type === "ack" || frame.type === "error") && typeof frame.id === "number"
            ? frame.id
            : undefined;
          if (key === undefined) continue;
          const wake = this.#waiters.get(key);
          this.#waiters.delete(key);
          wake?.(frame);
        }
      }
    } catch {
      // Reset by the server: the same as closed.
    }
    this.close();
  }
}
