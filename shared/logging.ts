/**
 * Logging set-up through LogTape, shared by server and client: readable
 * lines by default, JSON lines with `--log-format json`, to the console or
 * to a size-rotated file. Whatever the sink, values under names that look
 * secret (password, token, secret, body) are replaced before formatting.
 *
 * @module
 */
import {
  configure,
  dispose,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";
import { LogFile } from "./log_file.ts";

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

// The file of the last setupLogging, for reopenLogFile.
let logFile: LogFile | undefined;

/** What replaces a redacted value. */
export const REDACTED = "[redacted]";

// Property names whose values are never logged: credentials and chat text.
const SENSITIVE = /pass(word|wd)?|token|secret|body/i;

/**
 * Configures LogTape for the `chat` category. Safe to call more than once;
 * call {@linkcode shutdownLogging} before exit to flush a log file.
 *
 * @example
 * ```ts
 * import { setupLogging, shutdownLogging } from "./logging.ts";
 * await setupLogging({ level: "info", format: "text" });
 * await shutdownLogging();
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const formatter = options.format === "json" ? jsonLinesFormatter() : textFormatter();
  await reset();
  logFile = undefined;
  let sink: Sink;
  if (options.file !== undefined) {
    logFile = LogFile.open(options.file.path, {
      formatter,
      maxBytes: options.file.maxBytes,
      maxFiles: options.file.maxFiles,
    });
    sink = logFile.sink;
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
 * The text format: a line per record, values in the message as they are
 * (`alice connected from 10.0.0.7`), not quoted as inspect() would show
 * them; control characters and line breaks in them are escaped, so a value
 * cannot forge a line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textFormatter } from "./logging.ts";
 * const line = textFormatter()({
 *   category: ["chat"], level: "info", timestamp: 0, rawMessage: "{nick} left",
 *   message: ["", "alice\nfake line", " left"], properties: { nick: "alice\nfake line" },
 * });
 * assert.equal(line.endsWith("[INFO] chat: alice\\nfake line left\n"), true);
 * ```
 */
export function textFormatter(): TextFormatter {
  return getTextFormatter({ timestamp: "date-time-timezone", level: "FULL", value: "bare" });
}

/**
 * The JSON lines format (`@timestamp`, `level`, `message`, `logger`,
 * `properties`), with the message rendered as in {@linkcode textFormatter}:
 * the values stay typed in `properties`, the message reads as text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonLinesFormatter } from "./logging.ts";
 * const line = jsonLinesFormatter()({
 *   category: ["chat"], level: "info", timestamp: 0, rawMessage: "{nick} left",
 *   message: ["", "alice", " left"], properties: { nick: "alice" },
 * });
 * assert.equal(JSON.parse(line).message, "alice left");
 * ```
 */
export function jsonLinesFormatter(): TextFormatter {
  const json = getJsonLinesFormatter();
  const message = getTextFormatter({ value: "bare", format: ({ message }) => message });
  return (record) => json({ ...record, message: [message(record).replace(/\r?\n$/, "")] });
}

/**
 * Reopens the log file set up by {@linkcode setupLogging} (on SIGHUP, after
 * logrotate renamed it); false when logging goes to the console.
 *
 * @example
 * ```ts ignore
 * import { reopenLogFile } from "./logging.ts";
 * Deno.addSignalListener("SIGHUP", () => reopenLogFile());
 * ```
 */
export function reopenLogFile(): boolean {
  if (logFile === undefined) return false;
  logFile.reopen();
  return true;
}

/**
 * Flushes and closes the sinks (a log file's buffer is written out).
 *
 * @example
 * ```ts
 * import { shutdownLogging } from "./logging.ts";
 * await shutdownLogging();
 * ```
 */
export async function shutdownLogging(): Promise<void> {
  logFile = undefined;
  await dispose();
}

/**
 * Wraps `sink` so that properties named like a password, token, secret or
 * message body (at any depth) reach it as {@linkcode REDACTED}, in the
 * properties and in the rendered message alike.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redacting } from "./logging.ts";
 * const seen: unknown[] = [];
 * const sink = redacting((record) => seen.push(record.message));
 * sink({
 *   category: ["chat"], level: "info", timestamp: 0, rawMessage: "{nick} set {password}",
 *   message: ["", "alice", " set ", "hunter2", ""], properties: { nick: "alice", password: "hunter2" },
 * });
 * assert.deepEqual(seen[0], ["", "alice", " set ", "[redacted]", ""]);
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
