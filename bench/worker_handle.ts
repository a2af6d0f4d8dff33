/**
 * A Worker spoken to in request/reply pairs: each message posted gets the
 * next message back, and a `failed` reply becomes a rejection.
 *
 * @module
 */

/** A reply from a bench Worker. */
export interface WorkerReply {
  type: string;
  message?: string;
  [key: string]: unknown;
}

/** A bench Worker running `url`. */
export class WorkerHandle {
  readonly #worker: Worker;
  readonly #replies: Array<(reply: WorkerReply) => void> = [];
  #terminated = false;

  constructor(url: URL) {
    this.#worker = new Worker(url.href, { type: "module" });
    this.#worker.onmessage = (event) => this.#replies.shift()?.(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#replies.shift()?.({ type: "failed", message: event.message });
    };
  }

  /** Posts `message` and resolves to the reply; rejects on `failed` or after `timeoutMs`. */
  async ask(
    message: { type: string; [key: string]: unknown },
    timeoutMs = 120_000,
  ): Promise<WorkerReply> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = new Promise<WorkerReply>((resolve) => {
      this.#replies.push(resolve);
      this.#worker.postMessage(message);
    });
    const timeout = new Promise<WorkerReply>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({ type: "failed", message: `no reply to ${message.type} in ${timeoutMs} ms` }),
        timeoutMs,
      );
    });
    const answer = await Promise.race([reply, timeout]);
    clearTimeout(timer);
    if (answer.type === "failed") throw new Error(`Bench worker: ${answer.message}`);
    return answer;
  }

  /** Stops the Worker. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.terminate();
  }
}
