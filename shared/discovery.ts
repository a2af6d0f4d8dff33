/**
 * LAN discovery packets, shared by the server (which answers) and the
 * client (which probes). A client broadcasts a probe to UDP port
 * {@linkcode DISCOVERY_PORT}; every server that hears it answers to the
 * probe's source with its name, version and ports. The format is described
 * in docs/operations.md.
 *
 * Probes are padded to at least {@linkcode MAX_ANSWER_BYTES}, so an answer
 * is never larger than the probe that caused it: a spoofed probe cannot be
 * used to amplify traffic towards its forged source.
 *
 * @module
 */

/** The UDP port servers listen on for probes by default. */
export const DISCOVERY_PORT = 7007;

/** Magic bytes that start every discovery packet: ASCII "CHATDISC". */
export const DISCOVERY_MAGIC: Uint8Array = new TextEncoder().encode("CHATDISC");

/** Version of the packet format; a decoder ignores packets of other versions. */
export const DISCOVERY_FORMAT_VERSION = 1;

/** The largest answer a server sends, in bytes; also the smallest valid probe. */
export const MAX_ANSWER_BYTES = 256;

/** The longest server name an answer carries, in UTF-8 bytes. */
export const MAX_SERVER_NAME_BYTES = 64;

const KIND_PROBE = 1;
const KIND_ANSWER = 2;
// magic (8) + format version (1) + kind (1) + nonce (4)
const HEADER_BYTES = DISCOVERY_MAGIC.length + 6;

/** What a server says about itself in answer to a probe. */
export interface DiscoveryAnswer {
  /** The server's name (`--server-name`, by default its host name). */
  name: string;
  /** The server's release version, e.g. "0.1.0". */
  version: string;
  /** The wire protocol version it speaks, e.g. "1.0". */
  protocol: string;
  /** Plain TCP port, or null when the server has no TCP listener. */
  tcp: number | null;
  /** TLS port, or null when the server has no TLS listener. */
  tls: number | null;
}

/**
 * Encodes a probe carrying `nonce` (echoed in answers so a client can tell
 * its own replies apart), padded to {@linkcode MAX_ANSWER_BYTES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeProbe, encodeProbe, MAX_ANSWER_BYTES } from "./discovery.ts";
 * const probe = encodeProbe(42);
 * assert.deepEqual([probe.length === MAX_ANSWER_BYTES, decodeProbe(probe)?.nonce], [true, 42]);
 * ```
 */
export function encodeProbe(nonce: number): Uint8Array {
  checkNonce(nonce);
  const packet = new Uint8Array(MAX_ANSWER_BYTES);
  writeHeader(packet, KIND_PROBE, nonce);
  return packet;
}

/**
 * Decodes a probe; anything else (wrong magic, version or kind, or shorter
 * than {@linkcode MAX_ANSWER_BYTES}) gives null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeProbe } from "./discovery.ts";
 * assert.equal(decodeProbe(new TextEncoder().encode("hello")), null);
 * ```
 */
export function decodeProbe(packet: Uint8Array): { nonce: number } | null {
  if (packet.length < MAX_ANSWER_BYTES) return null;
  const nonce = readHeader(packet, KIND_PROBE);
  return nonce === null ? null : { nonce };
}

/**
 * Encodes an answer to the probe that carried `nonce`. Names longer than
 * {@linkcode MAX_SERVER_NAME_BYTES} are cut; the result never exceeds
 * {@linkcode MAX_ANSWER_BYTES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeAnswer, encodeAnswer } from "./discovery.ts";
 * const packet = encodeAnswer(
 *   { name: "box", version: "0.1.0", protocol: "1.0", tcp: 7007, tls: null },
 *   { nonce: 42 },
 * );
 * assert.equal(decodeAnswer(packet)?.name, "box");
 * ```
 */
export function encodeAnswer(answer: DiscoveryAnswer, options: { nonce: number }): Uint8Array {
  checkNonce(options.nonce);
  for (const port of [answer.tcp, answer.tls]) {
    if (port !== null && !isPort(port)) {
      throw new RangeError(`Cannot encode answer: port ${port} is not between 1 and 65535`);
    }
  }
  const body = new TextEncoder().encode(JSON.stringify({
    name: truncateUtf8(answer.name, MAX_SERVER_NAME_BYTES),
    version: answer.version.slice(0, 32),
    protocol: answer.protocol.slice(0, 16),
    tcp: answer.tcp,
    tls: answer.tls,
  }));
  if (HEADER_BYTES + body.length > MAX_ANSWER_BYTES) {
    throw new RangeError(
      `Cannot encode answer: ${HEADER_BYTES + body.length} bytes exceed ${MAX_ANSWER_BYTES}`,
    );
  }
  const packet = new Uint8Array(HEADER_BYTES + body.length);
  writeHeader(packet, KIND_ANSWER, options.nonce);
  packet.set(body, HEADER_BYTES);
  return packet;
}

/**
 * Decodes an answer; anything malformed gives null, never an exception.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeAnswer, encodeAnswer } from "./discovery.ts";
 * const answer = { name: "box", version: "0.1.0", protocol: "1.0", tcp: null, tls: 7443 };
 * assert.deepEqual(decodeAnswer(encodeAnswer(answer, { nonce: 7 })), { nonce: 7, ...answer });
 * ```
 */
export function decodeAnswer(packet: Uint8Array): (DiscoveryAnswer & { nonce: number }) | null {
  if (packet.length > MAX_ANSWER_BYTES) return null;
  const nonce = readHeader(packet, KIND_ANSWER);
  if (nonce === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(packet.subarray(HEADER_BYTES)),
    );
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { name, version, protocol, tcp, tls } = value as Record<string, unknown>;
  if (typeof name !== "string" || typeof version !== "string" || typeof protocol !== "string") {
    return null;
  }
  const port = (p: unknown) => p === null || isPort(p);
  if (!port(tcp) || !port(tls)) return null;
  return {
    nonce,
    name,
    version,
    protocol,
    tcp: tcp as number | null,
    tls: tls as number | null,
  };
}

function writeHeader(packet: Uint8Array, kind: number, nonce: number): void {
  packet.set(DISCOVERY_MAGIC, 0);
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  view.setUint8(DISCOVERY_MAGIC.length, DISCOVERY_FORMAT_VERSION);
  view.setUint8(DISCOVERY_MAGIC.length + 1, kind);
  view.setUint32(DISCOVERY_MAGIC.length + 2, nonce);
}

function readHeader(packet: Uint8Array, kind: number): number | null {
  if (packet.length < HEADER_BYTES) return null;
  for (let i = 0; i < DISCOVERY_MAGIC.length; i++) {
    if (packet[i] !== DISCOVERY_MAGIC[i]) return null;
  }
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (view.getUint8(DISCOVERY_MAGIC.length) !== DISCOVERY_FORMAT_VERSION) return null;
  if (view.getUint8(DISCOVERY_MAGIC.length + 1) !== kind) return null;
  return view.getUint32(DISCOVERY_MAGIC.length + 2);
}

function checkNonce(nonce: number): void {
  if (!Number.isInteger(nonce) || nonce < 0 || nonce > 0xffff_ffff) {
    throw new RangeError(`Cannot encode packet: nonce ${nonce} is not a 32-bit unsigned integer`);
  }
}

function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a code point. */
function truncateUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
