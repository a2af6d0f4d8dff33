/**
 * The store an offline command (`chat apikey`, `chat webhook`) works on:
 * the data directory's SQLite file, or a running cluster's Redis. One
 * place for their `--data`, `--create`, `--redis` and `--redis-prefix`
 * rules, their "cannot open" message and their exit codes.
 *
 * @module
 */
import { UsageError } from "../../shared/cli.ts";
import { ChatError } from "../../shared/errors.ts";
import { sanitizeForTerminal } from "../../shared/validation.ts";
import { DEFAULT_DATA_DIR, openFailure } from "../accounts/user_command.ts";
import { DEFAULT_REDIS_PREFIX } from "../cluster/redis_keys.ts";
import { RedisStore } from "./redis_store.ts";
import { SqliteStore } from "./sqlite_store.ts";
import type { Store } from "./store.ts";

/** The flags that choose the store. */
export interface StoreFlags {
  data?: string | undefined;
  create?: boolean | undefined;
  redis?: string | undefined;
  "redis-prefix"?: string | undefined;
}

/**
 * Opens the store `flags` name, runs `work` on it and closes it. Resolves
 * to the exit code: 0 when `work` succeeds, 1 when the store cannot be
 * opened or `work` fails with a {@linkcode ChatError} (its message printed
 * after `command`). Contradictory flags throw {@linkcode UsageError}.
 *
 * @example
 * ```ts ignore
 * import { withCommandStore } from "./command_store.ts";
 * const code = await withCommandStore("chat webhook", { data: "./chat-data" }, async (store) => {
 *   console.log((await store.listWebhooks()).length);
 * });
 * ```
 */
export async function withCommandStore(
  command: string,
  flags: StoreFlags,
  work: (store: Store) => Promise<void>,
): Promise<number> {
  if (flags.data !== undefined && flags.redis !== undefined) {
    throw new UsageError("--data and --redis exclude each other");
  }
  if (flags.create && flags.redis !== undefined) {
    throw new UsageError("--create applies to a data directory, not to --redis");
  }
  if (flags.data === "") throw new UsageError("--data needs a directory");
  let store: Store;
  try {
    store = flags.redis === undefined
      ? SqliteStore.open(flags.data ?? DEFAULT_DATA_DIR, { create: flags.create === true })
      : await RedisStore.open(flags.redis, {
        prefix: flags["redis-prefix"] ?? DEFAULT_REDIS_PREFIX,
      });
  } catch (error) {
    console.error(
      `${command}: ${
        flags.redis === undefined
          ? openFailure(flags.data ?? DEFAULT_DATA_DIR, error)
          : `cannot open ${flags.redis}: ${error instanceof Error ? error.message : error}`
      }`,
    );
    return 1;
  }
  try {
    await work(store);
    return 0;
  } catch (error) {
    if (error instanceof ChatError) {
      console.error(`${command}: ${sanitizeForTerminal(error.message)}`);
      return 1;
    }
    throw error;
  } finally {
    await store.close();
  }
}
