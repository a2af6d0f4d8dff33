/**
 * The client's address of an HTTP request that came through reverse
 * proxies (`--trusted-proxy CIDR`): from a trusted proxy, the address is
 * taken from `X-Forwarded-For`, walking it from the right (the entry the
 * nearest proxy appended) past every entry that is itself a trusted proxy.
 * From any other address the header is ignored, since whoever sends it
 * writes what they like. IP parsing and range matching are ipaddr.js's
 * (the library Express's proxy-addr uses for the same).
 *
 * @module
 */
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/**
 * Reads a CIDR range (`10.0.0.0/8`, `fd00::/8`) or a single address
 * (`192.0.2.1`, `::1`), and returns it in canonical form with its prefix
 * (`192.0.2.1/32`). Throws a `RangeError` for anything else, and for a
 * range with bits set past its prefix (`10.0.0.1/8`: 10.0.0.0/8, or the
 * host 10.0.0.1/32?).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCidr } from "./trusted_proxies.ts";
 * assert.deepEqual([parseCidr("10.0.0.0/8"), parseCidr("::1"), parseCidr("FD00:0::/8")], ["10.0.0.0/8", "::1/128", "fd00::/8"]);
 * ```
 */
export function parseCidr(text: string): string {
  const [address, prefix] = readRange(text);
  return `${address.toString()}/${prefix}`;
}

/**
 * The trusted proxies' ranges, and the client's address of a request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrustedProxies } from "./trusted_proxies.ts";
 * const proxies = new TrustedProxies(["10.0.0.0/8"]);
 * assert.equal(proxies.clientAddress("10.0.0.2", "198.51.100.9, 203.0.113.7"), "203.0.113.7");
 * assert.equal(proxies.clientAddress("192.0.2.1", "203.0.113.7"), "192.0.2.1");
 * ```
 */
export class TrustedProxies {
  readonly #ranges: Range[];

  /** Trusts the CIDR ranges `ranges` (as {@linkcode parseCidr} reads them). */
  constructor(ranges: readonly string[]) {
    this.#ranges = ranges.map(readRange);
  }

  /** Whether `address` (an IP address as a peer's is written) is a trusted proxy's. */
  includes(address: string): boolean {
    const parsed = readAddress(address);
    return parsed !== null && this.#trusts(parsed);
  }

  /**
   * The client's address of a request from `peer` with the
   * `X-Forwarded-For` value `forwardedFor` (null: none): `peer` itself
   * unless it is a trusted proxy; else the rightmost forwarded address
   * that is not a trusted proxy (the leftmost if all are). An entry that
   * is not an address stops the walk at the proxy that wrote it.
   */
  clientAddress(peer: string, forwardedFor: string | null): string {
    if (forwardedFor === null || this.#ranges.length === 0 || !this.includes(peer)) return peer;
    const entries = forwardedFor.split(",");
    let client = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const address = readForwarded(entries[i]!);
      if (address === null) return client;
      client = address.toString();
      if (!this.#trusts(address)) return client;
    }
    return client;
  }

  #trusts(address: Address): boolean {
    return this.#ranges.some(([range, prefix]) =>
      address.kind() === range.kind() && address.match(range, prefix)
    );
  }
}

/** An IPv4 address in four decimal parts, or an IPv6 address (without zone); IPv4-mapped IPv6 as IPv4. */
function readAddress(text: string): Address | null {
  let address: Address;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) address = ipaddr.IPv4.parse(text);
  else if (!text.includes("%") && ipaddr.IPv6.isValid(text)) address = ipaddr.IPv6.parse(text);
  else return null;
  return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

/** One `X-Forwarded-For` entry: an address, `1.2.3.4:port`, `[v6]` or `[v6]:port`. */
function readForwarded(entry: string): Address | null {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed !== null) return readAddress(bracketed[1]!);
  const withPort = /^(\d+\.\d+\.\d+\.\d+):\d{1,5}$/.exec(text);
  return readAddress(withPort === null ? text : withPort[1]!);
}

function readRange(text: string): Range {
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const address = readAddress(addressText);
  if (address === null || (slash !== -1 && !/^\d{1,3}$/.test(trimmed.slice(slash + 1)))) {
    throw new RangeError(
      `must be IP addresses or CIDR ranges like 10.0.0.0/8 or fd00::/8, got "${text}"`,
    );
  }
  const bits = address.kind() === "ipv4" ? 32 : 128;
  // A mapped IPv4 address was read as IPv4: its IPv6 prefix counts from bit 96.
  const mapped = address.kind() === "ipv4" && !ipaddr.IPv4.isValidFourPartDecimal(addressText);
  const prefix = slash === -1 ? bits : Number(trimmed.slice(slash + 1)) - (mapped ? 96 : 0);
  if (prefix < 0 || prefix > bits) {
    throw new RangeError(`must have a prefix length from 0 to ${bits}, got "${text}"`);
  }
  const network = networkOf(address, prefix);
  if (network.toString() !== address.toString()) {
    throw new RangeError(
      `has bits set past its /${prefix} prefix: ${network}/${prefix} for the range, or ` +
        `${address}/${bits} for the one address? got "${text}"`,
    );
  }
  return [address, prefix];
}

function networkOf(address: Address, prefix: number): Address {
  const bytes = address.toByteArray();
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3] = bytes[bit >> 3]! & ~(0x80 >> (bit & 7));
  }
  return ipaddr.fromByteArray(bytes) as Address;
}
