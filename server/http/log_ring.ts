/**
 * The last log records, kept in memory for the admin dashboard: a LogTape
 * sink writing into a fixed-size ring, so it costs the same however long
 * the server runs.
 *
 * @module
 */
import type { LogRecord, Sink } from "@logtape/logtape";

/** One log line as the dashboard shows it. */
export interface LogLine {
  /** Milliseconds since the epoch. */
  ts: number;
  level: string;
  category: string;
  message: string;
}

function render(record: LogRecord): string {
  return record.message.map((part, index) => {
    if (index % 2 === 0) return String(part);
    if (typeof part === "string") return part;
    if (part instanceof Error) return part.message;
    try {
      return JSON.stringify(part) ?? String(part);
    } catch {
      return String(part);
    }
  }).join("");
}

/**
 * A ring of the last `capacity` log records.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogRing } from "./log_ring.ts";
 * const ring = new LogRing(2);
 * for (const word of ["a", "b", "c"]) {
 *   ring.sink({
 *     category: ["chat"], level: "info", timestamp: 0, rawMessage: word,
 *     message: [word], properties: {},
 *   });
 * }
 * assert.deepEqual(ring.lines().map((line) => line.message), ["b", "c"]);
 * ```
 */
export class LogRing {
  readonly capacity: number;
  #lines: LogLine[] = [];
  #next = 0;

  constructor(capacity = 200) {
    this.capacity = capacity;
  }

  /** The sink to give LogTape (through the redacting wrapper: it sees what the log file sees). */
  readonly sink: Sink = (record) => {
    const line: LogLine = {
      ts: record.timestamp,
      level: record.level,
      category: record.category.join("."),
      message: render(record),
    };
    if (this.#lines.length < this.capacity) this.#lines.push(line);
    else this.#lines[this.#next] = line;
    this.#next = (this.#next + 1) % this.capacity;
  };

  /** The records kept, oldest first; at most `limit` of the newest. */
  lines(limit: number = this.capacity): LogLine[] {
    const ordered = this.#lines.length < this.capacity
      ? this.#lines
      : [...this.#lines.slice(this.#next), ...this.#lines.slice(0, this.#next)];
    return ordered.slice(Math.max(0, ordered.length - limit));
  }
}

/** The ring `chat serve` logs into; the dashboard reads it. */
export const RECENT_LOGS: LogRing = new LogRing(200);
