import assert from "node:assert/strict";
import fc from "fast-check";
import { encode } from "@msgpack/msgpack";
import { invalidUtf8Error, invalidUtf8Offset, loneSurrogate } from "../shared/utf8.ts";
import { invalidStringOffset } from "../shared/msgpack_strings.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });

function wellFormed(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

Deno.test("invalidUtf8Offset accepts every well-formed form, one to four bytes", () => {
  const text = "a\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}é日本👩‍💻";
  assert.equal(invalidUtf8Offset(new TextEncoder().encode(text)), -1);
  assert.equal(invalidUtf8Offset(new Uint8Array(0)), -1);
});

Deno.test("invalidUtf8Offset finds overlong forms, surrogates, stray and truncated bytes", () => {
  const cases: Array<[number[], number]> = [
    [[0x61, 0xc0, 0xaf], 1], // overlong "/"
    [[0xc1, 0xbf], 0], // overlong U+007F
    [[0xe0, 0x80, 0xaf], 0], // overlong 3-byte "/"
    [[0xe0, 0x9f, 0xbf], 0], // overlong U+07FF
    [[0xf0, 0x80, 0x80, 0xaf], 0], // overlong 4-byte "/"
    [[0xf0, 0x8f, 0xbf, 0xbf], 0], // overlong U+FFFF
    [[0x61, 0xed, 0xa0, 0x80], 1], // U+D800, a lone high surrogate
    [[0xed, 0xbf, 0xbf], 0], // U+DFFF
    [[0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9], 0], // CESU-8 pair for U+1F4A9
    [[0xf4, 0x90, 0x80, 0x80], 0], // U+110000
    [[0xf5, 0x80, 0x80, 0x80], 0],
    [[0xff], 0],
    [[0x61, 0x80], 1], // continuation without a lead
    [[0x61, 0xc3], 1], // truncated 2-byte
    [[0xe2, 0x82], 0], // truncated 3-byte
    [[0xf0, 0x9f, 0x98], 0], // truncated 4-byte
    [[0xc3, 0x41], 0], // lead followed by ASCII
  ];
  for (const [bytes, offset] of cases) {
    assert.equal(invalidUtf8Offset(Uint8Array.from(bytes)), offset, JSON.stringify(bytes));
  }
});

Deno.test("invalidUtf8Offset agrees with the fatal TextDecoder on any bytes (property)", () => {
  // Bytes biased towards UTF-8's interesting ranges, and real text with a byte changed.
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed),
    fc.constantFrom(0xef, 0xf0, 0xf4, 0xf5, 0xff),
  );
  fc.assert(
    fc.property(fc.array(byte, { maxLength: 24 }), (list) => {
      const bytes = Uint8Array.from(list);
      const offset = invalidUtf8Offset(bytes);
      assert.equal(offset === -1, wellFormed(bytes));
      // Everything before the fault is well-formed on its own.
      if (offset !== -1) assert.ok(wellFormed(bytes.subarray(0, offset)));
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (text, at, value) => {
        const bytes = new TextEncoder().encode(text);
        if (bytes.length > 0) bytes[at % bytes.length] = value;
        assert.equal(invalidUtf8Offset(bytes) === -1, wellFormed(bytes));
      },
    ),
  );
});

Deno.test("invalidUtf8Error names the byte and its offset", () => {
  const error = invalidUtf8Error("Line", Uint8Array.of(0x61, 0xed, 0xa0, 0x80), 1);
  assert.equal(error.code, "invalid_utf8");
  assert.equal(error.message, "Line is not valid UTF-8: byte 0xED at offset 1");
});

Deno.test("loneSurrogate finds unpaired halves and passes pairs", () => {
  assert.equal(loneSurrogate("plain"), undefined);
  assert.equal(loneSurrogate("👩‍💻 \u{10ffff}"), undefined);
  assert.equal(loneSurrogate("a\ud800"), "U+D800");
  assert.equal(loneSurrogate("\udfffa"), "U+DFFF");
  assert.equal(loneSurrogate("\ud83d\ud83d\udca9"), "U+D83D"); // a high before a pair
  assert.equal(loneSurrogate("\udca9\ud83d"), "U+DCA9"); // reversed pair
});

// MessagePack bytes of `value` with its string "MARK" replaced by `bytes` (same length).
function withString(value: unknown, bytes: number[]): Uint8Array {
  const payload = encode(value);
  const mark = new TextEncoder().encode("MARK");
  for (let i = 0; i + mark.length <= payload.length; i++) {
    if (mark.every((byte, j) => payload[i + j] === byte)) {
      payload.set(bytes, i);
      return payload;
    }
  }
  throw new Error("no MARK in the encoding");
}

Deno.test("invalidStringOffset finds a bad string anywhere: keys, values, nested, every str size", () => {
  const overlong = [0x41, 0xc0, 0xaf, 0x41]; // "A", overlong "/", "A"
  const cases: unknown[] = [
    "MARK",
    { body: "MARK" },
    { MARK: 1 },
    { list: [1, 2.5, true, null, new Uint8Array([0xc0, 0xaf]), "MARK"] },
    { a: { b: { c: ["MARK"] } } },
    { pad: "x".repeat(40), body: "MARK" + "y".repeat(40) }, // str 8
    { body: "MARK" + "y".repeat(300) }, // str 16
    { body: "MARK" + "y".repeat(70_000) }, // str 32
    { n: [-1, 200, 70_000, 2 ** 40, -(2 ** 40), 0.1], big: new Uint8Array(300), s: "MARK" },
    { arr: Array.from({ length: 20 }, () => 1).concat([0]), m: "MARK" }, // array 16
  ];
  for (const value of cases) {
    const payload = withString(value, overlong);
    const offset = invalidStringOffset(payload);
    assert.notEqual(offset, -1, JSON.stringify(value).slice(0, 80));
    assert.equal(payload[offset], 0xc0);
    assert.equal(invalidStringOffset(encode(value)), -1);
  }
});

Deno.test("invalidStringOffset ignores binary values, whatever their bytes", () => {
  const payload = encode({ bin: Uint8Array.of(0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff), s: "ok" });
  assert.equal(invalidStringOffset(payload), -1);
});

Deno.test("invalidStringOffset: any value with well-formed strings passes (property)", () => {
  const text = fc.string({ unit: "grapheme", maxLength: 30 });
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small", maxDepth: 4 },
      text,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 20 }),
      fc.array(tie("value"), { maxLength: 5 }),
      fc.dictionary(text, tie("value"), { maxKeys: 5, noNullPrototype: true }),
    ),
  }));
  fc.assert(fc.property(value, (item) => {
    assert.equal(invalidStringOffset(encode(item)), -1);
  }));
});
