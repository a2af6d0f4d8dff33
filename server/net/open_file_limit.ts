/**
 * How many connections the open file limit leaves room for. Each
 * connection holds a file descriptor; past the limit `accept` fails with
 * EMFILE and new clients wait in the kernel's queue instead of being told
 * `too_many_connections`. Like Redis with `maxclients`, the server keeps
 * descriptors in reserve for its own files (the store, logs, HTTP requests,
 * refusals under way) and lowers its connection cap to what is left.
 *
 * Deno has no `getrlimit`: on Linux the limit is read from
 * `/proc/self/limits` (Deno raises the soft limit to the hard one at
 * start, so that is the one read); elsewhere it is unknown and nothing is
 * lowered.
 *
 * @module
 */

/** Descriptors kept beyond those open at start, for files and sockets that are not connections. */
export const RESERVED_FILES = 32;

/** The open file limit and the descriptors already in use. */
export interface OpenFiles {
  /** The soft limit on open files (`ulimit -n`). */
  limit: number;
  /** Descriptors open now. */
  open: number;
}

/**
 * This process's open file limit and open descriptors, or null where they
 * cannot be read (not Linux, no read permission, or no limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readOpenFiles } from "./open_file_limit.ts";
 * const files = readOpenFiles(); // { limit: 65536, open: 31 } on Linux, null elsewhere
 * if (files !== null) assert.ok(files.open >= 1 && files.open <= files.limit);
 * ```
 */
export function readOpenFiles(): OpenFiles | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const limit = parseOpenFileLimit(Deno.readTextFileSync("/proc/self/limits"));
    if (limit === null) return null;
    let open = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) open++;
    return { limit, open };
  } catch {
    // No --allow-read, or no /proc: as on other systems.
    return null;
  }
}

/**
 * The soft limit of the "Max open files" line of a `/proc/PID/limits`
 * text, or null when it is unlimited or missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOpenFileLimit } from "./open_file_limit.ts";
 * const text = "Limit                     Soft Limit           Hard Limit           Units\n" +
 *   "Max open files            1024                 4096                 files\n";
 * assert.equal(parseOpenFileLimit(text), 1024);
 * ```
 */
export function parseOpenFileLimit(text: string): number | null {
  const match = /^Max open files\s+(\S+)/m.exec(text);
  if (match === null || !/^\d+$/.test(match[1]!)) return null;
  return Number(match[1]);
}

/** What {@linkcode fitConnections} decided. */
export interface ConnectionFit {
  /** The connections allowed: `wanted`, or fewer when the limit leaves less room. */
  allowed: number;
  /** Descriptors the server keeps for itself: those open now plus {@linkcode RESERVED_FILES}. */
  kept: number;
}

/**
 * Fits `wanted` connections into `files`: at most the limit less the
 * descriptors open now and {@linkcode RESERVED_FILES}. Throws a
 * `RangeError` when not even one connection fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitConnections } from "./open_file_limit.ts";
 * assert.deepEqual(fitConnections(10_000, { limit: 1024, open: 30 }), { allowed: 962, kept: 62 });
 * ```
 */
export function fitConnections(wanted: number, files: OpenFiles): ConnectionFit {
  const kept = files.open + RESERVED_FILES;
  const room = files.limit - kept;
  if (room < 1) {
    throw new RangeError(
      `Cannot serve: the open file limit (ulimit -n) is ${files.limit} and the server keeps ` +
        `${kept} descriptors for itself (${files.open} open, ${RESERVED_FILES} in reserve); ` +
        `raise the limit to at least ${kept + 1} (systemd: LimitNOFILE=)`,
    );
  }
  return { allowed: Math.min(wanted, room), kept };
}
