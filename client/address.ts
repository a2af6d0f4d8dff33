/**
 * The `HOST[:PORT]` argument of `chat join`, IPv6 literals included.
 *
 * @module
 */
import { UsageError } from "../shared/cli.ts";

/** Host `chat join` connects to when none is given. */
export const DEFAULT_HOST = "127.0.0.1";
/** Port `chat join` connects to when none is given. */
export const DEFAULT_PORT = 7007;

/** Where to connect. */
export interface Address {
  /** Host name or IP address, IPv6 without brackets. */
  hostname: string;
  /** TCP port. */
  port: number;
}

function parsePort(text: string, input: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`invalid port in "${input}": expected 1-65535`);
  }
  return port;
}

/**
 * Parses `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6
 * literal; missing parts take the defaults. Throws a
 * {@linkcode UsageError} on a malformed address.
 *
 * @example
 * ```ts
 * import { parseAddress } from "./address.ts";
 * console.log(parseAddress("[::1]:7007")); // { hostname: "::1", port: 7007 }
 * console.log(parseAddress(undefined)); // { hostname: "127.0.0.1", port: 7007 }
 * ```
 */
export function parseAddress(input: string | undefined): Address {
  if (input === undefined || input === "") return { hostname: DEFAULT_HOST, port: DEFAULT_PORT };
  if (input.startsWith("[")) {
    const match = /^\[([0-9A-Fa-f:.%\w]+)\](?::(.*))?$/.exec(input);
    if (!match) throw new UsageError(`invalid address "${input}": expected [IPV6]:PORT`);
    const port = match[2] === undefined ? DEFAULT_PORT : parsePort(match[2], input);
    return { hostname: match[1]!, port };
  }
  const colons = input.split(":").length - 1;
  // Two or more colons without brackets can only be a bare IPv6 literal.
  if (colons >= 2) return { hostname: input, port: DEFAULT_PORT };
  const [hostname, portText] = input.split(":") as [string, string | undefined];
  if (hostname === "") throw new UsageError(`invalid address "${input}": missing host`);
  if (/\s|\//.test(hostname)) throw new UsageError(`invalid host "${hostname}"`);
  return { hostname, port: portText === undefined ? DEFAULT_PORT : parsePort(portText, input) };
}

/**
 * Formats an address for messages, bracketing IPv6 literals.
 *
 * @example
 * ```ts
 * import { formatAddress } from "./address.ts";
 * console.log(formatAddress({ hostname: "::1", port: 7007 })); // "[::1]:7007"
 * ```
 */
export function formatAddress(address: Address): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}
