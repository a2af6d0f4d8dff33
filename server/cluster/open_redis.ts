/**
 * Opens the Redis-backed store and cluster of an instance started with
 * `--redis`.
 *
 * @module
 */
import { RedisStore } from "../store/redis_store.ts";
import type { ServerOptions } from "../config/server_options.ts";
import { RedisCluster } from "./redis_cluster.ts";
import { RedisConnection } from "./redis_connection.ts";
import { RedisKeys } from "./redis_keys.ts";

/** A store and a cluster sharing one Redis connection. */
export interface SharedParts {
  store: RedisStore;
  cluster: RedisCluster;
}

/**
 * Connects to `options.redis`; rejects with a plain message when Redis does
 * not answer within the command timeout.
 *
 * @example
 * ```ts ignore
 * import { openRedis } from "./open_redis.ts";
 * import { DEFAULT_SERVER_OPTIONS } from "../config/server_options.ts";
 * const { store, cluster } = await openRedis({ ...DEFAULT_SERVER_OPTIONS, redis: "redis://127.0.0.1:6379" });
 * ```
 */
export async function openRedis(
  options: Pick<
    ServerOptions,
    | "redis"
    | "redisPrefix"
    | "redisCommandTimeoutMs"
    | "redisMaxPending"
    | "redisPresenceTtlMs"
    | "msgIdWindowMs"
    | "msgIdsPerUser"
  >,
): Promise<SharedParts> {
  if (options.redis === null) throw new TypeError("openRedis needs a Redis URL");
  const connection = await RedisConnection.open(options.redis, {
    commandTimeoutMs: options.redisCommandTimeoutMs,
    maxPending: options.redisMaxPending,
  });
  const store = new RedisStore(connection, {
    keys: new RedisKeys(options.redisPrefix),
    msgIdWindow: { ms: options.msgIdWindowMs, perUser: options.msgIdsPerUser },
  });
  try {
    await store.rekeyNames();
  } catch (error) {
    await store.close();
    throw error;
  }
  const cluster = new RedisCluster(store, {
    presenceTtlMs: options.redisPresenceTtlMs,
    maxPending: options.redisMaxPending,
  });
  return { store, cluster };
}
