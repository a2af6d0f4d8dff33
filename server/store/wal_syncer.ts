/**
 * Background syncing of SQLite's write-ahead log. With `synchronous=NORMAL`
 * commits only write the WAL; the checkpoint that SQLite runs on the writing
 * thread every 1,000 pages then has to fsync megabytes of it, stalling the
 * event loop for ~4–5 ms about ten times a second under load (measured in
 * docs/performance.md). Syncing the WAL every 25 ms on Deno's
 * blocking pool leaves that checkpoint almost nothing to flush (~1 ms).
 *
 * @module
 */

/** Options for {@linkcode WalSyncer}. */
export interface WalSyncerOptions {
  /** Least time between two syncs, in ms (default 25). */
  intervalMs?: number;
}

/**
 * Syncs one WAL file at most once per interval while commits keep coming.
 *
 * @example
 * ```ts ignore
 * import { WalSyncer } from "./wal_syncer.ts";
 * const syncer = new WalSyncer("chat-data/chat.db-wal");
 * syncer.committed(); // after each commit
 * await syncer.close();
 * ```
 */
export class WalSyncer {
  readonly #path: string;
  readonly #intervalMs: number;
  #file: Deno.FsFile | undefined;
  #dirty = false;
  #closed = false;
  #syncing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastStart = -Infinity;
  /** Syncs completed (tests, diagnostics). */
  syncs = 0;

  constructor(path: string, options: WalSyncerOptions = {}) {
    this.#path = path;
    this.#intervalMs = options.intervalMs ?? 25;
  }

  /** Notes a commit: the WAL will be synced within the interval. */
  committed(): void {
    if (this.#closed) return;
    this.#dirty = true;
    this.#kick();
  }

  #kick(): void {
    if (!this.#dirty || this.#closed || this.#syncing || this.#timer !== undefined) return;
    const wait = this.#lastStart + this.#intervalMs - performance.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, wait);
      return;
    }
    this.#dirty = false;
    this.#lastStart = performance.now();
    this.#syncing = this.#sync().finally(() => {
      this.#syncing = undefined;
      this.#kick();
    });
  }

  async #sync(): Promise<void> {
    try {
      this.#file ??= await Deno.open(this.#path, { read: true });
      await this.#file.syncData();
      this.syncs++;
    } catch {
      // No WAL (yet), or it went away: SQLite's own checkpoint syncs what there is.
    }
  }

  /** Stops syncing and closes the file, once a sync in progress is done. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#syncing;
    this.#file?.close();
    this.#file = undefined;
  }
}
