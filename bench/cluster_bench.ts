/**
 * Cross-instance throughput and latency: senders connected to one
 * `chat serve`, receivers to another, both over one `redis-server`; and,
 * for comparison, the same load on one instance with Redis and on one
 * instance alone (the embedded store).
 *
 *   deno run -A bench/cluster_bench.ts [--receivers 50] [--senders 5]
 *     [--messages 2000] [--window 50] [--rate 500] [--seconds 5]
 *
 * Needs `redis-server` on PATH. Everything runs on loopback.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { GreetingFilter } from "../shared/greeting_filter.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { RedisServer } from "../tests/support/redis_server.ts";
import { ServerProcess } from "./server_process.ts";

// deno-lint-ignore no-explicit-any
type Frame = Record<string, any>;

/** A framed connection that counts what it receives. */
class Client {
  readonly conn: Deno.TcpConn;
  #decoder = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 - 1 });
  // A busy server may greet in plain text before it reads the hello.
  #greeting = new GreetingFilter();
  #waiters = new Map<number, (frame: Frame) => void>();
  #nextId = 1;
  onMessage: (frame: Frame) => void = () => {};
  readonly done: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#read();
  }

  static async join(port: number, nick: string, room: string): Promise<Client> {
    const client = new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
    const welcome = new Promise<Frame>((resolve) => client.#waiters.set(0, resolve));
    client.#send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      client: "bench",
      clientVersion: "0",
      nick,
    });
    const reply = await welcome;
    if (reply.type !== "welcome") throw new Error(`hello refused: ${JSON.stringify(reply)}`);
    const joined = await client.request({ type: "join", room });
    if (joined.type !== "ack") throw new Error(`join refused: ${JSON.stringify(joined)}`);
    return client;
  }

  request(body: Frame): Promise<Frame> {
    const id = this.#nextId++;
    const reply = new Promise<Frame>((resolve) => this.#waiters.set(id, resolve));
    this.#send({ ...body, id });
    return reply;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  #send(frame: Frame): void {
    this.conn.write(encodeFrame(frame)).catch(() => {});
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) return;
        for (const value of this.#decoder.push(this.#greeting.push(buffer.subarray(0, count)))) {
          const frame = value as Frame;
          if (frame.type === "message") this.onMessage(frame);
          else if (frame.type === "welcome" || (frame.type === "error" && frame.id === undefined)) {
            this.#waiters.get(0)?.(frame);
          } else if (frame.type === "ack" || frame.type === "error") {
            const waiter = this.#waiters.get(frame.id);
            this.#waiters.delete(frame.id);
            waiter?.(frame);
          }
        }
      }
    } catch {
      // Closed.
    }
  }
}

interface Figures {
  setup: string;
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  storageErrors: number;
  latencyMs: { p50: number; p99: number; max: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function measure(
  setup: string,
  senderPort: number,
  receiverPort: number,
  options: {
    receivers: number;
    senders: number;
    messages: number;
    window: number;
    rate: number;
    seconds: number;
  },
): Promise<Figures> {
  const room = `bench${Math.random().toString(36).slice(2, 8)}`;
  const receivers: Client[] = [];
  for (let i = 0; i < options.receivers; i++) {
    receivers.push(await Client.join(receiverPort, `${room}r${i}`, room));
  }
  const senders: Client[] = [];
  for (let i = 0; i < options.senders; i++) {
    senders.push(await Client.join(senderPort, `${room}s${i}`, room));
  }
  try {
    // Throughput: every sender keeps `window` says in flight.
    const total = options.senders * options.messages;
    let received = 0;
    let allReceived: () => void = () => {};
    const finished = new Promise<void>((resolve) => allReceived = resolve);
    for (const receiver of receivers) {
      receiver.onMessage = () => {
        if (++received === total * receivers.length) allReceived();
      };
    }
    let storageErrors = 0;
    const started = performance.now();
    await Promise.all(senders.map(async (sender) => {
      let sent = 0;
      const lane = async () => {
        while (sent < options.messages) {
          sent++;
          const reply = await sender.request({ type: "say", room, body: "x".repeat(64) });
          if (reply.type !== "ack") storageErrors++;
        }
      };
      await Promise.all(Array.from({ length: options.window }, lane));
    }));
    const deadline = setTimeout(() => allReceived(), 30_000);
    await finished;
    clearTimeout(deadline);
    const seconds = (performance.now() - started) / 1000;

    // Latency: one sender at a steady rate, send time in the body.
    const latencies: number[] = [];
    const probe = receivers[0]!;
    probe.onMessage = (frame) => {
      const sentAt = Number(String(frame.body).split(" ")[0]);
      if (Number.isFinite(sentAt)) latencies.push(performance.now() - sentAt);
    };
    for (const receiver of receivers.slice(1)) receiver.onMessage = () => {};
    const count = options.rate * options.seconds;
    const interval = 1000 / options.rate;
    const begin = performance.now();
    const pending: Promise<Frame>[] = [];
    for (let i = 0; i < count; i++) {
      const due = begin + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(
        senders[0]!.request({ type: "say", room, body: `${performance.now()} latency` }),
      );
    }
    await Promise.all(pending);
    await new Promise((resolve) => setTimeout(resolve, 200));
    latencies.sort((a, b) => a - b);
    return {
      setup,
      deliveriesPerSecond: Math.round(received / seconds),
      messagesPerSecond: Math.round(total / seconds),
      storageErrors,
      latencyMs: {
        p50: round(percentile(latencies, 0.5)),
        p99: round(percentile(latencies, 0.99)),
        max: round(latencies[latencies.length - 1] ?? NaN),
      },
    };
  } finally {
    for (const client of [...receivers, ...senders]) client.close();
    await Promise.all([...receivers, ...senders].map((client) => client.done));
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      receivers: { type: "string", default: "50" },
      senders: { type: "string", default: "5" },
      messages: { type: "string", default: "2000" },
      window: { type: "string", default: "50" },
      rate: { type: "string", default: "500" },
      seconds: { type: "string", default: "5" },
    },
  });
  const options = {
    receivers: Number(values.receivers),
    senders: Number(values.senders),
    messages: Number(values.messages),
    window: Number(values.window),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
  };
  const results: Figures[] = [];
  const quiet = ["--no-discovery"];
  {
    const alone = await ServerProcess.start({ extraFlags: quiet });
    try {
      results.push(await measure("one instance, embedded store", alone.port, alone.port, options));
    } finally {
      await alone.stop();
    }
  }
  await using redis = await RedisServer.start();
  const shared = [...quiet, "--redis", redis.url];
  const a = await ServerProcess.start({ extraFlags: shared, tempData: false });
  const b = await ServerProcess.start({ extraFlags: shared, tempData: false });
  try {
    results.push(await measure("one instance over Redis", a.port, a.port, options));
    results.push(
      await measure(
        "two instances over Redis: senders on A, receivers on B",
        a.port,
        b.port,
        options,
      ),
    );
  } finally {
    await a.stop();
    await b.stop();
  }
  console.log(JSON.stringify({ options, results }, null, 2));
}

if (import.meta.main) await main();
