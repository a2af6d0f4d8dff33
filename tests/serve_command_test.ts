import assert from "node:assert/strict";
import { Peer } from "./support/peer.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

Deno.test("chat serve prints its real port, and SIGTERM drains clients then exits 0", async () => {
  await using server = await ServerProcess.start(["--rate-burst", "100"]);
  assert.match(server.output, /listening on 127\.0\.0\.1:\d+/);
  const alice = await Peer.join(server.port, "alice");
  const bob = await Peer.join(server.port, "bob");
  try {
    await alice.request({ type: "join", room: "dev" });
    await bob.request({ type: "join", room: "dev" });
    for (let i = 0; i < 20; i++) {
      assert.equal((await alice.request({ type: "say", room: "dev", body: `m${i}` })).type, "ack");
    }
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.output);
    // Everything acknowledged before the signal arrived, then the goodbye.
    for (let i = 0; i < 20; i++) {
      assert.equal((await bob.next((f) => f.type === "message")).body, `m${i}`);
    }
    assert.equal((await bob.next((f) => f.type === "bye")).code, "server_shutdown");
    await bob.closed;
    await alice.closed;
    assert.match(server.output, /Shutting down/);
  } finally {
    alice.close();
    bob.close();
    await alice.closed;
    await bob.closed;
  }
});

Deno.test("chat serve --help lists every limit flag with its default", async () => {
  const { code, stdout } = await runChat(["serve", "--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--max-frame-bytes N           largest frame payload (default 65536)",
      "--max-queue-bytes",
      "--rate-burst N                requests allowed at once (default 20)",
      "--rate-per-second",
      "--max-connections N           connections in total (default 10000)",
      "--max-connections-per-ip",
      "--handshake-timeout-ms MS     time from connect to a complete hello (default 10000)",
      "--max-handshakes-per-ip N     connections per IP address not logged in yet (default 10)",
      "--heartbeat-ms",
      "--max-line-bytes",
      "--log-format",
      "Examples:",
    ]
  ) assert.ok(stdout.includes(flag), `missing ${flag}`);
});

Deno.test("bad flags and values fail with one line naming the flag and exit code 2", async () => {
  for (
    const [args, expected] of [
      [["serve", "--bogus"], /unknown flag --bogus/],
      [["serve", "--port", "99999"], /--port must be between 0 and 65535, got 99999/],
      [["serve", "--rate-burst", "many"], /--rate-burst must be a whole number, got "many"/],
      [["serve", "--log-format", "xml"], /--log-format must be one of text, json/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ] as const
  ) {
    const { code, stderr } = await runChat([...args]);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, expected);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, /see 'chat( serve)? --help'/);
  }
});

Deno.test("chat --version and chat --help", async () => {
  const version = await runChat(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^chat \d+\.\d+\.\d+ \(/);
  const help = await runChat(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /chat serve/);
  assert.match(help.stdout, /chat join/);
});

Deno.test("--log-format json writes one JSON object per line", async () => {
  await using server = await ServerProcess.start(["--log-format", "json"]);
  const status = await server.stop("SIGTERM");
  assert.equal(status.code, 0);
  const lines = server.output.trim().split("\n");
  for (const line of lines) JSON.parse(line);
  assert.ok(lines.some((line) => JSON.parse(line).message.includes("listening on 127.0.0.1:")));
});

Deno.test("out of file descriptors (EMFILE): the server backs off and keeps serving", async () => {
  await using server = await ServerProcess.start([], {
    wrapper: ["prlimit", "--nofile=48:48", "--"],
  });
  const alice = await Peer.join(server.port, "alice");
  const extra: Deno.TcpConn[] = [];
  try {
    // More connections than the server has descriptors: the kernel queues them, accept fails.
    for (let i = 0; i < 60; i++) {
      extra.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    await waitFor(() => /Accept failed/.test(server.output), 10_000);
    assert.equal(
      (await alice.request({ type: "ping" })).type,
      "ack",
      "existing client still served",
    );
    for (const conn of extra.splice(0)) conn.close();
    // Once descriptors free up, new clients get in again.
    let bob: Peer | undefined;
    const deadline = Date.now() + 15_000;
    while (bob === undefined) {
      try {
        bob = await Peer.join(server.port, "bob");
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.deepEqual((await bob.request({ type: "users" })).result.users, ["alice", "bob"]);
    await bob[Symbol.asyncDispose]();
  } finally {
    for (const conn of extra) conn.close();
    await alice[Symbol.asyncDispose]();
  }
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
