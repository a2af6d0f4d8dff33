/**
 * Replies to one connection's requests go out in request order, even when
 * an earlier request waits for a commit and a later one is answered at once.
 *
 * @module
 */

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * A per-connection queue of replies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OrderedReplies } from "./ordered_replies.ts";
 * const replies = new OrderedReplies();
 * const sent: string[] = [];
 * replies.add(Promise.resolve("first"), (v) => sent.push(v), () => {});
 * replies.add("second", (v) => sent.push(v), () => {});
 * replies.addInTurn(() => "third, started after the others went out", (v) => sent.push(v), () => {});
 * await replies.idle();
 * assert.equal(sent.length, 3);
 * ```
 */
export class OrderedReplies {
  #tail: Promise<void> | undefined;

  /**
   * Calls `reply` with the outcome's value (or `fail` with its error) after
   * every earlier reply. Returns a promise when the reply had to wait.
   */
  add<T>(
    outcome: T | Promise<T>,
    reply: (value: T) => void,
    fail: (error: unknown) => void,
  ): Promise<void> | undefined {
    if (this.#tail === undefined && !(outcome instanceof Promise)) {
      reply(outcome);
      return undefined;
    }
    // Settle at once so a rejection is never left unhandled while it waits its turn.
    const settled: Promise<Settled<T>> = Promise.resolve(outcome).then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, error }),
    );
    const previous = this.#tail ?? Promise.resolve();
    const done = previous.then(() => settled).then((result) => {
      if (result.ok) reply(result.value);
      else fail(result.error);
    });
    const tail = done.finally(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
    this.#tail = tail;
    return done;
  }

  /**
   * Like {@linkcode add}, but `start` is called only once every earlier
   * reply has gone out, so its result goes out as soon as it is ready and
   * never waits in memory behind slower replies (history pages are large).
   */
  addInTurn<T>(
    start: () => T | Promise<T>,
    reply: (value: T) => void,
    fail: (error: unknown) => void,
  ): Promise<void> | undefined {
    const previous = this.#tail;
    if (previous === undefined) {
      let outcome: T | Promise<T>;
      try {
        outcome = start();
      } catch (error) {
        outcome = Promise.reject(error);
      }
      return this.add(outcome, reply, fail);
    }
    return this.add(previous.then(start), reply, fail);
  }

  /** Resolves when every reply so far has gone out. */
  async idle(): Promise<void> {
    while (this.#tail !== undefined) await this.#tail;
  }
}
