import assert from "node:assert/strict";
import {
  type ConnectionChange,
  ConnectionLimiter,
  type RemoteConnections,
} from "../server/limits/connection_limiter.ts";
import { ChatError } from "../shared/errors.ts";

function refusal(pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof ChatError && error.code === "too_many_connections" &&
    pattern.test(error.message);
}

Deno.test("ConnectionLimiter caps connections not logged in per address, apart from the others", () => {
  const limiter = new ConnectionLimiter({
    maxConnections: 100,
    maxConnectionsPerIp: 4,
    maxHandshakesPerIp: 2,
  });
  const first = limiter.acquire("10.0.0.1");
  const second = limiter.acquire("10.0.0.1");
  assert.throws(
    () => limiter.acquire("10.0.0.1"),
    refusal(/^Too many connections logging in from 10\.0\.0\.1: limit 2 per address$/),
  );
  // Another address has its own count.
  limiter.acquire("10.0.0.2").release();
  first.loggedIn();
  const third = limiter.acquire("10.0.0.1");
  second.loggedIn();
  limiter.acquire("10.0.0.1");
  // Four open from the address: the connection cap, not the handshake cap.
  assert.throws(() => limiter.acquire("10.0.0.1"), refusal(/limit 4 per address$/));
  assert.deepEqual([limiter.total, limiter.handshakes], [4, 2]);
  third.release();
  assert.deepEqual([limiter.total, limiter.handshakes], [3, 1]);
});

Deno.test("ConnectionLimiter slots count once however often they are released or logged in", () => {
  const limiter = new ConnectionLimiter({
    maxConnections: 2,
    maxConnectionsPerIp: 2,
    maxHandshakesPerIp: 1,
  });
  const slot = limiter.acquire("10.0.0.1");
  slot.loggedIn();
  slot.loggedIn();
  slot.release();
  slot.release();
  slot.loggedIn();
  assert.deepEqual([limiter.total, limiter.handshakes], [0, 0]);
  const pending = limiter.acquire("10.0.0.1");
  pending.release();
  pending.release();
  assert.deepEqual([limiter.total, limiter.handshakes], [0, 0]);
  limiter.acquire("10.0.0.1");
  assert.throws(() => limiter.acquire("10.0.0.1"), refusal(/logging in/));
});

Deno.test("ConnectionLimiter publishes each change to the cluster and counts the others' handshakes", async () => {
  const changes: [string, ConnectionChange][] = [];
  const remote: RemoteConnections = {
    others: (ip) => Promise.resolve({ total: 1, ip: 1, handshakes: ip === "10.0.0.1" ? 1 : 0 }),
    count: (ip, change) => changes.push([ip, change]),
  };
  const limiter = new ConnectionLimiter({
    maxConnections: 10,
    maxConnectionsPerIp: 10,
    maxHandshakesPerIp: 2,
    remote,
  });
  const slot = await limiter.admit("10.0.0.1");
  await assert.rejects(limiter.admit("10.0.0.1"), refusal(/logging in from 10\.0\.0\.1: limit 2/));
  slot.loggedIn();
  (await limiter.admit("10.0.0.1")).release();
  slot.release();
  assert.deepEqual(changes, [
    ["10.0.0.1", { connections: 1, handshakes: 1 }],
    ["10.0.0.1", { connections: 0, handshakes: -1 }],
    ["10.0.0.1", { connections: 1, handshakes: 1 }],
    ["10.0.0.1", { connections: -1, handshakes: -1 }],
    ["10.0.0.1", { connections: -1, handshakes: 0 }],
  ]);
});

Deno.test("ConnectionLimiter counts an IPv6 /64 as one address, as the login limits do", () => {
  const limiter = new ConnectionLimiter({
    maxConnections: 100,
    maxConnectionsPerIp: 10,
    maxHandshakesPerIp: 2,
  });
  limiter.acquire("2001:db8:1:2::1");
  limiter.acquire("2001:db8:1:2:ffff:ffff:ffff:ffff");
  assert.throws(
    () => limiter.acquire("2001:db8:1:2::abcd"),
    refusal(/^Too many connections logging in from 2001:db8:1:2::\/64: limit 2 per address$/),
  );
  // The next /64, and an IPv4-mapped address, are others.
  limiter.acquire("2001:db8:1:3::1").release();
  limiter.acquire("::ffff:192.0.2.7").release();
});
