/**
 * An in-memory transport for tests whose writes stay pending until the test
 * settles them, so the test decides when the peer "reads".
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Writer } from "../../shared/transport.ts";

interface PendingWrite {
  data: Uint8Array;
  resolve: (written: number) => void;
  reject: (error: unknown) => void;
}

/** A writer whose writes wait for {@linkcode ManualTransport.accept}. */
export class ManualTransport implements Writer {
  /** Every write call, in order, with a copy of the bytes offered. */
  readonly calls: Uint8Array[] = [];
  /** Bytes the transport accepted, in order. */
  readonly written: number[] = [];
  readonly #pending: PendingWrite[] = [];

  write(data: Uint8Array): Promise<number> {
    this.calls.push(data.slice());
    return new Promise((resolve, reject) => this.#pending.push({ data, resolve, reject }));
  }

  close(): void {}

  get pendingWrites(): number {
    return this.#pending.length;
  }

  /** Accepts the oldest pending write, all of it or its first `count` bytes. */
  accept(count?: number): void {
    const write = this.#pending.shift();
    assert.ok(write, "no write is pending");
    const n = count ?? write.data.length;
    // A loop, not a spread: a spread of a large write overflows the stack.
    for (const byte of write.data.subarray(0, n)) this.written.push(byte);
    write.resolve(n);
  }

  /** Fails the oldest pending write. */
  fail(error: unknown): void {
    const write = this.#pending.shift();
    assert.ok(write, "no write is pending");
    write.reject(error);
  }
}
