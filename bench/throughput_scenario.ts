/**
 * Scenario "throughput" (closed loop): S senders each send M messages of B
 * bytes into one room of R receivers as fast as the server takes them,
 * pipelined within bounded windows; measures deliveries per second from
 * the first send to the last delivery, losses, latency and server CPU.
 *
 * @module
 */
import type { Mode } from "./bench_client.ts";
import { nowMs, sleep } from "./clock.ts";
import { cpuSeconds, machineBusySeconds } from "./proc_stats.ts";
import { ReceiverGroup } from "./receiver_group.ts";
import { closeSenders, openSenders, type Sender } from "./sender_group.ts";
import type { PhaseHooks } from "./phase_hooks.ts";
import type { ServerProcess } from "./server_process.ts";
import { type LatencySummary, summarizeLatency } from "./stats.ts";

/** Parameters of one throughput run. */
export interface ThroughputParams {
  mode: Mode;
  receivers: number;
  senders: number;
  /** Messages per sender. */
  messages: number;
  /** Body size in bytes. */
  bytes: number;
  /** Most unanswered requests per sender (framed: unacked; text: see docs). */
  ackWindow: number;
  /**
   * Most messages in flight end to end: sent but not yet received, averaged
   * over receivers; keeps the server's per-client queues under their bound
   * when the generator reads slower than the server writes. 0: no bound.
   */
  deliveryWindow: number;
  /** Messages per sender sent (and delivered) before the timed phase. */
  warmup: number;
  /** Messages per write. */
  batch: number;
  /** Workers the receivers are spread over (0: the main thread). */
  workers: number;
  /** Most latency samples kept. */
  maxSamples: number;
  /** Time allowed without any delivery before the run is called off, in ms. */
  stallMs: number;
}

/** What one throughput run measured. */
export interface ThroughputResult {
  /** Messages × receivers / seconds from first send to last delivery. */
  deliveriesPerSecond: number;
  seconds: number;
  expectedDeliveries: number;
  receivedDeliveries: number;
  /** Expected minus received deliveries; must be 0. */
  lost: number;
  latencyMs: LatencySummary;
  /** Server user+system CPU seconds during the timed phase. */
  serverCpuSeconds: number;
  /** Server CPU microseconds per delivery. */
  serverCpuMicrosPerDelivery: number;
  /** Receivers whose connection the server closed during the run. */
  receiversDropped: number;
  /** Error replies and closing notices received. */
  errors: number;
  /** The load generator's own CPU seconds (all its threads) during the timed phase. */
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
  /** Reads the receivers made (warm-up included), mean bytes and messages per read. */
  receiverReads: number;
  bytesPerRead: number;
  deliveriesPerRead: number;
  /** Setup time (connect, hello, join), in seconds; not timed. */
  setupSeconds: number;
}

const ROOM = "bench";

/** Runs the scenario once against `server`. */
export async function runThroughput(
  server: ServerProcess,
  params: ThroughputParams,
  hooks: PhaseHooks = {},
): Promise<ThroughputResult> {
  const total = params.senders * params.messages;
  const expected = total * params.receivers;
  const setupStart = nowMs();
  const receivers = await ReceiverGroup.open({
    port: server.port,
    mode: params.mode,
    room: ROOM,
    receivers: params.receivers,
    workers: params.workers,
    expectedMessages: params.senders * (params.warmup + params.messages),
    sampleEvery: Math.max(1, Math.ceil(expected / params.maxSamples)),
    skipSamples: params.senders * params.warmup,
    maxSamples: params.maxSamples,
    connectConcurrency: 32,
  });
  let senders: Sender[] = [];
  try {
    senders = await openSenders(server.port, params.mode, ROOM, params.senders);
    // Let the join notices of the setup drain before timing.
    await sleep(300);
    const setupSeconds = (nowMs() - setupStart) / 1000;

    // Warm-up: the same load, untimed, so both sides run optimized code.
    const flow = new FlowControl(senders, receivers, params);
    const warmupDeliveries = params.senders * params.warmup * params.receivers;
    if (params.warmup > 0) {
      await Promise.all(senders.map((sender) => flow.send(sender, params.warmup)));
      await waitForDeliveries(receivers, warmupDeliveries, params.stallMs);
    }

    await hooks.started?.();
    const cpuBefore = await server.cpuSeconds();
    const ownCpuBefore = await cpuSeconds(Deno.pid);
    const machineBefore = await machineBusySeconds();
    const machineFrom = nowMs();
    const start = nowMs();
    const sending = Promise.all(
      senders.map((sender) => flow.send(sender, params.warmup + params.messages)),
    );
    sending.catch(() => {});
    await waitForDeliveries(receivers, warmupDeliveries + expected, params.stallMs);
    const end = receivers.lastMessageAt;
    const cpuAfter = await server.cpuSeconds();
    const ownCpuAfter = await cpuSeconds(Deno.pid);
    const machineAfter = await machineBusySeconds();
    const machineSeconds = (nowMs() - machineFrom) / 1000;
    await hooks.stopped?.();
    await sending;

    const result = await receivers.result();
    const received = receivers.messages - warmupDeliveries;
    const seconds = (end - start) / 1000;
    const serverCpuSeconds = cpuAfter - cpuBefore;
    const ownCpu = ownCpuAfter - ownCpuBefore;
    const otherCpu = Math.max(
      0,
      machineAfter.tasks - machineBefore.tasks - serverCpuSeconds - ownCpu,
    );
    return {
      deliveriesPerSecond: received / seconds,
      seconds,
      expectedDeliveries: expected,
      receivedDeliveries: received,
      lost: expected - received,
      latencyMs: summarizeLatency(result.samples),
      serverCpuSeconds,
      serverCpuMicrosPerDelivery: (serverCpuSeconds * 1e6) / Math.max(1, received),
      receiversDropped: receivers.closed,
      errors: receivers.errors + receivers.byes,
      generatorCpuSeconds: ownCpu,
      otherCpuSeconds: otherCpu,
      otherCores: otherCpu / machineSeconds,
      kernelIrqCores: (machineAfter.irq - machineBefore.irq) / machineSeconds,
      receiverReads: result.reads,
      bytesPerRead: result.bytes / Math.max(1, result.reads),
      deliveriesPerRead: receivers.messages / Math.max(1, result.reads),
      setupSeconds,
    };
  } finally {
    await closeSenders(senders);
    await receivers.close();
  }
}

/** Sends from each sender as fast as the windows allow. */
class FlowControl {
  readonly #senders: readonly Sender[];
  readonly #receivers: ReceiverGroup;
  readonly #params: ThroughputParams;
  #sentTotal = 0;

  constructor(senders: readonly Sender[], receivers: ReceiverGroup, params: ThroughputParams) {
    this.#senders = senders;
    this.#receivers = receivers;
    this.#params = params;
  }

  // Requests of `sender` the server has not answered yet.
  #unanswered(sender: Sender): number {
    if (sender.client.mode === "framed") return sender.sent - sender.replies;
    // Text mode has no acks; a sender is in the room, so how much of
    // everyone's messages it has received tells how far behind the server is.
    return (this.#sentTotal - sender.received) / this.#senders.length;
  }

  #blocked(sender: Sender): boolean {
    const params = this.#params;
    if (this.#unanswered(sender) >= params.ackWindow) return true;
    const bound = params.deliveryWindow * params.receivers;
    return bound > 0 && this.#sentTotal * params.receivers - this.#receivers.messages > bound;
  }

  /** Sends from `sender` until it has sent `upTo` messages in all, all flushed. */
  async send(sender: Sender, upTo: number): Promise<void> {
    const params = this.#params;
    while (sender.sent < upTo) {
      if (this.#blocked(sender)) {
        await sender.nextChunk(1);
        continue;
      }
      const room = Math.max(1, Math.floor(params.ackWindow - this.#unanswered(sender)));
      const count = Math.min(params.batch, upTo - sender.sent, room);
      sender.send(new Array<number>(count).fill(nowMs()), params.bytes);
      this.#sentTotal += count;
      // Let reads run between batches.
      await sender.nextChunk(0);
    }
    await sender.flushed();
  }
}

/**
 * Waits until the receivers together have `total` messages, or no message
 * has arrived for `stallMs`.
 */
async function waitForDeliveries(
  receivers: ReceiverGroup,
  total: number,
  stallMs: number,
): Promise<void> {
  let last = -1;
  let lastProgressAt = nowMs();
  while (receivers.messages < total) {
    await sleep(2);
    const messages = receivers.messages;
    if (messages !== last) {
      last = messages;
      lastProgressAt = nowMs();
    } else if (nowMs() - lastProgressAt > stallMs) {
      return;
    }
  }
}
