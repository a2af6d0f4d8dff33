/**
 * Worker entry for a soak's bystander: a guest that chats in a room of its
 * own at a steady rate and times each of its messages from sending to
 * receiving it back. A thread of its own keeps the attack's load generator
 * from delaying its clock readings.
 *
 * Messages in: `open`, `stop`. Messages out: `ready`, `stopped`, `failed`.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { encodeFrame } from "../shared/frame.ts";
import { BenchClient } from "./bench_client.ts";
import { nowMs } from "./clock.ts";
import { makeBody } from "./message_body.ts";
import { type LatencySummary, summarizeLatency } from "./stats.ts";

/** How the bystander connects and how often it speaks. */
export interface BystanderOpen {
  type: "open";
  port: number;
  nick: string;
  room: string;
  perSecond: number;
}

/** What the bystander measured. */
export interface BystanderStopped {
  type: "stopped";
  said: number;
  echoed: number;
  latency: LatencySummary;
  /** Whether the server closed the bystander's connection. */
  dropped: boolean;
}

let client: BenchClient | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
let said = 0;
const latencies: number[] = [];

self.onmessage = async (event: MessageEvent<BystanderOpen | { type: "stop" }>) => {
  try {
    const message = event.data;
    if (message.type === "open") {
      // Every message it receives is its own, echoed: the latency is the round trip.
      client = await BenchClient.connect({
        port: message.port,
        mode: "framed",
        nick: message.nick,
        room: message.room,
        sampleEvery: 1,
        onSample: (ms) => latencies.push(ms),
      });
      const bystander = client;
      let id = 1;
      timer = setInterval(() => {
        if (bystander.closed) return;
        said++;
        const frame = { type: "say", id: id++, room: message.room, body: makeBody(nowMs(), 64) };
        bystander.write(encodeFrame(frame)).catch(() => {});
      }, 1000 / message.perSecond);
      self.postMessage({ type: "ready" });
    } else {
      clearInterval(timer);
      const dropped = client?.closed ?? true;
      client?.close();
      await client?.ended;
      const stopped: BystanderStopped = {
        type: "stopped",
        said,
        echoed: client?.scanner.messages ?? 0,
        latency: summarizeLatency(Float64Array.from(latencies)),
        dropped,
      };
      self.postMessage(stopped);
    }
  } catch (error) {
    self.postMessage({ type: "failed", message: String(error) });
  }
};
