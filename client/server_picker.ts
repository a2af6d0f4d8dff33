/**
 * `chat join` without a server named: finds the servers on the local
 * network and picks one: the only one that answered, the one the user
 * chooses on a terminal, or 127.0.0.1:7007 when none answered.
 *
 * @module
 */
import { USAGE_EXIT_CODE } from "../shared/cli.ts";
import { sanitizeForTerminal } from "../shared/validation.ts";
import { type Address, DEFAULT_HOST, DEFAULT_PORT, formatAddress } from "./address.ts";
import { describeError } from "./format.ts";
import {
  discoveredAddress,
  type DiscoveredServer,
  type DiscoverOptions,
  discoverServers,
} from "./server_discovery.ts";

/** Options for {@linkcode pickServer}. */
export interface PickServerOptions {
  /** Where and how long to probe. */
  discovery: DiscoverOptions;
  /** List even a single answer (`--discover`), and never fall back to the default. */
  list: boolean;
  /** Whether the user can be asked (a terminal); else several answers are an error. */
  ask: boolean;
  /** Print a listing as JSON lines (`--json`). */
  json: boolean;
  /** Where messages go; default stderr and stdout. Tests may capture them. */
  write?: { error: (line: string) => void; out: (line: string) => void };
  /** Asks a question and returns the answer, or null at end of input. Default `prompt`. */
  question?: (text: string) => string | null;
}

/** What {@linkcode pickServer} decided. */
export type PickOutcome =
  /** Connect there. */
  | { kind: "join"; address: Address }
  /** Exit with this code: listed only, nobody answered, or several and no way to ask. */
  | { kind: "exit"; code: number };

/**
 * One line about a server found, safe for a terminal: its name, where to
 * join it, its version, and its TLS port when it also has plain TCP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeServer } from "./server_picker.ts";
 * const server = {
 *   hostname: "192.168.1.5",
 *   name: "box",
 *   version: "0.1.0",
 *   protocol: "1.0",
 *   tcp: 7007,
 *   tls: 7443,
 * };
 * assert.equal(describeServer(server), "box  192.168.1.5:7007  (chat 0.1.0; also tls://192.168.1.5:7443)");
 * ```
 */
export function describeServer(server: DiscoveredServer): string {
  const address = discoveredAddress(server);
  const where = address === undefined ? server.hostname : formatAddress(address);
  const notes = [`chat ${sanitizeForTerminal(server.version)}`];
  if (address?.transport === "tcp" && server.tls !== null) {
    notes.push(`also ${formatAddress({ ...address, transport: "tls", port: server.tls })}`);
  }
  return `${sanitizeForTerminal(server.name)}  ${where}  (${notes.join("; ")})`;
}

const DEFAULT_ADDRESS: Address = { transport: "tcp", hostname: DEFAULT_HOST, port: DEFAULT_PORT };

/**
 * Probes the local network and decides where `chat join` goes. Without
 * `list`: the only server that answered, or (with `ask`) the one the user
 * picks from a numbered list, or the default address when none answered;
 * several answers and no way to ask list them and exit 2. With `list`:
 * always a list; without `ask` it is printed and that is all (exit 0).
 *
 * @example
 * ```ts ignore
 * import { pickServer } from "./server_picker.ts";
 * const outcome = await pickServer({ discovery: {}, list: false, ask: true, json: false });
 * if (outcome.kind === "exit") Deno.exit(outcome.code);
 * ```
 */
export async function pickServer(options: PickServerOptions): Promise<PickOutcome> {
  const error = options.write?.error ?? ((line: string) => console.error(line));
  const out = options.write?.out ?? ((line: string) => console.log(line));
  const question = options.question ?? ((text: string) => prompt(text));
  const fallback = `trying ${formatAddress(DEFAULT_ADDRESS)}`;
  let servers: DiscoveredServer[];
  try {
    servers = await discoverServers(options.discovery);
  } catch (cause) {
    const reason = `chat: cannot look for servers on the local network: ${describeError(cause)}`;
    if (options.list) {
      error(reason);
      return { kind: "exit", code: 1 };
    }
    error(`${reason}; ${fallback}`);
    return { kind: "join", address: DEFAULT_ADDRESS };
  }
  // A server with only a Unix socket announces no port to join it by.
  servers = servers.filter((server) => discoveredAddress(server) !== undefined);
  const seconds = ((options.discovery.timeoutMs ?? 1000) / 1000).toLocaleString("en");
  if (servers.length === 0) {
    const none = `chat: no chat server answered on the local network within ${seconds} s`;
    if (options.list) {
      error(none);
      return { kind: "exit", code: 1 };
    }
    error(`${none}; ${fallback}`);
    return { kind: "join", address: DEFAULT_ADDRESS };
  }
  if (servers.length === 1 && !options.list) {
    error(`chat: found ${describeServer(servers[0]!)}`);
    return { kind: "join", address: discoveredAddress(servers[0]!)! };
  }
  if (options.list && !options.ask) {
    for (const server of servers) {
      if (options.json) {
        out(JSON.stringify({ ...server, address: formatAddress(discoveredAddress(server)!) }));
      } else {
        out(describeServer(server));
      }
    }
    return { kind: "exit", code: 0 };
  }
  if (!options.ask) {
    error(`chat: ${servers.length} chat servers answered on the local network; name one:`);
    for (const server of servers) {
      error(
        `  chat join ${formatAddress(discoveredAddress(server)!)}   # ${describeServer(server)}`,
      );
    }
    return { kind: "exit", code: USAGE_EXIT_CODE };
  }
  out(`Chat servers on the local network:`);
  servers.forEach((server, index) => out(`  ${index + 1}) ${describeServer(server)}`));
  while (true) {
    const answer = question(`Join which one? [1-${servers.length}]`);
    if (answer === null) return { kind: "exit", code: 1 };
    const choice = Number(answer.trim() === "" && servers.length === 1 ? "1" : answer.trim());
    if (Number.isInteger(choice) && choice >= 1 && choice <= servers.length) {
      return { kind: "join", address: discoveredAddress(servers[choice - 1]!)! };
    }
    error(`Type a number from 1 to ${servers.length}, or Ctrl+D to give up.`);
  }
}
