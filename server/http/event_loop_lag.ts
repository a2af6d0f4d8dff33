/**
 * Event-loop lag measured as timer drift: a timer asks to run every
 * `intervalMs`, and how late it runs is how long the loop was busy.
 *
 * @module
 */

/**
 * Samples timer drift; keeps the latest and the largest since last read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventLoopLag } from "./event_loop_lag.ts";
 * using lag = new EventLoopLag({ intervalMs: 10 });
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * assert.equal(lag.latestMs >= 0, true);
 * ```
 */
export class EventLoopLag implements Disposable {
  #intervalMs: number;
  #expected: number;
  #timer: ReturnType<typeof setInterval>;
  #latestMs = 0;
  #maxMs = 0;

  constructor(options: { intervalMs?: number } = {}) {
    this.#intervalMs = options.intervalMs ?? 500;
    this.#expected = performance.now() + this.#intervalMs;
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
    // A measurement must never keep the process alive.
    Deno.unrefTimer(this.#timer);
  }

  /** The drift of the last sample, in ms. */
  get latestMs(): number {
    return this.#latestMs;
  }

  /** The largest drift since the last call, in ms (then starts over). */
  takeMaxMs(): number {
    const max = Math.max(this.#maxMs, this.#latestMs);
    this.#maxMs = 0;
    return max;
  }

  #sample(): void {
    const now = performance.now();
    this.#latestMs = Math.max(0, now - this.#expected);
    this.#maxMs = Math.max(this.#maxMs, this.#latestMs);
    this.#expected = now + this.#intervalMs;
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}
