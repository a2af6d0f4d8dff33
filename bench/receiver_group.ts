/**
 * All receivers of a scenario, either in the bench's main thread or spread
 * over Workers (one receiver pool per Worker), behind one interface.
 *
 * @module
 */
import { PoolCounters } from "./pool_counters.ts";
import { ReceiverPool, type ReceiverPoolConfig, type ReceiverPoolResult } from "./receiver_pool.ts";
import { concatSamples } from "./stats.ts";
import { WorkerHandle } from "./worker_handle.ts";

/** A group's settings: a pool's, for all receivers, plus where they run. */
export type ReceiverGroupConfig = Omit<ReceiverPoolConfig, "counters" | "firstIndex" | "count"> & {
  /** Receivers in all. */
  receivers: number;
  /** Workers to spread them over; 0 runs them in the main thread. */
  workers: number;
};

interface Part {
  counters: PoolCounters;
  result(): Promise<ReceiverPoolResult>;
  close(): Promise<void>;
}

/** Every receiver of a run. */
export class ReceiverGroup {
  readonly #parts: Part[];

  private constructor(parts: Part[]) {
    this.#parts = parts;
  }

  /** Opens the receivers, all connected and in the room when this resolves. */
  static async open(config: ReceiverGroupConfig): Promise<ReceiverGroup> {
    const { receivers, workers, ...shared } = config;
    const partCount = Math.max(1, Math.min(workers, receivers));
    const configs: ReceiverPoolConfig[] = [];
    let first = 0;
    for (let i = 0; i < partCount; i++) {
      const count = Math.floor(receivers / partCount) + (i < receivers % partCount ? 1 : 0);
      configs.push({
        ...shared,
        firstIndex: first,
        count,
        maxSamples: Math.ceil(config.maxSamples / partCount),
        counters: new SharedArrayBuffer(new PoolCounters().buffer.byteLength),
      });
      first += count;
    }
    const opened = await Promise.allSettled(
      configs.map((poolConfig) => workers === 0 ? openLocal(poolConfig) : openWorker(poolConfig)),
    );
    const parts = opened.flatMap((outcome) =>
      outcome.status === "fulfilled" ? [outcome.value] : []
    );
    const failure = opened.find((outcome) => outcome.status === "rejected");
    if (failure) {
      await Promise.allSettled(parts.map((part) => part.close()));
      throw (failure as PromiseRejectedResult).reason;
    }
    return new ReceiverGroup(parts);
  }

  #sum(pick: (counters: PoolCounters) => number): number {
    let total = 0;
    for (const part of this.#parts) total += pick(part.counters);
    return total;
  }

  /** Messages received, all receivers together. */
  get messages(): number {
    return this.#sum((c) => c.messages);
  }

  /** Receivers that have every expected message. */
  get done(): number {
    return this.#sum((c) => c.done);
  }

  /** Receivers whose connection ended. */
  get closed(): number {
    return this.#sum((c) => c.closed);
  }

  /** Error replies received. */
  get errors(): number {
    return this.#sum((c) => c.errors);
  }

  /** Closing notices received. */
  get byes(): number {
    return this.#sum((c) => c.byes);
  }

  /** When the last message arrived at any receiver (ms). */
  get lastMessageAt(): number {
    return Math.max(...this.#parts.map((part) => part.counters.lastMessageAt));
  }

  /** Latency samples of all receivers and the fewest/most messages any got. */
  async result(): Promise<ReceiverPoolResult> {
    const results = await Promise.all(this.#parts.map((part) => part.result()));
    return {
      samples: concatSamples(results.map((result) => result.samples)),
      droppedSamples: results.reduce((sum, result) => sum + result.droppedSamples, 0),
      minMessages: Math.min(...results.map((result) => result.minMessages)),
      maxMessages: Math.max(...results.map((result) => result.maxMessages)),
      reads: results.reduce((sum, result) => sum + result.reads, 0),
      bytes: results.reduce((sum, result) => sum + result.bytes, 0),
    };
  }

  /** Closes every receiver (and Worker). */
  async close(): Promise<void> {
    await Promise.allSettled(this.#parts.map((part) => part.close()));
  }
}

async function openLocal(config: ReceiverPoolConfig): Promise<Part> {
  const pool = await ReceiverPool.open(config);
  return {
    counters: pool.counters,
    result: () => Promise.resolve(pool.result()),
    close: () => pool.close(),
  };
}

async function openWorker(config: ReceiverPoolConfig): Promise<Part> {
  const worker = new WorkerHandle(new URL("./receiver_worker.ts", import.meta.url));
  try {
    await worker.ask({ type: "open", config });
  } catch (error) {
    worker.terminate();
    throw error;
  }
  return {
    counters: new PoolCounters(config.counters),
    result: async () => (await worker.ask({ type: "result" })).result as ReceiverPoolResult,
    close: async () => {
      await worker.ask({ type: "close" }, 10_000).catch(() => {});
      worker.terminate();
    },
  };
}
