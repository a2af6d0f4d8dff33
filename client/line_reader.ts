/**
 * Reads text lines from a byte stream, one at a time, with a cancel that
 * ends a pending read: piped mode stops reading stdin when the connection
 * is gone for good.
 *
 * @module
 */

/**
 * Splits a byte stream into lines (`\n` or `\r\n`); a last line without a
 * newline still counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineReader } from "./line_reader.ts";
 * const reader = new LineReader(new Blob(["a\r\nb"]).stream());
 * assert.deepEqual([await reader.next(), await reader.next(), await reader.next()], ["a", "b", null]);
 * ```
 */
export class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = "";
  #done = false;

  /** Reads `stream`, locking it. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next line without its line ending, or null at the end of the stream. */
  async next(): Promise<string | null> {
    while (true) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        return line.endsWith("\r") ? line.slice(0, -1) : line;
      }
      if (this.#done) {
        if (this.#buffer === "") return null;
        const line = this.#buffer;
        this.#buffer = "";
        return line;
      }
      let chunk: Uint8Array | undefined;
      try {
        const result = await this.#reader.read();
        chunk = result.done ? undefined : result.value;
      } catch {
        // A cancelled or failed stream ends the input like end of file.
      }
      if (chunk === undefined) {
        this.#done = true;
        this.#buffer += this.#decoder.decode();
      } else {
        this.#buffer += this.#decoder.decode(chunk, { stream: true });
      }
    }
  }

  /** Stops reading: a pending {@linkcode LineReader.next} ends with null. */
  async cancel(): Promise<void> {
    this.#done = true;
    this.#buffer = "";
    try {
      await this.#reader.cancel();
    } catch {
      // Already closed.
    }
  }
}
