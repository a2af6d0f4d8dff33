/**
 * A webhook's circuit breaker. Closed, requests go out. After `threshold`
 * failed attempts in a row it opens: nothing is sent for `cooldownMs`.
 * Then it is half-open: one attempt goes out; success closes it, failure
 * opens it for another cool-down.
 *
 * @module
 */

/** The breaker's states; their numbers are the `/metrics` gauge's values. */
export const BreakerState = { Closed: 0, Open: 1, HalfOpen: 2 } as const;

/** One of {@linkcode BreakerState}. */
export type BreakerState = typeof BreakerState[keyof typeof BreakerState];

/** The settings of a {@linkcode CircuitBreaker}. */
export interface BreakerSettings {
  /** Failed attempts in a row that open the breaker. */
  threshold: number;
  /** How long it stays open before a trial attempt, in ms. */
  cooldownMs: number;
}

/**
 * One webhook's breaker, on an injected clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BreakerState, CircuitBreaker } from "./circuit_breaker.ts";
 * let now = 0;
 * const breaker = new CircuitBreaker({ threshold: 2, cooldownMs: 1000 }, { now: () => now });
 * breaker.failed();
 * assert.equal(breaker.failed(), true); // this failure opened it
 * assert.equal(breaker.waitMs(), 1000);
 * now = 1000;
 * assert.equal(breaker.waitMs(), 0);
 * assert.equal(breaker.state, BreakerState.HalfOpen);
 * breaker.succeeded();
 * assert.equal(breaker.state, BreakerState.Closed);
 * ```
 */
export class CircuitBreaker {
  #settings: BreakerSettings;
  #now: () => number;
  #state: BreakerState = BreakerState.Closed;
  #failures = 0;
  #openedAt = 0;

  constructor(settings: BreakerSettings, options: { now: () => number }) {
    this.#settings = settings;
    this.#now = options.now;
  }

  /** The state now (an open breaker past its cool-down reads as half-open). */
  get state(): BreakerState {
    if (this.#state === BreakerState.Open && this.#remaining() === 0) {
      this.#state = BreakerState.HalfOpen;
    }
    return this.#state;
  }

  /** Failed attempts in a row so far. */
  get failures(): number {
    return this.#failures;
  }

  /** How long until an attempt may go out, in ms (0: now). */
  waitMs(): number {
    return this.state === BreakerState.Open ? this.#remaining() : 0;
  }

  /** Counts a successful attempt: the breaker closes. */
  succeeded(): void {
    this.#failures = 0;
    this.#state = BreakerState.Closed;
  }

  /** Counts a failed attempt; true when this one opened the breaker. */
  failed(): boolean {
    this.#failures++;
    const state = this.state;
    if (state === BreakerState.HalfOpen || this.#failures >= this.#settings.threshold) {
      const opened = state !== BreakerState.Open;
      this.#state = BreakerState.Open;
      this.#openedAt = this.#now();
      return opened;
    }
    return false;
  }

  #remaining(): number {
    return Math.max(0, this.#openedAt + this.#settings.cooldownMs - this.#now());
  }
}
