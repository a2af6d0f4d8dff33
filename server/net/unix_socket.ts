/**
 * A Unix domain socket listener that owns its socket file: a stale file
 * left by a crashed server is replaced, a live server is never displaced,
 * the file gets the requested mode before anyone can connect, and it is
 * removed on close.
 *
 * @module
 */

/**
 * Listens on a Unix socket at `path` with file mode `mode`.
 *
 * @example
 * ```ts ignore
 * import { UnixSocketListener } from "./unix_socket.ts";
 * const socket = await UnixSocketListener.open("/run/chat/chat.sock", { mode: 0o660 });
 * for await (const conn of socket.listener) conn.close();
 * socket.close();
 * ```
 */
export class UnixSocketListener {
  /** The listener; iterate it to accept connections. */
  readonly listener: Deno.UnixListener;
  /** The socket file's path, as given. */
  readonly path: string;
  readonly #ino: number | null;
  #closed = false;

  private constructor(listener: Deno.UnixListener, path: string, ino: number | null) {
    this.listener = listener;
    this.path = path;
    this.#ino = ino;
  }

  /**
   * Binds `path`. An existing socket file nobody answers on is removed
   * first; one a server answers on, or a file that is not a socket, makes
   * this throw `Deno.errors.AddrInUse` / `Deno.errors.AlreadyExists`.
   */
  static async open(path: string, options: { mode: number }): Promise<UnixSocketListener> {
    if (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o777) {
      throw new RangeError(`Cannot listen on ${path}: mode ${options.mode} is not 0 to 0777`);
    }
    await removeStale(path);
    // Bind under a temporary name, set the mode, then rename into place: the
    // socket is never reachable at `path` with the umask's mode.
    const temporary = `${path}.${Deno.pid}.tmp`;
    await Deno.remove(temporary).catch(() => {});
    const listener = Deno.listen({ transport: "unix", path: temporary });
    try {
      await Deno.chmod(temporary, options.mode);
      await Deno.rename(temporary, path);
      const ino = (await Deno.lstat(path)).ino;
      return new UnixSocketListener(listener, path, ino);
    } catch (error) {
      listener.close();
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
  }

  /** Stops accepting and removes the socket file, if it is still ours. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    try {
      // Another server may have taken the path over since: leave its socket alone.
      if (this.#ino === null || Deno.lstatSync(this.path).ino === this.#ino) {
        Deno.removeSync(this.path);
      }
    } catch {
      // Already gone.
    }
  }
}

async function removeStale(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new Deno.errors.AlreadyExists(`${path} exists and is not a socket; not replacing it`);
  }
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      // Nobody listens: a crashed server's leftover.
      await Deno.remove(path);
      return;
    }
    throw error;
  }
  conn.close();
  throw new Deno.errors.AddrInUse(`another server is answering on ${path}; not replacing it`);
}
