/**
 * Logging set-up through LogTape, shared by server and client: readable
 * lines by default, JSON lines with `--log-format json`.
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  reset,
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
}

/**
 * Configures LogTape for the `chat` category. Safe to call more than once.
 *
 * @example
 * ```ts ignore
 * import { setupLogging } from "./logging.ts";
 * await setupLogging({ level: "info", format: "text" });
 * ```
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ timestamp: "date-time-timezone", level: "FULL" });
  const encoder = new TextEncoder();
  const out = options.stderr ? Deno.stderr : Deno.stdout;
  await reset();
  await configure({
    reset: true,
    sinks: {
      // Synchronous writes keep log lines in order with the "listening on" line.
      console: (record) => void out.writeSync(encoder.encode(formatter(record))),
    },
    loggers: [
      { category: ["chat"], lowestLevel: options.level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
