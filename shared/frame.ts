/**
 * Length-prefixed MessagePack framing: a 4-byte big-endian payload length
 * followed by one MessagePack value (a map, for every frame of the protocol).
 *
 * @module
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { ChatError } from "./errors.ts";
import { invalidStringOffset } from "./msgpack_strings.ts";
import { invalidUtf8Error } from "./utf8.ts";

/** Bytes in the length prefix. */
export const FRAME_HEADER_BYTES = 4;
/** Default cap on a frame's payload length: 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
/** Default cap on nesting of arrays and maps inside one frame. */
export const DEFAULT_MAX_DEPTH = 8;

/** Limits applied while decoding frames. */
export interface FrameLimits {
  /** Largest payload accepted, in bytes (the length prefix excluded). */
  maxFrameBytes?: number;
  /** Deepest nesting of maps and arrays accepted. */
  maxDepth?: number;
}

const encoder = new Encoder({ ignoreUndefined: true });

/**
 * Encodes `value` as one frame: length prefix plus MessagePack payload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame } from "./frame.ts";
 * const bytes = encodeFrame({ type: "ping" });
 * assert.equal(bytes.length > 4, true);
 * ```
 */
export function encodeFrame(value: unknown): Uint8Array {
  // A view of the encoder's scratch buffer, copied once into the frame.
  const payload = encoder.encodeSharedRef(value);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

// Decoding is synchronous, so one decoder per cap serves every connection:
// a decoder per connection would cost memory on every idle peer.
const decoders = new Map<number, Decoder>();

function sharedDecoder(maxFrameBytes: number): Decoder {
  let decoder = decoders.get(maxFrameBytes);
  if (decoder === undefined) {
    decoder = new Decoder({
      maxStrLength: maxFrameBytes,
      maxBinLength: maxFrameBytes,
      maxArrayLength: 1024,
      maxMapLength: 64,
      // -1, not 0: a length of 0 passes a limit of 0, and an empty ext of an
      // unknown type would decode to an ExtData object. No extension types.
      maxExtLength: -1,
    });
    decoders.set(maxFrameBytes, decoder);
  }
  return decoder;
}

/**
 * Throws a `bad_frame` error if `value` nests maps or arrays deeper than
 * `maxDepth`, and returns `value` with each binary value replaced by a copy:
 * the MessagePack decoder returns views into its input, which the caller's
 * read buffer or this decoder's own buffer overwrite later.
 */
function checkDepth(value: unknown, maxDepth: number): unknown {
  if (value instanceof Uint8Array) return value.slice();
  // Iterative so hostile nesting cannot overflow the call stack.
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== "object") continue;
    if (depth > maxDepth) {
      throw new ChatError(
        "bad_frame",
        `Cannot decode frame: nesting exceeds depth limit ${maxDepth}`,
      );
    }
    const container = item as Record<string, unknown>;
    for (const key of Object.keys(container)) {
      const child = container[key];
      if (child instanceof Uint8Array) container[key] = child.slice();
      else stack.push([child, depth + 1]);
    }
  }
  return value;
}

/**
 * What {@linkcode FrameDecoder} yields for a frame that decoded but holds a
 * string (a value or a map key) that is not well-formed UTF-8: an overlong
 * form, an encoded surrogate, a stray byte. The stream is still in sync, so
 * the receiver refuses this frame alone, with {@linkcode InvalidTextFrame.error}
 * (`invalid_utf8`); none of its strings is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoder, InvalidTextFrame } from "./frame.ts";
 * // {"id": 7, "a": "\xC0\xAF"} (an overlong "/")
 * const payload = [0x82, 0xa2, 0x69, 0x64, 0x07, 0xa1, 0x61, 0xa2, 0xc0, 0xaf];
 * const [value] = new FrameDecoder().push(Uint8Array.of(0, 0, 0, payload.length, ...payload));
 * assert.equal(value instanceof InvalidTextFrame && value.id, 7);
 * ```
 */
export class InvalidTextFrame {
  /** The `invalid_utf8` error that refuses the frame. */
  readonly error: ChatError;
  /** The frame's `id` field, if it had one (a number is never text), so a reply can name it. */
  readonly id: unknown;

  constructor(error: ChatError, id: unknown) {
    this.error = error;
    this.id = id;
  }
}

// Shared by every idle decoder: nothing pending costs no allocation.
const EMPTY = new Uint8Array(0);

/**
 * Incremental frame decoder: feed it bytes as they arrive, split anywhere or
 * many frames per chunk, and it yields each decoded value. The length prefix
 * is checked against the cap before any payload is buffered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameDecoder } from "./frame.ts";
 * const decoder = new FrameDecoder();
 * const bytes = encodeFrame({ type: "ping" });
 * const values = [...decoder.push(bytes.subarray(0, 3)), ...decoder.push(bytes.subarray(3))];
 * assert.deepEqual(values, [{ type: "ping" }]);
 * ```
 */
export class FrameDecoder {
  #maxFrameBytes: number;
  #maxDepth: number;
  #decoder: Decoder;
  // Pending bytes live in #buffer[0, #length); grown only as far as one frame needs.
  #buffer: Uint8Array = EMPTY;
  #length = 0;

  constructor(limits: FrameLimits = {}) {
    this.#maxFrameBytes = limits.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (!Number.isInteger(this.#maxFrameBytes) || this.#maxFrameBytes < 16) {
      throw new RangeError(`Cannot create decoder: maxFrameBytes ${this.#maxFrameBytes} < 16`);
    }
    this.#decoder = sharedDecoder(this.#maxFrameBytes);
  }

  /** Bytes held that do not yet make a whole frame. */
  get bufferedBytes(): number {
    return this.#length;
  }

  /**
   * Appends `chunk` and yields every complete frame's value, or an
   * {@linkcode InvalidTextFrame} for a frame with a string that is not
   * UTF-8. Throws a {@linkcode ChatError} (`frame_too_large` or `bad_frame`)
   * on input that cannot be decoded; the decoder must not be used after that.
   */
  *push(chunk: Uint8Array): Generator<unknown> {
    let input = chunk;
    // Fast path: nothing pending, decode straight from the caller's chunk.
    if (this.#length === 0) {
      let offset = 0;
      while (input.length - offset >= FRAME_HEADER_BYTES) {
        const size = this.#readLength(input, offset);
        const end = offset + FRAME_HEADER_BYTES + size;
        if (end > input.length) break;
        yield this.#decode(input.subarray(offset + FRAME_HEADER_BYTES, end));
        offset = end;
      }
      if (offset === input.length) return;
      input = input.subarray(offset);
    }
    while (input.length > 0) {
      // Take just enough for the header, then just enough for the payload.
      const need = this.#length < FRAME_HEADER_BYTES
        ? FRAME_HEADER_BYTES - this.#length
        : FRAME_HEADER_BYTES + this.#readLength(this.#buffer, 0) - this.#length;
      const take = Math.min(need, input.length);
      this.#append(input.subarray(0, take));
      input = input.subarray(take);
      if (this.#length < FRAME_HEADER_BYTES) continue;
      const size = this.#readLength(this.#buffer, 0);
      if (this.#length === FRAME_HEADER_BYTES + size) {
        const payload = this.#buffer.subarray(FRAME_HEADER_BYTES, this.#length);
        this.#length = 0;
        // Release a large buffer once its frame is decoded: idle peers stay small.
        const value = this.#decode(payload);
        if (this.#buffer.length > 4096) this.#buffer = EMPTY;
        yield value;
      }
    }
  }

  #readLength(bytes: Uint8Array, offset: number): number {
    const size = ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) +
      (bytes[offset + 2]! << 8) + bytes[offset + 3]!;
    if (size > this.#maxFrameBytes) {
      throw new ChatError(
        "frame_too_large",
        `Cannot decode frame: length ${size} exceeds limit ${this.#maxFrameBytes}`,
      );
    }
    if (size === 0) throw new ChatError("bad_frame", "Cannot decode frame: length 0 is empty");
    return size;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(
        Math.max(
          needed,
          Math.min(this.#buffer.length * 2, this.#maxFrameBytes + FRAME_HEADER_BYTES),
          64,
        ),
      );
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = needed;
  }

  #decode(payload: Uint8Array): unknown {
    let value: unknown;
    try {
      value = this.#decoder.decode(payload);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ChatError("bad_frame", `Cannot decode frame: ${reason}`, { cause: error });
    }
    value = checkDepth(value, this.#maxDepth);
    const bad = invalidStringOffset(payload);
    if (bad !== -1) {
      const id = value !== null && typeof value === "object" && !Array.isArray(value)
        ? (value as Record<string, unknown>).id
        : undefined;
      return new InvalidTextFrame(
        invalidUtf8Error("A string in the frame", payload, bad),
        typeof id === "number" ? id : undefined,
      );
    }
    return value;
  }
}
