/**
 * Failed logins across instances: `chat serve` processes on one Redis share
 * their counts, so spreading guesses over instances does not multiply the
 * hourly limit.
 */
import assert from "node:assert/strict";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";

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

async function login(port: number, password: string): Promise<string> {
  await using peer = await Peer.connect(port);
  peer.send({
    type: "hello",
    protocol: "1.0",
    client: "t",
    clientVersion: "0",
    nick: "alice",
    password,
  });
  const reply = await peer.next((f) => f.type === "welcome" || f.type === "error");
  return reply.type === "welcome" ? "welcome" : reply.code;
}

Deno.test("failed logins count across instances: the per-account limit holds for the cluster", async () => {
  await using redis = await RedisServer.start();
  await using a = await startInstance(redis);
  await using b = await startInstance(redis);
  {
    await using alice = await Peer.join(a.port, "alice");
    assert.equal(
      (await alice.request({ type: "register", password: "correct horse" })).type,
      "ack",
    );
  }
  // Two wrong guesses on each instance: four in all, the limit.
  for (const port of [a.port, a.port, b.port, b.port]) {
    assert.equal(await login(port, "guess"), "auth_failed");
  }
  // Each instance alone has seen only two, yet both refuse, even the right password.
  assert.equal(await login(b.port, "correct horse"), "rate_limited");
  assert.equal(await login(a.port, "correct horse"), "rate_limited");
});
