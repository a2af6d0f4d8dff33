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
    assert.match(log, /"alice" connected from "127\.0\.0\.1"/, log);
    assert.match(log, /"bob" registered an account/, log);
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
