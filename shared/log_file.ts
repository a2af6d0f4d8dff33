/**
 * The log file of `--log-file`: LogTape's buffered file sink, with what it
 * lacks around it. Every file it creates (the log and each one rotation
 * starts) is mode 0600, since logs name users and their addresses; and
 * {@linkcode LogFile.reopen} starts a new file at the same path after
 * logrotate renamed the old one (SIGHUP). Rotation by size is done here,
 * not by LogTape, because LogTape creates its new files with the default
 * mode.
 *
 * @module
 */
import { getRotatingFileSink } from "@logtape/file";
import type { LogRecord, Sink, TextFormatter } from "@logtape/logtape";
import { createPrivateFile } from "./private_file.ts";

/** Options for {@linkcode LogFile.open}. */
export interface LogFileOptions {
  formatter: TextFormatter;
  /** Size at which the file is rotated (renamed to PATH.1, PATH.1 to PATH.2, ...). */
  maxBytes: number;
  /** Rotated files kept. */
  maxFiles: number;
}

// Non-blocking, LogTape's sink is async-disposable, though typed as disposable.
type FileSink = Sink & Partial<Disposable & AsyncDisposable>;

/** Flushes and closes a file sink. */
async function closeSink(sink: FileSink): Promise<void> {
  if (sink[Symbol.asyncDispose] !== undefined) await sink[Symbol.asyncDispose]!();
  else sink[Symbol.dispose]?.();
}

const encoder = new TextEncoder();

/**
 * A size-rotated log file whose files are created 0600 and that can be
 * reopened.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogFile } from "./log_file.ts";
 * import { textFormatter } from "./logging.ts";
 * const dir = Deno.makeTempDirSync();
 * const log = LogFile.open(`${dir}/chat.log`, {
 *   formatter: textFormatter(),
 *   maxBytes: 1024 * 1024,
 *   maxFiles: 5,
 * });
 * log.sink({
 *   category: ["chat"], level: "info", timestamp: Date.now(), rawMessage: "Started",
 *   message: ["Started"], properties: {},
 * });
 * await log[Symbol.asyncDispose]();
 * assert.equal(Deno.readTextFileSync(`${dir}/chat.log`).includes("Started"), true);
 * assert.equal(Deno.statSync(`${dir}/chat.log`).mode! & 0o777, 384); // (0o600)
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class LogFile implements AsyncDisposable {
  /** The log file's path. */
  readonly path: string;
  /** Where records go; it keeps writing to this log file across rotations and reopens. */
  readonly sink: Sink & AsyncDisposable;
  readonly #options: LogFileOptions;
  #current: FileSink;
  // Bytes in the current file: what it had when opened plus what was formatted since.
  #size: number;
  // Sinks replaced by a rotation or a reopen, still flushing their last records.
  #closing = new Set<Promise<void>>();
  #disposed = false;

  private constructor(path: string, options: LogFileOptions) {
    this.path = path;
    this.#options = options;
    this.#current = this.#openSink();
    this.#size = sizeOf(path);
    const sink = (record: LogRecord) => this.#write(record);
    this.sink = Object.assign(sink, { [Symbol.asyncDispose]: () => this[Symbol.asyncDispose]() });
  }

  /** Opens (creating it 0600 if missing) the log file at `path`. */
  static open(path: string, options: LogFileOptions): LogFile {
    return new LogFile(path, options);
  }

  /**
   * Starts writing to a file at the path again: a new one (0600) if the
   * old was renamed away, as logrotate does before it sends SIGHUP. Records
   * already buffered still go to the old file.
   */
  reopen(): void {
    if (this.#disposed) return;
    this.#replace();
    this.#size = sizeOf(this.path);
  }

  /** Flushes and closes every file. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#closing.add(closeSink(this.#current));
    await Promise.all(this.#closing);
  }

  #write(record: LogRecord): void {
    if (this.#disposed) return;
    this.#current(record);
    if (this.#size >= this.#options.maxBytes) this.#rotate();
  }

  /** Shifts PATH.1 to PATH.2 and so on, the oldest falling off, PATH to PATH.1; starts a new PATH. */
  #rotate(): void {
    const { maxFiles } = this.#options;
    for (let index = maxFiles - 1; index > 0; index--) {
      try {
        Deno.renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
      } catch {
        // Not there yet.
      }
    }
    try {
      Deno.renameSync(this.path, `${this.path}.1`);
    } catch {
      // Gone already (moved by hand): the new file starts fresh all the same.
    }
    // The old sink's descriptor follows the file to PATH.1 and flushes there.
    this.#replace();
    this.#size = 0;
  }

  #replace(): void {
    const old = this.#current;
    this.#current = this.#openSink();
    const closing = closeSink(old).catch(() => {});
    this.#closing.add(closing);
    closing.finally(() => this.#closing.delete(closing));
  }

  #openSink(): FileSink {
    createPrivateFile(this.path);
    const { formatter, maxBytes, maxFiles } = this.#options;
    // LogTape's file sinks fsync every write they make; buffering a few KiB
    // and flushing in the background keeps that to about one fsync a second.
    // Its own rotation is off (rotation is done above).
    return getRotatingFileSink(this.path, {
      formatter: (record) => {
        const line = formatter(record);
        this.#size += encoder.encode(line).length;
        return line;
      },
      maxSize: Number.POSITIVE_INFINITY,
      maxFiles,
      bufferSize: Math.min(8192, Math.floor(maxBytes / 4)),
      flushInterval: 1000,
      nonBlocking: true,
    });
  }
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}
