/**
 * The start of a connection, before its mode is known. The first byte
 * received decides it (0x00: framed, anything else: plain text), never a
 * timer: a peer silent for the prompt delay is sent a plain-text greeting,
 * which framed clients skip (docs/protocol.md, section 2), and the mode is
 * still decided by what it sends next. A peer that sends nothing by the
 * deadline is silent.
 *
 * @module
 */
import type { Transport } from "../../shared/transport.ts";
import { writeAll } from "../../shared/transport.ts";

/** How the wait for a connection's first bytes ended. */
export type FirstBytes =
  /** `count` bytes were read into the buffer; `greeted`: the greeting went out before. */
  | { kind: "bytes"; count: number; greeted: boolean }
  /** The peer left (or writing the greeting failed) before sending anything. */
  | { kind: "ended" }
  /**
   * Nothing came by the deadline (`timeout`) or before `signal` was aborted
   * (`aborted`); `read` is the first read, still pending on the buffer.
   */
  | {
    kind: "silent";
    reason: "timeout" | "aborted";
    greeted: boolean;
    read: Promise<number | null>;
  };

/** Options for {@linkcode readFirstBytes}. */
export interface FirstBytesOptions {
  /** Sent once the peer has been silent this long, in ms. */
  promptDelayMs: number;
  /** What to send a silent peer: plain text without a 0x00 byte (only read, so it may be shared). */
  greeting: Uint8Array;
  /** When to give up waiting, in ms on the `performance.now()` clock. */
  deadline: number;
  /** Ends the wait early (server shutdown). */
  signal: AbortSignal;
}

/**
 * Reads the first bytes of `conn` into `buffer`, greeting the peer if it is
 * silent for `promptDelayMs`. Resolves only after the greeting, if any, is
 * written, so nothing written afterwards can overtake it.
 *
 * @example
 * ```ts ignore
 * import { readFirstBytes } from "./first_bytes.ts";
 * const buffer = new Uint8Array(256);
 * const first = await readFirstBytes(conn, buffer, {
 *   promptDelayMs: 500,
 *   greeting: new TextEncoder().encode("Nickname: "),
 *   deadline: performance.now() + 10_000,
 *   signal: AbortSignal.timeout(60_000),
 * });
 * const mode = first.kind === "bytes" && buffer[0] === 0 ? "framed" : "text";
 * ```
 */
export function readFirstBytes(
  conn: Transport,
  buffer: Uint8Array,
  options: FirstBytesOptions,
): Promise<FirstBytes> {
  const read = conn.read(buffer).catch(() => null);
  return new Promise((resolve) => {
    // Resolves to whether the greeting is out; undefined while none was sent.
    let greeting: Promise<boolean> | undefined;
    let settled = false;
    const settle = (outcome: FirstBytes) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      if (greeting === undefined) return resolve(outcome);
      greeting.then((written) => resolve(written ? outcome : { kind: "ended" }));
    };
    const silent = (reason: "timeout" | "aborted") =>
      settle({ kind: "silent", reason, greeted: greeting !== undefined, read });
    const onAbort = () => silent("aborted");
    const left = () => Math.max(0, options.deadline - performance.now());
    // One timer at a time: most peers speak before the prompt delay.
    let timer = left() <= options.promptDelayMs
      ? setTimeout(() => silent("timeout"), left())
      : setTimeout(() => {
        greeting = writeAll(conn, options.greeting).then(() => true, () => false);
        timer = setTimeout(() => silent("timeout"), left());
      }, options.promptDelayMs);
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    read.then((count) =>
      settle(
        count === null
          ? { kind: "ended" }
          : { kind: "bytes", count, greeted: greeting !== undefined },
      )
    );
  });
}
