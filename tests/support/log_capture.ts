/**
 * Captures what the `chat` loggers write, in-process, for tests of what is
 * logged: every record at `lowestLevel` and above, with its rendered text.
 *
 * @module
 */
import { configure, type LogLevel, type LogRecord, reset } from "@logtape/logtape";

/** Records captured until disposed (then LogTape is reset). */
export class LogCapture implements AsyncDisposable {
  readonly records: LogRecord[] = [];

  private constructor() {}

  /** Starts capturing the `chat` category at `lowestLevel` and above (default debug). */
  static async start(lowestLevel: LogLevel = "debug"): Promise<LogCapture> {
    const capture = new LogCapture();
    await configure({
      reset: true,
      sinks: { capture: (record) => capture.records.push(record) },
      loggers: [
        { category: ["chat"], lowestLevel, sinks: ["capture"] },
        { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
      ],
    });
    return capture;
  }

  /** Each record as `LEVEL message`, its values rendered as strings. */
  get lines(): string[] {
    return this.records.map((record) =>
      `${record.level} ${record.message.map((part) => String(part)).join("")}`
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await reset();
  }
}
