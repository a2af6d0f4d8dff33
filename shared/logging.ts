/**
 * Logging set-up through LogTape, shared by server and client: readable
 * lines by default, JSON lines with `--log-format json`, to the console or
 * to a size-rotated file. Whatever the sink, values under names that look
 * secret (password, token, secret, body) are replaced before formatting.
 *
 * @module
 */
import { getRotatingFileSink } from "@logtape/file";
import {
  configure,
  dispose,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
/** Formats accepted by `--log-format`. */
export const LOG_FORMATS = ["text", "json"] as const;

/** Options for {@linkcode setupLogging}. */
export interface LoggingOptions {
  level: LogLevel;
  format: typeof LOG_FORMATS[number];
  /** Write to stderr (the client) instead of stdout (the server). */
  stderr?: boolean;
  /** Write to this file, rotated by size, instead of the console. */
  file?: {
    path: string;
    /** Size at which the file is rotated (renamed to PATH.1, PATH.1 to PATH.2, ...). */
    maxBytes: number;
    /** Rotated files kept. */
    maxFiles: number;
  };
  /** More sinks for every `chat` record (the dashboard's recent-log buffer); redacted too. */
  extraSinks?: readonly Sink[];
}

/** What replaces a redacted value. */
export const REDACTED = "[redacted]";

// Property names whose values are never logged: credentials and chat text.
const SENSITIVE = /pass(word|wd)?|token|secret|body/i;

/**
 * Configures LogTape for the `chat` category. Safe to call more than once;
 * call {@linkcode shutdownLogging} before exit to flush a log file.
 *
 * @example
 * ```ts ignore
 * import { setupLogging, shutdownLogging } from "./logging.ts";
 * await setupLogging({ level: "info", format: "text" });
 * await shutdownLogging();
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ timestamp: "date-time-timezone", level: "FULL" });
  await reset();
  let sink: Sink;
  if (options.file !== undefined) {
    // LogTape's file sinks fsync every write; buffering a few KiB and
    // flushing in the background keeps that to about one fsync a second.
    sink = getRotatingFileSink(options.file.path, {
      formatter,
      maxSize: options.file.maxBytes,
      maxFiles: options.file.maxFiles,
      bufferSize: Math.min(8192, Math.floor(options.file.maxBytes / 4)),
      flushInterval: 1000,
      nonBlocking: true,
    });
  } else {
    const encoder = new TextEncoder();
    const out = options.stderr ? Deno.stderr : Deno.stdout;
    // Synchronous writes keep log lines in order with the "listening on" line.
    sink = (record) => void out.writeSync(encoder.encode(formatter(record)));
  }
  const sinks: Record<string, Sink> = { main: redacting(sink) };
  for (const [index, extra] of (options.extraSinks ?? []).entries()) {
    sinks[`extra${index}`] = redacting(extra);
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ["chat"], lowestLevel: options.level, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/**
 * Flushes and closes the sinks (a log file's buffer is written out).
 *
 * @example
 * ```ts ignore
 * import { shutdownLogging } from "./logging.ts";
 * await shutdownLogging();
 * ```
 */
export async function shutdownLogging(): Promise<void> {
  await dispose();
}

/**
 * Wraps `sink` so that properties named like a password, token, secret or
 * message body (at any depth) reach it as {@linkcode REDACTED}, in the
 * properties and in the rendered message alike.
 *
 * @example
 * ```ts
 * import { redacting } from "./logging.ts";
 * const seen: unknown[] = [];
 * const sink = redacting((record) => seen.push(record.message));
 * sink({
 *   category: ["chat"], level: "info", timestamp: 0, rawMessage: "{nick} set {password}",
 *   message: ["", "alice", " set ", "hunter2", ""], properties: { nick: "alice", password: "hunter2" },
 * });
 * console.log(seen[0]); // ["", "alice", " set ", "[redacted]", ""]
 * ```
 */
export function redacting(sink: Sink): Sink {
  const wrapped = (record: LogRecord) => {
    const secrets = new Set<unknown>();
    let changed = false;
    const properties: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record.properties)) {
      if (SENSITIVE.test(key)) {
        secrets.add(value);
        properties[key] = REDACTED;
        changed = true;
      } else {
        const clean = redactDeep(value, 0);
        changed ||= clean !== value;
        properties[key] = clean;
      }
    }
    if (!changed) return sink(record);
    const message = record.message.map((part, index) => {
      if (index % 2 === 0) return part;
      return secrets.has(part) ? REDACTED : redactDeep(part, 0);
    });
    sink({ ...record, message, properties });
  };
  // Keep the wrapped sink's disposal (a file sink flushes its buffer then).
  for (const symbol of [Symbol.dispose, Symbol.asyncDispose] as const) {
    if (symbol in sink) {
      Object.defineProperty(wrapped, symbol, { value: Reflect.get(sink, symbol) });
    }
  }
  return wrapped;
}

/** `value` with sensitive keys of plain objects replaced; the same value when none. */
function redactDeep(value: unknown, depth: number): unknown {
  if (depth > 4 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => redactDeep(item, depth + 1));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  let changed = false;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const clean = SENSITIVE.test(key) ? REDACTED : redactDeep(item, depth + 1);
    changed ||= clean !== item;
    copy[key] = clean;
  }
  return changed ? copy : value;
}
