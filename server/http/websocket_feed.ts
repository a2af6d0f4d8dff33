/**
 * Feeds a WebSocket's messages to a framed session: each binary message
 * must be exactly one frame (length prefix included), within the frame cap;
 * anything else ends the connection with the matching error code. Messages
 * are handed over one at a time, and not while a request later ones depend
 * on is running, like reads on TCP.
 *
 * @module
 */
import { FRAME_HEADER_BYTES } from "../../shared/frame.ts";
import type { ServerMetrics } from "../server_metrics.ts";
import type { Session } from "../session/session.ts";

/** Options for {@linkcode feedWebSocket}. */
export interface FeedOptions {
  /** Largest frame payload accepted, in bytes. */
  maxFrameBytes: number;
  /** Most bytes of messages waiting for the session before the peer is cut off as a flood. */
  maxPendingBytes: number;
  metrics: ServerMetrics;
  /** Called once when the socket has closed. */
  onClose: () => void;
}

/**
 * Wires `socket`'s messages into `session` and its close into `onClose`.
 *
 * @example
 * ```ts ignore
 * import { feedWebSocket } from "./websocket_feed.ts";
 * feedWebSocket(socket, session, { maxFrameBytes, maxPendingBytes, metrics, onClose });
 * ```
 */
export function feedWebSocket(socket: WebSocket, session: Session, options: FeedOptions): void {
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let busy = false;
  const pump = () => {
    while (!busy && pending.length > 0 && !session.finishing) {
      const frame = pending.shift()!;
      pendingBytes -= frame.length;
      const wait = session.receive(frame);
      if (wait !== undefined) {
        busy = true;
        const resume = () => {
          busy = false;
          pump();
        };
        wait.then(resume, resume);
      }
    }
  };
  socket.addEventListener("message", (event) => {
    // Finishing: nothing more is handled.
    if (session.finishing) return;
    session.lastSeen = performance.now();
    if (typeof event.data === "string") {
      options.metrics.bytesIn += event.data.length;
      void session.finish("bad_frame", "Text messages are not frames: send each frame as binary");
      return;
    }
    const frame = new Uint8Array(event.data as ArrayBuffer);
    options.metrics.bytesIn += frame.length;
    if (frame.length - FRAME_HEADER_BYTES > options.maxFrameBytes) {
      void session.finish(
        "frame_too_large",
        `Frame of ${
          frame.length - FRAME_HEADER_BYTES
        } bytes exceeds limit ${options.maxFrameBytes}`,
      );
      return;
    }
    const declared = frame.length < FRAME_HEADER_BYTES
      ? -1
      : new DataView(frame.buffer, frame.byteOffset).getUint32(0);
    if (declared !== frame.length - FRAME_HEADER_BYTES) {
      void session.finish(
        "bad_frame",
        "Each WebSocket message must be exactly one frame: a 4-byte length and that many bytes",
      );
      return;
    }
    pendingBytes += frame.length;
    if (pendingBytes > options.maxPendingBytes) {
      void session.finish("flood", "Too much input waiting to be handled");
      return;
    }
    pending.push(frame);
    pump();
  });
  socket.addEventListener("close", () => options.onClose(), { once: true });
}
