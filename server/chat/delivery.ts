/**
 * One event on its way to many recipients, encoded at most once per wire
 * format and shared by every recipient's queue.
 *
 * @module
 */
import { encodeFrame } from "../../shared/frame.ts";
import type { ChatEvent } from "../../shared/protocol.ts";
import { formatTextEvent } from "../session/text_format.ts";

const encoder = new TextEncoder();

/**
 * An event plus its lazily encoded bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Delivery } from "./delivery.ts";
 * const delivery = new Delivery({ type: "notice", body: "hi", ts: 0 });
 * assert.equal(delivery.frame === delivery.frame, true); // encoded once
 * ```
 */
export class Delivery {
  /** The event delivered. */
  readonly event: ChatEvent;
  #frame: Uint8Array | undefined;
  #text: Uint8Array | undefined;

  constructor(event: ChatEvent) {
    this.event = event;
  }

  /** The event as one protocol frame. */
  get frame(): Uint8Array {
    return this.#frame ??= encodeFrame(this.event);
  }

  /** The event as one plain-text line, CRLF-terminated. */
  get text(): Uint8Array {
    return this.#text ??= encoder.encode(formatTextEvent(this.event) + "\r\n");
  }
}
