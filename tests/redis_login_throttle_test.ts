/**
 * Failed logins across instances: `chat serve` processes on one Redis share
 * their counts, so spreading guesses over instances does not multiply the
 * hourly limit; the owner's known address still gets in, the lock is logged
 * once for the cluster, and `chat user unlock --redis` lifts it everywhere.
 */
import assert from "node:assert/strict";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

function startInstance(redis: RedisServer): Promise<ServerProcess> {
  return ServerProcess.start([
    "--redis",
    redis.url,
    "--no-discovery",
    "--kdf-cost",
    "10",
    "--max-login-failures-per-account",
    "4",
  ]);
}

/** A hello as alice from `localAddress`: "welcome" or the error code. */
async function login(port: number, localAddress: string, password: string): Promise<string> {
  await using peer = await Peer.connectFrom(port, localAddress);
  const reply = await peer.hello("alice", { password });
  return reply.type === "welcome" ? "welcome" : reply.code;
}

Deno.test("failed logins count across instances: the per-account limit holds for the cluster, the owner keeps in, unlock clears it", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  await using b = await startInstance(redis);
  {
    // Registered from 127.0.0.1: alice's known address.
    await using alice = await Peer.join(a.port, "alice");
    assert.equal(
      (await alice.request({ type: "register", password: "correct horse" })).type,
      "ack",
    );
  }
  // Two wrong guesses on each instance: four in all, the limit.
  for (const port of [a.port, a.port, b.port, b.port]) {
    assert.equal(await login(port, "127.0.0.2", "guess"), "auth_failed");
  }
  // Each instance alone has seen only two, yet both refuse, even the right password.
  assert.equal(await login(b.port, "127.0.0.3", "correct horse"), "rate_limited");
  assert.equal(await login(a.port, "127.0.0.3", "correct horse"), "rate_limited");
  // Alice, from where she registered, is not locked out.
  assert.equal(await login(a.port, "127.0.0.1", "correct horse"), "welcome");
  assert.equal(await login(b.port, "127.0.0.1", "correct horse"), "welcome");
  // The lock started once, on one instance, and is logged once.
  const locks = (a.output + b.output).match(/Account "?alice"? locked/g) ?? [];
  assert.equal(locks.length, 1, a.output + b.output);

  const unlock = await runChat(["user", "unlock", "alice", "--redis", redis.url]);
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.match(unlock.stdout, /Unlocked alice/);
  assert.equal(await login(b.port, "127.0.0.3", "correct horse"), "welcome");
  assert.equal(await login(a.port, "127.0.0.3", "correct horse"), "welcome");
});
