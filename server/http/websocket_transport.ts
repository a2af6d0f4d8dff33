/**
 * A WebSocket as a session's {@linkcode Writer}: what the session writes
 * (whole frames, possibly several joined by its output queue) goes out as
 * one binary message per frame, and a write waits while the socket's own
 * buffer is full, so a slow browser fills the session's bounded queue and is
 * dropped as a slow consumer like any other peer.
 *
 * @module
 */
import { FRAME_HEADER_BYTES } from "../../shared/frame.ts";
import type { Writer } from "../../shared/transport.ts";

// Bytes the socket may hold unsent before writes wait.
const HIGH_WATER_BYTES = 64 * 1024;
const DRAIN_POLL_MS = 5;

/**
 * Splits `bytes` (whole frames back to back) into one view per frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitFrames } from "./websocket_transport.ts";
 * import { encodeFrame } from "../../shared/frame.ts";
 * const two = new Uint8Array([...encodeFrame({ type: "ping" }), ...encodeFrame({ type: "ping" })]);
 * assert.equal(splitFrames(two).length, 2);
 * ```
 */
export function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + FRAME_HEADER_BYTES <= bytes.length) {
    const end = offset + FRAME_HEADER_BYTES + view.getUint32(offset);
    if (end > bytes.length) break;
    frames.push(bytes.subarray(offset, end));
    offset = end;
  }
  if (offset !== bytes.length) throw new TypeError("Cannot split frames: a frame is cut short");
  return frames;
}

/**
 * The writing side of a server WebSocket. Reads never come through here:
 * messages are pushed to the session as they arrive.
 *
 * @example
 * ```ts ignore
 * import { WebSocketTransport } from "./websocket_transport.ts";
 * const { socket, response } = Deno.upgradeWebSocket(request);
 * const transport = new WebSocketTransport(socket);
 * ```
 */
export class WebSocketTransport implements Writer {
  readonly socket: WebSocket;
  #opened: Promise<void>;

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    this.#opened = socket.readyState === WebSocket.CONNECTING
      ? new Promise((resolve) => socket.addEventListener("open", () => resolve(), { once: true }))
      : Promise.resolve();
  }

  async write(data: Uint8Array): Promise<number> {
    if (this.socket.readyState === WebSocket.CONNECTING) await this.#opened;
    for (const frame of splitFrames(data)) {
      if (this.socket.readyState !== WebSocket.OPEN) {
        throw new Deno.errors.BrokenPipe("The WebSocket is closed");
      }
      this.socket.send(frame);
    }
    while (this.socket.bufferedAmount > HIGH_WATER_BYTES) {
      if (this.socket.readyState !== WebSocket.OPEN) {
        throw new Deno.errors.BrokenPipe("The WebSocket is closed");
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    return data.length;
  }

  close(): void {
    if (this.socket.readyState === WebSocket.CONNECTING) {
      this.#opened.then(() => this.socket.close(1000));
    } else if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(1000);
    }
  }
}
