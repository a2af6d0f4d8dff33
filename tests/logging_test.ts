import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { REDACTED, redacting } from "../shared/logging.ts";
import { Peer, TextPeer } from "./support/peer.ts";
import { ServerProcess } from "./support/server_process.ts";

Deno.test("--log-file at info: passwords and message bodies never reach the log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-log-" });
  const logFile = `${dir}/chat.log`;
  const password = "pw-Zq8vLx3-never-logged";
  const secondPassword = "pw-Kd02Hs-text-mode";
  const body = "body-Rm4nQ7-never-logged";
  try {
    const server = await ServerProcess.start([
      "--data",
      `${dir}/data`,
      "--kdf-cost",
      "10",
      "--log-file",
      logFile,
      "--log-level",
      "info",
    ]);
    try {
      assert.match(server.output, /listening on 127\.0\.0\.1:\d+/, "still announced on stdout");
      const alice = await Peer.join(server.port, "alice");
      assert.equal((await alice.request({ type: "register", password })).type, "ack");
      assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
      assert.equal((await alice.request({ type: "say", room: "dev", body })).type, "ack");
      assert.equal((await alice.request({ type: "dm", to: "alice", body })).type, "ack");
      await alice[Symbol.asyncDispose]();
      // A login with the password, and a wrong one, in framed mode.
      const again = await Peer.join(server.port, "alice", { password });
      await again[Symbol.asyncDispose]();
      await assert.rejects(Peer.join(server.port, "alice", { password: `${password}x` }));
      // Plain-text mode: registering and chatting by typing.
      const bob = await TextPeer.connect(server.port);
      bob.write("bob\r\n");
      await bob.waitFor(/bob/);
      bob.write(`/register ${secondPassword}\r\n/join dev\r\n${body}\r\n/quit\r\n`);
      await bob.closed;
    } finally {
      assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
    }
    const log = await Deno.readTextFile(logFile);
    assert.match(
      log,
      /alice connected from 127\.0\.0\.1 as a guest \(session [0-9a-f-]{36}\)/,
      log,
    );
    assert.match(log, /bob registered an account/, log);
    assert.match(log, /Stopped/, log);
    for (const secret of [password, secondPassword, body]) {
      assert.ok(!log.includes(secret), `${secret} leaked into the log:\n${log}`);
      assert.ok(!server.output.includes(secret), `${secret} leaked into stdout`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--log-file --log-format json: JSON lines, rotated by size into FILE.1, FILE.2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-log-" });
  const logFile = `${dir}/chat.log`;
  try {
    const server = await ServerProcess.start([
      "--memory",
      "--log-file",
      logFile,
      "--log-format",
      "json",
      "--log-max-bytes",
      "4096",
      "--log-max-files",
      "2",
      "--max-connections-per-ip",
      "1000",
    ]);
    try {
      for (let i = 0; i < 60; i++) {
        const peer = await Peer.join(server.port, `user${i}`);
        await peer[Symbol.asyncDispose]();
      }
    } finally {
      assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
    }
    const files = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(files, ["chat.log", "chat.log.1", "chat.log.2"]);
    for (const name of files) {
      assert.equal(Deno.statSync(`${dir}/${name}`).mode! & 0o777, 0o600, `${name} is private`);
    }
    let lines = 0;
    for (const name of files) {
      const text = await Deno.readTextFile(`${dir}/${name}`);
      // Rotation happens between buffered writes: a file may pass the size by one buffer.
      assert.ok(text.length <= 4096 + 8192, `${name} is ${text.length} bytes`);
      for (const line of text.trim().split("\n").filter((l) => l !== "")) {
        const record = JSON.parse(line);
        assert.equal(typeof record["@timestamp"], "string");
        assert.equal(typeof record.message, "string");
        lines++;
      }
    }
    assert.ok(lines > 10);
    assert.match(await Deno.readTextFile(logFile), /"Stopped"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("redacting: sensitive properties are replaced in properties and message, at any depth", () => {
  const seen: LogRecord[] = [];
  const sink = redacting((record) => void seen.push(record));
  const base = { category: ["chat"], level: "info" as const, timestamp: 0 };
  sink({
    ...base,
    rawMessage: "{nick} said {body} with {request}",
    message: ["", "alice", " said ", "hello", " with ", { type: "register", password: "pw" }, ""],
    properties: { nick: "alice", body: "hello", request: { type: "register", password: "pw" } },
  });
  const [record] = seen;
  assert.deepEqual(record!.properties, {
    nick: "alice",
    body: REDACTED,
    request: { type: "register", password: REDACTED },
  });
  assert.deepEqual(record!.message, [
    "",
    "alice",
    " said ",
    REDACTED,
    " with ",
    { type: "register", password: REDACTED },
    "",
  ]);
  // Records with nothing sensitive pass through untouched.
  const plain = { ...base, rawMessage: "x", message: ["x"], properties: { nick: "bob" } };
  sink(plain);
  assert.equal(seen[1], plain);
});

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/**
 * Runs a server logging to a file in `format` and does what shows up in
 * logs: start, a guest, an account, a refusal over a cap, a bad frame, a
 * plain-text user, a bad API key, shutdown. Resolves to the log messages.
 */
async function logMessagesOfARun(format: "text" | "json"): Promise<{
  messages: string[];
  records: Record<string, unknown>[];
  port: number;
}> {
  const dir = await Deno.makeTempDir({ prefix: "chat-log-" });
  const logFile = `${dir}/chat.log`;
  try {
    const server = await ServerProcess.start([
      ...["--data", `${dir}/data`, "--kdf-cost", "10", "--no-discovery", "--http", "127.0.0.1:0"],
      ...["--log-file", logFile, "--log-format", format, "--max-connections-per-ip", "3"],
      ...["--max-frame-bytes", "1024"],
    ]);
    try {
      const guest = await Peer.join(server.port, "alice");
      assert.equal((await guest.request({ type: "register", password: "pw-alice-1" })).type, "ack");
      await guest[Symbol.asyncDispose]();
      const alice = await Peer.join(server.port, "alice", { password: "pw-alice-1" });
      assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
      // A frame over the cap: bob is disconnected with frame_too_large.
      const bob = await Peer.join(server.port, "bob");
      bob.send({ type: "say", room: "dev", body: "x".repeat(2000) });
      await bob.closed;
      bob.close();
      const carol = await TextPeer.connect(server.port);
      carol.write("carol\r\n/join dev\r\n/quit\r\n");
      await carol.closed;
      // Over --max-connections-per-ip 3 (alice and two more).
      const extra = [await Peer.connect(server.port), await Peer.connect(server.port)];
      const refused = await Peer.connect(server.port);
      refused.send({ type: "hello", protocol: 1, client: "test", clientVersion: "0", nick: "x" });
      assert.equal(
        (await refused.next((frame) => frame.type === "bye")).code,
        "too_many_connections",
      );
      for (const peer of [...extra, refused]) await peer[Symbol.asyncDispose]();
      const http = /serving HTTP on [^\s]*:(\d+)/.exec(server.output)![1];
      const response = await fetch(`http://127.0.0.1:${http}/api/v1/rooms`, {
        headers: { authorization: "Bearer nonsense" },
      });
      assert.equal(response.status, 401);
      await response.body?.cancel();
      await alice[Symbol.asyncDispose]();
    } finally {
      assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
    }
    const lines = (await Deno.readTextFile(logFile)).split("\n").filter((line) => line !== "");
    if (format === "json") {
      const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      return {
        messages: records.map((record) => String(record.message)),
        records,
        port: server.port,
      };
    }
    const messages = lines.map((line) => {
      const match =
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d:\d\d \[(INFO|WARNING|ERROR)\] chat·\w+: (.*)$/
          .exec(line);
      assert.ok(match, `not a log line: ${line}`);
      return match[2]!;
    });
    return { messages, records: [], port: server.port };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Checks that every message reads as a sentence: no quotes, empty values or placeholders left. */
function assertReadable(messages: string[], port: number): void {
  for (const message of messages) {
    assert.doesNotMatch(message, /"|\(\)|undefined|null|\[object|\{\w*\}/, `garbled: ${message}`);
  }
  const expected = [
    `^chat \\d+\\.\\d+\\.\\d+ listening on 127\\.0\\.0\\.1:${port}$`,
    `^chat \\d+\\.\\d+\\.\\d+ serving HTTP on 127\\.0\\.0\\.1:\\d+$`,
    `^alice connected from 127\\.0\\.0\\.1 as a guest \\(session ${UUID}\\)$`,
    "^alice registered an account$",
    `^alice disconnected \\(session ${UUID}\\): quit$`,
    `^alice connected from 127\\.0\\.0\\.1 with an account \\(session ${UUID}\\)$`,
    `^bob disconnected \\(session ${UUID}\\): frame_too_large$`,
    `^carol connected from 127\\.0\\.0\\.1 as a guest \\(session ${UUID}\\)$`,
    "^Refused connection from 127\\.0\\.0\\.1: Too many connections from 127\\.0\\.0\\.1: limit 3 per address$",
    "^Refused an unknown or malformed API key from 127\\.0\\.0\\.1$",
    "^Shutting down: no new connections, flushing clients$",
    "^Stopped$",
  ];
  for (const pattern of expected) {
    assert.ok(
      messages.some((message) => new RegExp(pattern).test(message)),
      `no line like ${pattern} in:\n${messages.join("\n")}`,
    );
  }
}

Deno.test("log lines of a running server read well, start lines included, in text", async () => {
  const { messages, port } = await logMessagesOfARun("text");
  assertReadable(messages, port);
});

Deno.test("log lines of a running server read well in JSON; the values stay typed in properties", async () => {
  const { messages, records, port } = await logMessagesOfARun("json");
  assertReadable(messages, port);
  const connected = records.filter((record) => /connected from/.test(String(record.message)));
  const properties = connected.map((record) => record.properties as Record<string, unknown>);
  assert.deepEqual(properties.map(({ nick, ip, account }) => [nick, ip, account]), [
    ["alice", "127.0.0.1", null],
    ["alice", "127.0.0.1", "alice"],
    ["bob", "127.0.0.1", null],
    ["carol", "127.0.0.1", null],
  ]);
  assert.ok(properties.every(({ session }) => new RegExp(`^${UUID}$`).test(String(session))));
});

Deno.test("SIGHUP reopens the log file (logrotate's rename then HUP); the server keeps serving", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-log-" });
  const logFile = `${dir}/chat.log`;
  try {
    await using server = await ServerProcess.start([
      "--memory",
      "--no-discovery",
      "--log-file",
      logFile,
    ]);
    await using alice = await Peer.join(server.port, "alice");
    await waitForFile(logFile, /alice connected/);
    // logrotate: rename, then signal.
    await Deno.rename(logFile, `${logFile}.1`);
    server.child.kill("SIGHUP");
    await waitForFile(logFile, /Reopened the log file \(SIGHUP\)/);
    assert.equal(Deno.statSync(logFile).mode! & 0o777, 0o600);
    await using bob = await Peer.join(server.port, "bob");
    assert.equal((await alice.request({ type: "ping" })).type, "ack", "still serving");
    assert.equal((await bob.request({ type: "ping" })).type, "ack");
    await waitForFile(logFile, /bob connected/);
    const old = await Deno.readTextFile(`${logFile}.1`);
    assert.match(old, /alice connected/);
    assert.doesNotMatch(old, /bob connected|Reopened/);
    assert.doesNotMatch(await Deno.readTextFile(logFile), /alice connected/);
    assert.equal((await server.stop("SIGTERM")).code, 0, server.output);
    assert.match(await Deno.readTextFile(logFile), /Stopped/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Waits until `path` exists and matches `pattern` (the log is flushed within a second). */
async function waitForFile(path: string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (pattern.test(text)) return;
    if (Date.now() > deadline) throw new Error(`${path} never matched ${pattern}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
