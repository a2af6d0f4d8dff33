/**
 * Where the bytes of shared files live, by content (their SHA-256): one
 * copy per content whoever uploaded it. A blob is written whole, hashed on
 * the way, and only then put in place, so a reader never sees part of one.
 * Three kinds: a directory (the data directory's `files/`), memory (for
 * `--memory`, within a byte cap) and Redis (for `--redis`, so that every
 * instance serves every file).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ChatError } from "../../shared/errors.ts";
import { SHA256_HEX } from "../../shared/file_fields.ts";
import { type RedisConnection, RedisScript } from "../cluster/redis_connection.ts";

/** A blob being written: its bytes in order, then committed or aborted. */
export interface BlobWriter {
  /** Appends `chunk`. */
  write(chunk: Uint8Array): Promise<void>;
  /** The SHA-256 (lower-case hex) of everything written; call once, after the last write. */
  digest(): string;
  /** Puts the blob in place under its digest (durably); a blob already there is kept. */
  commit(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

/** Blobs by SHA-256. */
export interface BlobStore {
  /** Starts a blob of `size` bytes. */
  create(size: number): Promise<BlobWriter>;
  /** Up to `length` bytes of blob `sha256` from `offset`; throws `no_such_file` when it is gone. */
  read(sha256: string, offset: number, length: number): Promise<Uint8Array>;
  /** Deletes a blob (nothing when it is not there). */
  delete(sha256: string): Promise<void>;
}

function missing(sha256: string): ChatError {
  return new ChatError("no_such_file", `The content of this file is gone (${sha256.slice(0, 12)})`);
}

function checkHash(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new TypeError(`Not a SHA-256: ${sha256}`);
}

/**
 * A blob being written into memory: its bytes so far and their SHA-256.
 * The in-memory and Redis stores both hold an upload whole until its commit.
 */
class BufferedBlob {
  readonly data: Uint8Array;
  filled = 0;
  #hash = createHash("sha256");
  #sha256: string | undefined;

  constructor(size: number) {
    this.data = new Uint8Array(size);
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.filled + chunk.length > this.data.length) {
      return Promise.reject(new RangeError(`Blob longer than its ${this.data.length} bytes`));
    }
    this.data.set(chunk, this.filled);
    this.filled += chunk.length;
    this.#hash.update(chunk);
    return Promise.resolve();
  }

  digest(): string {
    return this.#sha256 ??= this.#hash.digest("hex");
  }

  /** The digest, which a commit needs first. */
  committed(): string {
    if (this.#sha256 === undefined) throw new TypeError("Cannot commit a blob before its digest");
    return this.#sha256;
  }
}

/**
 * Blobs as files under a directory: `DIR/ab/abcdef…` (the first two hex
 * digits shard the directory). Each is written to `DIR/tmp/`, fsynced and
 * renamed into place, then its directory is fsynced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiskBlobStore } from "./blob_store.ts";
 * const dir = await Deno.makeTempDir();
 * const blobs = await DiskBlobStore.open(dir);
 * const writer = await blobs.create(2);
 * await writer.write(new TextEncoder().encode("hi"));
 * const sha = writer.digest();
 * await writer.commit();
 * assert.equal(new TextDecoder().decode(await blobs.read(sha, 0, 10)), "hi");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DiskBlobStore implements BlobStore {
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens (and makes) `dir`; what an earlier run left half-written is removed. */
  static async open(dir: string): Promise<DiskBlobStore> {
    await Deno.remove(`${dir}/tmp`, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${dir}/tmp`, { recursive: true, mode: 0o700 });
    return new DiskBlobStore(dir);
  }

  /** Where blob `sha256` is kept. */
  pathOf(sha256: string): string {
    checkHash(sha256);
    return `${this.#dir}/${sha256.slice(0, 2)}/${sha256}`;
  }

  async create(_size: number): Promise<BlobWriter> {
    const temp = `${this.#dir}/tmp/${crypto.randomUUID()}`;
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    const hash = createHash("sha256");
    let sha256: string | undefined;
    let closed = false;
    const close = () => {
      if (!closed) file.close();
      closed = true;
    };
    return {
      write: async (chunk) => {
        hash.update(chunk);
        let written = 0;
        while (written < chunk.length) written += await file.write(chunk.subarray(written));
      },
      digest: () => sha256 ??= hash.digest("hex"),
      commit: async () => {
        if (sha256 === undefined) throw new TypeError("Cannot commit a blob before its digest");
        await file.sync();
        close();
        const dir = `${this.#dir}/${sha256.slice(0, 2)}`;
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        // Same content, same bytes: replacing a blob already there changes nothing.
        await Deno.rename(temp, this.pathOf(sha256));
        await syncDirectory(dir);
      },
      abort: async () => {
        close();
        await Deno.remove(temp).catch(() => {});
      },
    };
  }

  read(sha256: string, offset: number, length: number): Promise<Uint8Array> {
    return readRange(this.pathOf(sha256), offset, length).catch((error) => {
      if (error instanceof Deno.errors.NotFound) throw missing(sha256);
      throw error;
    });
  }

  async delete(sha256: string): Promise<void> {
    await Deno.remove(this.pathOf(sha256)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename durable; not every platform can open a directory.
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Best effort.
  }
}

/**
 * Blobs in memory, for `--memory`: at most `maxBytes` in all, counting the
 * blobs being written; one more is refused with `quota_exceeded`.
 */
export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<string, Uint8Array>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(options: { maxBytes: number }) {
    this.#maxBytes = options.maxBytes;
  }

  /** Bytes held, blobs being written included. */
  get bytes(): number {
    return this.#bytes;
  }

  create(size: number): Promise<BlobWriter> {
    if (this.#bytes + size > this.#maxBytes) {
      return Promise.reject(
        new ChatError(
          "quota_exceeded",
          `The server keeps files in memory and has no room for ${size} more bytes ` +
            `(${this.#bytes} of ${this.#maxBytes} used)`,
        ),
      );
    }
    this.#bytes += size;
    const blob = new BufferedBlob(size);
    let settled = false;
    const release = () => {
      if (!settled) this.#bytes -= size;
      settled = true;
    };
    return Promise.resolve({
      write: (chunk) => blob.write(chunk),
      digest: () => blob.digest(),
      commit: () => {
        const sha256 = blob.committed();
        if (this.#blobs.has(sha256)) release();
        else {
          this.#blobs.set(sha256, blob.data.subarray(0, blob.filled));
          settled = true;
        }
        return Promise.resolve();
      },
      abort: () => {
        release();
        return Promise.resolve();
      },
    });
  }

  read(sha256: string, offset: number, length: number): Promise<Uint8Array> {
    const blob = this.#blobs.get(sha256);
    if (blob === undefined) return Promise.reject(missing(sha256));
    return Promise.resolve(blob.slice(offset, offset + length));
  }

  delete(sha256: string): Promise<void> {
    const blob = this.#blobs.get(sha256);
    if (blob !== undefined) {
      this.#blobs.delete(sha256);
      this.#bytes -= blob.length;
    }
    return Promise.resolve();
  }
}

/** Raw bytes per Redis value: a multiple of 3, so each base64 value decodes alone. */
export const REDIS_BLOB_PIECE_BYTES = 48 * 1024;

/**
 * Blobs in Redis, for `--redis`: every instance reads every file there.
 * Pieces of {@linkcode REDIS_BLOB_PIECE_BYTES} under `PREFIXblob:SHA:N`, in
 * base64 (the connection carries text), and `PREFIXblob:SHA` holding the
 * size, set last: a blob without it is not there. A blob is written from
 * memory at commit (the upload limits bound what waits there), after its
 * file's metadata: a blob found already there is then kept.
 */
export class RedisBlobStore implements BlobStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;

  constructor(redis: RedisConnection, options: { prefix: string }) {
    this.#redis = redis;
    this.#prefix = options.prefix;
  }

  #key(sha256: string, piece?: number): string {
    checkHash(sha256);
    return piece === undefined
      ? `${this.#prefix}blob:${sha256}`
      : `${this.#prefix}blob:${sha256}:${piece}`;
  }

  create(size: number): Promise<BlobWriter> {
    const blob = new BufferedBlob(size);
    return Promise.resolve({
      write: (chunk) => blob.write(chunk),
      digest: () => blob.digest(),
      commit: async () => {
        const sha256 = blob.committed();
        if (await this.#redis.command<number>(["EXISTS", this.#key(sha256)]) === 1) return;
        const { data, filled } = blob;
        for (
          let offset = 0, piece = 0;
          offset < filled;
          offset += REDIS_BLOB_PIECE_BYTES, piece++
        ) {
          const bytes = data.subarray(offset, Math.min(filled, offset + REDIS_BLOB_PIECE_BYTES));
          await this.#redis.command(["SET", this.#key(sha256, piece), toBase64(bytes)]);
        }
        await this.#redis.command(["SET", this.#key(sha256), String(filled)]);
      },
      abort: () => Promise.resolve(),
    });
  }

  async read(sha256: string, offset: number, length: number): Promise<Uint8Array> {
    const size = await this.#redis.command<string | null>(["GET", this.#key(sha256)]);
    if (size === null) throw missing(sha256);
    const end = Math.min(Number(size), offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    const first = Math.floor(offset / REDIS_BLOB_PIECE_BYTES);
    const last = Math.floor((end - 1) / REDIS_BLOB_PIECE_BYTES);
    for (let piece = first; piece <= last; piece++) {
      const text = await this.#redis.command<string | null>(["GET", this.#key(sha256, piece)]);
      if (text === null) throw missing(sha256);
      const bytes = fromBase64(text);
      const start = piece * REDIS_BLOB_PIECE_BYTES;
      const from = Math.max(offset, start) - start;
      const to = Math.min(end, start + bytes.length) - start;
      out.set(bytes.subarray(from, to), start + from - offset);
    }
    return out;
  }

  /**
   * Deletes a blob, in one step, unless a file refers to it again (its id
   * in `PREFIXfilesha:SHA`, which an upload on any instance writes before
   * it commits its blob).
   */
  async delete(sha256: string): Promise<void> {
    checkHash(sha256);
    await this.#redis.eval(DELETE_BLOB, [this.#prefix, sha256, REDIS_BLOB_PIECE_BYTES]);
  }
}

const DELETE_BLOB = new RedisScript(`
local p, sha, piece = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('SCARD', p .. 'filesha:' .. sha) > 0 then return 0 end
local size = redis.call('GET', p .. 'blob:' .. sha)
redis.call('DEL', p .. 'blob:' .. sha)
if size then
  for i = 0, math.ceil(tonumber(size) / piece) - 1 do
    redis.call('DEL', p .. 'blob:' .. sha .. ':' .. i)
  end
end
return 1
`);

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
