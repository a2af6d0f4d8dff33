/**
 * One data directory, one server: `chat serve` holds an exclusive advisory
 * lock (flock) on `chat.lock` in its data directory for as long as it runs.
 * The kernel drops the lock when the process ends, however it ends
 * (`kill -9` included), so a stale lock file never blocks the next start.
 * `chat user` and `chat apikey` do not take it: they edit a live server's
 * accounts and keys through SQLite's own locking.
 *
 * @module
 */
import { join } from "node:path";

/** The lock file's name inside the data directory. */
export const LOCK_FILE = "chat.lock";

/** Another process holds the data directory's lock. */
export class DataDirInUseError extends Error {
  /** The directory asked for. */
  readonly dir: string;
  /** The holder's process id, as it wrote it in the lock file; undefined when unreadable. */
  readonly pid: number | undefined;

  constructor(dir: string, pid: number | undefined) {
    super(
      `Cannot use data directory ${dir}: another chat serve${
        pid === undefined ? "" : ` (pid ${pid})`
      } is running on it; one data directory serves one server`,
    );
    this.name = "DataDirInUseError";
    this.dir = dir;
    this.pid = pid;
  }
}

/**
 * The held lock of one data directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataDirLock, DataDirInUseError } from "./data_dir_lock.ts";
 * const dir = Deno.makeTempDirSync();
 * const lock = DataDirLock.acquire(dir);
 * try {
 *   DataDirLock.acquire(dir);
 * } catch (error) {
 *   assert.equal(error instanceof DataDirInUseError, true);
 * }
 * lock.release();
 * DataDirLock.acquire(dir).release(); // free again
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class DataDirLock {
  /** The lock file. */
  readonly path: string;
  #file: Deno.FsFile | undefined;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Takes the lock of existing directory `dir` without waiting, and writes
   * this process's id into the lock file; throws {@linkcode DataDirInUseError}
   * when another process (or another lock in this one) holds it.
   */
  static acquire(dir: string): DataDirLock {
    const path = join(dir, LOCK_FILE);
    const file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
    try {
      if (!file.tryLockSync(true)) throw new DataDirInUseError(dir, readPid(file));
      // Only the holder writes, so a reader sees the current holder's id or nothing.
      file.truncateSync(0);
      const line = new TextEncoder().encode(`${Deno.pid}\n`);
      for (let written = 0; written < line.length;) {
        written += file.writeSync(line.subarray(written));
      }
    } catch (error) {
      file.close();
      throw error;
    }
    return new DataDirLock(path, file);
  }

  /** Whether the lock is still held by this object. */
  get held(): boolean {
    return this.#file !== undefined;
  }

  /**
   * Releases the lock. The file stays: removing it would let a process that
   * opened it just before lock a file no longer in the directory.
   */
  release(): void {
    const file = this.#file;
    if (file === undefined) return;
    this.#file = undefined;
    file.close();
  }
}

/** The process id written in an open lock file, if it reads as one. */
function readPid(file: Deno.FsFile): number | undefined {
  try {
    const buffer = new Uint8Array(32);
    file.seekSync(0, Deno.SeekMode.Start);
    const count = file.readSync(buffer) ?? 0;
    const text = new TextDecoder().decode(buffer.subarray(0, count)).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
