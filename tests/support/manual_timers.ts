/**
 * Timers a test moves by hand, for a {@linkcode FlushScheduler}: the clock
 * stands still until the test advances it, and end-of-turn callbacks run
 * when the test says the turn is over.
 *
 * @module
 */
import type { FlushTimers } from "../../shared/flush_scheduler.ts";

/** A {@linkcode FlushTimers} under the test's control. */
export class ManualTimers implements FlushTimers {
  #now = 0;
  #timers: Array<{ at: number; callback: () => void }> = [];
  #turn: Array<() => void> = [];

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): void {
    this.#timers.push({ at: this.#now + Math.max(0, ms), callback });
  }

  endOfTurn(callback: () => void): void {
    this.#turn.push(callback);
  }

  /** Timers armed and not yet fired. */
  get armed(): number {
    return this.#timers.length;
  }

  /** Ends the turn: runs the end-of-turn callbacks (and those they add), then lets promise reactions run. */
  async endTurn(): Promise<void> {
    while (this.#turn.length > 0) {
      const callbacks = this.#turn;
      this.#turn = [];
      for (const callback of callbacks) callback();
      await settle();
    }
  }

  /** Moves the clock on by `ms`, firing the timers due meanwhile in order, each followed by its turn. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    while (true) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > until) break;
      this.#timers.shift();
      this.#now = next.at;
      next.callback();
      await settle();
      await this.endTurn();
    }
    this.#now = until;
  }
}

/** Lets pending promise reactions run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
