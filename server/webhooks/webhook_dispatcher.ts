/**
 * One webhook's deliveries: a bounded queue of its events, sent one at a
 * time so they arrive in order, each retried with backoff on failures
 * worth retrying, behind a circuit breaker. When the queue is full the
 * oldest waiting event is dropped (the freshest matter most to a bot), and
 * counted. Clock, randomness and sender are injected, so the schedule is
 * tested without waiting.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { RoomEvent } from "../chat/room_events.ts";
import type { WebhookRecord } from "../store/store.ts";
import { LogSampler } from "../limits/log_sampler.ts";
import { type BreakerSettings, BreakerState, CircuitBreaker } from "./circuit_breaker.ts";
import { retryDelay, type RetrySettings } from "./retry_schedule.ts";
import type { Sender, SendOutcome } from "./webhook_sender.ts";
import type { WebhookCounters } from "./webhook_counters.ts";

/** Time as a dispatcher sees it: the real one in the server, a test's in unit tests. */
export interface WebhookClock {
  /** Now, in ms. */
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** The real clock. */
export const REAL_CLOCK: WebhookClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    }),
};

/** The named limits of every webhook's deliveries (server settings). */
export interface DispatchSettings {
  /** Events waiting per webhook at most; a full queue drops its oldest. */
  queueSize: number;
  /** Attempts per event, the first included. */
  maxAttempts: number;
  retry: RetrySettings;
  breaker: BreakerSettings;
}

/** An event waiting for one webhook. */
export interface QueuedDelivery {
  /** Unique per event and webhook; the same across retries. */
  delivery: string;
  event: RoomEvent;
  /** Do not post a reply (the event is a webhook bot's own: no loops). */
  noReply?: boolean;
}

/** What a dispatcher needs besides its settings. */
export interface DispatcherParts {
  send: Sender;
  counters: WebhookCounters;
  logger: Logger;
  clock?: WebhookClock;
  /** In [0, 1), for jitter. */
  random?: () => number;
  /** Called with a 200 answer's body, in delivery order (awaited before the next event). */
  onReply?: (delivered: QueuedDelivery, body: string) => Promise<void>;
}

/**
 * The delivery queue of one webhook.
 *
 * @example
 * ```ts ignore
 * import { WebhookDispatcher } from "./webhook_dispatcher.ts";
 * const dispatcher = new WebhookDispatcher(record, settings, { send, counters, logger });
 * dispatcher.enqueue({ delivery: crypto.randomUUID(), event });
 * await dispatcher.close();
 * ```
 */
export class WebhookDispatcher {
  readonly record: WebhookRecord;
  readonly breaker: CircuitBreaker;
  #settings: DispatchSettings;
  #parts: DispatcherParts;
  #clock: WebhookClock;
  #random: () => number;
  #waiting: QueuedDelivery[] = [];
  #inFlight: QueuedDelivery | undefined;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #idle: Array<() => void> = [];
  #dropLog: LogSampler;

  constructor(record: WebhookRecord, settings: DispatchSettings, parts: DispatcherParts) {
    this.record = record;
    this.#settings = settings;
    this.#parts = parts;
    this.#clock = parts.clock ?? REAL_CLOCK;
    this.#random = parts.random ?? Math.random;
    this.breaker = new CircuitBreaker(settings.breaker, { now: () => this.#clock.now() });
    this.#dropLog = new LogSampler({ intervalMs: 60_000, now: () => this.#clock.now() });
    parts.counters.breaker = () => this.breaker.state;
  }

  /** Events waiting, the one in flight included. */
  get queued(): number {
    return this.#waiting.length + (this.#inFlight === undefined ? 0 : 1);
  }

  /** Queues `delivery`; a full queue first drops its oldest waiting event. */
  enqueue(delivery: QueuedDelivery): void {
    if (this.#abort.signal.aborted) return;
    if (this.#waiting.length >= this.#settings.queueSize) {
      const dropped = this.#waiting.shift()!;
      this.#parts.counters.dropped++;
      const suppressed = this.#dropLog.sample("drop");
      if (suppressed !== undefined) {
        this.#parts.logger.warn(
          "Webhook {webhook}: queue full ({size} events), dropped the oldest ({type} in #{room}); {suppressed} more dropped since the last warning",
          {
            webhook: this.record.id,
            size: this.#settings.queueSize,
            type: dropped.event.type,
            room: dropped.event.room,
            suppressed,
          },
        );
      }
    }
    this.#waiting.push(delivery);
    this.#count();
    this.#running ??= this.#run();
  }

  /** Resolves once nothing is waiting or in flight (tests). */
  idle(): Promise<void> {
    if (this.#running === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops: the event in flight is abandoned after its current attempt, the rest dropped. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#waiting = [];
    await this.#running;
    this.#count();
  }

  #count(): void {
    this.#parts.counters.queued = this.queued;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#abort.signal.aborted) {
        const next = this.#waiting.shift();
        if (next === undefined) break;
        this.#inFlight = next;
        this.#count();
        try {
          await this.#deliver(next);
        } catch (error) {
          this.#parts.logger.error("Webhook {webhook}: delivery failed: {error}", {
            webhook: this.record.id,
            error,
          });
        }
        this.#inFlight = undefined;
        this.#count();
      }
    } finally {
      this.#running = undefined;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #deliver(queued: QueuedDelivery): Promise<void> {
    const { logger, counters } = this.#parts;
    const id = this.record.id;
    const body = JSON.stringify({ webhook: id, delivery: queued.delivery, event: queued.event });
    for (let attempt = 1;; attempt++) {
      const wait = this.breaker.waitMs();
      if (wait > 0) await this.#clock.sleep(wait, this.#abort.signal);
      if (this.#abort.signal.aborted) return;
      const before = this.breaker.state;
      const outcome: SendOutcome = await this.#parts.send({
        url: this.record.url,
        secret: this.record.secret,
        webhook: id,
        delivery: queued.delivery,
        body,
        seconds: Math.floor(Date.now() / 1000),
        signal: this.#abort.signal,
      });
      if (this.#abort.signal.aborted) return;
      if (outcome.kind !== "retry") {
        this.breaker.succeeded();
        if (before !== BreakerState.Closed) {
          logger.info("Webhook {webhook}: answered again, circuit breaker closed", {
            webhook: id,
          });
        }
      }
      if (outcome.kind === "delivered") {
        counters.delivered++;
        if (outcome.tooLarge) {
          logger.warn("Webhook {webhook}: reply over the size limit, ignored", { webhook: id });
        } else if (outcome.reply !== undefined && !queued.noReply && this.#parts.onReply) {
          await this.#parts.onReply(queued, outcome.reply);
        }
        return;
      }
      if (outcome.kind === "refused") {
        counters.failed++;
        logger.warn("Webhook {webhook}: {type} event refused ({reason}), not retried", {
          webhook: id,
          type: queued.event.type,
          reason: outcome.reason,
        });
        return;
      }
      counters.retried++;
      if (this.breaker.failed()) {
        logger.warn(
          "Webhook {webhook}: circuit breaker open after {failures} failed attempts in a row (last: {reason}); next attempt in {cooldown} ms",
          {
            webhook: id,
            failures: this.breaker.failures,
            reason: outcome.reason,
            cooldown: this.#settings.breaker.cooldownMs,
          },
        );
      }
      if (attempt >= this.#settings.maxAttempts) {
        counters.failed++;
        logger.warn(
          "Webhook {webhook}: gave up a {type} event after {attempts} attempts (last: {reason})",
          { webhook: id, type: queued.event.type, attempts: attempt, reason: outcome.reason },
        );
        return;
      }
      // An open breaker's cool-down is the wait; else the backoff (or the receiver's Retry-After).
      if (this.breaker.waitMs() === 0) {
        const backoff = retryDelay(attempt, { ...this.#settings.retry, random: this.#random });
        const asked = Math.min(outcome.retryAfterMs ?? 0, this.#settings.retry.maxMs);
        await this.#clock.sleep(Math.max(backoff, asked), this.#abort.signal);
      }
    }
  }
}
