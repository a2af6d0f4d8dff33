import assert from "node:assert/strict";
import { Peer } from "./support/peer.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `chat ARGS` in `cwd` with exactly `env` (plus PATH and HOME). */
async function chat(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: options.cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

async function inTempDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-config-" });
  try {
    await use(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The source column of `chat config check` for `key`. */
function sourceOf(stdout: string, key: string): string {
  const line = stdout.split("\n").find((l) => l.startsWith(`${key} `));
  assert.ok(line !== undefined, `no line for ${key} in:\n${stdout}`);
  return line.trim().split(/\s{2,}/).at(-1)!;
}

Deno.test("chat config init writes a commented file, refuses to overwrite it, --force does", async () => {
  await inTempDir(async (dir) => {
    const first = await chat(["config", "init"], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const text = await Deno.readTextFile(`${dir}/chat.toml`);
    assert.match(text, /^#max_queue_bytes = 1048576$/m);
    assert.match(text, /^# Precedence: command-line flags > CHAT_\* environment variables/m);

    await Deno.writeTextFile(`${dir}/chat.toml`, "port = 1\n");
    const again = await chat(["config", "init"], { cwd: dir });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /chat\.toml already exists; not overwriting it without --force/);
    assert.equal(await Deno.readTextFile(`${dir}/chat.toml`), "port = 1\n");

    const forced = await chat(["config", "init", "chat.toml", "--force"], { cwd: dir });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/chat.toml`), text);

    const stdout = await chat(["config", "init", "-"], { cwd: dir });
    assert.equal(stdout.stdout, text);
  });
});

Deno.test("chat config check prints every effective setting with its source", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/chat.toml`,
      'port = 7100\nmax_queue_bytes = 4096\nrate_burst = 5\nauth = "required"\n',
    );
    const { code, stdout, stderr } = await chat(
      ["config", "check", "--config", "chat.toml", "--rate-burst", "9", "--no-discovery"],
      { cwd: dir, env: { CHAT_MAX_QUEUE_BYTES: "8192" } },
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Settings are valid \(file chat\.toml\)/);
    assert.match(stdout, /^port\s+7100\s+file chat\.toml$/m);
    assert.match(stdout, /^max_queue_bytes\s+8192\s+env CHAT_MAX_QUEUE_BYTES$/m);
    assert.match(stdout, /^rate_burst\s+9\s+flag --rate-burst$/m);
    assert.match(stdout, /^discovery\s+false\s+flag --no-discovery$/m);
    assert.equal(sourceOf(stdout, "auth"), "file chat.toml");
    assert.equal(sourceOf(stdout, "heartbeat_ms"), "default");
    // CHAT_CONFIG names the file when --config does not.
    const viaEnv = await chat(["config", "check"], {
      cwd: dir,
      env: { CHAT_CONFIG: `${dir}/chat.toml` },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(sourceOf(viaEnv.stdout, "port"), `file ${dir}/chat.toml`);
  });
});

Deno.test("bad files and variables: one line, exit 2, for chat serve and chat config check", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/typo.toml`, "max_queue = 4096\n");
    await Deno.writeTextFile(`${dir}/value.toml`, 'port = "high"\n');
    await Deno.writeTextFile(`${dir}/syntax.toml`, "port = = 1\n");
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ["serve", "--config", "typo.toml"],
        {},
        /typo\.toml: unknown key "max_queue" \(did you mean max_queue_bytes\?\)/,
      ],
      [
        ["config", "check", "--config", "value.toml"],
        {},
        /value\.toml: port must be a whole number, got "high"/,
      ],
      [["serve", "--config", "syntax.toml"], {}, /syntax\.toml:1:\d+: /],
      [["serve", "--config", "missing.toml"], {}, /cannot read config file missing\.toml/],
      [
        ["serve"],
        { CHAT_MAX_QUEUE_BYTES: "lots" },
        /CHAT_MAX_QUEUE_BYTES must be a whole number, got "lots"/,
      ],
      [
        ["serve"],
        { CHAT_PROT: "7007" },
        /unknown environment variable CHAT_PROT \(did you mean CHAT_PORT\?\)/,
      ],
      [["serve", "--no-tcp"], {}, /nothing to listen on: --no-tcp turns TCP off/],
      [["config", "check", "--port=-1"], {}, /--port must be between 0 and 65535, got -1/],
      // Checked with the settings, not when connecting: no Redis is asked.
      [
        ["serve", "--redis", "http://127.0.0.1:6379"],
        {},
        /--redis must be a redis:\/\/ or rediss:\/\/ \(TLS\) URL/,
      ],
      [
        ["config", "check"],
        { CHAT_REDIS: "redis://chat:pw@127.0.0.1:6379/main" },
        /CHAT_REDIS may end only in a database number.*got "redis:\/\/chat:\*\*\*@/,
      ],
    ];
    for (const [args, env, expected] of cases) {
      const { code, stdout, stderr } = await chat(args, { cwd: dir, env });
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, expected);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.equal(stdout, "");
    }
  });
});

Deno.test("chat serve takes settings from the file and the environment, flags winning", async () => {
  await inTempDir(async (dir) => {
    // The file caps connections per address at 1 and asks for port 1, which
    // the --port flag overrides; the environment turns discovery off and logs to JSON.
    await Deno.writeTextFile(
      `${dir}/chat.toml`,
      'port = 1\nmax_connections_per_ip = 1\nhost = "127.0.0.1"\nmemory = true\n',
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "serve", "--config", "chat.toml", "--port", "0"],
      cwd: dir,
      env: { CHAT_DISCOVERY: "false", CHAT_LOG_FORMAT: "json" },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    try {
      let port: number | undefined;
      while (port === undefined) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`server exited:\n${output}`);
        output += value;
        const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
        if (match) port = Number(match[1]);
      }
      JSON.parse(output.trim().split("\n")[0]!); // CHAT_LOG_FORMAT=json took effect
      assert.doesNotMatch(output, /discovery/);
      await using alice = await Peer.join(port, "alice");
      await using bob = await Peer.connect(port);
      bob.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "bob" });
      assert.equal((await bob.next((f) => f.type === "bye")).code, "too_many_connections");
      assert.equal((await alice.request({ type: "ping" })).type, "ack");
    } finally {
      child.kill("SIGTERM");
      while (!(await reader.read()).done) {
        // Drain.
      }
      assert.equal((await child.status).code, 0);
    }
  });
});
