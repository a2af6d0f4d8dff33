/**
 * Storage failures are visible: `/readyz` answers 503 while commits fail,
 * `chat_store_errors_total` counts them, one warning per burst says why,
 * and `chat_messages_in_total` counts only stored messages. Against a real
 * `chat serve` whose SQLite file cannot grow (a file-size limit set on the
 * running process, as a full disk would refuse writes) and one whose Redis
 * is stopped.
 */
import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import { ServerMetrics } from "../server/server_metrics.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { StoreHealth } from "../server/store/store_health.ts";
import { Peer } from "./support/peer.ts";
import { hasRedisServer, RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";

const HAS_PRLIMIT = Deno.build.os === "linux" &&
  await new Deno.Command("prlimit", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((output) => output.success, () => false);

// A process over its file-size limit gets SIGXFSZ, which kills it unless
// ignored; ignored, the write fails with EFBIG as on a full disk.
const IGNORE_SIGXFSZ = ["sh", "-c", 'trap "" XFSZ; exec "$@"', "sh"];

/** Sets the soft file-size limit of process `pid` (bytes, or "unlimited"). */
async function setFileSizeLimit(pid: number, limit: number | "unlimited"): Promise<void> {
  const { success, stderr } = await new Deno.Command("prlimit", {
    args: ["--pid", String(pid), `--fsize=${limit}:unlimited`],
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
}

async function httpBase(server: ServerProcess): Promise<string> {
  await waitFor(() => /serving HTTP on [^\s]*:\d+/.test(server.output), "the HTTP line");
  return `http://127.0.0.1:${/serving HTTP on [^\s]*:(\d+)/.exec(server.output)![1]}`;
}

async function readyz(base: string): Promise<{ status: number; commits: boolean }> {
  const response = await fetch(`${base}/readyz`);
  const body = await response.json();
  if (body.checks === undefined) {
    throw new Error(`readyz ${response.status}: ${JSON.stringify(body)}`);
  }
  return { status: response.status, commits: body.checks.commits };
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  assert.ok(match, `no ${name} in /metrics`);
  return Number(match[1]);
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function countMatches(text: string, pattern: RegExp): number {
  return text.split("\n").filter((line) => pattern.test(line)).length;
}

Deno.test({
  name:
    "SQLite that cannot write: readyz 503, failed commits counted, one warning with the cause; all back once it can",
  ignore: !HAS_PRLIMIT,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-store-health-" });
    try {
      const server = await ServerProcess.start(
        ["--data", dir, "--http", "127.0.0.1:0", "--no-discovery", "--rate-burst", "100"],
        { wrapper: IGNORE_SIGXFSZ },
      );
      try {
        const base = await httpBase(server);
        await using alice = await Peer.join(server.port, "alice");
        assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
        assert.equal(
          (await alice.request({ type: "say", room: "dev", body: "before" })).type,
          "ack",
        );
        assert.deepEqual(await readyz(base), { status: 200, commits: true });

        // No file may grow past one byte: every WAL append fails.
        await setFileSizeLimit(server.child.pid, 1);
        for (let i = 0; i < 20; i++) {
          const reply = await alice.request({ type: "say", room: "dev", body: `lost ${i}` });
          assert.equal(reply.code, "storage", JSON.stringify(reply));
        }
        assert.equal(
          (await alice.request({ type: "dm", to: "alice", body: "lost" })).code,
          "storage",
        );
        assert.deepEqual(await readyz(base), { status: 503, commits: false });
        assert.equal(await metric(base, "chat_store_errors_total"), 21);
        assert.equal(await metric(base, "chat_messages_in_total"), 1, "only stored messages count");
        assert.equal(
          countMatches(server.output, /Store commits are failing: disk I\/O error/),
          1,
          server.output,
        );
        assert.equal(countMatches(server.output, /Store commits/), 1, server.output);

        // The disk has room again: the readiness probe's write sees it.
        await setFileSizeLimit(server.child.pid, "unlimited");
        await waitFor(async () => (await readyz(base)).status === 200, "readyz 200");
        assert.equal(
          (await alice.request({ type: "say", room: "dev", body: "after" })).type,
          "ack",
        );
        assert.equal(await metric(base, "chat_messages_in_total"), 2);
        assert.equal(await metric(base, "chat_store_errors_total"), 21);
        await waitFor(
          () => /Store commits succeed again \(21 failed since \d{4}-/.test(server.output),
          "the recovery line",
        );
      } finally {
        assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
      }
      // Nothing refused was stored, everything acknowledged was.
      const store = SqliteStore.open(dir);
      try {
        const history = await store.history("dev", { limit: 100 });
        assert.deepEqual(history.map((message) => message.body), ["before", "after"]);
      } finally {
        await store.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Redis stopped: readyz 503, failed commits counted, one warning; all back once Redis is",
  ignore: !await hasRedisServer(),
  async fn() {
    await using redis = await RedisServer.start();
    await using server = await ServerProcess.start([
      "--redis",
      redis.url,
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
      "--rate-burst",
      "100",
    ]);
    const base = await httpBase(server);
    await using alice = await Peer.join(server.port, "alice");
    assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
    assert.equal((await alice.request({ type: "say", room: "dev", body: "before" })).type, "ack");
    assert.deepEqual(await readyz(base), { status: 200, commits: true });

    await redis.stop();
    for (let i = 0; i < 5; i++) {
      const reply = await alice.request({ type: "say", room: "dev", body: `lost ${i}` });
      assert.equal(reply.code, "storage", JSON.stringify(reply));
    }
    assert.equal((await readyz(base)).status, 503);
    assert.equal(await metric(base, "chat_store_errors_total"), 5);
    assert.equal(await metric(base, "chat_messages_in_total"), 1);
    assert.equal(countMatches(server.output, /Store commits are failing: .*Redis/), 1);

    await redis.restart();
    await waitFor(async () => (await readyz(base)).status === 200, "readyz 200");
    await waitFor(
      async () => (await alice.request({ type: "say", room: "dev", body: "after" })).type === "ack",
      "a say acknowledged",
    );
    assert.equal(await metric(base, "chat_messages_in_total"), 2);
    await waitFor(() => /Store commits succeed again/.test(server.output), "the recovery line");
    assert.equal(countMatches(server.output, /Store commits are failing/), 1);
  },
});

Deno.test("StoreHealth: one probe at a time and at most one a second; one warning per burst, ended by a quiet period", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => void records.push(record) },
    loggers: [
      { category: ["store-health-test"], sinks: ["capture"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  try {
    const metrics = new ServerMetrics();
    let probes = 0;
    let probeFails = true;
    let finishProbe = () => {};
    using health = new StoreHealth({
      metrics,
      quietMs: 50,
      probeIntervalMs: 100,
      logger: getLogger(["store-health-test"]),
      probe: () => {
        probes++;
        return new Promise<void>((resolve, reject) => {
          finishProbe = () => probeFails ? reject(new Error("still full")) : resolve();
        });
      },
    });
    assert.equal(await health.writable(), true);
    assert.equal(probes, 0, "no probe while commits succeed");

    for (let i = 0; i < 10; i++) health.failed(new Error("database or disk is full"));
    assert.equal(metrics.storeErrors, 10);
    assert.deepEqual(records.map((record) => record.level), ["warning"]);
    assert.equal(records[0]!.properties.cause, "database or disk is full");

    // A flood of readiness checks shares one probe.
    const checks = Array.from({ length: 100 }, () => health.writable());
    assert.equal(probes, 1);
    finishProbe();
    assert.deepEqual(new Set(await Promise.all(checks)), new Set([false]));
    assert.equal(await health.writable(), false, "within the interval: no new probe");
    assert.equal(probes, 1);

    // Failing every other commit is one burst: no line per commit.
    for (let i = 0; i < 5; i++) {
      health.committed();
      health.failed(new Error("database or disk is full"));
    }
    assert.equal(health.failing, true);
    assert.equal(records.length, 1);
    health.committed();
    assert.equal(health.failing, false);
    await waitFor(() => records.length === 2, "the recovery line", 2000);
    assert.equal(records[1]!.level, "info");
    assert.equal(records[1]!.properties.failures, 15);
    assert.equal(metrics.storeErrors, 15);
    // A later failure is a new burst, with its own warning.
    health.failed(new Error("disk I/O error"));
    assert.equal(records.length, 3);
    assert.equal(records[2]!.properties.cause, "disk I/O error");
    probeFails = false;
    // Once the interval has passed, the next check probes, and the probe ends the failure.
    await waitFor(
      async () => {
        const probed = health.writable();
        finishProbe();
        return await probed;
      },
      "a successful probe",
      2000,
    );
    assert.equal(health.failing, false);
  } finally {
    await reset();
  }
});
