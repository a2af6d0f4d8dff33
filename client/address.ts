/**
 * The server argument of `chat join`: `HOST[:PORT]` (IPv6 literals
 * included), `tls://HOST[:PORT]` or `unix:PATH`.
 *
 * @module
 */
import { UsageError } from "../shared/cli.ts";

/** Host `chat join` connects to when none is given and none is found on the LAN. */
export const DEFAULT_HOST = "127.0.0.1";
/** Port `chat join` connects to when none is given. */
export const DEFAULT_PORT = 7007;
/** Port of `tls://HOST` when none is given: `chat serve --tls-port`'s default. */
export const DEFAULT_TLS_PORT = 7443;

/** A server reached over TCP, in the clear or over TLS. */
export interface NetAddress {
  /** Plain TCP or TLS. */
  transport: "tcp" | "tls";
  /** Host name or IP address, IPv6 without brackets. */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** A server reached through a Unix domain socket. */
export interface UnixAddress {
  /** Always "unix". */
  transport: "unix";
  /** Path of the socket file. */
  path: string;
}

/** Where to connect. */
export type Address = NetAddress | UnixAddress;

function parsePort(text: string, input: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`invalid port in "${input}": expected 1-65535`);
  }
  return port;
}

function parseHostPort(
  rest: string,
  input: string,
  transport: "tcp" | "tls",
  defaultPort: number,
): NetAddress {
  if (rest.startsWith("[")) {
    const match = /^\[([0-9A-Fa-f:.%\w]+)\](?::(.*))?$/.exec(rest);
    if (!match) throw new UsageError(`invalid address "${input}": expected [IPV6]:PORT`);
    const port = match[2] === undefined ? defaultPort : parsePort(match[2], input);
    return { transport, hostname: match[1]!, port };
  }
  const colons = rest.split(":").length - 1;
  // Two or more colons without brackets can only be a bare IPv6 literal.
  if (colons >= 2) return { transport, hostname: rest, port: defaultPort };
  const [hostname, portText] = rest.split(":") as [string, string | undefined];
  if (hostname === "") throw new UsageError(`invalid address "${input}": missing host`);
  if (/\s|\//.test(hostname)) throw new UsageError(`invalid host "${hostname}"`);
  return {
    transport,
    hostname,
    port: portText === undefined ? defaultPort : parsePort(portText, input),
  };
}

/**
 * Parses `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6
 * literal (plain TCP, port {@linkcode DEFAULT_PORT}); the same after
 * `tls://` (port {@linkcode DEFAULT_TLS_PORT}); or `unix:PATH`. No input
 * gives {@linkcode DEFAULT_HOST}:{@linkcode DEFAULT_PORT}. Throws a
 * {@linkcode UsageError} on a malformed address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAddress } from "./address.ts";
 * assert.deepEqual(parseAddress("[::1]:7007"), { transport: "tcp", hostname: "::1", port: 7007 });
 * assert.deepEqual(parseAddress("tls://chat.example.org"), {
 *   transport: "tls",
 *   hostname: "chat.example.org",
 *   port: 7443,
 * });
 * assert.deepEqual(parseAddress("unix:/run/chat/chat.sock"), { transport: "unix", path: "/run/chat/chat.sock" });
 * ```
 */
export function parseAddress(input: string | undefined): Address {
  if (input === undefined || input === "") {
    return { transport: "tcp", hostname: DEFAULT_HOST, port: DEFAULT_PORT };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):(\/\/)?/i.exec(input);
  const name = scheme?.[1]?.toLowerCase();
  if (name === "unix") {
    const path = input.slice("unix:".length);
    if (path === "") throw new UsageError(`invalid address "${input}": expected unix:PATH`);
    return { transport: "unix", path };
  }
  if ((name === "tls" || name === "tcp") && scheme![2] !== undefined) {
    const rest = input.slice(scheme![0].length);
    return name === "tls"
      ? parseHostPort(rest, input, "tls", DEFAULT_TLS_PORT)
      : parseHostPort(rest, input, "tcp", DEFAULT_PORT);
  }
  if (scheme?.[2] !== undefined) {
    throw new UsageError(
      `unknown scheme "${scheme[1]}://" in "${input}": expected HOST[:PORT], tls://HOST[:PORT] ` +
        "or unix:PATH",
    );
  }
  return parseHostPort(input, input, "tcp", DEFAULT_PORT);
}

/**
 * Formats an address for messages, the way {@linkcode parseAddress} reads
 * it: IPv6 literals bracketed, `tls://` and `unix:` in front where they
 * apply.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAddress } from "./address.ts";
 * assert.equal(formatAddress({ transport: "tcp", hostname: "::1", port: 7007 }), "[::1]:7007");
 * assert.equal(formatAddress({ transport: "unix", path: "/tmp/chat.sock" }), "unix:/tmp/chat.sock");
 * ```
 */
export function formatAddress(address: Address): string {
  if (address.transport === "unix") return `unix:${address.path}`;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${address.transport === "tls" ? "tls://" : ""}${host}:${address.port}`;
}
