/**
 * Group commit: items added while a commit is being prepared or running
 * are written together, so many messages cost one transaction and each
 * sender learns exactly when its own item is durable.
 *
 * @module
 */

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Told how each commit went (the store's health). */
export interface CommitObserver {
  committed(): void;
  failed(error: unknown): void;
}

/** Options for {@linkcode GroupCommit}. */
export interface GroupCommitOptions {
  /** Most items written in one commit. */
  maxBatch?: number;
  /** Most items waiting before `add` refuses more (back-pressure on a stalled store). */
  maxPending?: number;
  /**
   * Starts a commit once items wait. Default: after this turn's I/O
   * callbacks (`setImmediate`), so everything read meanwhile joins the batch.
   */
  schedule?: (start: () => void) => void;
  /** Told the outcome of every commit. */
  observer?: CommitObserver;
}

/** Refused because too many items are already waiting for the store. */
export class StoreBusyError extends Error {
  constructor(pending: number) {
    super(`Store busy: ${pending} writes waiting`);
    this.name = "StoreBusyError";
  }
}

/**
 * Batches items into commits made by `write`, one commit at a time, in the
 * order the items were added.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GroupCommit } from "./group_commit.ts";
 * const log: number[][] = [];
 * const commits = new GroupCommit<number>(async (batch) => void log.push([...batch]));
 * await Promise.all([commits.add(1), commits.add(2)]);
 * assert.deepEqual(log, [[1, 2]]);
 * ```
 */
export class GroupCommit<T> {
  #write: (batch: T[]) => Promise<void>;
  #maxBatch: number;
  #maxPending: number;
  #pending: Pending<T>[] = [];
  #running: Promise<void> | undefined;
  #schedule: (start: () => void) => void;
  #observer: CommitObserver | undefined;

  constructor(write: (batch: T[]) => Promise<void>, options: GroupCommitOptions = {}) {
    this.#write = write;
    this.#schedule = options.schedule ?? setImmediate;
    this.#observer = options.observer;
    this.#maxBatch = options.maxBatch ?? 10_000;
    this.#maxPending = options.maxPending ?? 1_000_000;
  }

  /** Items waiting to be committed. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Resolves once `item` is committed; rejects if its commit failed. */
  add(item: T): Promise<void> {
    if (this.#pending.length >= this.#maxPending) {
      return Promise.reject(new StoreBusyError(this.#pending.length));
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      this.#running ??= new Promise<void>((start) => this.#schedule(start)).then(() => this.#run());
    });
  }

  /** Resolves when everything added so far is committed (or failed). */
  async flushed(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.#maxBatch);
        try {
          await this.#write(batch.map((entry) => entry.item));
        } catch (error) {
          this.#observer?.failed(error);
          for (const entry of batch) entry.reject(error);
          continue;
        }
        this.#observer?.committed();
        for (const entry of batch) entry.resolve();
      }
    } finally {
      this.#running = undefined;
    }
  }
}
