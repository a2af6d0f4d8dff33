/**
 * The request rate limit of a session and of an API key (`--rate`,
 * `--rate-burst`): a token bucket each, and one refusal over it,
 * `rate_limited` with the wait in `retryAfterMs`, counted in the metrics.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { TokenBucket } from "./token_bucket.ts";

/** The rate: named as in the server's options, so those can be passed (and shared) as they are. */
export interface RateSettings {
  readonly ratePerSecond: number;
  readonly rateBurst: number;
}

/** Whose rate a {@linkcode RequestRate} is, and where its refusals are counted. */
export interface RequestRateOptions {
  /** Said in the refusal: a session's own rate (default), or an API key's. */
  holder?: "session" | "API key" | "webhook";
  /** Counts refusals (the server's metrics). */
  metrics?: { rateLimited: number };
}

/**
 * One holder's request rate. A subclass of the bucket, not a wrapper, and
 * the settings are kept, not copied: every connection has one, and idle
 * connections are counted in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestRate } from "./request_rate.ts";
 * const metrics = { rateLimited: 0 };
 * const rate = new RequestRate({ ratePerSecond: 2, rateBurst: 1 }, { holder: "API key", metrics });
 * assert.equal(rate.check(0), undefined);
 * const refusal = rate.check(0);
 * assert.equal(refusal?.code, "rate_limited");
 * assert.equal(refusal?.message, "Rate limit: 2 requests/s (burst 1) per API key");
 * assert.equal(refusal?.retryAfterMs, 500);
 * assert.equal(metrics.rateLimited, 1);
 * assert.equal(rate.check(500), undefined);
 * ```
 */
export class RequestRate extends TokenBucket {
  readonly #settings: RateSettings;
  readonly #holder: RequestRateOptions["holder"];
  readonly #metrics: RequestRateOptions["metrics"];

  constructor(settings: RateSettings, options: RequestRateOptions = {}) {
    super({ burst: settings.rateBurst, ratePerSecond: settings.ratePerSecond });
    this.#settings = settings;
    this.#holder = options.holder;
    this.#metrics = options.metrics;
  }

  /**
   * Counts one request (or `cost` tokens of one) at `now` (ms, performance
   * clock): undefined when it is within the rate, else the refusal to answer
   * it with (nothing taken).
   */
  check(now: number = performance.now(), cost = 1): ChatError | undefined {
    const wait = this.take(now, cost);
    if (wait === 0) return undefined;
    if (this.#metrics !== undefined) this.#metrics.rateLimited++;
    const { ratePerSecond, rateBurst } = this.#settings;
    const per = this.#holder === undefined || this.#holder === "session"
      ? ""
      : ` per ${this.#holder}`;
    return new ChatError(
      "rate_limited",
      `Rate limit: ${ratePerSecond} requests/s (burst ${rateBurst})${per}`,
      { retryAfterMs: wait },
    );
  }
}
