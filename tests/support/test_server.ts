/**
 * In-process servers for tests: on 127.0.0.1 and a free port, with the
 * request rate raised and cheap password hashes for the tests that are not
 * about those limits; and a temporary data directory.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ChatServer } from "../../server/chat_server.ts";
import type { SessionContext } from "../../server/session/session.ts";
import { FlushScheduler } from "../../shared/flush_scheduler.ts";
import type { ServerOptions } from "../../server/config/server_options.ts";
import type { Store } from "../../server/store/store.ts";

/** Settings that keep the request rate and password hashing out of a test's way. */
export const RELAXED: Readonly<Partial<ServerOptions>> = Object.freeze({
  rateBurst: 1000,
  ratePerSecond: 1000,
  // 1 MiB scrypt hashes instead of 128 MiB: a login costs a millisecond.
  kdfLogN: 10,
});

/** A server on loopback with {@linkcode RELAXED} limits, `options` over them. */
export function listenRelaxed(
  options: Partial<ServerOptions> & { store?: Store } = {},
): Promise<ChatServer> {
  return ChatServer.listen({ host: "127.0.0.1", port: 0, ...RELAXED, ...options });
}

/** Runs `test` with a fresh temporary directory, removed afterwards. */
export async function withDataDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-test-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What a session made by a test needs of `server` (with a flush scheduler of its own). */
export function sessionContext(server: ChatServer): SessionContext {
  return {
    broker: server.broker,
    metrics: server.broker.metrics,
    accounts: server.accounts,
    options: server.options,
    logger: getLogger(["chat", "test"]),
    flushScheduler: new FlushScheduler(),
    files: server.files,
  };
}
