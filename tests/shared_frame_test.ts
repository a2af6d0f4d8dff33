import assert from "node:assert/strict";
import fc from "fast-check";
import { Encoder } from "@msgpack/msgpack";
import { ChatError } from "../shared/errors.ts";
import {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  InvalidTextFrame,
} from "../shared/frame.ts";
import { concatBytes } from "../shared/bytes.ts";
import { frameWithRawString, utf8 } from "./support/raw_text.ts";

/** Decodes every value in `chunks`, fed to one decoder in order. */
function decodeChunks(chunks: Uint8Array[], decoder = new FrameDecoder()): unknown[] {
  const values: unknown[] = [];
  for (const chunk of chunks) values.push(...decoder.push(chunk));
  return values;
}

/** A frame whose payload is `payload` as given (no MessagePack encoding). */
function rawFrame(payload: Uint8Array | number[]): Uint8Array {
  const bytes = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + bytes.length);
  new DataView(frame.buffer).setUint32(0, bytes.length);
  frame.set(bytes, FRAME_HEADER_BYTES);
  return frame;
}

function header(length: number): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

/** Runs `fn`, expecting a ChatError with `code`; returns it for further checks. */
function expectChatError(fn: () => unknown, code: string): ChatError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected ChatError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ChatError ${code}, nothing was thrown`);
}

/** Nested arrays `depth` levels deep: depth 1 is `[]`. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

// Values MessagePack round-trips exactly (no -0, which encodes as integer 0;
// no undefined, which the encoder drops; no "__proto__" keys, which the decoder refuses).
const key = fc.string({ maxLength: 8 }).filter((k) => k !== "__proto__");
const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double().filter((x) => !Object.is(x, -0)),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.uint8Array({ maxLength: 24 }),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    leaf,
    fc.array(tie("value"), { maxLength: 6 }),
    fc.dictionary(key, tie("value"), { maxKeys: 6, noNullPrototype: true }),
  ),
}));
const frameLike = fc.record({
  type: fc.constantFrom("say", "message", "join", "ack", "error"),
  id: fc.nat(),
  room: fc.string({ unit: "grapheme", maxLength: 20 }),
  body: fc.string({ unit: "binary", maxLength: 200 }),
  extra: anyValue,
}, { noNullPrototype: true });

/** Cuts `bytes` at the given (unsorted, possibly repeated) offsets. */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

Deno.test("encodeFrame: 4-byte big-endian length prefix, then the MessagePack payload", () => {
  const frame = encodeFrame({ type: "ping" });
  // {type: "ping"} is 0x81 (map of 1), 0xa4 "type", 0xa4 "ping": 11 bytes.
  assert.deepEqual(
    [...frame],
    [0, 0, 0, 11, 0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa4, 0x70, 0x69, 0x6e, 0x67],
  );
  const big = encodeFrame({ body: "x".repeat(300) });
  assert.equal(new DataView(big.buffer).getUint32(0), big.length - FRAME_HEADER_BYTES);
  assert.equal(big[2], 1); // 300+ bytes: the length reaches the third byte
});

Deno.test("encodeFrame drops undefined fields", () => {
  const [value] = decodeChunks([encodeFrame({ type: "ack", id: 1, result: undefined })]);
  assert.deepEqual(value, { type: "ack", id: 1 });
});

Deno.test("FrameDecoder round-trips a frame", () => {
  const value = {
    type: "message",
    room: "general",
    from: "ålice",
    body: "héllo 🌍\nline two",
    id: 42,
    ts: 1_700_000_000_123,
    action: true,
    nested: { list: [1, -2, 3.5, null, false], bin: new Uint8Array([0, 255]) },
  };
  assert.deepEqual(decodeChunks([encodeFrame(value)]), [value]);
});

Deno.test("FrameDecoder round-trips any value (property)", () => {
  fc.assert(fc.property(anyValue, (value) => {
    assert.deepStrictEqual(decodeChunks([encodeFrame(value)]), [value]);
  }));
});

Deno.test("FrameDecoder decodes frames fed one byte at a time", () => {
  const values = [{ type: "ping" }, { type: "say", id: 1, room: "r", body: "b".repeat(500) }, {
    type: "pong",
  }];
  const stream = concatBytes(values.map((value) => encodeFrame(value)));
  const decoder = new FrameDecoder();
  const seen: unknown[] = [];
  for (let i = 0; i < stream.length; i++) {
    const out = [...decoder.push(stream.subarray(i, i + 1))];
    seen.push(...out);
    // Between frames nothing is held; inside one, everything read so far is.
    if (out.length === 0) assert.ok(decoder.bufferedBytes > 0);
  }
  assert.deepEqual(seen, values);
  assert.equal(decoder.bufferedBytes, 0);
});

Deno.test("FrameDecoder decodes many frames from one chunk, and a trailing partial frame later", () => {
  const values = Array.from({ length: 200 }, (_, i) => ({ type: "message", id: i, body: `m${i}` }));
  const stream = concatBytes(values.map((value) => encodeFrame(value)));
  const decoder = new FrameDecoder();
  const cut = stream.length - 5;
  const first = [...decoder.push(stream.subarray(0, cut))];
  assert.deepEqual(first, values.slice(0, -1));
  assert.equal(decoder.bufferedBytes, encodeFrame(values.at(-1)).length - 5);
  assert.deepEqual([...decoder.push(stream.subarray(cut))], values.slice(-1));
  assert.equal(decoder.bufferedBytes, 0);
});

Deno.test("FrameDecoder: any split of a stream of frames yields the same values (property)", () => {
  fc.assert(
    fc.property(
      fc.array(frameLike, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (values, cuts) => {
        const stream = concatBytes(values.map((value) => encodeFrame(value)));
        const whole = decodeChunks([stream]);
        const split = decodeChunks(splitAt(stream, cuts));
        assert.deepStrictEqual(whole, values);
        assert.deepStrictEqual(split, values);
      },
    ),
  );
});

Deno.test("FrameDecoder: binary values stay intact when later input reuses the same memory", () => {
  // A reader typically reuses one buffer for every read; decoded values must not alias it.
  const first = encodeFrame({ bin: new Uint8Array([1, 2, 3]) });
  const second = encodeFrame({ bin: new Uint8Array([9, 9, 9]) });
  const readBuffer = new Uint8Array(64);
  const decoder = new FrameDecoder();
  const values: unknown[] = [];
  // Fast path: whole frame in the read buffer, then the buffer is overwritten.
  readBuffer.set(first);
  values.push(...decoder.push(readBuffer.subarray(0, first.length)));
  readBuffer.set(second);
  // Slow path: split frames go through the decoder's own buffer, reused per frame.
  values.push(...decoder.push(readBuffer.subarray(0, 3)));
  values.push(...decoder.push(readBuffer.subarray(3, second.length)));
  values.push(...decoder.push(first.subarray(0, 3)));
  values.push(...decoder.push(first.subarray(3)));
  values.push(...decoder.push(second.subarray(0, 3)));
  values.push(...decoder.push(second.subarray(3)));
  assert.deepStrictEqual(values, [
    { bin: new Uint8Array([1, 2, 3]) },
    { bin: new Uint8Array([9, 9, 9]) },
    { bin: new Uint8Array([1, 2, 3]) },
    { bin: new Uint8Array([9, 9, 9]) },
  ]);
});

Deno.test("FrameDecoder refuses an over-cap length as soon as the header arrives", () => {
  const decoder = new FrameDecoder();
  const head = header(70_000);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual([...decoder.push(head.subarray(i, i + 1))], []);
    assert.equal(decoder.bufferedBytes, i + 1);
  }
  const error = expectChatError(() => [...decoder.push(head.subarray(3, 4))], "frame_too_large");
  assert.equal(error.message, "Cannot decode frame: length 70000 exceeds limit 65536");
  assert.ok(decoder.bufferedBytes <= FRAME_HEADER_BYTES);
});

Deno.test("FrameDecoder refuses an over-cap length arriving with payload bytes, buffering none", () => {
  const decoder = new FrameDecoder();
  const chunk = concatBytes([header(DEFAULT_MAX_FRAME_BYTES + 1), new Uint8Array(1000)]);
  const error = expectChatError(() => [...decoder.push(chunk)], "frame_too_large");
  assert.equal(error.message, "Cannot decode frame: length 65537 exceeds limit 65536");
  assert.ok(decoder.bufferedBytes <= FRAME_HEADER_BYTES);
});

Deno.test("FrameDecoder refuses an over-cap frame that follows a good one in the same chunk", () => {
  const decoder = new FrameDecoder();
  const chunk = concatBytes([encodeFrame({ type: "ping" }), header(1 << 30), new Uint8Array(10)]);
  const seen: unknown[] = [];
  const error = expectChatError(() => {
    for (const value of decoder.push(chunk)) seen.push(value);
  }, "frame_too_large");
  assert.deepEqual(seen, [{ type: "ping" }]);
  assert.match(error.message, /length 1073741824 exceeds limit 65536/);
  assert.ok(decoder.bufferedBytes <= FRAME_HEADER_BYTES);
});

Deno.test("FrameDecoder honours a custom frame cap exactly", () => {
  const atCap = rawFrame([0xc4, 98, ...new Uint8Array(98)]); // bin8 of 98 bytes: payload 100
  assert.equal(atCap.length - FRAME_HEADER_BYTES, 100);
  assert.equal(decodeChunks([atCap], new FrameDecoder({ maxFrameBytes: 100 })).length, 1);
  const error = expectChatError(
    () => decodeChunks([atCap], new FrameDecoder({ maxFrameBytes: 99 })),
    "frame_too_large",
  );
  assert.equal(error.message, "Cannot decode frame: length 100 exceeds limit 99");
});

Deno.test("FrameDecoder constructor refuses a cap below 16 bytes", () => {
  assert.throws(() => new FrameDecoder({ maxFrameBytes: 15 }), RangeError);
  assert.throws(() => new FrameDecoder({ maxFrameBytes: 16.5 }), RangeError);
  new FrameDecoder({ maxFrameBytes: 16 });
});

Deno.test("FrameDecoder refuses a zero length as bad_frame", () => {
  const error = expectChatError(() => decodeChunks([header(0)]), "bad_frame");
  assert.equal(error.message, "Cannot decode frame: length 0 is empty");
  // Also when the zero header arrives in pieces after a good frame.
  const decoder = new FrameDecoder();
  assert.equal(decodeChunks([encodeFrame(1), header(0).subarray(0, 2)], decoder).length, 1);
  expectChatError(() => [...decoder.push(header(0).subarray(2))], "bad_frame");
});

Deno.test("FrameDecoder accepts nesting up to the depth limit and refuses deeper", () => {
  assert.equal(DEFAULT_MAX_DEPTH, 8);
  assert.deepEqual(decodeChunks([encodeFrame(nested(8))]), [nested(8)]);
  const error = expectChatError(() => decodeChunks([encodeFrame(nested(9))]), "bad_frame");
  assert.equal(error.message, "Cannot decode frame: nesting exceeds depth limit 8");
  // Maps count as well as arrays.
  expectChatError(
    () => decodeChunks([encodeFrame({ a: { b: { c: [[[[[[{}]]]]]] } } })]),
    "bad_frame",
  );
  // A custom limit.
  const shallow = () => new FrameDecoder({ maxDepth: 2 });
  assert.equal(decodeChunks([encodeFrame({ a: [1] })], shallow()).length, 1);
  expectChatError(() => decodeChunks([encodeFrame({ a: [[1]] })], shallow()), "bad_frame");
});

Deno.test("FrameDecoder enforces the MessagePack collection limits", () => {
  const map64 = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, i]));
  assert.equal(decodeChunks([encodeFrame(map64)]).length, 1);
  const map65 = { ...map64, k64: 64 };
  expectChatError(() => decodeChunks([encodeFrame(map65)]), "bad_frame");
  assert.equal(decodeChunks([encodeFrame(new Array(1024).fill(0))]).length, 1);
  expectChatError(() => decodeChunks([encodeFrame(new Array(1025).fill(0))]), "bad_frame");
});

Deno.test("FrameDecoder refuses extension types, even empty ones", () => {
  expectChatError(() => decodeChunks([rawFrame([0xd4, 0x05, 0x00])]), "bad_frame"); // fixext1
  expectChatError(() => decodeChunks([rawFrame([0xd6, 0xff, 0, 0, 0, 1])]), "bad_frame"); // timestamp32
  expectChatError(() => decodeChunks([rawFrame([0xc7, 0x00, 0x05])]), "bad_frame"); // ext8, 0 bytes
  expectChatError(() => decodeChunks([rawFrame([0x91, 0xc7, 0x00, 0x05])]), "bad_frame");
});

Deno.test("FrameDecoder refuses malformed payloads as bad_frame", () => {
  // Truncated map, trailing bytes after the value, a reserved byte, a map with a bin key.
  for (
    const payload of [[0x81, 0xa4, 0x74], [0x01, 0x02], [0xc1], [0x81, 0xc4, 0x01, 0x00, 0x01]]
  ) {
    const error = expectChatError(() => decodeChunks([rawFrame(payload)]), "bad_frame");
    assert.match(error.message, /^Cannot decode frame: /);
    assert.ok(error.cause !== undefined);
  }
  // "__proto__" keys are refused rather than decoded into a prototype.
  const encoder = new Encoder();
  const proto = encoder.encode(JSON.parse('{"__proto__": {"polluted": true}}'));
  expectChatError(() => decodeChunks([rawFrame(proto)]), "bad_frame");
});

function assertOnlyChatErrors(chunks: Uint8Array[]): void {
  try {
    decodeChunks(chunks);
  } catch (error) {
    if (!(error instanceof ChatError)) throw error;
    assert.ok(error.code === "bad_frame" || error.code === "frame_too_large", error.code);
  }
}

Deno.test("FrameDecoder only ever throws ChatError on random bytes (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (bytes, cuts) => assertOnlyChatErrors(splitAt(bytes, cuts)),
    ),
    { numRuns: 500 },
  );
  // Random payloads behind a correct length prefix reach the MessagePack decoder.
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (payloads, cuts) => assertOnlyChatErrors(splitAt(concatBytes(payloads.map(rawFrame)), cuts)),
    ),
    { numRuns: 1000 },
  );
});

Deno.test("FrameDecoder only ever throws ChatError on mutated valid frames (property)", () => {
  fc.assert(
    fc.property(
      fc.array(frameLike, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (values, mutations, cuts) => {
        const stream = concatBytes(values.map((value) => encodeFrame(value)));
        for (const [at, byte] of mutations) stream[at % stream.length] = byte;
        assertOnlyChatErrors(splitAt(stream, cuts));
      },
    ),
    { numRuns: 1000 },
  );
});

/** `{"type": "say", "id": 9, "room": "r", "body": BODY}` with `body` as raw str bytes. */
function sayWithBody(body: number[]): Uint8Array {
  return frameWithRawString({ type: "say", id: 9, room: "r" }, "body", body);
}

const ascii = utf8;

// Bodies @msgpack/msgpack would decode to something: a lone surrogate, "/" or U+FFFD.
const BAD_BODIES: Array<[string, number[]]> = [
  ["a lone surrogate, short", [...ascii("hi "), 0xed, 0xa0, 0x80]],
  ["an overlong slash, short", [...ascii("..."), 0xc0, 0xaf, ...ascii("etc")]],
  ["a stray byte, short", [0xff]],
  ["a lone surrogate, over 200 bytes", [...ascii("x".repeat(250)), 0xed, 0xb0, 0x80]],
  ["an overlong form, over 200 bytes", [0xe0, 0x80, 0xaf, ...ascii("y".repeat(300))]],
  ["a truncated sequence at the end", [...ascii("z".repeat(40)), 0xf0, 0x9f, 0x98]],
];

Deno.test("FrameDecoder yields an InvalidTextFrame, with the id, for a string that is not UTF-8", () => {
  for (const [what, body] of BAD_BODIES) {
    const values = decodeChunks([sayWithBody(body), encodeFrame({ type: "ping" })]);
    assert.equal(values.length, 2, what);
    const refused = values[0];
    assert.ok(refused instanceof InvalidTextFrame, what);
    assert.equal(refused.id, 9);
    assert.equal(refused.error.code, "invalid_utf8");
    assert.match(refused.error.message, /^A string in the frame is not valid UTF-8: byte 0x/);
    // The stream stays in sync: the next frame decodes.
    assert.deepEqual(values[1], { type: "ping" });
  }
  // The same bytes as a binary value are fine, and good text is untouched.
  assert.deepEqual(decodeChunks([sayWithBody(ascii("fine"))]), [
    { type: "say", id: 9, room: "r", body: "fine" },
  ]);
});

Deno.test("FrameDecoder refuses a bad map key, and a bad string in a frame without id", () => {
  // {"\xC0\xAF": 1}
  const [key] = decodeChunks([rawFrame([0x81, 0xa2, 0xc0, 0xaf, 0x01])]);
  assert.ok(key instanceof InvalidTextFrame);
  assert.equal(key.id, undefined);
  // ["\xED\xA0\x80"]: not a map at all.
  const [list] = decodeChunks([rawFrame([0x91, 0xa3, 0xed, 0xa0, 0x80])]);
  assert.ok(list instanceof InvalidTextFrame);
});

Deno.test("FrameDecoder refuses bad text when fed one byte at a time", () => {
  for (const [what, body] of BAD_BODIES) {
    const stream = concatBytes([
      encodeFrame({ type: "pong" }),
      sayWithBody(body),
      encodeFrame({ type: "say", id: 10, room: "r", body: "after" }),
    ]);
    const decoder = new FrameDecoder();
    const seen: unknown[] = [];
    for (let i = 0; i < stream.length; i++) seen.push(...decoder.push(stream.subarray(i, i + 1)));
    assert.equal(seen.length, 3, what);
    assert.deepEqual(seen[0], { type: "pong" });
    assert.ok(seen[1] instanceof InvalidTextFrame, what);
    assert.deepEqual(seen[2], { type: "say", id: 10, room: "r", body: "after" });
  }
});

Deno.test("FrameDecoder: a frame with any invalid string byte is refused, never decoded (property)", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.nat(),
      fc.integer({ min: 0x80, max: 0xff }),
      fc.array(fc.nat(), { maxLength: 4 }),
      (text, at, byte, cuts) => {
        const body = ascii(text + "x");
        body[at % body.length] = byte;
        const valid = new TextDecoder("utf-8", { fatal: true });
        let wellFormed = true;
        try {
          valid.decode(Uint8Array.from(body));
        } catch {
          wellFormed = false;
        }
        const values = decodeChunks(splitAt(sayWithBody(body), cuts));
        assert.equal(values.length, 1);
        if (wellFormed) {
          assert.equal((values[0] as { body: string }).body, valid.decode(Uint8Array.from(body)));
        } else assert.ok(values[0] instanceof InvalidTextFrame);
      },
    ),
    { numRuns: 2000 },
  );
});
