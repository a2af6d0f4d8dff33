/**
 * The `HOST:PORT` form of the `--http` setting.
 *
 * @module
 */

/** Where the HTTP listener binds. */
export interface HttpAddress {
  hostname: string;
  port: number;
}

/**
 * Reads `HOST:PORT` (an IPv6 host in brackets: `[::1]:8080`); throws a
 * `RangeError` saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHttpAddress } from "./http_address.ts";
 * assert.deepEqual(parseHttpAddress("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
 * assert.deepEqual(parseHttpAddress("[::1]:0"), { hostname: "::1", port: 0 });
 * ```
 */
export function parseHttpAddress(text: string): HttpAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:\[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new RangeError(`must be HOST:PORT with a port from 0 to 65535, got "${text}"`);
  }
  return { hostname: match[1] ?? match[2]!, port };
}
