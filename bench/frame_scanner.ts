/**
 * A cheap reader of the server's frame stream for load-generator clients.
 * It walks the 4-byte length prefixes and classifies each frame from the
 * first bytes of its payload (every server frame is a MessagePack map whose
 * first key is `type`), without decoding it. Only sampled `message` frames
 * have their body looked at, to read the send time the bench put there.
 *
 * @module
 */
import { FRAME_HEADER_BYTES } from "../shared/frame.ts";
import { readBodyTime } from "./message_body.ts";
import { Sampler, type ScannerOptions } from "./sampler.ts";

// A map header (1 byte), "type" as fixstr (5 bytes), the value's fixstr
// header and first character: enough to tell the frame types apart.
const PEEK = 8;
const HEAD = FRAME_HEADER_BYTES + PEEK;
const TYPE_KEY = [0xa4, 0x74, 0x79, 0x70, 0x65]; // fixstr(4) "type"

/** What a client learns from one frame. */
export const FrameKind = {
  Other: 0,
  /** A room message (`type: "message"`). */
  Message: 1,
  /** A reply to a request: `ack`. */
  Ack: 2,
  /** An `error` reply (also counted as a reply). */
  Error: 3,
  /** The server's heartbeat probe. */
  Ping: 4,
  /** The server is closing the connection. */
  Bye: 5,
} as const;
/** One of {@linkcode FrameKind}. */
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

/** Classifies the frame whose payload starts at `bytes[offset]` (needs 8 bytes). */
export function classifyFrame(bytes: Uint8Array, offset: number): FrameKind {
  for (let i = 0; i < TYPE_KEY.length; i++) {
    if (bytes[offset + 1 + i] !== TYPE_KEY[i]) return FrameKind.Other;
  }
  const header = bytes[offset + 6];
  const first = bytes[offset + 7];
  switch (header) {
    case 0xa7: // 7 characters: "message" or "welcome"
      return first === 0x6d ? FrameKind.Message : FrameKind.Other;
    case 0xa3: // "ack", "bye"
      return first === 0x61 ? FrameKind.Ack : first === 0x62 ? FrameKind.Bye : FrameKind.Other;
    case 0xa5: // "error"
      return first === 0x65 ? FrameKind.Error : FrameKind.Other;
    case 0xa4: // "ping", "join", "nick"…
      return first === 0x70 ? FrameKind.Ping : FrameKind.Other;
    default:
      return FrameKind.Other;
  }
}

/** Counts frames by kind from a stream of chunks split anywhere. */
export class FrameScanner {
  /** `message` frames seen. */
  messages = 0;
  /** Replies seen (`ack` and `error`). */
  replies = 0;
  /** `error` frames seen. */
  errors = 0;
  /** `ping` frames seen (the caller should answer with `pong`). */
  pings = 0;
  /** `bye` frames seen. */
  byes = 0;
  /** Frames seen in all. */
  frames = 0;
  readonly #sampler: Sampler;
  // Bytes of the current frame still to skip.
  #skip = 0;
  // A frame head split across chunks is gathered here.
  #head = new Uint8Array(HEAD);
  #headLength = 0;

  constructor(options: ScannerOptions = {}) {
    this.#sampler = new Sampler(options);
  }

  /** Scans `chunk`, received at `receivedAt` (ms, {@linkcode nowMs} clock). */
  push(chunk: Uint8Array, receivedAt: number): void {
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, end - i);
        this.#skip -= take;
        i += take;
        continue;
      }
      if (this.#headLength === 0 && end - i >= HEAD) {
        // Fast path: the whole head is in this chunk.
        const size = readLength(chunk, i);
        const kind = classifyFrame(chunk, i + FRAME_HEADER_BYTES);
        const frameEnd = i + FRAME_HEADER_BYTES + size;
        if (kind === FrameKind.Message && frameEnd <= end) {
          this.#maybeSample(chunk, i + FRAME_HEADER_BYTES, frameEnd, receivedAt);
        }
        this.#count(kind);
        if (frameEnd <= end) {
          i = frameEnd;
        } else {
          this.#skip = frameEnd - end;
          i = end;
        }
        continue;
      }
      // Slow path: gather the head byte by byte across chunks.
      const take = Math.min(HEAD - this.#headLength, end - i);
      this.#head.set(chunk.subarray(i, i + take), this.#headLength);
      this.#headLength += take;
      i += take;
      if (this.#headLength === HEAD) {
        const size = readLength(this.#head, 0);
        this.#count(classifyFrame(this.#head, FRAME_HEADER_BYTES));
        this.#headLength = 0;
        this.#skip = size - PEEK;
      }
    }
  }

  #count(kind: FrameKind): void {
    this.frames++;
    switch (kind) {
      case FrameKind.Message:
        this.messages++;
        return;
      case FrameKind.Ack:
        this.replies++;
        return;
      case FrameKind.Error:
        this.replies++;
        this.errors++;
        return;
      case FrameKind.Ping:
        this.pings++;
        return;
      case FrameKind.Bye:
        this.byes++;
        return;
    }
  }

  #maybeSample(bytes: Uint8Array, start: number, end: number, receivedAt: number): void {
    // `messages` is counted after this call: this is message number `messages`.
    if (!this.#sampler.wants(this.messages)) return;
    this.#sampler.record(receivedAt, readBodyTime(bytes, findBody(bytes, start, end), end));
  }
}

function readLength(bytes: Uint8Array, offset: number): number {
  const size = ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) +
    (bytes[offset + 2]! << 8) +
    bytes[offset + 3]!;
  if (size < PEEK) throw new Error(`Unexpected frame of ${size} bytes from the server`);
  return size;
}

/**
 * The offset of the first character of the `body` string in the message
 * payload `bytes[start, end)`, or -1.
 */
function findBody(bytes: Uint8Array, start: number, end: number): number {
  // Key "body": fixstr(4) 62 6f 64 79, then the value's string header.
  for (let i = start + 8; i + 5 < end; i++) {
    if (
      bytes[i] === 0xa4 && bytes[i + 1] === 0x62 && bytes[i + 2] === 0x6f &&
      bytes[i + 3] === 0x64 &&
      bytes[i + 4] === 0x79
    ) {
      const header = bytes[i + 5]!;
      if (header >= 0xa0 && header <= 0xbf) return i + 6;
      if (header === 0xd9) return i + 7;
      if (header === 0xda) return i + 8;
      return -1;
    }
  }
  return -1;
}
