import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import {
  fitConnections,
  parseOpenFileLimit,
  RESERVED_FILES,
} from "../server/net/open_file_limit.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { Peer } from "./support/peer.ts";
import { RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 4096                 files
Max locked memory         8388608              8388608              bytes
`;

Deno.test("the open file limit is the soft limit of /proc/self/limits; unlimited or missing is unknown", () => {
  assert.equal(parseOpenFileLimit(LIMITS), 1024);
  assert.equal(parseOpenFileLimit(LIMITS.replace("1024 ", "unlimited")), null);
  assert.equal(parseOpenFileLimit("Limit Soft Limit\n"), null);
});

Deno.test("connections are fitted into the limit less what is open and the reserve", () => {
  assert.deepEqual(fitConnections(10_000, { limit: 1024, open: 30 }), {
    allowed: 1024 - 30 - RESERVED_FILES,
    kept: 30 + RESERVED_FILES,
  });
  assert.deepEqual(fitConnections(100, { limit: 65536, open: 30 }), { allowed: 100, kept: 62 });
  assert.throws(
    () => fitConnections(100, { limit: 60, open: 30 }),
    /^RangeError: Cannot serve: the open file limit \(ulimit -n\) is 60 and the server keeps 62 descriptors for itself \(30 open, 32 in reserve\); raise the limit to at least 63/,
  );
});

/** Connects, says hello as `nick`, and resolves to the first welcome or bye. */
async function hello(port: number, nick: string): Promise<{ peer: Peer; reply: string }> {
  const peer = await Peer.connect(port);
  peer.send({ type: "hello", protocol: PROTOCOL_VERSION, client: "t", clientVersion: "0", nick });
  const reply = await peer.next((f) => f.type === "welcome" || f.type === "bye");
  return { peer, reply: reply.type === "bye" ? reply.code : reply.type };
}

Deno.test("under a low open file limit, --max-connections is lowered with a warning and the connections past it are refused politely, not lost to EMFILE", async () => {
  await using server = await ServerProcess.start(
    ["--memory", "--no-discovery", "--max-connections-per-ip", "1000"],
    { wrapper: ["prlimit", "--nofile=128:128", "--"] },
  );
  const warning =
    /WARN.*--max-connections lowered from 10000 to (\d+): the open file limit \(ulimit -n\) is 128 and the server keeps (\d+) descriptors for itself; raise the limit \(systemd: LimitNOFILE=\) to allow more/
      .exec(server.output);
  assert.ok(warning !== null, server.output);
  const allowed = Number(warning[1]);
  assert.equal(allowed + Number(warning[2]), 128);
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < allowed; i++) {
      const { peer, reply } = await hello(server.port, `user${i}`);
      peers.push(peer);
      assert.equal(reply, "welcome", `connection ${i} of ${allowed}`);
    }
    // Past the cap, and past what the descriptors would have held: told, each one.
    for (let i = 0; i < 40; i++) {
      const { peer, reply } = await hello(server.port, `extra${i}`);
      await peer[Symbol.asyncDispose]();
      assert.equal(reply, "too_many_connections");
    }
    assert.equal((await peers[0]!.request({ type: "ping" })).type, "ack");
    assert.doesNotMatch(server.output, /Accept failed/);
    assert.match(server.output, /Server full: \d+ connections reached limit \d+/);
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("with --redis, --max-connections stays the cluster's; the instance takes what its own limit allows", async () => {
  await using redis = await RedisServer.start();
  await using server = await ServerProcess.start(
    ["--redis", redis.url, "--no-discovery", "--max-connections-per-ip", "1000"],
    { wrapper: ["prlimit", "--nofile=128:128", "--"] },
  );
  const warning =
    /WARN.*This instance takes at most (\d+) of the --max-connections 10000 of all instances: the open file limit \(ulimit -n\) is 128/
      .exec(server.output);
  assert.ok(warning !== null, server.output);
  const allowed = Number(warning[1]);
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < allowed; i++) {
      const { peer, reply } = await hello(server.port, `user${i}`);
      peers.push(peer);
      assert.equal(reply, "welcome", `connection ${i} of ${allowed}`);
    }
    const { peer, reply } = await hello(server.port, "extra");
    await peer[Symbol.asyncDispose]();
    assert.equal(reply, "too_many_connections");
    assert.match(server.output, new RegExp(`reached this instance's limit ${allowed}`));
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("an open file limit too low to serve anyone stops the start with one line and exit 1", async () => {
  const { code, stderr } = await new Deno.Command("prlimit", {
    args: ["--nofile=40:40", "--", Deno.execPath(), "run", "-A", mainPath(), "serve", "--memory"],
    stdout: "null",
    stderr: "piped",
    // A server that starts anyway would run until killed.
    signal: AbortSignal.timeout(20_000),
  }).output().then(({ code, stderr }) => ({ code, stderr: new TextDecoder().decode(stderr) }));
  assert.equal(code, 1, stderr);
  assert.match(
    stderr,
    /^chat: cannot serve: the open file limit \(ulimit -n\) is 40 and the server keeps \d+ descriptors for itself \(\d+ open, 32 in reserve\); raise the limit to at least \d+ \(systemd: LimitNOFILE=\)\n$/,
  );
});

Deno.test("refusals waiting for a silent peer's first byte are bounded; the rest are closed at once", async () => {
  await using server = await ChatServer.listen({ host: "127.0.0.1", port: 0, maxConnections: 1 });
  await using alice = await Peer.join(server.addr.port, "alice");
  // Silent peers over the cap: each refusal waits (up to 2 s) for a byte to pick its mode.
  const silent = await Promise.all(
    Array.from(
      { length: 40 },
      () => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    ),
  );
  const received = await Promise.all(silent.map(async (conn) => {
    const buffer = new Uint8Array(1024);
    let text = "";
    try {
      for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
        text += new TextDecoder().decode(buffer.subarray(0, count));
      }
    } catch {
      // Reset: closed as well.
    } finally {
      conn.close();
    }
    return text;
  }));
  const told = received.filter((text) => /too_many_connections/.test(text));
  const dropped = received.filter((text) => text === "");
  assert.equal(told.length + dropped.length, 40);
  assert.ok(told.length > 0, "some were told why");
  assert.ok(dropped.length > 0, "every refusal waited: their descriptors were all held");
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
});

function mainPath(): string {
  return new URL("../main.ts", import.meta.url).pathname;
}
