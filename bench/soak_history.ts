/**
 * The history soak: guests page through a room of long messages as fast as
 * the rate limit lets them, each asking for the largest page, while a
 * bystander chats in another room. Before history reads were bounded in
 * bytes (in the store) and in number (per connection and per server), this
 * grew the server's heap by gigabytes until it died.
 *
 * @module
 */
import { encodeFrame } from "../shared/frame.ts";
import { MAX_HISTORY_PAGE } from "../shared/protocol.ts";
import { BenchClient } from "./bench_client.ts";
import { nowMs, sleep } from "./clock.ts";
import { type HeapUsage, InspectorSession } from "./inspector_session.ts";
import { cpuSeconds } from "./proc_stats.ts";
import type { ScannerOptions } from "./sampler.ts";
import { ServerProcess } from "./server_process.ts";
import type { SoakOptions, SoakReport, SoakScenario } from "./soak_scenario.ts";
import type { BystanderOpen, BystanderStopped } from "./soak_bystander_worker.ts";
import { WorkerHandle } from "./worker_handle.ts";

/** What the attack is made of; the defaults are the attack of issue 12. */
export interface HistorySoakOptions extends SoakOptions {
  /** Attacking connections, all from 127.0.0.1 (the default per-address cap is 100). */
  attackers?: number;
  /** `history` requests per second per attacker (the default rate limit is 10). */
  requestsPerSecond?: number;
  /** Messages in the room the attackers page through. */
  messages?: number;
  /** Code points per message: 4-byte characters, so 4000 make 16,000 bytes. */
  bodyLength?: number;
  /** The bystander's messages per second. */
  bystanderPerSecond?: number;
}

/** Peak RSS the server may reach, in MiB: "the low hundreds". */
export const RSS_BOUND_MIB = 300;
/** Slowest the bystander's own message may come back at the 99th percentile, in ms. */
export const BYSTANDER_P99_BOUND_MS = 1000;

const ROOM = "archive";
const BYSTANDER_ROOM = "lounge";
// A 4-byte character: 4000 of them are the longest body the defaults allow, 16,000 bytes.
const WIDE = "\u{1F600}";

/** Opens `count` framed guests in `room`, a few at a time, retrying refused connections. */
async function openClients(
  port: number,
  count: number,
  options: { prefix: string; room: string; scanner?: ScannerOptions },
): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
      for (let attempt = 0;; attempt++) {
        try {
          return await BenchClient.connect({
            port,
            mode: "framed",
            nick: `${options.prefix}${i + j}`,
            room: options.room,
            ...options.scanner,
          });
        } catch (error) {
          // Slots of connections just closed free up a moment later.
          if (attempt >= 50) throw error;
          await sleep(100);
        }
      }
    });
    clients.push(...await Promise.all(batch));
  }
  return clients;
}

/** Fills the room with `messages` bodies of `bodyLength` 4-byte characters, within the rate limit. */
async function fillRoom(port: number, messages: number, bodyLength: number): Promise<void> {
  // hello and join take two of the 20 tokens of a connection's burst.
  const perFiller = 15;
  const body = WIDE.repeat(bodyLength);
  // One filler at a time: fillers in the room together would each receive
  // everything the others say and be dropped as slow consumers.
  for (let done = 0, index = 0; done < messages; index++) {
    const says = Math.min(perFiller, messages - done);
    const [filler] = await openClients(port, 1, { prefix: `filler${index}-`, room: ROOM });
    try {
      for (let id = 1; id <= says; id++) {
        await filler!.write(encodeFrame({ type: "say", id, room: ROOM, body }));
      }
      await filler!.waitFor(() => filler!.scanner.replies >= 1 + says, 60_000);
      if (filler!.scanner.errors > 0) throw new Error(`${filler!.nick}: a say was refused`);
    } finally {
      filler!.close();
      await filler!.ended;
    }
    done += says;
  }
}

/** Samples the server's RSS and heap until `stop` resolves. */
function watchMemory(
  server: ServerProcess,
  inspector: InspectorSession | undefined,
  stop: Promise<void>,
): Promise<{ rssPeakKiB: number; heapPeakBytes: number | undefined }> {
  let rssPeakKiB = 0;
  let heapPeakBytes: number | undefined;
  let stopped = false;
  stop.then(() => stopped = true);
  const rss = (async () => {
    while (!stopped && !server.exited) {
      try {
        rssPeakKiB = Math.max(rssPeakKiB, await server.rssKiB());
      } catch {
        // The process is gone.
      }
      await sleep(250);
    }
  })();
  const heap = (async () => {
    if (inspector === undefined) return;
    while (!stopped && !server.exited) {
      let usage: HeapUsage | undefined;
      try {
        usage = await inspector.heapUsage({ timeoutMs: 5_000 });
      } catch {
        // A busy or dead server does not answer in time: no reading.
      }
      if (usage !== undefined) heapPeakBytes = Math.max(heapPeakBytes ?? 0, usage.usedSize);
      await sleep(500);
    }
  })();
  return Promise.all([rss, heap]).then(() => ({ rssPeakKiB, heapPeakBytes }));
}

/**
 * Runs the attack for `options.seconds` against a fresh `chat serve` at its
 * default limits and reports memory, the bystander's latency and whether
 * the server stayed up.
 */
export async function runHistorySoak(options: HistorySoakOptions): Promise<SoakReport> {
  const attackers = options.attackers ?? 99;
  const perSecond = options.requestsPerSecond ?? 9;
  const messages = options.messages ?? 600;
  const bodyLength = options.bodyLength ?? 4000;
  await using server = await ServerProcess.start({
    raisedLimits: false,
    denoFlags: ["--inspect=127.0.0.1:0"],
  });
  let inspector: InspectorSession | undefined;
  if (server.inspectorUrl !== undefined) {
    inspector = await InspectorSession.connect(server.inspectorUrl).catch(() => undefined);
  }
  const bystander = new WorkerHandle(new URL("./soak_bystander_worker.ts", import.meta.url));
  const clients: BenchClient[] = [];
  let attacking = true;
  let attacks: Promise<void>[] = [];
  try {
    await fillRoom(server.port, messages, bodyLength);
    const open: BystanderOpen = {
      type: "open",
      port: server.port,
      nick: "bystander",
      room: BYSTANDER_ROOM,
      perSecond: options.bystanderPerSecond ?? 5,
    };
    await bystander.ask({ ...open });
    const stop = Promise.withResolvers<void>();
    const memory = watchMemory(server, inspector, stop.promise);
    const cpuBefore = { server: await server.cpuSeconds(), load: await cpuSeconds(Deno.pid) };
    const history = encodeFrame({ type: "history", id: 1, room: ROOM, limit: MAX_HISTORY_PAGE });
    const tally = { requests: 0, acks: 0, errors: 0, dropped: 0 };
    const intervalMs = 1000 / perSecond;
    // An attacker the server drops (a slow consumer) connects again, as a real one would.
    const attack = async (index: number) => {
      // Spread over the interval so the server sees a steady stream.
      await sleep((index * intervalMs) / attackers);
      for (let generation = 0; attacking && !server.exited; generation++) {
        let client: BenchClient;
        try {
          [client] = await openClients(server.port, 1, {
            prefix: `attacker${index}-${generation}-`,
            room: ROOM,
          }) as [BenchClient];
        } catch {
          await sleep(100);
          continue;
        }
        clients.push(client);
        const timer = setInterval(() => {
          if (!attacking || client.closed) return;
          tally.requests++;
          client.write(history).catch(() => {});
        }, intervalMs);
        await client.ended;
        clearInterval(timer);
        // The join's ack is not a history reply.
        tally.acks += client.scanner.replies - 1 - client.scanner.errors;
        tally.errors += client.scanner.errors;
        if (attacking) tally.dropped++;
      }
    };
    attacks = Array.from({ length: attackers }, (_, index) => attack(index));
    const started = nowMs();
    while (nowMs() - started < options.seconds * 1000 && !server.exited) await sleep(250);
    const ranSeconds = (nowMs() - started) / 1000;
    const up = !server.exited;
    const cpu = {
      server: up ? await server.cpuSeconds() - cpuBefore.server : NaN,
      load: await cpuSeconds(Deno.pid) - cpuBefore.load,
    };
    attacking = false;
    // What was sent in the last moments may still come back.
    if (up) await sleep(1000);
    stop.resolve();
    const seen = await bystander.ask({ type: "stop" }) as unknown as BystanderStopped;
    for (const client of clients) client.close();
    await Promise.all(attacks);
    const { rssPeakKiB, heapPeakBytes } = await memory;
    const { latency } = seen;
    const rssPeakMiB = Math.round(rssPeakKiB / 1024);
    const passed = up && rssPeakMiB <= RSS_BOUND_MIB && !seen.dropped &&
      seen.echoed >= seen.said * 0.95 && latency.p99 <= BYSTANDER_P99_BOUND_MS;
    const percent = (seconds: number) => Math.round((seconds / ranSeconds) * 100);
    const figures: SoakReport["figures"] = {
      serverUp: up,
      ranSeconds: Math.round(ranSeconds),
      rssPeakMiB,
      heapPeakMiB: heapPeakBytes === undefined ? "unread" : Math.round(heapPeakBytes / 2 ** 20),
      serverCpuPercent: percent(cpu.server),
      loadGeneratorCpuPercent: percent(cpu.load),
      historyRequests: tally.requests,
      historyAcks: tally.acks,
      historyErrors: tally.errors,
      attackersDropped: tally.dropped,
      bystanderSaid: seen.said,
      bystanderEchoed: seen.echoed,
      bystanderP50Ms: Number(latency.p50.toFixed(1)),
      bystanderP99Ms: Number(latency.p99.toFixed(1)),
      bystanderMaxMs: Number(latency.max.toFixed(1)),
    };
    return {
      scenario: "history",
      passed,
      figures,
      bound: `server up, RSS peak <= ${RSS_BOUND_MIB} MiB, the bystander's messages all ` +
        `echoed with p99 <= ${BYSTANDER_P99_BOUND_MS} ms`,
    };
  } finally {
    attacking = false;
    for (const client of clients) client.close();
    await Promise.all(attacks);
    bystander.terminate();
    inspector?.close();
  }
}

/** The history soak, for {@linkcode SOAK_SCENARIOS}. */
export const HISTORY_SOAK: SoakScenario = {
  name: "history",
  description: "99 guests send history limit 500 nine times a second each at a room of 600 " +
    "16 KB messages; a bystander chats in another room (bound: RSS in the low hundreds of MiB, " +
    "bystander served)",
  run: (options) => runHistorySoak(options),
};
