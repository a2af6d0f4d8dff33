/**
 * A real HTTP receiver for webhook tests: `Deno.serve` on loopback and a
 * free port, recording every request and answering as the test says.
 * Tests wait for its requests, never for time.
 *
 * @module
 */

/** A request the receiver got. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** How the receiver answers request number `index` (0-based). */
export type Responder = (request: ReceivedRequest, index: number) => Response | Promise<Response>;

/** A webhook endpoint under a test's control. */
export class WebhookReceiver implements AsyncDisposable {
  readonly requests: ReceivedRequest[] = [];
  /** How to answer; 204 by default. */
  respond: Responder = () => new Response(null, { status: 204 });
  #server: Deno.HttpServer<Deno.NetAddr>;
  #waiters: Array<() => void> = [];

  constructor() {
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, async (request) => {
      const received: ReceivedRequest = {
        method: request.method,
        path: new URL(request.url).pathname,
        headers: request.headers,
        body: await request.text(),
      };
      const index = this.requests.push(received) - 1;
      for (const wake of this.#waiters.splice(0)) wake();
      return await this.respond(received, index);
    });
  }

  /** `http://127.0.0.1:PORT/hook`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/hook`;
  }

  /** Waits for request number `index` (0-based), at most `timeoutMs`. */
  async nth(index: number, timeoutMs = 10_000): Promise<ReceivedRequest> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length <= index) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no request #${index} within ${timeoutMs} ms (got ${this.requests.length})`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.requests[index]!;
  }

  /** The JSON bodies received so far. */
  // deno-lint-ignore no-explicit-any
  get payloads(): any[] {
    return this.requests.map((request) => JSON.parse(request.body));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

/** Waits for `condition`, checked again every 10 ms, at most `timeoutMs`. */
export async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
