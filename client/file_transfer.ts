/**
 * Sending and fetching files over a {@linkcode ChatClient} (docs/protocol.md,
 * section 23): a local file goes out in chunks of the size the server
 * names, a few in flight at once; a download is written beside its target
 * and moved into place only once whole and its hash checked, never over an
 * existing file unless asked.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ChatError } from "../shared/errors.ts";
import { DEFAULT_FILE_TYPE } from "../shared/file_fields.ts";
import type { FileInfo, RequestBodyOf, ResultOf } from "../shared/protocol.ts";
import type { ChatClient } from "./chat_client.ts";

/**
 * Chunks of one upload in flight. One: each chunk is a request under the
 * server's rate limit, which bounds the speed anyway, and a chunk refused
 * with `rate_limited` is sent again before the next one goes.
 */
export const UPLOAD_WINDOW = 1;

/** What a transfer reports as it goes: bytes done of the total. */
export type Progress = (done: number, total: number) => void;

/** Where an upload goes: a room, or a user as a direct message. */
export type UploadTarget = { room: string } | { to: string };

// Media types by extension: a label for the receiver, never trusted by the server.
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  json: "application/json",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  mp4: "video/mp4",
  webm: "video/webm",
};

/**
 * The media type a file name suggests, by its extension.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mediaTypeOf } from "./file_transfer.ts";
 * assert.equal(mediaTypeOf("Report.PDF"), "application/pdf");
 * assert.equal(mediaTypeOf("notes"), "application/octet-stream");
 * ```
 */
export function mediaTypeOf(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return DEFAULT_FILE_TYPE;
  return MEDIA_TYPES[name.slice(dot + 1).toLowerCase()] ?? DEFAULT_FILE_TYPE;
}

/** The last part of a path, either separator. */
export function baseName(path: string): string {
  return path.split(/[/\\]/).filter((part) => part !== "").at(-1) ?? path;
}

/**
 * A name from a server made safe to save under in the current directory:
 * no separators, no control characters, not `.` or `..`, not hidden.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safeFileName } from "./file_transfer.ts";
 * assert.equal(safeFileName("../../etc/passwd"), "passwd");
 * assert.equal(safeFileName(".bashrc"), "_bashrc");
 * ```
 */
export function safeFileName(name: string): string {
  // Control, format (bidi, zero-width) and separator characters.
  const cleaned = baseName(name).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "_");
  if (cleaned === "" || cleaned === "." || cleaned === "..") return "download";
  return cleaned.startsWith(".") ? `_${cleaned.slice(1)}` : cleaned;
}

async function hashOf(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(256 * 1024);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

async function readFully(file: Deno.FsFile, size: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/**
 * Uploads the file at `path` to `target`; resolves with the ack of its
 * end (the file's info and the message's id) once it is shared. The file's
 * SHA-256 goes with it, so the server shares exactly these bytes or
 * nothing.
 */
export async function uploadFile(
  client: ChatClient,
  path: string,
  options: { target: UploadTarget; onProgress?: Progress; name?: string; mediaType?: string },
): Promise<ResultOf<"upload_end">> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw new ChatError("bad_request", `Cannot upload ${path}: not a file`);
  const size = info.size;
  const name = options.name ?? baseName(path);
  const begin: RequestBodyOf<"upload_begin"> = {
    type: "upload_begin",
    name,
    size,
    mediaType: options.mediaType ?? mediaTypeOf(name),
    sha256: await hashOf(path),
    ...options.target,
  };
  const { upload, chunkBytes } = await client.request(begin);
  using file = await Deno.open(path, { read: true });
  try {
    const inFlight = new Set<Promise<unknown>>();
    let sent = 0;
    let acked = 0;
    while (sent < size) {
      const data = await readFully(file, Math.min(chunkBytes, size - sent));
      if (data.length === 0) {
        throw new ChatError("upload_failed", `Cannot upload ${path}: it shrank while reading`);
      }
      const chunk = client.request({ type: "upload_chunk", upload, offset: sent, data })
        .then((result) => {
          acked = Math.max(acked, result.received);
          options.onProgress?.(acked, size);
        });
      sent += data.length;
      const tracked: Promise<unknown> = chunk.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= UPLOAD_WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } catch (error) {
    await client.request({ type: "upload_cancel", upload }).catch(() => {});
    throw error;
  }
  return await client.request({ type: "upload_end", upload });
}

/** What {@linkcode downloadFile} saved. */
export interface Downloaded {
  path: string;
  file: FileInfo;
  sha256: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Downloads file `id` to `options.path` (default: its name, made safe, in
 * the current directory; a directory given as the path gets the name
 * inside it). The bytes go to `PATH.part` first and are moved into place
 * once whole and their SHA-256 matches. An existing file is refused unless
 * `overwrite`.
 */
export async function downloadFile(
  client: ChatClient,
  id: string,
  options: { path?: string; overwrite?: boolean; onProgress?: Progress } = {},
): Promise<Downloaded> {
  const first = await client.request({ type: "download", file: id });
  const { file, sha256 } = first;
  let path = options.path ?? safeFileName(file.name);
  if (options.path !== undefined && (await Deno.stat(path).catch(() => undefined))?.isDirectory) {
    path = `${path.replace(/[/\\]+$/, "")}/${safeFileName(file.name)}`;
  }
  if (!options.overwrite && await exists(path)) {
    throw new ChatError(
      "bad_request",
      `Cannot save ${file.name} as ${path}: it exists (give another path, or --force)`,
    );
  }
  const part = `${path}.part`;
  const hash = createHash("sha256");
  try {
    using out = await Deno.open(part, { write: true, create: true, truncate: true });
    let result = first;
    let received = 0;
    while (true) {
      hash.update(result.data);
      let written = 0;
      while (written < result.data.length) {
        written += await out.write(result.data.subarray(written));
      }
      received += result.data.length;
      options.onProgress?.(received, file.size);
      if (result.done || result.data.length === 0) break;
      result = await client.request({ type: "download", file: id, offset: received });
    }
    if (received !== file.size || hash.digest("hex") !== sha256) {
      throw new ChatError(
        "upload_failed",
        `Download of ${file.name} came out wrong (${received} of ${file.size} bytes, or a hash mismatch)`,
      );
    }
    await out.sync();
  } catch (error) {
    await Deno.remove(part).catch(() => {});
    throw error;
  }
  if (options.overwrite) {
    await Deno.rename(part, path);
  } else {
    // A link fails if the name was taken meanwhile: nothing is overwritten.
    try {
      await Deno.link(part, path);
    } catch (error) {
      await Deno.remove(part).catch(() => {});
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new ChatError("bad_request", `Cannot save ${file.name} as ${path}: it exists`);
      }
      throw error;
    }
    await Deno.remove(part);
  }
  return { path, file, sha256 };
}
