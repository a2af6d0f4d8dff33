/**
 * A TCP connection from a chosen local address, for load and tests that
 * must come from several client addresses on one machine (127.0.0.2,
 * 127.0.0.3, … are all loopback on Linux). `Deno.connect` cannot bind the
 * local side, `node:net` can; this wraps a `node:net` socket in the part
 * of `Deno.Conn` that readers and writers of this project use (`read`,
 * `write`, `close`, `closeWrite`, the addresses).
 *
 * @module
 */
import net from "node:net";

// Past this many unread bytes the socket stops reading until `read` catches up.
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * Connects to `hostname:port` from `localAddress`.
 *
 * @example
 * ```ts ignore
 * import { connectFrom } from "./source_address_conn.ts";
 * const conn = await connectFrom("127.0.0.2", { port: 7007 });
 * await conn.write(new TextEncoder().encode("alice\n"));
 * conn.close();
 * ```
 */
export async function connectFrom(
  localAddress: string,
  options: { port: number; hostname?: string },
): Promise<Deno.Conn> {
  const socket = net.createConnection({
    host: options.hostname ?? "127.0.0.1",
    port: options.port,
    localAddress,
  });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return new SourceAddressConn(socket) as unknown as Deno.Conn;
}

/** The `Deno.Conn` subset over a `node:net` socket. */
class SourceAddressConn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  #socket: net.Socket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.localAddr = {
      transport: "tcp",
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    socket.on("data", (data: Uint8Array) => {
      this.#chunks.push(data);
      this.#buffered += data.length;
      if (this.#buffered > HIGH_WATER_BYTES) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  /** Like `Deno.Conn.read`: bytes into `buffer`, or null at the end of the stream. */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) {
        throw new Deno.errors.ConnectionReset(this.#error.message);
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0]!;
    const count = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, count));
    if (count === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(count);
    this.#buffered -= count;
    if (this.#buffered <= HIGH_WATER_BYTES) this.#socket.resume();
    return count;
  }

  /** Like `Deno.Conn.write`: resolves once the bytes are handed to the kernel. */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BadResource("the connection is closed"));
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error?: Error | null) => {
        if (error) reject(new Deno.errors.BrokenPipe(error.message));
        else resolve(bytes.length);
      });
    });
  }

  /** Half-closes: no more writes, reading goes on. */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
