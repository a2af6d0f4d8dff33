/**
 * A pool of receivers in one thread: they join the bench room and count
 * what they receive; a sample of message bodies gives latency.
 *
 * @module
 */
import { BenchClient, type Mode } from "./bench_client.ts";
import { PoolCounters } from "./pool_counters.ts";
import { SampleBuffer } from "./stats.ts";

/** What a receiver pool is asked to do; plain data, so it can go to a Worker. */
export interface ReceiverPoolConfig {
  port: number;
  mode: Mode;
  room: string;
  /** Index of the first receiver (nicknames are `r<index>`). */
  firstIndex: number;
  /** Receivers in this pool. */
  count: number;
  /** Messages each receiver expects; it is done when it has them all. */
  expectedMessages: number;
  /** Each receiver reads the send time of every `sampleEvery`-th message. */
  sampleEvery: number;
  /** Messages each receiver does not sample at first (a warm-up). */
  skipSamples: number;
  /** Most latency samples kept by the pool. */
  maxSamples: number;
  /** Connections opened at once while setting up. */
  connectConcurrency: number;
  /** The shared counters this pool updates. */
  counters: SharedArrayBuffer;
}

/** What a pool reports once the run is over. */
export interface ReceiverPoolResult {
  samples: Float64Array;
  droppedSamples: number;
  /** Fewest and most messages any receiver got. */
  minMessages: number;
  maxMessages: number;
  /** Reads and bytes read by all receivers. */
  reads: number;
  bytes: number;
}

// What the pool has counted of one receiver so far.
interface Seen {
  messages: number;
  errors: number;
  byes: number;
  closed: boolean;
}

/** Receivers sharing one thread. */
export class ReceiverPool {
  readonly counters: PoolCounters;
  readonly #config: ReceiverPoolConfig;
  readonly #clients: BenchClient[] = [];
  readonly #samples: SampleBuffer;
  #messages = 0;
  #errors = 0;
  #byes = 0;
  #closed = 0;

  private constructor(config: ReceiverPoolConfig) {
    this.#config = config;
    this.counters = new PoolCounters(config.counters);
    this.#samples = new SampleBuffer(config.maxSamples);
  }

  /** Connects every receiver of the pool and joins them to the room. */
  static async open(config: ReceiverPoolConfig): Promise<ReceiverPool> {
    const pool = new ReceiverPool(config);
    try {
      let next = 0;
      const worker = async () => {
        while (next < config.count) {
          const index = config.firstIndex + next++;
          const seen: Seen = { messages: 0, errors: 0, byes: 0, closed: false };
          pool.#clients.push(
            await BenchClient.connect({
              port: config.port,
              mode: config.mode,
              nick: `r${index}`,
              room: config.room,
              sampleEvery: config.sampleEvery,
              samplePhase: index,
              skipSamples: config.skipSamples,
              onSample: (latency) => pool.#samples.add(latency),
              onChunk: (client) => pool.#progress(client, seen),
            }),
          );
        }
      };
      await Promise.all(
        Array.from({ length: Math.min(config.connectConcurrency, config.count) }, worker),
      );
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  #progress(client: BenchClient, seen: Seen): void {
    const scanner = client.scanner;
    const counters = this.counters;
    const before = seen.messages;
    const now = scanner.messages;
    if (now !== before) {
      seen.messages = now;
      this.#messages += now - before;
      counters.messages = this.#messages;
      counters.lastMessageAt = client.lastReadAt;
      const expected = this.#config.expectedMessages;
      if (before < expected && now >= expected) {
        const done = counters.done + 1;
        counters.done = done;
        if (done === this.#config.count) counters.doneAt = counters.lastMessageAt;
      }
    }
    if (scanner.errors !== seen.errors) {
      counters.errors = this.#errors += scanner.errors - seen.errors;
      seen.errors = scanner.errors;
    }
    if (scanner.byes !== seen.byes) {
      counters.byes = this.#byes += scanner.byes - seen.byes;
      seen.byes = scanner.byes;
    }
    if (client.closed && !seen.closed) {
      seen.closed = true;
      counters.closed = ++this.#closed;
    }
  }

  /** Latency samples and per-receiver extremes so far. */
  result(): ReceiverPoolResult {
    let min = Infinity;
    let max = 0;
    let reads = 0;
    let bytes = 0;
    for (const client of this.#clients) {
      min = Math.min(min, client.scanner.messages);
      max = Math.max(max, client.scanner.messages);
      reads += client.reads;
      bytes += client.bytes;
    }
    return {
      samples: this.#samples.toArray(),
      droppedSamples: this.#samples.dropped,
      minMessages: this.#clients.length === 0 ? 0 : min,
      maxMessages: max,
      reads,
      bytes,
    };
  }

  /** Closes every connection and waits for the readers to end. */
  async close(): Promise<void> {
    for (const client of this.#clients) client.close();
    await Promise.allSettled(this.#clients.map((client) => client.ended));
  }
}
