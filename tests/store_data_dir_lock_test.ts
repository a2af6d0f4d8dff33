/**
 * One data directory, one server: the lock `chat serve` holds on its data
 * directory, against real subprocesses (a second server, `chat user` and
 * `chat apikey` on a live one, `kill -9`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatServer } from "../server/chat_server.ts";
import { DataDirInUseError, DataDirLock, LOCK_FILE } from "../server/store/data_dir_lock.ts";
import { Peer } from "./support/peer.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const PASSWORD = "correct horse battery staple";

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

Deno.test("DataDirLock: one holder at a time, its pid in a 0600 file; free again once released", () => {
  const dir = Deno.makeTempDirSync({ prefix: "chat-lock-" });
  try {
    const lock = DataDirLock.acquire(dir);
    assert.equal(Deno.readTextFileSync(join(dir, LOCK_FILE)), `${Deno.pid}\n`);
    assert.equal(mode(join(dir, LOCK_FILE)), 0o600);
    // A second open of the file is a second lock, even in this process.
    assert.throws(
      () => DataDirLock.acquire(dir),
      (error: unknown) => error instanceof DataDirInUseError && error.pid === Deno.pid,
    );
    lock.release();
    assert.equal(lock.held, false);
    DataDirLock.acquire(dir).release();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("ChatServer.listen on a data directory in use fails before listening; free after shutdown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-lock-" });
  try {
    const first = await ChatServer.listen({ host: "127.0.0.1", port: 0, dataDir: dir });
    await assert.rejects(
      ChatServer.listen({ host: "127.0.0.1", port: 0, dataDir: dir }),
      DataDirInUseError,
    );
    await first.shutdown();
    const again = await ChatServer.listen({ host: "127.0.0.1", port: 0, dataDir: dir });
    await again.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second chat serve on a live data directory exits 1; chat user and chat apikey still work; kill -9 leaves no stale lock", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-lock-" });
  const flags = ["--data", dir, "--no-discovery", "--kdf-cost", "10"];
  try {
    const first = await ServerProcess.start(flags);
    try {
      // The data files and the lock are their owner's only.
      for (const name of ["chat.db", "chat.db-wal", "chat.db-shm", LOCK_FILE]) {
        assert.equal(mode(join(dir, name)), 0o600, name);
      }
      const logFile = join(dir, "second.log");
      const second = await runChat(
        ["serve", "--host", "127.0.0.1", "--port", "0", ...flags, "--log-file", logFile],
        { signal: AbortSignal.timeout(30_000) },
      );
      assert.equal(second.code, 1, second.stdout + second.stderr);
      assert.equal(
        second.stderr,
        `chat: cannot use data directory ${dir}: another chat serve (pid ${first.child.pid}) ` +
          "is running on it; one data directory serves one server\n",
      );
      assert.doesNotMatch(second.stdout, /listening/);
      // Its log file says why too.
      assert.match(
        await Deno.readTextFile(logFile),
        /\[ERROR\] chat·server: Cannot use data directory .*: another chat serve \(pid \d+\)/,
      );

      // An operator manages the live server's accounts and keys.
      const added = await runChat(["user", "add", "bob", "--data", dir], {
        stdin: `${PASSWORD}\n`,
        env: { CHAT_KDF_LN: "10" },
      });
      assert.equal(added.code, 0, added.stderr);
      const bob = await Peer.join(first.port, "bob", { password: PASSWORD });
      await bob[Symbol.asyncDispose]();
      const key = await runChat(["apikey", "add", "deploybot", "--data", dir]);
      assert.equal(key.code, 0, key.stderr);
      const keys = await runChat(["apikey", "list", "--data", dir]);
      assert.match(keys.stdout, /^deploybot +no /m);
    } finally {
      // No shutdown: the lock must die with the process.
      await first.stop("SIGKILL");
    }
    assert.ok(Deno.statSync(join(dir, LOCK_FILE)).isFile, "the lock file stays behind");
    await using third = await ServerProcess.start(flags);
    const bob = await Peer.join(third.port, "bob", { password: PASSWORD });
    await bob[Symbol.asyncDispose]();
    assert.equal((await third.stop("SIGTERM")).code, 0, third.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
