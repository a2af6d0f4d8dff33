/**
 * What a {@linkcode ChatClient} yields: the server's events plus the
 * connection's own state changes, so one loop can show everything in order.
 *
 * @module
 */
import type { ErrorFrame } from "../shared/errors.ts";
import type {
  ByeFrame,
  ChatEvent,
  Reply,
  RequestBodyOf,
  RequestType,
  ResultOf,
} from "../shared/protocol.ts";

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

/** How a request of type `K` made with `{ replyEvent: true }` ended. */
export interface ReplyEventOf<K extends RequestType> {
  /** Always "reply". */
  type: "reply";
  /** The request, as passed to `request`. */
  request: RequestBodyOf<K>;
  /** The ack's result, when it succeeded (checked against the request's type). */
  result?: ResultOf<K>;
  /** Why it failed. */
  error?: Error;
  /** When the reply arrived (or the request failed), in ms since the epoch. */
  ts: number;
}

/**
 * How a request made with `{ replyEvent: true }` ended, delivered in order
 * with the other events (its promise settles too); one type per request
 * type, so `result` is the result of `request`.
 */
export type ReplyEvent = { [K in RequestType]: ReplyEventOf<K> }[RequestType];

/**
 * The request of a successful reply event with its result, to narrow
 * together with `isReplyTo`; undefined when the request failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isReplyTo } from "../shared/protocol.ts";
 * import { replyOf } from "./client_event.ts";
 * const reply = replyOf({ type: "reply", request: { type: "ping" }, result: { ts: 5 }, ts: 6 });
 * assert.equal(reply !== undefined && isReplyTo(reply, "ping") ? reply.result.ts : 0, 5);
 * ```
 */
export function replyOf(event: ReplyEvent): Reply | undefined {
  if (event.error !== undefined || event.result === undefined) return undefined;
  return { request: event.request, result: event.result } as Reply;
}

/** Anything a {@linkcode ChatClient} yields. */
export type ClientEvent =
  | ChatEvent
  | ByeEvent
  | ServerErrorEvent
  | ReconnectingEvent
  | ReconnectedEvent
  | ReplyEvent;
