// @ts-check
// The web client's wire layer: requests over the WebSocket, each answered by
// the ack or error frame with its id. Plain browser JavaScript; its types
// come from shared/protocol.ts (JSDoc only: nothing of it is loaded), and
// `deno task check` checks them, so a result the page reads is one the
// protocol defines (docs/protocol.md, section 8).

/** @typedef {import("../../../shared/protocol.ts").RequestBody} RequestBody */
/** @typedef {import("../../../shared/protocol.ts").RequestType} RequestType */
/** @typedef {import("../../../shared/protocol.ts").RequestResults} RequestResults */
/** @typedef {import("../../../shared/protocol.ts").ServerFrame} ServerFrame */
/** @typedef {import("../../../shared/protocol.ts").ClientFrame} ClientFrame */

/**
 * @typedef {object} Waiter
 * @property {(result: object) => void} resolve
 * @property {(error: Error) => void} reject
 */

/** Requests in flight on one connection, by id. */
export class Wire {
  /** @type {(frame: object) => void} */
  #send;
  #nextId = 1;
  /** @type {Map<number, Waiter>} */
  #pending = new Map();

  /** @param {(frame: object) => void} send writes one frame to the socket */
  constructor(send) {
    this.#send = send;
  }

  /**
   * Sends `body` with a fresh id; resolves with its ack's result, typed by
   * the request's type, or rejects with the error frame's message.
   * @template {RequestBody} B
   * @param {B} body
   * @returns {Promise<RequestResults[B["type"]]>}
   */
  request(body) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (result) => resolve(/** @type {RequestResults[B["type"]]} */ (result)),
        reject,
      });
      this.#send({ ...body, id });
    });
  }

  /**
   * Settles the request an ack or error frame answers; false when the frame
   * answers none of ours (an error without an id, for one).
   * @param {ServerFrame} frame
   * @returns {boolean}
   */
  settle(frame) {
    if (frame.type !== "ack" && frame.type !== "error") return false;
    const waiter = frame.id === undefined ? undefined : this.#pending.get(frame.id);
    if (waiter === undefined || frame.id === undefined) return false;
    this.#pending.delete(frame.id);
    if (frame.type === "ack") waiter.resolve(frame.result ?? {});
    else waiter.reject(new Error(frame.message));
    return true;
  }

  /**
   * Fails every request in flight (the connection is gone).
   * @param {Error} error
   */
  failAll(error) {
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }
}
