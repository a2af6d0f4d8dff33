/**
 * Finding chat servers on the local network: the client half of LAN
 * discovery (packets in shared/discovery.ts, procedure in
 * docs/operations.md §4). A probe is broadcast on UDP, sent again once
 * halfway through, and the answers carrying one of our nonces are
 * collected until the time is up.
 *
 * Needs Deno's unstable `net` feature (`Deno.listenDatagram`), which
 * deno.json turns on.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  decodeAnswer,
  DISCOVERY_PORT,
  type DiscoveryAnswer,
  encodeProbe,
} from "../shared/discovery.ts";
import type { NetAddress } from "./address.ts";

const logger = getLogger(["chat", "client", "discovery"]);

/** Where probes go by default: every host on the local network segment. */
export const DISCOVERY_BROADCAST = "255.255.255.255";

/** A server that answered a probe. */
export interface DiscoveredServer extends DiscoveryAnswer {
  /** The answer's source address: where the server is. */
  hostname: string;
}

/** Options for {@linkcode discoverServers}. */
export interface DiscoverOptions {
  /** Where probes are sent: a broadcast address or a host. Default 255.255.255.255. */
  address?: string;
  /** UDP ports probed, each with every probe. Default [7007]. */
  ports?: readonly number[];
  /** How long to collect answers, in ms. Default 1000. */
  timeoutMs?: number;
  /** Probes sent again, spread over the time, for answers lost on the way. Default 1. */
  retries?: number;
}

function isLoopback(address: string): boolean {
  return address === "::1" || address === "localhost" || /^127\./.test(address);
}

function randomNonce(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/**
 * Probes the local network and resolves to the servers that answered, in
 * the order they answered, each once. Rejects only when no probe could be
 * sent at all (no UDP, no route to the broadcast address), with the reason.
 *
 * @example
 * ```ts ignore
 * import { discoverServers } from "./server_discovery.ts";
 * const servers = await discoverServers();
 * // Each with its name, its address and its TCP and TLS ports (null when absent).
 * const menu = servers.map((server) => `${server.name} ${server.hostname}:${server.tcp ?? server.tls}`);
 * ```
 */
export async function discoverServers(options: DiscoverOptions = {}): Promise<DiscoveredServer[]> {
  if (typeof Deno.listenDatagram !== "function") {
    throw new TypeError("UDP needs Deno's unstable 'net' feature (run with --unstable-net)");
  }
  const address = options.address ?? DISCOVERY_BROADCAST;
  const ports = options.ports ?? [DISCOVERY_PORT];
  const timeoutMs = options.timeoutMs ?? 1000;
  const probes = 1 + Math.max(0, options.retries ?? 1);
  // A probe meant for this host stays on loopback; others need an address the LAN can answer.
  const bind = isLoopback(address)
    ? address.includes(":") ? "::1" : "127.0.0.1"
    : address.includes(":")
    ? "::"
    : "0.0.0.0";
  const socket = Deno.listenDatagram({ transport: "udp", hostname: bind, port: 0 });
  const nonces = new Set<number>();
  const found = new Map<string, DiscoveredServer>();
  const reading = (async () => {
    try {
      for await (const [packet, from] of socket) {
        const answer = decodeAnswer(packet);
        // Someone else's answer, or not an answer at all.
        if (answer === null || !nonces.has(answer.nonce) || from.transport !== "udp") continue;
        const { nonce: _, ...rest } = answer;
        const server = { ...rest, hostname: from.hostname };
        const key = `${server.hostname} ${server.tcp} ${server.tls}`;
        if (!found.has(key)) found.set(key, server);
      }
    } catch (error) {
      // Closed when the time is up; anything else only ends the listening early.
      logger.debug("Discovery receive ended: {error}", { error });
    }
  })();
  let sent = 0;
  let failure: unknown;
  try {
    for (let probe = 0; probe < probes; probe++) {
      const nonce = randomNonce();
      nonces.add(nonce);
      for (const port of ports) {
        try {
          await socket.send(encodeProbe(nonce), { transport: "udp", hostname: address, port });
          sent++;
        } catch (error) {
          failure = error;
          logger.debug("Discovery probe to {address}:{port} failed: {error}", {
            address,
            port,
            error,
          });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, timeoutMs / probes));
    }
  } finally {
    socket.close();
    await reading;
  }
  if (sent === 0 && failure !== undefined) throw failure;
  return [...found.values()];
}

/**
 * Where to connect to a server found: plain TCP when it has it, else TLS;
 * undefined when it announces neither (a Unix socket only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { discoveredAddress } from "./server_discovery.ts";
 * const server = {
 *   hostname: "192.168.1.5",
 *   name: "box",
 *   version: "0.1.0",
 *   protocol: "1.0",
 *   tcp: null,
 *   tls: 7443,
 * };
 * assert.deepEqual(discoveredAddress(server), { transport: "tls", hostname: "192.168.1.5", port: 7443 });
 * ```
 */
export function discoveredAddress(server: DiscoveredServer): NetAddress | undefined {
  if (server.tcp !== null) return { transport: "tcp", hostname: server.hostname, port: server.tcp };
  if (server.tls !== null) return { transport: "tls", hostname: server.hostname, port: server.tls };
  return undefined;
}
