/**
 * Uploads and downloads through a test peer, frame by frame, as section 23
 * of docs/protocol.md describes them; and test bytes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Frame, Peer } from "./peer.ts";

/** `size` bytes of a fixed pseudo-random sequence (`seed` picks which). */
export function bytesOf(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** Lower-case hex SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Uploads `bytes` as `name` to `where` ({room} or {to}); resolves to the end's reply. */
export async function upload(
  peer: Peer,
  bytes: Uint8Array,
  where: { room: string } | { to: string },
  options: { name?: string; mediaType?: string; sha256?: string } = {},
): Promise<Frame> {
  const begin = await peer.request({
    type: "upload_begin",
    name: options.name ?? "data.bin",
    size: bytes.length,
    ...(options.mediaType === undefined ? {} : { mediaType: options.mediaType }),
    ...(options.sha256 === undefined ? {} : { sha256: options.sha256 }),
    ...where,
  });
  if (begin.type !== "ack") return begin;
  const { upload: id, chunkBytes } = begin.result;
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    const chunk = await peer.request({
      type: "upload_chunk",
      upload: id,
      offset,
      data: bytes.subarray(offset, offset + chunkBytes),
    });
    if (chunk.type !== "ack") return chunk;
  }
  return await peer.request({ type: "upload_end", upload: id });
}

/** Downloads file `id` whole; resolves to its bytes and the last reply. */
export async function download(
  peer: Peer,
  id: string,
): Promise<{ bytes: Uint8Array; last: Frame }> {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (true) {
    const reply = await peer.request({ type: "download", file: id, offset });
    if (reply.type !== "ack") return { bytes: new Uint8Array(0), last: reply };
    parts.push(reply.result.data);
    offset += reply.result.data.length;
    if (reply.result.done) {
      const bytes = new Uint8Array(offset);
      let at = 0;
      for (const part of parts) {
        bytes.set(part, at);
        at += part.length;
      }
      return { bytes, last: reply };
    }
  }
}
