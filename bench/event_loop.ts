/**
 * Precise waiting for the open-loop scheduler. Deno's timers fire about
 * 2 ms late at best (setTimeout(0) takes ~2 ms here), which would count as
 * latency against the server. In a Worker, `Atomics.wait` sleeps with
 * ~0.1 ms precision, and a MessageChannel round trip yields to the event
 * loop (so pending I/O is handled) in ~0.01 ms.
 *
 * @module
 */

const nothing = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` (Workers only; blocks I/O too). */
export function blockFor(ms: number): void {
  if (ms > 0) Atomics.wait(nothing, 0, 0, ms);
}

/** Yields to the event loop once, much faster than `setTimeout(0)`. */
export class EventLoopYield {
  readonly #channel = new MessageChannel();
  #resolve: (() => void) | undefined;

  constructor() {
    this.#channel.port1.onmessage = () => this.#resolve?.();
  }

  /** Resolves after the event loop has run once (I/O included). */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#channel.port2.postMessage(0);
    });
  }

  /** Closes the channel so it no longer keeps the event loop alive. */
  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}
