/**
 * A cheap reader of the server's plain-text stream for load-generator
 * clients: it finds newlines with `indexOf` and classifies each line from
 * two bytes (its first, and the 12th, which is `#` in a room message
 * `[hh:mm:ss] #room <nick> body`). Only sampled message lines are looked
 * into, to read the send time at the start of the body.
 *
 * @module
 */
import { readBodyTime } from "./message_body.ts";
import { Sampler, type ScannerOptions } from "./sampler.ts";

const NEWLINE = 0x0a;
const BRACKET = 0x5b; // "["
const HASH = 0x23; // "#"
const DASH = 0x2d; // "-"
const BANG = 0x21; // "!"
const STAR = 0x2a; // "*"
const ROOM_COLUMN = 11;

/** Counts lines by kind from a stream of chunks split anywhere. */
export class LineScanner {
  /** Room message lines seen. */
  messages = 0;
  /** Replies: `--- …` result lines and `! code: …` error lines. */
  replies = 0;
  /** `! code: …` error lines seen. */
  errors = 0;
  /** `*** Closing: …` lines seen. */
  byes = 0;
  /** Lines seen in all. */
  lines = 0;
  readonly #sampler: Sampler;
  // Bytes of the current line seen so far, and the two bytes that classify it.
  #column = 0;
  #first = 0;
  #second = 0;
  #room = 0;

  constructor(options: ScannerOptions = {}) {
    this.#sampler = new Sampler(options);
  }

  /** Scans `chunk`, received at `receivedAt` (ms, {@linkcode nowMs} clock). */
  push(chunk: Uint8Array, receivedAt: number): void {
    let start = 0;
    const end = chunk.length;
    while (start < end) {
      const newline = chunk.indexOf(NEWLINE, start);
      const stop = newline === -1 ? end : newline;
      const column = this.#column;
      if (column === 0 && stop > start) this.#first = chunk[start]!;
      if (column <= 1 && stop - start + column > 1) this.#second = chunk[start + 1 - column]!;
      if (column <= ROOM_COLUMN && stop - start + column > ROOM_COLUMN) {
        this.#room = chunk[start + ROOM_COLUMN - column]!;
      }
      if (newline === -1) {
        this.#column += stop - start;
        return;
      }
      this.#line(chunk, column === 0 ? start : -1, newline, receivedAt);
      this.#column = 0;
      this.#first = this.#second = this.#room = 0;
      start = newline + 1;
    }
  }

  #line(chunk: Uint8Array, start: number, end: number, receivedAt: number): void {
    this.lines++;
    const first = this.#first;
    if (first === BRACKET && this.#room === HASH) {
      // A line split across chunks (start < 0) cannot be read back: not sampled.
      if (start >= 0 && this.#sampler.wants(this.messages)) {
        this.#sample(chunk, start, end, receivedAt);
      }
      this.messages++;
    } else if (first === DASH && this.#second === DASH) {
      this.replies++;
    } else if (first === BANG) {
      this.replies++;
      this.errors++;
    } else if (first === STAR) {
      this.byes++;
    }
  }

  #sample(chunk: Uint8Array, start: number, end: number, receivedAt: number): void {
    // The body follows the first "> " after the room name.
    for (let i = start + ROOM_COLUMN + 1; i + 1 < end; i++) {
      if (chunk[i] === 0x3e && chunk[i + 1] === 0x20) {
        this.#sampler.record(receivedAt, readBodyTime(chunk, i + 2, end));
        return;
      }
    }
  }
}
