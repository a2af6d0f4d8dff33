/**
 * A real `redis-server` for tests: on loopback, a free port, append-only
 * persistence in a temporary directory (so a restart keeps what was
 * acknowledged), and no RDB snapshots.
 *
 * @module
 */

/** Whether `redis-server` can be run here. */
export async function hasRedisServer(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** A free TCP port on loopback (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A `redis-server` subprocess; restartable on the same port and data. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  #child: Deno.ChildProcess | undefined;
  #output = "";
  #pump: Promise<void> | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts a server and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const dir = await Deno.makeTempDir({ prefix: "chat-redis-" });
    const server = new RedisServer(freePort(), dir);
    try {
      await server.#spawn();
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The process id (for SIGSTOP/SIGCONT). */
  get pid(): number {
    if (this.#child === undefined) throw new Error("redis-server is not running");
    return this.#child.pid;
  }

  /** Everything the server printed. */
  get output(): string {
    return this.#output;
  }

  async #spawn(): Promise<void> {
    this.#child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dir",
        this.dir,
        "--protected-mode",
        "no",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const decoder = new TextDecoder();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) this.#output += decoder.decode(chunk, { stream: true });
    };
    this.#pump = Promise.all([collect(this.#child.stdout), collect(this.#child.stderr)]).then(
      () => {},
    );
    const deadline = Date.now() + 10_000;
    while (!(await this.ping())) {
      if (Date.now() > deadline) {
        throw new Error(`redis-server not answering after 10 s:\n${this.#output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Whether the server answers PING within a second. */
  async ping(): Promise<boolean> {
    let conn: Deno.TcpConn | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(64);
      const read = conn.read(buffer);
      const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 1000));
      const count = await Promise.race([read, timeout]);
      if (count === null) {
        conn.close();
        conn = undefined;
        await read.catch(() => null);
        return false;
      }
      return new TextDecoder().decode(buffer.subarray(0, count)).startsWith("+PONG");
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    Deno.kill(this.pid, "SIGSTOP");
  }

  /** Thaws a paused server. */
  resume(): void {
    Deno.kill(this.pid, "SIGCONT");
  }

  /** Stops the server: `SIGTERM` lets it flush its append-only file; `SIGKILL` does not. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    try {
      child.kill("SIGCONT");
      child.kill(signal);
    } catch {
      // Already gone.
    }
    await child.status;
    await this.#pump;
  }

  /** Stops, then starts again on the same port with the same data. */
  async restart(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    await this.stop(signal);
    await this.#spawn();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
