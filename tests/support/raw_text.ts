/**
 * Frames and payloads with a string whose bytes are given raw, so tests can
 * send what no encoder makes: overlong forms, encoded surrogates, stray bytes.
 *
 * @module
 */
import { encode } from "@msgpack/msgpack";
import { FRAME_HEADER_BYTES } from "../../shared/frame.ts";

/**
 * The MessagePack encoding of `value` with the string field `field` holding
 * exactly `bytes` (a MessagePack `str` whatever they are).
 */
export function encodeWithRawString(
  value: Record<string, unknown>,
  field: string,
  bytes: Uint8Array | number[],
): Uint8Array {
  const raw = Uint8Array.from(bytes);
  // A placeholder of the same byte length, found again in the encoding.
  const payload = encode({ ...value, [field]: "\u0001".repeat(raw.length) });
  for (let i = 0; i + raw.length <= payload.length; i++) {
    let found = true;
    for (let j = 0; j < raw.length && found; j++) found = payload[i + j] === 0x01;
    if (found) {
      payload.set(raw, i);
      return payload;
    }
  }
  throw new Error(`no placeholder for ${field} in the encoding`);
}

/** {@linkcode encodeWithRawString} as a whole frame, length prefix included. */
export function frameWithRawString(
  value: Record<string, unknown>,
  field: string,
  bytes: Uint8Array | number[],
): Uint8Array {
  const payload = encodeWithRawString(value, field, bytes);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** The UTF-8 bytes of `text`, as an array to splice raw bytes into. */
export function utf8(text: string): number[] {
  return [...new TextEncoder().encode(text)];
}
