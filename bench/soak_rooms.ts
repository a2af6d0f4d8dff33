/**
 * Soak scenario `rooms`: one address creates rooms as fast as its
 * connections' rate limits let it (join a new room, say a word so it has
 * history, leave, again), from as many connections as the per-address cap
 * allows, while a bystander on another address creates a room now and
 * then. Before rooms were limited per address, one address filled
 * `--max-rooms` (10,000) in about 30 s and every later `join` of a new room
 * was `forbidden`, for everyone, for good. The bound: the attacking address
 * creates at most its hourly allowance, and the bystander creates every
 * room it tries.
 *
 * @module
 */
import { DEFAULT_SERVER_OPTIONS } from "../server/config/server_options.ts";
import { nowMs, sleep } from "./clock.ts";
import { PeakRss } from "./peak_rss.ts";
import { ServerProcess } from "./server_process.ts";
import { SoakClient } from "./soak_client.ts";
import type { SoakOptions, SoakReport, SoakScenario } from "./soak_scenario.ts";

const ATTACKER_ADDRESS = "127.0.0.2";
const BYSTANDER_ADDRESS = "127.0.0.1";
/** How often the bystander creates a room, in ms. */
const BYSTANDER_EVERY_MS = 1000;

/** What the attack was told. */
interface AttackCounts {
  /** Joins of a room name never used before that succeeded: rooms created. */
  created: number;
  /** Refusals of a new room, by error code. */
  refused: Record<string, number>;
  /** Connections that ended under the attacker (dropped, refused). */
  dropped: number;
}

/** One attacking connection: creates rooms until `stop`, within its rate limit. */
async function attack(
  port: number,
  index: number,
  counts: AttackCounts,
  stop: { stopped: boolean },
): Promise<void> {
  // Each room is three requests (join, say, leave); one request per interval stays under the rate.
  const intervalMs = 1000 / DEFAULT_SERVER_OPTIONS.ratePerSecond;
  let client: SoakClient | undefined;
  for (let room = 0; !stop.stopped; room++) {
    const started = nowMs();
    try {
      if (client === undefined || client.closed) {
        client = await SoakClient.open(port, ATTACKER_ADDRESS);
        const welcome = await client.hello(`spam${index}`);
        if (welcome.type !== "welcome") throw new Error(welcome.code);
      }
      const name = `spam${index}x${room}`;
      const joined = await client.request({ type: "join", room: name });
      await sleep(Math.max(0, started + intervalMs - nowMs()));
      if (joined.type === "ack") {
        counts.created++;
        await client.request({ type: "say", room: name, body: "filler" });
        await sleep(intervalMs);
        await client.request({ type: "leave", room: name });
        await sleep(intervalMs);
      } else {
        counts.refused[joined.code] = (counts.refused[joined.code] ?? 0) + 1;
      }
    } catch {
      counts.dropped++;
      client?.close();
      client = undefined;
      await sleep(100);
    }
  }
  client?.close();
}

/** The bystander: creates a room every second until `stop`; what it was told. */
async function bystander(
  port: number,
  stop: { stopped: boolean },
): Promise<{ tries: number; created: number; refusals: string[] }> {
  const seen = { tries: 0, created: 0, refusals: [] as string[] };
  const client = await SoakClient.open(port, BYSTANDER_ADDRESS);
  try {
    const welcome = await client.hello("bystander");
    if (welcome.type !== "welcome") throw new Error(`bystander refused: ${welcome.code}`);
    while (!stop.stopped) {
      const name = `bystander${seen.tries++}`;
      const joined = await client.request({ type: "join", room: name });
      if (joined.type === "ack") {
        seen.created++;
        await client.request({ type: "leave", room: name });
      } else {
        seen.refusals.push(`${joined.code}: ${joined.message}`);
      }
      await sleep(BYSTANDER_EVERY_MS);
    }
  } finally {
    client.close();
  }
  return seen;
}

async function run(options: SoakOptions): Promise<SoakReport> {
  const server = await ServerProcess.start({
    raisedLimits: false,
    extraFlags: ["--no-discovery"],
    ...(options.entry === undefined ? {} : { entry: options.entry }),
  });
  try {
    const port = server.port;
    const rss = await PeakRss.start(server);
    const stop = { stopped: false };
    const counts: AttackCounts = { created: 0, refused: {}, dropped: 0 };
    const connections = DEFAULT_SERVER_OPTIONS.maxConnectionsPerIp;
    const started = nowMs();
    const attackers: Promise<void>[] = [];
    // A few at a time: connections still logging in are capped per address.
    for (let i = 0; i < connections; i++) {
      attackers.push(attack(port, i, counts, stop));
      if (i % 5 === 4) await sleep(50);
    }
    const seen = bystander(port, stop);
    await sleep(Math.max(0, options.seconds * 1000 - (nowMs() - started)));
    stop.stopped = true;
    const [bystanderSeen] = await Promise.all([seen, ...attackers]);
    const rssPeakKiB = await rss.stop();
    const attackSeconds = (nowMs() - started) / 1000;
    // Alive: a guest from a third address still gets in and creates a room.
    const guest = await SoakClient.open(port, "127.0.0.3").catch(() => undefined);
    const welcome = await guest?.hello("latecomer").catch(() => undefined);
    const late = welcome?.type === "welcome"
      ? await guest!.request({ type: "join", room: "latecomers" })
      : undefined;
    guest?.close();
    const serverAlive = late?.type === "ack";
    const allowance = DEFAULT_SERVER_OPTIONS.maxRoomCreationsPerIp;
    const passed = serverAlive && counts.created <= allowance &&
      bystanderSeen.created === bystanderSeen.tries;
    return {
      scenario: "rooms",
      passed,
      bound: `the attacking address creates at most ${allowance} rooms (its hourly allowance); ` +
        "the bystander creates every room it tries; the server still serves a newcomer",
      figures: {
        attackSeconds: Math.round(attackSeconds),
        attackConnections: connections,
        attackerRoomsCreated: counts.created,
        attackerRefusals: Object.entries(counts.refused).map(([code, n]) => `${code} ${n}`)
          .join(", ") || "none",
        attackerDropped: counts.dropped,
        bystanderTries: bystanderSeen.tries,
        bystanderCreated: bystanderSeen.created,
        bystanderRefusal: bystanderSeen.refusals[0] ?? "none",
        rssPeakMiB: Math.round(rssPeakKiB / 1024),
        serverAlive,
      },
    };
  } finally {
    await server.stop();
  }
}

/** The `rooms` soak scenario. */
export const ROOMS_SCENARIO: SoakScenario = {
  name: "rooms",
  description: "one address creates rooms from 100 connections; a bystander still creates its own",
  run,
};
