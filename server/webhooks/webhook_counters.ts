/**
 * What one webhook counts, as plain numbers (the exporter reads them when
 * `/metrics` is scraped).
 *
 * @module
 */
import { BreakerState } from "./circuit_breaker.ts";

/** One webhook's counters and gauges. */
export class WebhookCounters {
  /** Events delivered (a 2xx answer). */
  delivered = 0;
  /** Events given up: refused (4xx, redirect) or out of attempts. */
  failed = 0;
  /** Attempts that failed and were retried or counted to the breaker. */
  retried = 0;
  /** Events dropped from a full queue. */
  dropped = 0;
  /** Replies posted into the room. */
  replies = 0;
  /** Events waiting, the one in flight included. */
  queued = 0;
  /** The circuit breaker's state, read at each scrape. */
  breaker: () => BreakerState = () => BreakerState.Closed;
}
