/**
 * The start of a framed stream as a client reads it. A server greets a peer
 * that stays silent for a moment in plain text (a banner and a `Nickname:`
 * prompt, for people on `nc`) before it knows what the peer speaks; the
 * greeting has no 0x00 byte and every frame starts with one, so a framed
 * client drops whatever comes before the first 0x00 byte of the stream
 * (docs/protocol.md, section 2).
 *
 * @module
 */
import { ChatError } from "./errors.ts";

/** Most bytes a server's greeting may have; more before the first frame is not a chat server. */
export const MAX_GREETING_BYTES = 1024;

/**
 * Drops the greeting at the start of a stream and passes everything from
 * the first 0x00 byte on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GreetingFilter } from "./greeting_filter.ts";
 * const filter = new GreetingFilter();
 * const greeting = new TextEncoder().encode("chat 1.0\r\nNickname: ");
 * assert.equal(filter.push(greeting).length, 0);
 * assert.deepEqual(filter.push(Uint8Array.of(0, 0, 0, 1, 0x80)), Uint8Array.of(0, 0, 0, 1, 0x80));
 * assert.equal(filter.discarded, 20);
 * ```
 */
export class GreetingFilter {
  #passing = false;
  #discarded = 0;

  /** Bytes dropped so far: the greeting, or 0 when the server sent none. */
  get discarded(): number {
    return this.#discarded;
  }

  /**
   * The part of `chunk` that belongs to frames: empty while the greeting
   * lasts, a view of `chunk` from its first 0x00 byte, then all of every
   * chunk. Throws `bad_frame` once more than {@linkcode MAX_GREETING_BYTES}
   * came before any frame.
   */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#passing) return chunk;
    const start = chunk.indexOf(0);
    const dropped = start === -1 ? chunk.length : start;
    this.#discarded += dropped;
    if (this.#discarded > MAX_GREETING_BYTES) {
      throw new ChatError(
        "bad_frame",
        `Cannot read frames: ${this.#discarded} bytes before the first frame exceed the greeting limit of ${MAX_GREETING_BYTES}; is this a chat server?`,
      );
    }
    if (start === -1) return chunk.subarray(chunk.length);
    this.#passing = true;
    return start === 0 ? chunk : chunk.subarray(start);
  }
}
