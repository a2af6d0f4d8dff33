/**
 * Client addresses as counting keys.
 *
 * @module
 */

/**
 * The key an address is counted under (failed logins, rooms created,
 * accounts created): IPv4 as is (also when mapped into
 * IPv6), IPv6 by its /64 prefix, since one host usually owns a whole /64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ipKey } from "./ip_key.ts";
 * assert.equal(ipKey("::ffff:192.0.2.7"), "192.0.2.7");
 * assert.equal(ipKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
 * ```
 */
export function ipKey(ip: string): string {
  let address = ip.trim().toLowerCase().replace(/^\[|\]$/g, "");
  address = address.split("%")[0]!; // zone id
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address;
  const halves = address.split("::");
  if (halves.length > 2) return address;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const zeros = halves.length === 2
    ? Array(Math.max(0, 8 - head.length - tail.length)).fill("0")
    : [];
  const groups = [...head, ...zeros, ...tail];
  if (groups.length !== 8 || !groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) {
    return address;
  }
  return groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(":") + "::/64";
}
