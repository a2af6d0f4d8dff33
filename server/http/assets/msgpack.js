// @ts-nocheck -- not type-checked with the web client (browser_check.json): its JSDoc says what
// it takes and gives, and tests/http_msgpack_codec_test.ts holds it to the server's codec.
// A MessagePack encoder and decoder for the subset the chat protocol uses:
// nil, booleans, integers, floats, strings, binary, arrays and maps with
// string keys. Extension types are refused. Plain browser JavaScript, no
// dependencies; served as /assets/msgpack.js and tested against the server's
// own codec (@msgpack/msgpack).

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes `value` as MessagePack.
 * @param {unknown} value
 * @returns {Uint8Array}
 */
export function encode(value) {
  const out = new Writer();
  write(out, value, 0);
  return out.bytes();
}

/**
 * Decodes one MessagePack value that fills `bytes` exactly.
 * @param {Uint8Array} bytes
 * @returns {unknown}
 */
export function decode(bytes) {
  const reader = new Reader(bytes);
  const value = read(reader, 0);
  if (reader.offset !== bytes.length) throw new Error("msgpack: trailing bytes");
  return value;
}

/**
 * One chat frame: a 4-byte big-endian length, then the value.
 * @param {unknown} value
 * @returns {Uint8Array}
 */
export function encodeFrame(value) {
  const payload = encode(value);
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}

/**
 * The value of one whole chat frame.
 * @param {Uint8Array} frame
 * @returns {unknown}
 */
export function decodeFrame(frame) {
  if (frame.length < 4) throw new Error("frame: shorter than its length prefix");
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (length !== frame.length - 4) throw new Error("frame: length prefix does not match");
  return decode(frame.subarray(4));
}

const MAX_DEPTH = 32;

class Writer {
  constructor() {
    this.buffer = new Uint8Array(256);
    this.view = new DataView(this.buffer.buffer);
    this.length = 0;
  }

  ensure(extra) {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(byte) {
    this.ensure(1);
    this.buffer[this.length++] = byte;
  }

  u16(n) {
    this.ensure(2);
    this.view.setUint16(this.length, n);
    this.length += 2;
  }

  u32(n) {
    this.ensure(4);
    this.view.setUint32(this.length, n);
    this.length += 4;
  }

  raw(bytes) {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes() {
    return this.buffer.slice(0, this.length);
  }
}

function write(out, value, depth) {
  if (depth > MAX_DEPTH) throw new Error("msgpack: nested too deep");
  if (value === null || value === undefined) return out.u8(0xc0);
  if (value === false) return out.u8(0xc2);
  if (value === true) return out.u8(0xc3);
  if (typeof value === "number") return writeNumber(out, value);
  if (typeof value === "string") {
    const bytes = textEncoder.encode(value);
    const n = bytes.length;
    if (n < 32) out.u8(0xa0 | n);
    else if (n < 0x100) (out.u8(0xd9), out.u8(n));
    else if (n < 0x10000) (out.u8(0xda), out.u16(n));
    else (out.u8(0xdb), out.u32(n));
    return out.raw(bytes);
  }
  if (value instanceof Uint8Array) {
    const n = value.length;
    if (n < 0x100) (out.u8(0xc4), out.u8(n));
    else if (n < 0x10000) (out.u8(0xc5), out.u16(n));
    else (out.u8(0xc6), out.u32(n));
    return out.raw(value);
  }
  if (Array.isArray(value)) {
    writeLength(out, value.length, 0x90, 0xdc, 0xdd);
    for (const item of value) write(out, item, depth + 1);
    return;
  }
  if (typeof value === "object") {
    // Undefined entries are left out, as the server's encoder does.
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    writeLength(out, entries.length, 0x80, 0xde, 0xdf);
    for (const [key, item] of entries) {
      write(out, key, depth + 1);
      write(out, item, depth + 1);
    }
    return;
  }
  throw new Error("msgpack: cannot encode a " + typeof value);
}

function writeLength(out, n, fix, code16, code32) {
  if (n < 16) out.u8(fix | n);
  else if (n < 0x10000) (out.u8(code16), out.u16(n));
  else (out.u8(code32), out.u32(n));
}

function writeNumber(out, n) {
  if (Number.isSafeInteger(n)) {
    if (n >= 0) {
      if (n < 0x80) return out.u8(n);
      if (n < 0x100) return (out.u8(0xcc), out.u8(n));
      if (n < 0x10000) return (out.u8(0xcd), out.u16(n));
      if (n < 0x100000000) return (out.u8(0xce), out.u32(n));
      out.u8(0xcf);
      out.u32(Math.floor(n / 0x100000000));
      return out.u32(n >>> 0);
    }
    if (n >= -32) return out.u8(n & 0xff);
    if (n >= -0x80) return (out.u8(0xd0), out.u8(n & 0xff));
    if (n >= -0x8000) return (out.u8(0xd1), out.u16(n & 0xffff));
    if (n >= -0x80000000) return (out.u8(0xd2), out.u32(n >>> 0));
    out.u8(0xd3);
    out.u32(Math.floor(n / 0x100000000) >>> 0);
    return out.u32(n >>> 0);
  }
  out.u8(0xcb);
  out.ensure(8);
  out.view.setFloat64(out.length, n);
  out.length += 8;
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = 0;
  }

  need(n) {
    if (this.offset + n > this.bytes.length) throw new Error("msgpack: truncated");
  }

  u8() {
    this.need(1);
    return this.bytes[this.offset++];
  }

  u16() {
    this.need(2);
    const n = this.view.getUint16(this.offset);
    this.offset += 2;
    return n;
  }

  u32() {
    this.need(4);
    const n = this.view.getUint32(this.offset);
    this.offset += 4;
    return n;
  }

  take(n) {
    this.need(n);
    const slice = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return slice;
  }
}

function read(input, depth) {
  if (depth > MAX_DEPTH) throw new Error("msgpack: nested too deep");
  const code = input.u8();
  if (code < 0x80) return code;
  if (code >= 0xe0) return code - 0x100;
  if (code >= 0xa0 && code <= 0xbf) return text(input, code & 0x1f);
  if (code >= 0x90 && code <= 0x9f) return list(input, code & 0x0f, depth);
  if (code >= 0x80 && code <= 0x8f) return map(input, code & 0x0f, depth);
  switch (code) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return input.take(input.u8()).slice();
    case 0xc5:
      return input.take(input.u16()).slice();
    case 0xc6:
      return input.take(input.u32()).slice();
    case 0xca: {
      input.need(4);
      const n = input.view.getFloat32(input.offset);
      input.offset += 4;
      return n;
    }
    case 0xcb: {
      input.need(8);
      const n = input.view.getFloat64(input.offset);
      input.offset += 8;
      return n;
    }
    case 0xcc:
      return input.u8();
    case 0xcd:
      return input.u16();
    case 0xce:
      return input.u32();
    case 0xcf:
      return input.u32() * 0x100000000 + input.u32();
    case 0xd0:
      return (input.u8() << 24) >> 24;
    case 0xd1:
      return (input.u16() << 16) >> 16;
    case 0xd2:
      return input.u32() | 0;
    case 0xd3: {
      const high = input.u32() | 0;
      return high * 0x100000000 + input.u32();
    }
    case 0xd9:
      return text(input, input.u8());
    case 0xda:
      return text(input, input.u16());
    case 0xdb:
      return text(input, input.u32());
    case 0xdc:
      return list(input, input.u16(), depth);
    case 0xdd:
      return list(input, input.u32(), depth);
    case 0xde:
      return map(input, input.u16(), depth);
    case 0xdf:
      return map(input, input.u32(), depth);
    default:
      throw new Error("msgpack: unsupported type 0x" + code.toString(16));
  }
}

function text(input, n) {
  return textDecoder.decode(input.take(n));
}

function list(input, n, depth) {
  input.need(n);
  const items = new Array(n);
  for (let i = 0; i < n; i++) items[i] = read(input, depth + 1);
  return items;
}

function map(input, n, depth) {
  input.need(n * 2);
  // No prototype: a key named __proto__ is just a key.
  const object = Object.create(null);
  for (let i = 0; i < n; i++) {
    const key = read(input, depth + 1);
    if (typeof key !== "string") throw new Error("msgpack: map keys must be strings");
    object[key] = read(input, depth + 1);
  }
  return object;
}
