/**
 * Scenario "latency" (open loop): messages go into one room of R receivers
 * at a fixed aggregate rate, on a schedule that does not wait for the
 * server. Each message carries its *scheduled* send time, and latency is
 * measured from that, so a stalled server or sender shows up in the figures
 * instead of silently slowing the load (no coordinated omission).
 *
 * @module
 */
import type { Mode } from "./bench_client.ts";
import { nowMs, sleep } from "./clock.ts";
import { cpuSeconds, machineBusySeconds } from "./proc_stats.ts";
import { ReceiverGroup } from "./receiver_group.ts";
import type { OpenLoopDone } from "./open_loop_worker.ts";
import type { PhaseHooks } from "./phase_hooks.ts";
import type { ServerProcess } from "./server_process.ts";
import { type LatencySummary, summarizeLatency } from "./stats.ts";
import { WorkerHandle } from "./worker_handle.ts";

/** Parameters of one latency run. */
export interface LatencyParams {
  mode: Mode;
  receivers: number;
  senders: number;
  /** Messages per second, all senders together. */
  rate: number;
  /** Measured duration in seconds. */
  duration: number;
  /** Seconds at the same rate before the measured part (not sampled). */
  warmup: number;
  /** Body size in bytes. */
  bytes: number;
  /** Workers the receivers are spread over (0: the main thread). */
  workers: number;
  /** Most latency samples kept. */
  maxSamples: number;
  /** Time allowed after the last send for deliveries to arrive, in ms. */
  drainMs: number;
}

/** What one latency run measured. */
export interface LatencyResult {
  /** Latency from scheduled send time to receipt, measured part only. */
  latencyMs: LatencySummary;
  /** Messages sent per second, as achieved. */
  achievedRate: number;
  messagesSent: number;
  expectedDeliveries: number;
  receivedDeliveries: number;
  /** Expected minus received deliveries; must be 0. */
  lost: number;
  /** Deliveries per second over the whole schedule. */
  deliveriesPerSecond: number;
  /** How late messages left the generator after their scheduled time, in ms. */
  sendLagMs: OpenLoopDone["sendLagMs"];
  serverCpuSeconds: number;
  serverCpuMicrosPerDelivery: number;
  /** Mean server CPU use over the run, in cores (1 = one core busy). */
  serverCpuCores: number;
  generatorCpuSeconds: number;
  /**
   * CPU seconds the rest of the machine used meanwhile (other processes and
   * kernel work not charged to either); more than a little means the figures
   * are disturbed.
   */
  otherCpuSeconds: number;
  /** The same in cores (1 = one CPU kept busy by others throughout). */
  otherCores: number;
  /** Interrupt and softirq time, in cores: mostly the loopback TCP work of this very load. */
  kernelIrqCores: number;
  /** Messages per read, averaged over the receivers' reads: how much the server batched. */
  deliveriesPerRead: number;
  receiversDropped: number;
  errors: number;
}

const ROOM = "bench";

/** Runs the scenario once against `server`. */
export async function runLatency(
  server: ServerProcess,
  params: LatencyParams,
  hooks: PhaseHooks = {},
): Promise<LatencyResult> {
  const warmupMessages = Math.round(params.rate * params.warmup);
  const total = warmupMessages + Math.round(params.rate * params.duration);
  const measured = total - warmupMessages;
  const receivers = await ReceiverGroup.open({
    port: server.port,
    mode: params.mode,
    room: ROOM,
    receivers: params.receivers,
    workers: params.workers,
    expectedMessages: total,
    sampleEvery: Math.max(1, Math.ceil((measured * params.receivers) / params.maxSamples)),
    skipSamples: warmupMessages,
    maxSamples: params.maxSamples,
    connectConcurrency: 32,
  });
  const senders = new WorkerHandle(new URL("./open_loop_worker.ts", import.meta.url));
  try {
    await senders.ask({
      type: "open",
      port: server.port,
      mode: params.mode,
      room: ROOM,
      senders: params.senders,
    });
    await sleep(300);
    await hooks.started?.();
    const cpuBefore = await server.cpuSeconds();
    const ownCpuBefore = await cpuSeconds(Deno.pid);
    const machineBefore = await machineBusySeconds();
    const machineFrom = nowMs();
    const start = nowMs() + 20;
    const done = await senders.ask(
      { type: "run", start, rate: params.rate, total, bytes: params.bytes },
      (params.warmup + params.duration) * 1000 + 60_000,
    ) as unknown as OpenLoopDone;
    const expected = total * params.receivers;
    const deadline = nowMs() + params.drainMs;
    while (receivers.messages < expected && nowMs() < deadline) await sleep(5);
    const cpuAfter = await server.cpuSeconds();
    const ownCpuAfter = await cpuSeconds(Deno.pid);
    const machineAfter = await machineBusySeconds();
    const machineSeconds = (nowMs() - machineFrom) / 1000;
    await hooks.stopped?.();
    const end = Math.max(done.finishedAt, receivers.lastMessageAt);

    const result = await receivers.result();
    const received = receivers.messages;
    const serverCpuSeconds = cpuAfter - cpuBefore;
    const ownCpu = ownCpuAfter - ownCpuBefore;
    const otherCpu = Math.max(
      0,
      machineAfter.tasks - machineBefore.tasks - serverCpuSeconds - ownCpu,
    );
    return {
      latencyMs: summarizeLatency(result.samples),
      achievedRate: total / ((done.finishedAt - start) / 1000),
      messagesSent: total,
      expectedDeliveries: expected,
      receivedDeliveries: received,
      lost: expected - received,
      deliveriesPerSecond: received / ((end - start) / 1000),
      sendLagMs: done.sendLagMs,
      serverCpuSeconds,
      serverCpuMicrosPerDelivery: (serverCpuSeconds * 1e6) / Math.max(1, received),
      serverCpuCores: serverCpuSeconds / ((end - start) / 1000),
      generatorCpuSeconds: ownCpu,
      otherCpuSeconds: otherCpu,
      otherCores: otherCpu / machineSeconds,
      kernelIrqCores: (machineAfter.irq - machineBefore.irq) / machineSeconds,
      deliveriesPerRead: received / Math.max(1, result.reads),
      receiversDropped: receivers.closed,
      errors: receivers.errors + receivers.byes,
    };
  } finally {
    await senders.ask({ type: "close" }, 10_000).catch(() => {});
    senders.terminate();
    await receivers.close();
  }
}
