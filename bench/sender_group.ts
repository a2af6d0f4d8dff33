/**
 * The senders of a scenario, all in the bench's main thread: connected,
 * in the room, and able to send message requests in batches.
 *
 * @module
 */
import { encodeFrame } from "../shared/frame.ts";
import { OutboundQueue } from "../shared/outbound_queue.ts";
import { BenchClient, type Mode } from "./bench_client.ts";
import { makeBody } from "./message_body.ts";

const encoder = new TextEncoder();
// Far more than any bench schedule queues; reaching it means the server stopped reading.
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/** One sender connection and what it has sent. */
export class Sender {
  readonly client: BenchClient;
  readonly #room: string;
  /** Message requests written so far. */
  sent = 0;
  // Batches queued while a write is in progress go out together in the next.
  readonly #queue: OutboundQueue;
  #failed: unknown;
  #wake: (() => void) | undefined;
  readonly #setupReplies: number;
  readonly #setupMessages: number;

  constructor(client: BenchClient, room: string) {
    this.client = client;
    this.#room = room;
    this.#queue = new OutboundQueue(client.conn, {
      maxBytes: MAX_QUEUED_BYTES,
      onError: (error) => this.#failed = error,
    });
    // The join's ack is not a reply to a message.
    this.#setupReplies = client.scanner.replies;
    this.#setupMessages = client.scanner.messages;
  }

  /** Messages (own or not) this sender, a member of the room, has received. */
  get received(): number {
    return this.client.scanner.messages - this.#setupMessages;
  }

  /** Replies to this sender's requests (framed mode only). */
  get replies(): number {
    return this.client.scanner.replies - this.#setupReplies;
  }

  /**
   * Queues one write holding a message for each send time in `sentAt`
   * (bodies of `bodyBytes` bytes). Throws if an earlier write failed.
   */
  send(sentAt: readonly number[], bodyBytes: number): void {
    if (this.#failed !== undefined) throw this.#failed;
    const parts: Uint8Array[] = [];
    let size = 0;
    for (const time of sentAt) {
      const body = makeBody(time, bodyBytes);
      this.sent++;
      // Framed: a say request. Text: a plain line says it in the current room.
      const part = this.client.mode === "framed"
        ? encodeFrame({ type: "say", id: this.sent, room: this.#room, body })
        : encoder.encode(body + "\n");
      parts.push(part);
      size += part.length;
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    if (!this.#queue.push(bytes)) {
      throw this.#failed ??
        new Error(`${this.client.nick}: over ${MAX_QUEUED_BYTES} bytes waiting to be written`);
    }
  }

  /** Resolves when every queued write has been handed to the kernel. */
  async flushed(): Promise<void> {
    await this.#queue.drained();
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Resolves at the next chunk this sender receives, or after `ms`. */
  nextChunk(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Called by the client after each chunk. */
  chunk(): void {
    this.#wake?.();
  }
}

/** Connects `count` senders (`s0`, `s1`…) and joins them to `room`. */
export async function openSenders(
  port: number,
  mode: Mode,
  room: string,
  count: number,
): Promise<Sender[]> {
  const senders: Sender[] = [];
  try {
    for (let i = 0; i < count; i++) {
      // The sender exists only once connected; chunks before that wake no one.
      const wake: { sender?: Sender } = {};
      const client = await BenchClient.connect({
        port,
        mode,
        nick: `s${i}`,
        room,
        onChunk: () => wake.sender?.chunk(),
      });
      wake.sender = new Sender(client, room);
      senders.push(wake.sender);
    }
  } catch (error) {
    closeSenders(senders);
    throw error;
  }
  return senders;
}

/** Closes every sender's connection. */
export function closeSenders(senders: readonly Sender[]): Promise<unknown> {
  for (const sender of senders) sender.client.close();
  return Promise.allSettled(senders.map((sender) => sender.client.ended));
}
