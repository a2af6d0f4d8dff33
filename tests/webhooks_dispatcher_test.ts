/**
 * One webhook's dispatcher on an injected clock and sender: the retry
 * schedule (exponential backoff with jitter, Retry-After), no retry on
 * other 4xx, giving up after the attempts, the circuit breaker opening,
 * half-opening after its cool-down and closing, a full queue dropping its
 * oldest waiting event (counted, logged), and order kept.
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { BreakerState, CircuitBreaker } from "../server/webhooks/circuit_breaker.ts";
import { retryDelay } from "../server/webhooks/retry_schedule.ts";
import { WebhookCounters } from "../server/webhooks/webhook_counters.ts";
import {
  type DispatchSettings,
  type WebhookClock,
  WebhookDispatcher,
} from "../server/webhooks/webhook_dispatcher.ts";
import type { SendOutcome, SendRequest } from "../server/webhooks/webhook_sender.ts";
import type { WebhookRecord } from "../server/store/store.ts";
import { LogCapture } from "./support/log_capture.ts";

const RECORD: WebhookRecord = {
  id: "00112233445566ff",
  url: "http://127.0.0.1:9/hook",
  name: "hookbot",
  rooms: ["general"],
  events: ["message"],
  secret: "whsec_unit",
  createdAt: 0,
};

const SETTINGS: DispatchSettings = {
  queueSize: 10,
  maxAttempts: 5,
  retry: { baseMs: 100, maxMs: 1000 },
  breaker: { threshold: 100, cooldownMs: 5000 },
};

/** A clock that stands still; each sleep waits until the test wakes it. */
class TestClock implements WebhookClock {
  nowMs = 0;
  readonly slept: number[] = [];
  /** What `seen` read at each sleep: what had happened when the dispatcher went to sleep. */
  readonly seenAtSleep: number[] = [];
  seen: () => number = () => 0;
  #pending: Array<{ ms: number; resolve: () => void }> = [];
  #waiters: Array<() => void> = [];

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      this.slept.push(ms);
      this.seenAtSleep.push(this.seen());
      this.#pending.push({ ms, resolve });
      signal.addEventListener("abort", () => resolve());
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Waits until the dispatcher sleeps, then moves the clock on by that sleep and wakes it. */
  async wake(): Promise<number> {
    while (this.#pending.length === 0) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const { ms, resolve } = this.#pending.shift()!;
    this.nowMs += ms;
    resolve();
    return ms;
  }
}

/** A sender answering from a script (then "delivered"), recording each request. */
function scriptedSender(script: Array<SendOutcome | Promise<SendOutcome>>) {
  const requests: SendRequest[] = [];
  const send = (request: SendRequest) => {
    requests.push(request);
    return Promise.resolve(script.shift() ?? { kind: "delivered" as const, status: 204 });
  };
  return { requests, send };
}

function message(id: number) {
  return {
    delivery: `d-${id}`,
    event: {
      type: "message" as const,
      room: "general",
      from: "alice",
      body: `m${id}`,
      id,
      ts: id,
    },
  };
}

const RETRY: SendOutcome = { kind: "retry", reason: "HTTP 500" };

Deno.test("retryDelay doubles from the base up to the cap, between half and all of it", () => {
  const settings = { baseMs: 100, maxMs: 1000 };
  const low = [1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, { ...settings, random: () => 0 }));
  const high = [1, 2, 3, 4, 5, 6].map((n) =>
    retryDelay(n, { ...settings, random: () => 0.9999999 })
  );
  assert.deepEqual(low, [50, 100, 200, 400, 500, 500]);
  assert.deepEqual(high, [99, 199, 399, 799, 999, 999]);
});

Deno.test("a delivery failing with 5xx is retried on the backoff schedule, then delivered once", async () => {
  const clock = new TestClock();
  const counters = new WebhookCounters();
  const { requests, send } = scriptedSender([RETRY, RETRY, { ...RETRY, retryAfterMs: 700 }]);
  const dispatcher = new WebhookDispatcher(RECORD, SETTINGS, {
    send,
    counters,
    clock,
    random: () => 0.5,
    logger: getLogger(["chat", "test"]),
  });
  clock.seen = () => requests.length;
  dispatcher.enqueue(message(1));
  // The third failure asked for 700 ms (Retry-After), more than its backoff of 300.
  assert.deepEqual([await clock.wake(), await clock.wake(), await clock.wake()], [75, 150, 700]);
  assert.deepEqual(clock.seenAtSleep, [1, 2, 3]);
  await dispatcher.idle();
  assert.equal(requests.length, 4);
  // The same delivery id and body on every attempt: a receiver can tell a retry.
  assert.deepEqual(new Set(requests.map((request) => request.delivery)), new Set(["d-1"]));
  assert.equal(new Set(requests.map((request) => request.body)).size, 1);
  assert.deepEqual(JSON.parse(requests[0]!.body), {
    webhook: RECORD.id,
    delivery: "d-1",
    event: message(1).event,
  });
  assert.deepEqual([counters.delivered, counters.retried, counters.failed], [1, 3, 0]);
  assert.equal(dispatcher.breaker.state, BreakerState.Closed);
  await dispatcher.close();
});

Deno.test("a 4xx is not retried; an event out of attempts is given up and the next goes", async () => {
  await using logs = await LogCapture.start("warning");
  const clock = new TestClock();
  const counters = new WebhookCounters();
  const { requests, send } = scriptedSender([
    { kind: "refused", reason: "HTTP 404" },
    RETRY,
    RETRY,
    RETRY,
  ]);
  const dispatcher = new WebhookDispatcher(RECORD, { ...SETTINGS, maxAttempts: 3 }, {
    send,
    counters,
    clock,
    random: () => 0,
    logger: getLogger(["chat", "webhooks"]),
  });
  dispatcher.enqueue(message(1));
  dispatcher.enqueue(message(2));
  dispatcher.enqueue(message(3));
  assert.deepEqual([await clock.wake(), await clock.wake()], [50, 100]);
  await dispatcher.idle();
  assert.deepEqual(requests.map((request) => request.delivery), [
    "d-1",
    "d-2",
    "d-2",
    "d-2",
    "d-3",
  ]);
  assert.deepEqual(clock.slept, [50, 100]);
  assert.deepEqual([counters.delivered, counters.failed, counters.retried], [1, 2, 3]);
  assert.ok(
    logs.lines.some((line) => /message event refused \(HTTP 404\), not retried/.test(line)),
  );
  assert.ok(logs.lines.some((line) => /gave up a message event after 3 attempts/.test(line)));
  await dispatcher.close();
});

Deno.test("the breaker opens after N failures in a row, waits its cool-down, half-opens, closes on success", async () => {
  await using logs = await LogCapture.start("info");
  const clock = new TestClock();
  const counters = new WebhookCounters();
  const { requests, send } = scriptedSender([RETRY, RETRY, RETRY]);
  const dispatcher = new WebhookDispatcher(RECORD, {
    ...SETTINGS,
    maxAttempts: 10,
    breaker: { threshold: 2, cooldownMs: 5000 },
  }, { send, counters, clock, random: () => 0, logger: getLogger(["chat", "webhooks"]) });
  clock.seen = () => requests.length;
  dispatcher.enqueue(message(1));
  // First failure: backoff. Second: the breaker opens and its cool-down is the wait.
  // Awake after it: half-open, one trial, which fails: open again for another cool-down.
  assert.deepEqual([await clock.wake(), await clock.wake(), await clock.wake()], [50, 5000, 5000]);
  assert.deepEqual(clock.seenAtSleep, [1, 2, 3]);
  await dispatcher.idle();
  assert.equal(requests.length, 4);
  assert.equal(dispatcher.breaker.state, BreakerState.Closed);
  assert.equal(counters.breaker(), BreakerState.Closed);
  assert.deepEqual([counters.delivered, counters.retried], [1, 3]);
  const warnings = logs.lines.filter((line) => line.includes("circuit breaker open"));
  assert.equal(warnings.length, 2, logs.lines.join("\n"));
  assert.match(warnings[0]!, /^warning .*after 2 failed attempts in a row \(last: HTTP 500\)/);
  assert.ok(logs.lines.some((line) => /answered again, circuit breaker closed/.test(line)));
  await dispatcher.close();
});

Deno.test("CircuitBreaker: the gauge's states on an injected clock", () => {
  let now = 0;
  const breaker = new CircuitBreaker({ threshold: 3, cooldownMs: 100 }, { now: () => now });
  assert.deepEqual([breaker.failed(), breaker.failed()], [false, false]);
  assert.equal(breaker.state, BreakerState.Closed);
  assert.equal(breaker.failed(), true);
  assert.deepEqual([breaker.state, breaker.waitMs()], [BreakerState.Open, 100]);
  now = 60;
  assert.deepEqual([breaker.state, breaker.waitMs()], [BreakerState.Open, 40]);
  now = 100;
  assert.deepEqual([breaker.state, breaker.waitMs()], [BreakerState.HalfOpen, 0]);
  // One failure half-open opens it again at once.
  assert.equal(breaker.failed(), true);
  assert.equal(breaker.state, BreakerState.Open);
  now = 200;
  breaker.succeeded();
  assert.deepEqual([breaker.state, breaker.failures], [BreakerState.Closed, 0]);
});

Deno.test("a full queue drops its oldest waiting event, counted and logged; the rest keep their order", async () => {
  await using logs = await LogCapture.start("warning");
  const counters = new WebhookCounters();
  let release!: (outcome: SendOutcome) => void;
  const first = new Promise<SendOutcome>((resolve) => release = resolve);
  const { requests, send } = scriptedSender([first]);
  const dispatcher = new WebhookDispatcher(RECORD, { ...SETTINGS, queueSize: 2 }, {
    send,
    counters,
    clock: new TestClock(),
    logger: getLogger(["chat", "webhooks"]),
  });
  for (let id = 1; id <= 5; id++) dispatcher.enqueue(message(id));
  // 1 is in flight; 2 and 3 were dropped for 4 and 5.
  assert.deepEqual([dispatcher.queued, counters.queued, counters.dropped], [3, 3, 2]);
  release({ kind: "delivered", status: 200 });
  await dispatcher.idle();
  assert.deepEqual(requests.map((request) => request.delivery), ["d-1", "d-4", "d-5"]);
  assert.deepEqual([counters.delivered, counters.queued], [3, 0]);
  // One warning a minute at most, however many go.
  const warnings = logs.lines.filter((line) => line.includes("queue full"));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /queue full \(2 events\), dropped the oldest \(message in #general\)/);
  await dispatcher.close();
});
