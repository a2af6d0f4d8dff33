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
  type: "reconnecting";
  /** 1 for the first retry after a drop. */
  attempt: number;
  delayMs: number;
  /** Why the connection dropped, or why the last attempt failed. */
  reason: string;
  ts: number;
}

/** The client is connected again and has rejoined its rooms. */
export interface ReconnectedEvent {
  type: "reconnected";
  attempt: number;
  /** Rooms rejoined. */
  rooms: string[];
  /** Rooms that could not be rejoined, with why. */
  failed: Array<{ room: string; message: string }>;
  ts: number;
}

/** The server said goodbye (shutdown, slow consumer, ...); `ts` is when it arrived. */
export interface ByeEvent extends ByeFrame {
  ts: number;
}

/** An error frame not tied to a request; `ts` is when it arrived. */
export interface ServerErrorEvent extends ErrorFrame {
  ts: number;
}

/**
 * How a request made with `{ replyEvent: true }` ended, delivered in order
 * with the other events (its promise settles too).
 */
export interface ReplyEvent {
  type: "reply";
  /** The request, as passed to `request`. */
  request: RequestBody;
  /** The ack's result, when it succeeded and had one. */
  result?: AckFrame["result"];
  /** Why it failed. */
  error?: Error;
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
