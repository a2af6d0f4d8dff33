/**
 * Where a server keeps file contents, from its options: under the data
 * directory (`DIR/files/`), in Redis with `--redis` (every instance serves
 * every file), or in memory with `--memory`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { ServerOptions } from "../config/server_options.ts";
import type { RedisStore } from "../store/redis_store.ts";
import { type BlobStore, DiskBlobStore, MemoryBlobStore, RedisBlobStore } from "./blob_store.ts";
import type { FileLimits } from "./file_service.ts";

/** Bytes of a frame that are not file data in a download reply (file info, field names). */
export const FILE_FRAME_OVERHEAD_BYTES = 2048;

/** The file limits of `options`; a chunk fills a frame but for its overhead. */
export function fileLimits(options: ServerOptions): FileLimits {
  return {
    maxUploadBytes: options.maxUploadBytes,
    uploadQuotaBytes: options.uploadQuotaBytes,
    uploadQuotaWindowMs: options.uploadQuotaWindowMs,
    maxUploadsPerConnection: options.maxUploadsPerConnection,
    maxUploadingBytes: options.maxUploadingBytes,
    maxUploadingBytesPerUser: options.maxUploadingBytesPerUser,
    uploadTimeoutMs: options.uploadTimeoutMs,
    guestUploads: options.guestUploads,
    chunkBytes: Math.max(256, options.maxFrameBytes - FILE_FRAME_OVERHEAD_BYTES),
  };
}

/** The blob store for `options`: Redis when shared, else the data directory, else memory. */
export async function openBlobStore(
  options: ServerOptions,
  redis: RedisStore | undefined,
): Promise<BlobStore> {
  if (redis !== undefined) return new RedisBlobStore(redis.redis, { prefix: redis.keys.prefix });
  if (options.dataDir !== null) return await DiskBlobStore.open(`${options.dataDir}/files`);
  return new MemoryBlobStore({ maxBytes: options.maxMemoryFileBytes });
}

/**
 * The secret that signs file links: with Redis one for every instance (made
 * by the first, kept in `PREFIXfiles:secret`), so a link works on any;
 * alone, a fresh one each start (links last minutes).
 */
export async function fileLinkSecret(redis: RedisStore | undefined): Promise<Uint8Array> {
  const fresh = randomBytes(32).toString("hex");
  if (redis === undefined) return Buffer.from(fresh, "hex");
  const key = `${redis.keys.prefix}files:secret`;
  await redis.redis.command(["SET", key, fresh, "NX"]);
  const secret = await redis.redis.command<string>(["GET", key]);
  return Buffer.from(secret, "hex");
}
