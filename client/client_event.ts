/**
 * What a {@linkcode ChatClient} yields: the server's events plus the
 * connection's own state changes, so one loop can show everything in order.
 *
 * @module
 */
import type { ErrorFrame } from "../shared/errors.ts";
import type { AckFrame, ByeFrame, ChatEvent, RequestBody } from "../shared/protocol.ts";

/** The connection dropped; the client will try again after `delayMs`. */
export interface ReconnectingEvent {
  /** Always "reconnecting". */
  type: "reconnecting";
  /** 1 for the first retry after a drop. */
  attempt: number;
  /** How long the client waits before this attempt, in ms. */
  delayMs: number;
  /** Why the connection dropped, or why the last attempt failed. */
  reason: string;
  /** When this happened, in ms since the epoch (client clock). */
  ts: number;
}

/** The client is connected again and has rejoined its rooms. */
export interface ReconnectedEvent {
  /** Always "reconnected". */
  type: "reconnected";
  /** The attempt that succeeded, 1 for the first. */
  attempt: number;
  /** Rooms rejoined. */
  rooms: string[];
  /** Rooms that could not be rejoined, with why. */
  failed: Array<{ room: string; message: string }>;
  /** When this happened, in ms since the epoch (client clock). */
  ts: number;
}

/** The server said goodbye (shutdown, slow consumer, ...); `ts` is when it arrived. */
export interface ByeEvent extends ByeFrame {
  /** When it arrived, in ms since the epoch (client clock). */
  ts: number;
}

/** An error frame not tied to a request; `ts` is when it arrived. */
export interface ServerErrorEvent extends ErrorFrame {
  /** When it arrived, in ms since the epoch (client clock). */
  ts: number;
}

/**
 * How a request made with `{ replyEvent: true }` ended, delivered in order
 * with the other events (its promise settles too).
 */
export interface ReplyEvent {
  /** Always "reply". */
  type: "reply";
  /** The request, as passed to `request`. */
  request: RequestBody;
  /** The ack's result, when it succeeded and had one. */
  result?: AckFrame["result"];
  /** Why it failed. */
  error?: Error;
  /** When the reply arrived (or the request failed), in ms since the epoch. */
  ts: number;
}

/** Anything a {@linkcode ChatClient} yields. */
export type ClientEvent =
  | ChatEvent
  | ByeEvent
  | ServerErrorEvent
  | ReconnectingEvent
  | ReconnectedEvent
  | ReplyEvent;
