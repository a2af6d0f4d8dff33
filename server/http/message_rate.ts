/**
 * Messages per second over the last minute, for the dashboard: the
 * messages-in counter sampled once a second.
 *
 * @module
 */

/**
 * Samples a growing counter every second and keeps the last 60 increments.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageRate } from "./message_rate.ts";
 * let total = 0;
 * using rate = new MessageRate(() => total);
 * total = 5;
 * assert.equal(rate.perSecond().length, 0); // until the first second has passed
 * ```
 */
export class MessageRate implements Disposable {
  #read: () => number;
  #last: number;
  #samples: number[] = [];
  #timer: ReturnType<typeof setInterval>;

  constructor(read: () => number) {
    this.#read = read;
    this.#last = read();
    this.#timer = setInterval(() => this.#sample(), 1000);
    Deno.unrefTimer(this.#timer);
  }

  /** Messages in each of the last (up to) 60 seconds, oldest first. */
  perSecond(): number[] {
    return [...this.#samples];
  }

  /** The average over the last `seconds` seconds sampled. */
  average(seconds = 10): number {
    const recent = this.#samples.slice(-seconds);
    return recent.length === 0 ? 0 : recent.reduce((sum, n) => sum + n, 0) / recent.length;
  }

  #sample(): void {
    const now = this.#read();
    this.#samples.push(now - this.#last);
    this.#last = now;
    if (this.#samples.length > 60) this.#samples.shift();
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}
