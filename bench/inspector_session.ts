/**
 * A Chrome DevTools Protocol session with a process's V8 inspector
 * (`deno run --inspect=127.0.0.1:0`), for the bench's CPU profiles and the
 * soak's heap readings of the server subprocess.
 *
 * @module
 */

/** V8's heap figures, as `Runtime.getHeapUsage` returns them. */
export interface HeapUsage {
  /** Bytes of the JavaScript heap in use. */
  usedSize: number;
  /** Bytes the JavaScript heap has reserved. */
  totalSize: number;
}

/**
 * One CDP session over the inspector's WebSocket.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { InspectorSession } from "./inspector_session.ts";
 * const session = await InspectorSession.connect("ws://127.0.0.1:9229/…");
 * assert.ok((await session.heapUsage()).usedSize > 0);
 * session.close();
 * ```
 */
export class InspectorSession {
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    (message: { result?: unknown; error?: { message: string } }) => void
  >();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (typeof message.id === "number") {
        this.#pending.get(message.id)?.(message);
        this.#pending.delete(message.id);
      }
    };
  }

  /** Connects to the inspector WebSocket `url` (`ws://127.0.0.1:…/…`). */
  static async connect(url: string): Promise<InspectorSession> {
    if (!/^ws:\/\/127\.0\.0\.1:\d+\//.test(url)) {
      throw new Error(`Not a loopback inspector URL: ${url}`);
    }
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Cannot connect to the inspector at ${url}`));
    });
    return new InspectorSession(socket);
  }

  /** Calls a CDP `method`; rejects with the inspector's error, or after `timeoutMs`. */
  call(
    method: string,
    params: Record<string, unknown> = {},
    options: { timeoutMs?: number } = {},
  ): Promise<unknown> {
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`Inspector: no answer to ${method} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, (message) => {
        clearTimeout(timer);
        if (message.error) reject(new Error(`Inspector: ${method}: ${message.error.message}`));
        else resolve(message.result);
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The process's JavaScript heap figures. */
  async heapUsage(options: { timeoutMs?: number } = {}): Promise<HeapUsage> {
    const result = await this.call("Runtime.getHeapUsage", {}, options) as HeapUsage;
    return { usedSize: result.usedSize, totalSize: result.totalSize };
  }

  /** Closes the session. */
  close(): void {
    this.#socket.close();
  }
}
