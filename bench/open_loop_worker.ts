/**
 * Worker entry that runs the open-loop senders of the latency scenario in
 * their own thread: message k is due at `start + k / rate` and goes out
 * from sender k mod S with its scheduled time in the body, whether or not
 * the server has kept up. A thread of its own keeps the schedule precise
 * while receivers keep other threads busy.
 *
 * Messages in: `open`, `run`, `close`. Messages out: `ready`, `done`,
 * `closed`, `failed`.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import type { Mode } from "./bench_client.ts";
import { nowMs } from "./clock.ts";
import { blockFor, EventLoopYield } from "./event_loop.ts";
import { closeSenders, openSenders, type Sender } from "./sender_group.ts";
import { SampleBuffer, summarizeLatency } from "./stats.ts";

/** How the worker should connect. */
export interface OpenLoopOpen {
  type: "open";
  port: number;
  mode: Mode;
  room: string;
  senders: number;
}

/** The schedule to send. */
export interface OpenLoopRun {
  type: "run";
  /** Scheduled time of message 0 (ms, nowMs clock). */
  start: number;
  /** Messages per second. */
  rate: number;
  /** Messages in all. */
  total: number;
  /** Body size in bytes. */
  bytes: number;
}

/** What the worker reports when the schedule is done. */
export interface OpenLoopDone {
  type: "done";
  /** When the last message was handed to the socket (ms). */
  finishedAt: number;
  /** How late messages left after their scheduled time, in ms. */
  sendLagMs: { p50: number; p99: number; max: number };
}

let senders: Sender[] = [];

async function run(schedule: OpenLoopRun): Promise<OpenLoopDone> {
  const interval = 1000 / schedule.rate;
  const lags = new SampleBuffer(Math.min(schedule.total, 1_000_000));
  const loop = new EventLoopYield();
  const due: number[][] = senders.map(() => []);
  let next = 0;
  try {
    while (next < schedule.total) {
      const now = nowMs();
      while (next < schedule.total && schedule.start + next * interval <= now) {
        const scheduled = schedule.start + next * interval;
        due[next % senders.length]!.push(scheduled);
        lags.add(now - scheduled);
        next++;
      }
      for (let i = 0; i < senders.length; i++) {
        if (due[i]!.length === 0) continue;
        senders[i]!.send(due[i]!, schedule.bytes);
        due[i] = [];
      }
      // Sleep precisely until the next message is due (at most 1 ms, so the
      // senders' own input is read often), then let I/O run.
      blockFor(Math.min(1, schedule.start + next * interval - nowMs()));
      await loop.next();
    }
    await Promise.all(senders.map((sender) => sender.flushed()));
  } finally {
    loop.close();
  }
  const summary = summarizeLatency(lags.toArray());
  return {
    type: "done",
    finishedAt: nowMs(),
    sendLagMs: { p50: summary.p50, p99: summary.p99, max: summary.max },
  };
}

self.onmessage = async (event: MessageEvent) => {
  const message = event.data as OpenLoopOpen | OpenLoopRun | { type: "close" };
  try {
    switch (message.type) {
      case "open":
        senders = await openSenders(message.port, message.mode, message.room, message.senders);
        self.postMessage({ type: "ready" });
        return;
      case "run":
        self.postMessage(await run(message));
        return;
      case "close":
        await closeSenders(senders);
        senders = [];
        self.postMessage({ type: "closed" });
        return;
    }
  } catch (error) {
    self.postMessage({
      type: "failed",
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
