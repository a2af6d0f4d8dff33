/**
 * Counters the server keeps about itself, as plain numbers on the hot path;
 * the HTTP side turns them into Prometheus metrics when scraped.
 *
 * @module
 */
import { LatencyHistogram } from "./latency_histogram.ts";
import type { WebhookCounters } from "./webhooks/webhook_counters.ts";

/**
 * Every counter of one server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerMetrics } from "./server_metrics.ts";
 * const metrics = new ServerMetrics();
 * metrics.messagesIn++;
 * assert.equal(metrics.messagesIn, 1);
 * ```
 */
export class ServerMetrics {
  /** Room messages and DMs stored (counted once committed). */
  messagesIn = 0;
  /** Commits to the store that failed (one commit may carry many writes). */
  storeErrors = 0;
  /** Events queued to sessions (one per recipient). */
  deliveries = 0;
  /** Bytes read from clients. */
  bytesIn = 0;
  /** Bytes queued to clients. */
  bytesOut = 0;
  /** Connections dropped for not reading fast enough. */
  slowConsumers = 0;
  /** Requests refused by the rate limit. */
  rateLimited = 0;
  /** Failed logins. */
  authFailures = 0;
  /** Connections accepted, by transport. */
  readonly connectionsAccepted: Map<string, number> = new Map();
  /** Connections open, by transport. */
  readonly connectionsOpen: Map<string, number> = new Map();
  /** Time to commit one batch of writes to the store. */
  readonly storeCommit: LatencyHistogram = new LatencyHistogram();
  /** Time from a message's arrival to its delivery to every recipient's queue. */
  readonly delivery: LatencyHistogram = new LatencyHistogram();
  /** Each outgoing webhook's counters, by webhook id (while it exists). */
  readonly webhooks: Map<string, WebhookCounters> = new Map();

  /** Counts a connection opened on `transport`. */
  connectionOpened(transport: string): void {
    this.connectionsAccepted.set(transport, (this.connectionsAccepted.get(transport) ?? 0) + 1);
    this.connectionsOpen.set(transport, (this.connectionsOpen.get(transport) ?? 0) + 1);
  }

  /** Counts a connection on `transport` closed. */
  connectionClosed(transport: string): void {
    this.connectionsOpen.set(transport, (this.connectionsOpen.get(transport) ?? 1) - 1);
  }
}
