/**
 * A framed protocol peer over any stream connection (TLS, Unix socket), for
 * tests of the listeners besides plain TCP: hello, requests and their acks,
 * and every frame the server sends.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { PROTOCOL_VERSION } from "../../shared/protocol.ts";
import type { Frame } from "./peer.ts";

/** A framed peer over an already open connection. */
export class ConnPeer implements AsyncDisposable {
  readonly conn: Deno.Conn;
  readonly frames: Frame[] = [];
  /** Resolves when the server closes the connection (or it fails). */
  readonly closed: Promise<void>;
  #nextId = 1;
  #taken = new Set<Frame>();
  #ended = false;
  #waiters: Array<() => void> = [];

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.closed = this.#read();
  }

  /** Opens `conn`, completes hello as `nick` and resolves to the peer. */
  static async join(conn: Deno.Conn, nick: string): Promise<ConnPeer> {
    const peer = new ConnPeer(conn);
    peer.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      client: "test",
      clientVersion: "0",
      nick,
    });
    const reply = await peer.next((f) => f.type === "welcome" || f.type === "error");
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
        for (const value of decoder.push(buffer.subarray(0, count))) {
          this.frames.push(value as Frame);
          this.#wakeAll();
        }
      }
    } catch {
      // Closed or reset: the frames so far are what there is.
    } finally {
      this.#ended = true;
      this.#wakeAll();
    }
  }

  #wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  send(frame: Record<string, unknown>): void {
    this.conn.write(encodeFrame(frame)).catch(() => {});
  }

  /** Sends a request with a fresh id; resolves to its ack or error frame. */
  request(body: Record<string, unknown>): Promise<Frame> {
    const id = this.#nextId++;
    this.send({ ...body, id });
    return this.next((f) => (f.type === "ack" || f.type === "error") && f.id === id);
  }

  /** The oldest frame not yet taken that matches; rejects after `timeoutMs` or at end of stream. */
  async next(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.frames.find((frame) => !this.#taken.has(frame) && match(frame));
      if (found !== undefined) {
        this.#taken.add(found);
        return found;
      }
      if (this.#ended) throw new Error("connection closed before a matching frame");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
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
