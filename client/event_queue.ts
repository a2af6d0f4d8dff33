/**
 * An unbounded-by-default, single-consumer async queue: the producer never
 * waits, the consumer iterates with `for await`.
 *
 * @module
 */

/** Options for {@linkcode EventQueue}. */
export interface EventQueueOptions {
  /** Most items held for a consumer that is not reading; the oldest go first. */
  maxItems?: number;
}

/**
 * A queue of items consumed by one `for await` loop at a time. Leaving the
 * loop early does not end the queue; a later loop continues where it left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "./event_queue.ts";
 * const queue = new EventQueue<number>();
 * queue.push(1);
 * queue.end();
 * assert.deepEqual(await Array.fromAsync(queue), [1]);
 * ```
 */
export class EventQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #maxItems: number;
  #ended = false;
  #dropped = 0;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #iterating = false;

  /** Makes an empty queue. */
  constructor(options: EventQueueOptions = {}) {
    this.#maxItems = options.maxItems ?? Infinity;
  }

  /** Items dropped because nobody read them in time. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether {@linkcode EventQueue.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item`, handing it straight to a waiting consumer if there is one. */
  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    this.#items.push(item);
    if (this.size > this.#maxItems) {
      this.#head++;
      this.#dropped++;
    }
    // Compact now and then so a long-lived queue does not keep read items.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Ends the queue: the consumer gets what is buffered, then stops. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  /** Starts the one loop that reads the queue; throws if another is running. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterating) {
      throw new Error("Cannot iterate events: another loop is already reading them");
    }
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: () => {
        this.#iterating = false;
        const waiter = this.#waiter;
        this.#waiter = undefined;
        waiter?.({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  #next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.#items[this.#head]!;
      // Drop the reference so a long queue does not pin read items.
      this.#items[this.#head] = undefined as T;
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) {
      this.#iterating = false;
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => this.#waiter = resolve);
  }
}
