/**
 * A cap on concurrent password-hash computations. Each scrypt hash takes a
 * core and 128 MiB for a third of a second, so a flood of logins left
 * unchecked would starve chat traffic and memory; excess work waits in a
 * bounded queue and beyond that is refused as `rate_limited`.
 *
 * The queue is fair across addresses: each address (a lane) has its own
 * line, the lanes take turns (round robin), one address may have only a few
 * checks pending, and one address holds at most all slots but one (with one
 * slot, that one). So eighty connections guessing passwords from one
 * address do not delay a login from another address by the eighty in front
 * of it: it starts at once, beside one of theirs.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";

/** Options for {@linkcode HashLimiter}. */
export interface HashLimiterOptions {
  /**
   * Tasks run at once (default 2, one per core of a small box); one named
   * lane runs at most `maxConcurrent - 1` of them (at least 1).
   */
  maxConcurrent?: number;
  /** Tasks that may wait, all lanes together; more are refused (default 64). */
  maxQueued?: number;
  /** Tasks pending (running or waiting) in one lane; more are refused (default 4). */
  maxPendingPerLane?: number;
}

/** Default {@linkcode HashLimiterOptions.maxConcurrent}. */
export const DEFAULT_MAX_CONCURRENT_HASHES = 2;
/** Default {@linkcode HashLimiterOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED_HASHES = 64;
/** Default {@linkcode HashLimiterOptions.maxPendingPerLane}. */
export const DEFAULT_MAX_PENDING_HASHES_PER_LANE = 4;

/** Options for one {@linkcode HashLimiter.run}. */
export interface HashTaskOptions {
  /**
   * The lane the task queues in: the client's address key for logins.
   * Without one, the task shares the unnamed lane, which has no per-lane
   * cap (local work such as `chat user import`).
   */
  lane?: string;
}

// Starting guess of a task's duration, for retryAfterMs before any ran.
const INITIAL_ESTIMATE_MS = 400;

/**
 * Runs async tasks at most `maxConcurrent` at a time. Waiting tasks are
 * grouped by lane; a freed slot goes to the next lane in turn that holds
 * fewer than `maxConcurrent - 1` slots, first come first served within it.
 * The last slot is kept from a lane that holds the others even when nobody
 * else waits: a newcomer from elsewhere then starts at once instead of
 * waiting for a hash to end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HashLimiter } from "./hash_limiter.ts";
 * const limiter = new HashLimiter({ maxConcurrent: 1 });
 * const [a, b] = await Promise.all([
 *   limiter.run(async () => 1, { lane: "192.0.2.7" }),
 *   limiter.run(async () => 2, { lane: "198.51.100.1" }),
 * ]);
 * assert.deepEqual([a + b, limiter.peakActive], [3, 1]);
 * ```
 */
export class HashLimiter {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly maxPendingPerLane: number;
  #active = 0;
  #peakActive = 0;
  #completed = 0;
  #queued = 0;
  /** Waiting tasks per lane, lanes in turn order (next to be served first). */
  #lanes = new Map<string | undefined, Array<() => void>>();
  /** Tasks running or waiting per named lane; absent when none. */
  #pending = new Map<string, number>();
  /** Tasks running per named lane; absent when none. */
  #running = new Map<string, number>();
  /** Slots one named lane may hold at once: all but one, so another address never waits for a slot. */
  readonly #maxRunningPerLane: number;
  #averageMs = INITIAL_ESTIMATE_MS;

  constructor(options: HashLimiterOptions = {}) {
    this.maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_HASHES;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED_HASHES;
    this.maxPendingPerLane = options.maxPendingPerLane ?? DEFAULT_MAX_PENDING_HASHES_PER_LANE;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent must be a whole number >= 1, got ${this.maxConcurrent}`);
    }
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) {
      throw new RangeError(`maxQueued must be a whole number >= 0, got ${this.maxQueued}`);
    }
    this.#maxRunningPerLane = Math.max(1, this.maxConcurrent - 1);
    if (!Number.isInteger(this.maxPendingPerLane) || this.maxPendingPerLane < 1) {
      throw new RangeError(
        `maxPendingPerLane must be a whole number >= 1, got ${this.maxPendingPerLane}`,
      );
    }
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting now, all lanes together. */
  get queued(): number {
    return this.#queued;
  }

  /** Tasks running or waiting now in `lane`. */
  pendingIn(lane: string): number {
    return this.#pending.get(lane) ?? 0;
  }

  /** The most tasks that ever ran at once (instrumentation for tests and metrics). */
  get peakActive(): number {
    return this.#peakActive;
  }

  /** Tasks finished so far, successfully or not. */
  get completed(): number {
    return this.#completed;
  }

  /**
   * Runs `task` when a slot is free and its lane's turn has come. Throws
   * `ChatError("rate_limited")` with a `retryAfterMs` estimate, without
   * running it, when its lane already has `maxPendingPerLane` tasks or the
   * queue is full.
   */
  async run<T>(task: () => Promise<T>, options: HashTaskOptions = {}): Promise<T> {
    const lane = options.lane;
    if (lane !== undefined) this.checkLane(lane);
    if (this.#active >= this.maxConcurrent || !this.#mayRun(lane)) {
      if (this.#queued >= this.maxQueued) {
        throw new ChatError("rate_limited", "Server busy checking passwords; try again shortly", {
          retryAfterMs: this.#estimateMs(this.#queued + 1),
        });
      }
      this.#count(lane, 1);
      // The slot is handed over by the finishing task, so #active already
      // counts this one when it wakes.
      await new Promise<void>((resolve) => this.#enqueue(lane, resolve));
    } else {
      this.#count(lane, 1);
      this.#active++;
      this.#countRunning(lane, 1);
    }
    this.#peakActive = Math.max(this.#peakActive, this.#active);
    const started = performance.now();
    try {
      return await task();
    } finally {
      this.#completed++;
      this.#averageMs = 0.8 * this.#averageMs + 0.2 * (performance.now() - started);
      this.#count(lane, -1);
      this.#countRunning(lane, -1);
      const next = this.#dequeue();
      if (next === undefined) this.#active--;
      else next();
    }
  }

  /**
   * Throws the `rate_limited` that {@linkcode run} would when `lane` already
   * has `maxPendingPerLane` tasks: callers refuse with it before doing the
   * work that leads to a hash (a store read).
   */
  checkLane(lane: string): void {
    const pending = this.pendingIn(lane);
    if (pending < this.maxPendingPerLane) return;
    // Roughly one turn of every lane per slot for each of this lane's tasks.
    const turns = Math.max(1, this.#lanes.size) * pending;
    throw new ChatError(
      "rate_limited",
      `Too many password checks from your address at once (limit ${this.maxPendingPerLane}); try again shortly`,
      { retryAfterMs: this.#estimateMs(turns) },
    );
  }

  /** Time for `tasks` tasks to run on the slots, roughly; at least 100 ms. */
  #estimateMs(tasks: number): number {
    return Math.max(100, Math.ceil(this.#averageMs * tasks / this.maxConcurrent));
  }

  #count(lane: string | undefined, delta: number): void {
    if (lane === undefined) return;
    const count = (this.#pending.get(lane) ?? 0) + delta;
    if (count === 0) this.#pending.delete(lane);
    else this.#pending.set(lane, count);
  }

  #enqueue(lane: string | undefined, resolve: () => void): void {
    const waiting = this.#lanes.get(lane);
    if (waiting === undefined) this.#lanes.set(lane, [resolve]);
    else waiting.push(resolve);
    this.#queued++;
  }

  #mayRun(lane: string | undefined): boolean {
    return lane === undefined || (this.#running.get(lane) ?? 0) < this.#maxRunningPerLane;
  }

  #countRunning(lane: string | undefined, delta: number): void {
    if (lane === undefined) return;
    const count = (this.#running.get(lane) ?? 0) + delta;
    if (count === 0) this.#running.delete(lane);
    else this.#running.set(lane, count);
  }

  /** The next waiting task of the first lane in turn that may run one more; that lane then goes last. */
  #dequeue(): (() => void) | undefined {
    for (const [lane, waiting] of this.#lanes) {
      if (!this.#mayRun(lane)) continue;
      const next = waiting.shift()!;
      this.#lanes.delete(lane);
      if (waiting.length > 0) this.#lanes.set(lane, waiting);
      this.#queued--;
      this.#countRunning(lane, 1);
      return next;
    }
    return undefined;
  }
}
