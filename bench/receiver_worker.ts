/**
 * Worker entry that runs a {@linkcode ReceiverPool} in its own thread, so
 * receivers can be spread over more than one event loop.
 *
 * Messages in: `{ type: "open", config }`, `{ type: "result" }`,
 * `{ type: "close" }`. Messages out: `ready`, `failed`, `result`, `closed`.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { ReceiverPool, type ReceiverPoolConfig } from "./receiver_pool.ts";

let pool: ReceiverPool | undefined;

self.onmessage = async (event: MessageEvent) => {
  const message = event.data as { type: string; config?: ReceiverPoolConfig };
  try {
    switch (message.type) {
      case "open":
        pool = await ReceiverPool.open(message.config!);
        self.postMessage({ type: "ready" });
        return;
      case "result":
        self.postMessage({ type: "result", result: pool?.result() });
        return;
      case "close":
        await pool?.close();
        pool = undefined;
        self.postMessage({ type: "closed" });
        return;
    }
  } catch (error) {
    self.postMessage({
      type: "failed",
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
