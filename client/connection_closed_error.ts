/**
 * The error for requests that did not get an answer because the connection
 * went away (or the client was closed) first.
 *
 * @module
 */

/**
 * A request failed because the connection closed before the server replied;
 * it may or may not have taken effect.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionClosedError } from "./connection_closed_error.ts";
 * const error = new ConnectionClosedError("Connection lost before the server confirmed say #general");
 * assert.equal(error.name, "ConnectionClosedError");
 * ```
 */
export class ConnectionClosedError extends Error {
  /** Makes the error; `cause` is the network error behind it, if any. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConnectionClosedError";
  }
}
