/**
 * Every setting of `chat serve`, with its default. Each limit has a flag.
 *
 * @module
 */
import { DEFAULT_MAX_FRAME_BYTES } from "../shared/frame.ts";
import { DEFAULT_MAX_QUEUE_BYTES } from "../shared/outbound_queue.ts";
import { DEFAULT_MAX_BODY_LENGTH } from "../shared/validation.ts";

/** Settings of a {@linkcode ChatServer}; all limits are enforced. */
export interface ServerOptions {
  /** Address to listen on. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Largest frame payload accepted, in bytes. */
  maxFrameBytes: number;
  /** Longest line accepted in plain-text mode, in bytes. */
  maxLineBytes: number;
  /** Longest message body, in code points. */
  maxBodyLength: number;
  /** Most bytes queued to one connection before it is dropped as a slow consumer. */
  maxQueueBytes: number;
  /** Requests a connection may make at once before the rate applies. */
  rateBurst: number;
  /** Requests per second a connection may sustain. */
  ratePerSecond: number;
  /** Rate-limited requests tolerated (refilled one per second) before the connection is dropped. */
  floodStrikes: number;
  /** Most connections in total. */
  maxConnections: number;
  /** Most connections from one IP address. */
  maxConnectionsPerIp: number;
  /** Time a new connection has to complete `hello`, in ms. */
  handshakeTimeoutMs: number;
  /** Silence after which a framed peer is pinged, in ms; dropped after 3 intervals. */
  heartbeatMs: number;
  /** Silence after which a new connection is treated as plain text and prompted, in ms. */
  textPromptDelayMs: number;
  /** Time allowed on shutdown to flush queued output, in ms. */
  shutdownGraceMs: number;
}

/** The defaults of every setting. */
export const DEFAULT_SERVER_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  host: "0.0.0.0",
  port: 7007,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxLineBytes: 16 * 1024,
  maxBodyLength: DEFAULT_MAX_BODY_LENGTH,
  maxQueueBytes: DEFAULT_MAX_QUEUE_BYTES,
  rateBurst: 20,
  ratePerSecond: 10,
  floodStrikes: 50,
  maxConnections: 10_000,
  maxConnectionsPerIp: 100,
  handshakeTimeoutMs: 10_000,
  heartbeatMs: 30_000,
  textPromptDelayMs: 500,
  shutdownGraceMs: 5_000,
});
