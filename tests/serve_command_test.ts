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

Deno.test("SIGTERM with --drain-ms: /readyz answers 503 while clients still get in; a second signal ends the drain", async () => {
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    "--http",
    "127.0.0.1:0",
    "--drain-ms",
    "60000",
  ]);
  await waitFor(() => /serving HTTP on/.test(server.output), 10_000);
  const http = Number(/serving HTTP on 127\.0\.0\.1:(\d+)/.exec(server.output)![1]);
  const ready = async () => {
    const response = await fetch(`http://127.0.0.1:${http}/readyz`);
    return { status: response.status, body: await response.json() };
  };
  assert.equal((await ready()).status, 200);
  await using alice = await Peer.join(server.port, "alice");
  server.child.kill("SIGTERM");
  let answer = await ready();
  for (let i = 0; i < 100 && answer.status === 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    answer = await ready();
  }
  assert.equal(answer.status, 503);
  assert.deepEqual(
    { status: answer.body.status, ...answer.body.checks },
    {
      status: "unavailable",
      accepting: true,
      draining: true,
      store: true,
      commits: true,
      storeKind: "sqlite",
    },
  );
  // Not ready, yet the listeners are open: a client arriving now is served, and so is alice.
  await using bob = await Peer.join(server.port, "bob");
  assert.deepEqual((await bob.request({ type: "users" })).result.users, ["alice", "bob"]);
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
  // Alive all along: only readiness changes.
  const health = await fetch(`http://127.0.0.1:${http}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  assert.match(server.output, /Draining for 60000 ms/);
  assert.doesNotMatch(server.output, /Shutting down/);
  // The drain would last a minute: a second signal ends it, and shutdown goes on as usual.
  server.child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    server.child.status,
    new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 15_000)),
  ]);
  clearTimeout(timer);
  assert.ok(exited !== null, "the second signal did not end the drain");
  assert.equal(exited.code, 0);
  assert.equal((await alice.next((f) => f.type === "bye")).code, "server_shutdown");
  assert.equal((await bob.next((f) => f.type === "bye")).code, "server_shutdown");
  await server.stop();
  assert.match(server.output, /Shutting down/);
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

Deno.test("out of file descriptors (EMFILE): the server backs off, keeps serving, and its HTTP listener comes back", async () => {
  // The connection cap keeps chat connections within the limit, but HTTP
  // connections are not capped: enough of them use up every descriptor.
  await using server = await ServerProcess.start(["--memory", "--http", "127.0.0.1:0"], {
    wrapper: ["prlimit", "--nofile=128:128", "--"],
  });
  await waitFor(() => /serving HTTP on/.test(server.output), 10_000);
  const http = Number(/serving HTTP on 127\.0\.0\.1:(\d+)/.exec(server.output)![1]);
  const alice = await Peer.join(server.port, "alice");
  const extra: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      try {
        extra.push(await Deno.connect({ hostname: "127.0.0.1", port: http }));
      } catch {
        break; // Deno.serve closed its listener on EMFILE.
      }
    }
    // A chat connection now waits in the kernel's queue: accept fails, and is retried.
    extra.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    await waitFor(() => /Accept failed/.test(server.output), 10_000);
    await waitFor(() => /HTTP listener failed, reopening it/.test(server.output), 10_000);
    assert.equal(
      (await alice.request({ type: "ping" })).type,
      "ack",
      "existing client still served",
    );
    for (const conn of extra.splice(0)) conn.close();
    // Once descriptors free up, new clients get in again, over TCP and HTTP.
    const bob = await retry(() => Peer.join(server.port, "bob"));
    assert.deepEqual((await bob.request({ type: "users" })).result.users, ["alice", "bob"]);
    await bob[Symbol.asyncDispose]();
    const health = await retry(() => fetch(`http://127.0.0.1:${http}/healthz`));
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    for (const conn of extra) conn.close();
    await alice[Symbol.asyncDispose]();
  }
  assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
});

/** Calls `attempt` until it resolves, for up to 15 s. */
async function retry<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000;
  while (true) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
