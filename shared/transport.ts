/**
 * The byte streams connections run over. `Deno.Conn` (TCP, TLS, Unix) fits
 * both as it is; tests may use an in-memory pair.
 *
 * @module
 */

/**
 * The writing side of a connection: what a server session holds. Sessions
 * never read; the server reads and feeds them (see `server/chat_server.ts`).
 */
export interface Writer {
  /** Writes some prefix of `data`; resolves to how many bytes were written. */
  write(data: Uint8Array): Promise<number>;
  /** Closes both directions; pending reads end. */
  close(): void;
  /** Closes the writing direction only (TCP half-close), when the transport has one. */
  closeWrite?(): Promise<void>;
}

/** A bidirectional byte stream. */
export interface Transport extends Writer {
  /** Reads into `buffer`; resolves to the byte count, or null at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * Writes all of `data`, looping over partial writes.
 *
 * @example
 * ```ts ignore
 * import { writeAll } from "./transport.ts";
 * await writeAll(conn, new TextEncoder().encode("hello\n"));
 * ```
 */
export async function writeAll(transport: Writer, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await transport.write(offset === 0 ? data : data.subarray(offset));
  }
}
