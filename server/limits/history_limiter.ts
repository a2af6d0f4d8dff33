/**
 * Bounds the history work in flight. Every read of stored messages (a
 * history page, a join's catch-up, a page of stored DMs at login) runs
 * under a permit: a holder (a session, an API key's bot) runs a few at a
 * time and may have a few more waiting, and the server runs a few at a time
 * with a bounded queue. Beyond either queue a read is refused at once, so
 * no request pattern within the rate limit can pile reads up in memory;
 * each read is bounded in bytes by the store.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { ChatError } from "../../shared/errors.ts";

/** Settings of a {@linkcode HistoryLimiter}. */
export interface HistoryLimiterOptions {
  /** Reads one holder may run at once. */
  perHolder?: number;
  /** Reads one holder may have waiting; more are refused with `rate_limited`. */
  perHolderWaiting?: number;
  /** Reads the server runs at once. */
  running?: number;
  /** Reads waiting for the server; more are refused with `server_busy`. */
  waiting?: number;
  /** The retry delay refusals suggest, in ms. */
  retryAfterMs?: number;
  /** What the refusals call the work (another limiter than history's: "searches"). */
  work?: string;
}

interface Slots {
  running: number;
  queue: Array<() => void>;
}

/** The library defaults of {@linkcode HistoryLimiterOptions}. */
export const HISTORY_LIMITER_DEFAULTS = Object.freeze({
  perHolder: 1,
  perHolderWaiting: 4,
  running: 4,
  waiting: 256,
  retryAfterMs: 100,
});

/**
 * Permits for history reads, per holder and per server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HistoryLimiter } from "./history_limiter.ts";
 * const limiter = new HistoryLimiter({ perHolder: 1, perHolderWaiting: 0 });
 * const session = {};
 * const first = limiter.run(session, () => new Promise((done) => setTimeout(done, 10)));
 * await assert.rejects(limiter.run(session, async () => {}), { code: "rate_limited" });
 * await first;
 * ```
 */
export class HistoryLimiter {
  readonly #perHolder: number;
  readonly #perHolderWaiting: number;
  readonly #running: number;
  readonly #waiting: number;
  readonly #retryAfterMs: number;
  readonly #work: string | undefined;
  readonly #server: Slots = { running: 0, queue: [] };
  readonly #holders = new Map<object, Slots>();

  constructor(options: HistoryLimiterOptions = {}) {
    const { work, ...limits } = options;
    this.#work = work;
    const settings = { ...HISTORY_LIMITER_DEFAULTS, ...limits };
    for (const [name, value] of Object.entries(settings)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`Cannot limit history reads: ${name} must be an integer >= 0`);
      }
    }
    if (settings.perHolder < 1 || settings.running < 1) {
      throw new RangeError("Cannot limit history reads: perHolder and running must be >= 1");
    }
    this.#perHolder = settings.perHolder;
    this.#perHolderWaiting = settings.perHolderWaiting;
    this.#running = settings.running;
    this.#waiting = settings.waiting;
    this.#retryAfterMs = settings.retryAfterMs;
  }

  /** Reads running now, all holders together. */
  get running(): number {
    return this.#server.running;
  }

  /** Reads waiting for the server now. */
  get waiting(): number {
    return this.#server.queue.length;
  }

  /**
   * Runs `work` once `holder` and the server each have a free slot, and
   * frees them when it settles. Throws `rate_limited` at once when the
   * holder already has its most reads waiting, `server_busy` when the
   * server has.
   */
  async run<T>(holder: object, work: () => Promise<T>): Promise<T> {
    let slots = this.#holders.get(holder);
    if (slots === undefined) this.#holders.set(holder, slots = { running: 0, queue: [] });
    await this.#enter(slots, this.#perHolder, this.#perHolderWaiting, () =>
      new ChatError(
        "rate_limited",
        `Too many ${
          this.#work ?? "history requests"
        } at once: ${this.#perHolder} read at a time and ` +
          `${this.#perHolderWaiting} waiting per connection`,
        { retryAfterMs: this.#retryAfterMs },
      ));
    try {
      await this.#enter(this.#server, this.#running, this.#waiting, () =>
        new ChatError(
          "server_busy",
          this.#work === undefined
            ? `The server is busy reading history (${this.#waiting} reads waiting); try again shortly`
            : `The server is busy with ${this.#work} (${this.#waiting} waiting); try again shortly`,
          { retryAfterMs: this.#retryAfterMs },
        ));
      try {
        // Each read in a turn of its own: reads back to back must not hold
        // up everyone else's input and output.
        await new Promise<void>((resolve) => setImmediate(resolve));
        return await work();
      } finally {
        this.#leave(this.#server);
      }
    } finally {
      this.#leave(slots);
      if (slots.running === 0 && slots.queue.length === 0) this.#holders.delete(holder);
    }
  }

  /** Takes a slot of `slots`, waiting in its queue if need be; `refusal` when the queue is full. */
  #enter(slots: Slots, most: number, queue: number, refusal: () => ChatError): Promise<void> {
    if (slots.running < most) {
      slots.running++;
      return Promise.resolve();
    }
    if (slots.queue.length >= queue) return Promise.reject(refusal());
    // The slot is handed over as it is: `running` does not change.
    return new Promise((resolve) => slots.queue.push(resolve));
  }

  #leave(slots: Slots): void {
    const next = slots.queue.shift();
    if (next === undefined) slots.running--;
    else next();
  }
}
