/**
 * Prometheus metrics through prom-client. The hot path only bumps plain
 * numbers (server_metrics.ts); this module reads them when scraped, so a
 * scrape costs one pass over the counters and nothing per message.
 *
 * @module
 */
import {
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValueWithName,
  Registry,
} from "prom-client";
import { VERSION } from "../../shared/version.ts";
import type { LatencyHistogram } from "../latency_histogram.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import type { WebhookCounters } from "../webhooks/webhook_counters.ts";
import type { EventLoopLag } from "./event_loop_lag.ts";

/** What the exporter reads at each scrape. */
export interface MetricsSource {
  readonly metrics: ServerMetrics;
  readonly lag: EventLoopLag;
  /** Users online and rooms that exist. */
  stats(): { users: number; rooms: number };
  /** Bytes queued to every session, summed. */
  queuedBytes(): number;
}

/**
 * A prom-client histogram that exports a {@linkcode LatencyHistogram}'s
 * buckets as they stand instead of observing values itself.
 */
class MirroredHistogram extends Histogram<string> {
  #name: string;
  #help: string;
  #source: LatencyHistogram;

  constructor(name: string, help: string, source: LatencyHistogram, registry: Registry) {
    super({ name, help, buckets: [...source.bounds], registers: [registry] });
    this.#name = name;
    this.#help = help;
    this.#source = source;
  }

  override get(): ReturnType<Histogram<string>["get"]> {
    return Promise.resolve(this.getForPromString()) as never;
  }

  /** What the registry formats (it prefers this to `get` when a metric has it). */
  getForPromString(): MetricObjectWithValues<MetricValueWithName<string>> {
    const name = this.#name;
    const values: MetricValueWithName<string>[] = this.#source.cumulative().map((
      { le, count },
    ) => ({
      metricName: `${name}_bucket`,
      labels: { le: le === "+Inf" ? "+Inf" : Number(le) },
      value: count,
    }));
    values.push(
      { metricName: `${name}_sum`, labels: {}, value: this.#source.sumSeconds },
      { metricName: `${name}_count`, labels: {}, value: this.#source.count },
    );
    return {
      name,
      help: this.#help,
      type: "histogram" as never,
      values,
      aggregator: "sum",
      collect: () => {},
    };
  }
}

/** A counter whose value is read from the server's own counters at each scrape. */
function mirroredCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge read at each scrape. */
function mirroredGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * The server's metrics as a prom-client registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventLoopLag } from "./event_loop_lag.ts";
 * import { MetricsExporter } from "./metrics_exporter.ts";
 * import { ServerMetrics } from "../server_metrics.ts";
 * using lag = new EventLoopLag();
 * const exporter = new MetricsExporter({
 *   metrics: new ServerMetrics(),
 *   lag,
 *   stats: () => ({ users: 0, rooms: 0 }),
 *   queuedBytes: () => 0,
 * });
 * assert.equal((await exporter.text()).includes("chat_messages_in_total 0"), true);
 * ```
 */
export class MetricsExporter {
  readonly registry: Registry = new Registry();

  constructor(source: MetricsSource) {
    const { metrics } = source;
    const registry = this.registry;
    new Gauge({
      name: "chat_info",
      help: "Build information; always 1",
      labelNames: ["version"],
      registers: [registry],
    }).set({ version: VERSION }, 1);
    new Gauge({
      name: "chat_connections",
      help: "Connections open, by transport (tcp, tls, unix, ws)",
      labelNames: ["transport"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [transport, open] of metrics.connectionsOpen) this.set({ transport }, open);
      },
    });
    new Counter({
      name: "chat_connections_accepted_total",
      help: "Connections accepted (past the connection caps), by transport",
      labelNames: ["transport"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [transport, count] of metrics.connectionsAccepted) {
          this.inc({ transport }, count);
        }
      },
    });
    mirroredGauge(registry, "chat_rooms", "Rooms that exist", () => source.stats().rooms);
    mirroredGauge(
      registry,
      "chat_users_online",
      "Users online on this instance",
      () => source.stats().users,
    );
    mirroredCounter(
      registry,
      "chat_messages_in_total",
      "Room messages and direct messages stored",
      () => metrics.messagesIn,
    );
    mirroredCounter(
      registry,
      "chat_store_errors_total",
      "Commits to the store that failed (one commit may carry many writes)",
      () => metrics.storeErrors,
    );
    mirroredCounter(
      registry,
      "chat_deliveries_total",
      "Events queued to sessions, one per recipient",
      () => metrics.deliveries,
    );
    mirroredCounter(
      registry,
      "chat_received_bytes_total",
      "Bytes read from clients",
      () => metrics.bytesIn,
    );
    mirroredCounter(
      registry,
      "chat_sent_bytes_total",
      "Bytes queued to clients",
      () => metrics.bytesOut,
    );
    mirroredGauge(
      registry,
      "chat_queued_bytes",
      "Bytes queued to clients and not yet written, all sessions summed",
      () => source.queuedBytes(),
    );
    mirroredCounter(
      registry,
      "chat_slow_consumers_total",
      "Connections dropped for not reading fast enough",
      () => metrics.slowConsumers,
    );
    mirroredCounter(
      registry,
      "chat_rate_limited_total",
      "Requests refused by a rate limit (sessions and API keys)",
      () => metrics.rateLimited,
    );
    mirroredCounter(
      registry,
      "chat_auth_failures_total",
      "Failed logins and rejected API keys",
      () => metrics.authFailures,
    );
    new MirroredHistogram(
      "chat_store_commit_seconds",
      "Time to commit one batch of writes to the store",
      metrics.storeCommit,
      registry,
    );
    new MirroredHistogram(
      "chat_delivery_seconds",
      "Time from a message's arrival to its delivery to every recipient's queue",
      metrics.delivery,
      registry,
    );
    mirroredGauge(
      registry,
      "chat_event_loop_lag_seconds",
      "Event-loop lag: how late a 500 ms timer last ran",
      () => source.lag.latestMs / 1000,
    );
    mirroredGauge(
      registry,
      "chat_event_loop_lag_max_seconds",
      "Event-loop lag: the most a 500 ms timer ran late since the last scrape",
      () => source.lag.takeMaxMs() / 1000,
    );
    // Outgoing webhooks (docs/webhooks.md), one series per webhook id.
    const perWebhook = (
      name: string,
      help: string,
      kind: "counter" | "gauge",
      read: (counters: WebhookCounters) => number,
    ) => {
      const Metric = kind === "counter" ? Counter : Gauge;
      new Metric({
        name,
        help,
        labelNames: ["webhook"],
        registers: [registry],
        collect(this: Counter<"webhook"> | Gauge<"webhook">) {
          this.reset();
          for (const [webhook, counters] of metrics.webhooks) {
            if (this instanceof Gauge) this.set({ webhook }, read(counters));
            else this.inc({ webhook }, read(counters));
          }
        },
      });
    };
    perWebhook(
      "chat_webhook_breaker_state",
      "A webhook's circuit breaker: 0 closed, 1 open, 2 half-open",
      "gauge",
      (counters) => counters.breaker(),
    );
    perWebhook(
      "chat_webhook_queued",
      "Events waiting for a webhook, the one in flight included",
      "gauge",
      (counters) => counters.queued,
    );
    perWebhook(
      "chat_webhook_deliveries_total",
      "Events a webhook answered with 2xx",
      "counter",
      (counters) => counters.delivered,
    );
    perWebhook(
      "chat_webhook_failures_total",
      "Events given up for a webhook: refused (4xx, redirect) or out of attempts",
      "counter",
      (counters) => counters.failed,
    );
    perWebhook(
      "chat_webhook_retries_total",
      "Failed attempts of a webhook that count towards its breaker (network, timeout, 5xx, 429)",
      "counter",
      (counters) => counters.retried,
    );
    perWebhook(
      "chat_webhook_dropped_total",
      "Events dropped because a webhook's queue was full (the oldest waiting goes)",
      "counter",
      (counters) => counters.dropped,
    );
    perWebhook(
      "chat_webhook_replies_total",
      "Replies of a webhook posted into their room",
      "counter",
      (counters) => counters.replies,
    );
    mirroredGauge(
      registry,
      "chat_process_resident_memory_bytes",
      "Resident memory of the server process",
      () => Deno.memoryUsage().rss,
    );
  }

  /** The content type of {@linkcode text}: Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
