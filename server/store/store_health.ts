/**
 * Whether the store takes commits, as the commits themselves tell. A failed
 * commit makes `/readyz` answer 503 until a commit (or a readiness probe
 * write) succeeds, and counts in `chat_store_errors_total`. The log gets one
 * warning per burst of failures, with the cause, however many commits fail
 * in it; the burst ends, with one line saying so, once commits have
 * succeeded with no failure for a quiet period, so a store failing every
 * other commit (a nearly full disk) does not log a pair of lines per commit.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { CommitObserver } from "./group_commit.ts";
import type { ServerMetrics } from "../server_metrics.ts";

/** Options for {@linkcode StoreHealth}. */
export interface StoreHealthOptions {
  /**
   * A write that changes nothing, to learn whether the store takes writes
   * again when no commit comes to tell (a readiness check while failing).
   */
  probe: () => Promise<void>;
  /** Where failed commits are counted (`storeErrors`). */
  metrics: ServerMetrics;
  /** Least time between two probes, in ms (default 1000). */
  probeIntervalMs?: number;
  /** Success with no failure for this long ends a burst, in ms (default 5000). */
  quietMs?: number;
  logger?: Logger;
}

/** One line about a failure: its message, not a stack trace. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * The store's health as seen by the commits of one server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerMetrics } from "../server_metrics.ts";
 * import { StoreHealth } from "./store_health.ts";
 * const metrics = new ServerMetrics();
 * using health = new StoreHealth({ probe: () => Promise.resolve(), metrics });
 * health.failed(new Error("database or disk is full"));
 * assert.deepEqual([health.failing, metrics.storeErrors], [true, 1]);
 * assert.equal(await health.writable(), true); // the probe write succeeded
 * assert.equal(health.failing, false);
 * ```
 */
export class StoreHealth implements CommitObserver, Disposable {
  readonly #probe: () => Promise<void>;
  readonly #metrics: ServerMetrics;
  readonly #probeIntervalMs: number;
  readonly #quietMs: number;
  readonly #logger: Logger;
  #failing = false;
  // The burst logged as begun and not yet as over.
  #burst: { since: string; failures: number; lastFailure: number } | undefined;
  #quietTimer: ReturnType<typeof setTimeout> | undefined;
  #probing: Promise<boolean> | undefined;
  #lastProbe = -Infinity;

  constructor(options: StoreHealthOptions) {
    this.#probe = options.probe;
    this.#metrics = options.metrics;
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.#quietMs = options.quietMs ?? 5000;
    this.#logger = options.logger ?? getLogger(["chat", "store"]);
  }

  /** Whether the last commit (or probe) failed. */
  get failing(): boolean {
    return this.#failing;
  }

  /** A commit succeeded: the store takes writes. */
  committed(): void {
    this.#failing = false;
    if (this.#burst !== undefined && this.#quietTimer === undefined) this.#awaitQuiet();
  }

  /** A commit failed with `error`: counted, and the first of a burst is logged. */
  failed(error: unknown): void {
    this.#metrics.storeErrors++;
    this.#failing = true;
    const now = performance.now();
    if (this.#burst !== undefined) {
      this.#burst.failures++;
      this.#burst.lastFailure = now;
      return;
    }
    this.#burst = { since: new Date().toISOString(), failures: 1, lastFailure: now };
    this.#logger.warn(
      "Store commits are failing: {cause}; messages and changes are refused until the store takes writes again",
      { cause: describe(error) },
    );
  }

  /**
   * Whether commits would succeed now: true unless the last one failed;
   * then a probe write decides. One probe at a time and at most one per
   * interval, so a flood of readiness checks costs the store nothing more.
   */
  writable(): Promise<boolean> {
    if (!this.#failing) return Promise.resolve(true);
    if (this.#probing !== undefined) return this.#probing;
    if (performance.now() - this.#lastProbe < this.#probeIntervalMs) return Promise.resolve(false);
    this.#lastProbe = performance.now();
    let started: Promise<void>;
    try {
      started = this.#probe();
    } catch (error) {
      // A probe that throws at once is a failed probe too.
      started = Promise.reject(error);
    }
    const probing = started.then(() => {
      this.committed();
      return true;
    }, () => false).finally(() => {
      this.#probing = undefined;
    });
    this.#probing = probing;
    return probing;
  }

  /** Stops the quiet-period timer (at shutdown). */
  [Symbol.dispose](): void {
    clearTimeout(this.#quietTimer);
    this.#quietTimer = undefined;
  }

  /** Ends the burst once no commit has failed for the quiet period (a failure meanwhile defers it). */
  #awaitQuiet(): void {
    const burst = this.#burst!;
    const wait = burst.lastFailure + this.#quietMs - performance.now();
    const timer = setTimeout(() => {
      this.#quietTimer = undefined;
      if (this.#burst !== burst) return;
      // Failing again: the next success starts the wait anew.
      if (this.#failing) return;
      if (performance.now() - burst.lastFailure < this.#quietMs) return this.#awaitQuiet();
      this.#burst = undefined;
      this.#logger.info("Store commits succeed again ({failures} failed since {since})", {
        failures: burst.failures,
        since: burst.since,
      });
    }, Math.max(0, wait));
    Deno.unrefTimer(timer);
    this.#quietTimer = timer;
  }
}
