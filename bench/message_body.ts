/**
 * Bodies of the bench's messages: the time the message was (scheduled to
 * be) sent, in ms as a decimal string, padded to the requested size. The
 * receiver reads the time back from the bytes, without decoding a string.
 *
 * @module
 */

const PAD = "x".repeat(64 * 1024);

/**
 * A body of exactly `size` ASCII bytes (at least the time itself) that
 * starts with `sentAt` in ms with µs precision, then a space.
 */
export function makeBody(sentAt: number, size: number): string {
  const time = sentAt.toFixed(3);
  if (size <= time.length + 1) return time;
  return time + " " + PAD.slice(0, size - time.length - 1);
}

/**
 * Reads the decimal number at `bytes[start...]` (digits and one point,
 * stopping at anything else or `end`); NaN if there is none.
 */
export function readBodyTime(bytes: Uint8Array, start: number, end: number): number {
  if (start < 0) return NaN;
  let whole = 0;
  let fraction = 0;
  let scale = 1;
  let digits = 0;
  let point = false;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x30 && byte <= 0x39) {
      digits++;
      if (point) {
        scale *= 10;
        fraction = fraction * 10 + (byte - 0x30);
      } else {
        whole = whole * 10 + (byte - 0x30);
      }
    } else if (byte === 0x2e && !point) {
      point = true;
    } else {
      break;
    }
  }
  return digits === 0 ? NaN : whole + fraction / scale;
}
