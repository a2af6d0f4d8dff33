/**
 * The browser's MessagePack codec (server/http/assets/msgpack.js) against
 * the server's (@msgpack/msgpack): same bytes for what the protocol sends,
 * and each decodes the other's output.
 */
import assert from "node:assert/strict";
import { Decoder, Encoder } from "@msgpack/msgpack";
import fc from "fast-check";
import { decode, decodeFrame, encode, encodeFrame } from "../server/http/assets/msgpack.js";
import { encodeFrame as serverFrame } from "../shared/frame.ts";

const serverEncoder = new Encoder({ ignoreUndefined: true });
const serverDecoder = new Decoder();

// What frames carry: maps of strings, integers (ids, timestamps), booleans, lists.
const scalar = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.maxSafeInteger(),
  fc.maxSafeNat(),
  fc.integer({ min: -0x100000000, max: 0x100000000 }),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
);
const value = fc.letrec((tie) => ({
  item: fc.oneof({ depthSize: "small" }, scalar, tie("list"), tie("map")),
  list: fc.array(tie("item"), { maxLength: 20 }),
  // No "__proto__" key: the server's decoder refuses it on purpose (prototype pollution);
  // the browser's keeps it as a plain key of a prototype-less map.
  map: fc.dictionary(
    fc.string({ maxLength: 20 }).filter((key) => key !== "__proto__"),
    tie("item"),
    { maxKeys: 20 },
  ),
})).item;

Deno.test("the browser codec encodes byte for byte like the server and round-trips both ways", () => {
  fc.assert(
    fc.property(value, (input) => {
      const mine = encode(input);
      assert.deepEqual(mine, serverEncoder.encode(input));
      // Maps decode without a prototype; structuredClone gives them the usual one.
      assert.deepEqual(structuredClone(decode(mine)), serverDecoder.decode(mine));
      assert.deepEqual(JSON.stringify(decode(serverEncoder.encode(input))), JSON.stringify(input));
    }),
    { numRuns: 300 },
  );
});

Deno.test("frames: same bytes as shared/frame.ts; a bad length prefix or extension is refused", () => {
  const frame = {
    type: "message",
    room: "general",
    from: "alice",
    body: "héllo",
    id: 7,
    ts: Date.now(),
  };
  assert.deepEqual(encodeFrame(frame), serverFrame(frame));
  assert.deepEqual({ ...(decodeFrame(serverFrame(frame)) as object) }, frame);
  const bytes = serverFrame(frame);
  bytes[3]! += 1;
  assert.throws(() => decodeFrame(bytes), /length prefix/);
  assert.throws(() => decode(new Uint8Array([0xd4, 1, 0])), /unsupported/);
  assert.throws(() => decode(new Uint8Array([0x92, 1])), /truncated/);
  assert.equal(Object.getPrototypeOf(decode(encode({ ["__proto__"]: 1 }))), null);
});
