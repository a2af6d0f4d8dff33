/**
 * End to end: `chat join` as a subprocess and ChatClient in-process, against
 * `chat serve` as a real subprocess.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../client/chat_client.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { JoinProcess } from "./support/join_process.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
// Each test gets a server with no state from earlier runs.
const MEMORY = ["--memory"];
// Cheap password hashes: the default cost takes 128 MiB and a good part of a second each.
const ACCOUNTS = ["--memory", "--kdf-cost", "10"];
const TIME = String.raw`\[\d\d:\d\d:\d\d\]`;
const HISTORY = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \(history\)`;

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** Drops the leave a quitting client may hear about itself: whether it does is up to the server. */
function withoutQuitLeave(records: Json[]): Json[] {
  const last = records.at(-1);
  return last?.type === "leave" && last.body === "quit" ? records.slice(0, -1) : records;
}

/** `chat join ARGS` with `stdin` piped in and `env` added, run to completion. */
async function join(
  args: string[],
  stdin: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "join", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

function jsonLines(text: string): Json[] {
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** Creates the account `nick` with `password` from a first `chat join` (`/register`), as a guest would. */
async function createAccount(port: number, nick: string, password: string): Promise<void> {
  const result = await join([`127.0.0.1:${port}`, "--name", nick], `/register ${password}\n`);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`registered ${nick}: log in with this password`));
  assert.equal((result.stdout + result.stderr).includes(password), false);
}

function collect(client: ChatClient): { events: ClientEvent[]; done: Promise<void> } {
  const events: ClientEvent[] = [];
  const done = (async () => {
    for await (const event of client) events.push(event);
  })();
  return { events, done };
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("chat join --json: piped lines become requests, events and results become JSON lines", async () => {
  await using server = await ServerProcess.start(MEMORY);
  const result = await runChat(
    ["join", `127.0.0.1:${server.port}`, "--name", "bob", "--room", "general", "--json"],
    { stdin: "hello\n/me waves\n/who\n/rooms\n/topic Release day\n/topic\n/users\n" },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  const records: Json[] = withoutQuitLeave(
    result.stdout.trim().split("\n").map((line) => JSON.parse(line)),
  );
  for (const record of records) {
    for (const key of ["type", "room", "from", "body", "id", "ts"]) {
      assert.ok(key in record, `${key} in ${JSON.stringify(record)}`);
    }
  }
  const summary = records.map((record) => [record.type, record.room, record.from, record.body]);
  assert.deepEqual(summary, [
    ["join", "general", "bob", null],
    ["message", "general", "bob", "hello"],
    ["message", "general", "bob", "waves"],
    ["who", "general", null, null],
    ["rooms", null, null, null],
    ["topic", "general", "bob", "Release day"],
    ["topic", "general", null, null],
    ["users", null, null, null],
  ]);
  assert.equal(records[1]!.id, 1);
  assert.equal(records[2]!.action, true);
  assert.deepEqual(records[3]!.members, ["bob"]);
  assert.deepEqual(records[4]!.rooms, [{ name: "general", members: 1, topic: "" }]);
  assert.equal(records[6]!.topic, "Release day");
  assert.deepEqual(records[7]!.users, ["bob"]);
  assert.ok(typeof records[1]!.ts === "number" && Math.abs(records[1]!.ts - Date.now()) < 60_000);
});

Deno.test("chat join: text output, current room follows /join and /leave", async () => {
  await using server = await ServerProcess.start(MEMORY);
  const result = await runChat(
    ["join", `127.0.0.1:${server.port}`, "--name", "bob", "--room", "general"],
    { stdin: "one\n/join random\ntwo\n/leave\nthree\n//slash\n" },
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n").map((line) =>
    line.replace(/^\[\d\d:\d\d:\d\d\] /, "")
  ).filter((line) => line !== "<-- bob left #general (quit)");
  assert.deepEqual(lines, [
    "--> bob joined #general",
    "#general #1 <bob> one",
    "--> bob joined #random",
    "#random #1 <bob> two",
    "<-- bob left #random",
    "#general #2 <bob> three",
    "#general #3 <bob> /slash",
  ]);
});

Deno.test("chat join: failures go to stderr, the rest still runs, exit code 1", async () => {
  await using server = await ServerProcess.start(MEMORY);
  const result = await runChat(
    ["join", `127.0.0.1:${server.port}`, "--name", "bob", "--room", "general"],
    { stdin: "/msg nobody hi\n/frobnicate\n/who nowhere\nstill here\n" },
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /line 1: .*\(no_such_user\)/);
  assert.match(result.stderr, /line 2: Unknown command \/frobnicate/);
  assert.match(result.stderr, /line 3: .*\(no_such_room\)/);
  assert.match(result.stdout, /#general #\d+ <bob> still here/);
});

Deno.test("chat join: a message without a room fails clearly", async () => {
  await using server = await ServerProcess.start(MEMORY);
  const result = await runChat(["join", `127.0.0.1:${server.port}`, "--name", "bob"], {
    stdin: "hello\n",
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /line 1: You are not in a room/);
});

Deno.test("chat join: a taken nickname exits 1 with the reason and no retry", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using alice = await ChatClient.connect({ port: server.port, nick: "alice" });
  const started = Date.now();
  const result = await runChat(["join", `127.0.0.1:${server.port}`, "--name", "ALICE"], {
    stdin: "hi\n",
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /already in use \(name_taken\)/);
  assert.equal(result.stdout, "");
  assert.ok(Date.now() - started < 10_000);
  assert.equal(alice.state, "connected");
});

Deno.test("chat join: nothing listening exits 1 saying so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runChat(["join", `127.0.0.1:${port}`, "--name", "bob"], { stdin: "" });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: connection refused`),
  );
});

Deno.test("chat join: usage errors exit 2, --help exits 0 with examples", async () => {
  const help = await runChat(["join", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: chat join \[SERVER\]/);
  assert.match(help.stdout, /tls:\/\/HOST\[:PORT\] \(port 7443\) or unix:PATH/);
  assert.match(help.stdout, /Examples:/);
  for (
    const [args, message] of [
      [["--bogus"], /unknown flag --bogus/],
      [["--name"], /--name needs a value/],
      [["127.0.0.1:99999", "--name", "bob"], /invalid port/],
      [["--name", "no spaces"], /Invalid nickname/],
      [["--name", "bob", "--room", "bad room"], /Invalid room name/],
      [["--name", "bob", "--log-level", "loud"], /--log-level must be one of/],
      [["a", "b", "--name", "bob"], /unexpected argument "b"/],
    ] as const
  ) {
    const result = await runChat(["join", ...args], { stdin: "" });
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /chat join --help/);
  }
});

Deno.test("chat join: without --name, piped mode uses $USER", async () => {
  await using server = await ServerProcess.start(MEMORY);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "join", `127.0.0.1:${server.port}`, "--room", "general", "--json"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { USER: "carol" },
  });
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(JSON.parse(text.split("\n")[0]!).from, "carol");

  const noUser = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "join", `127.0.0.1:${server.port}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/tmp" },
  }).output();
  assert.equal(noUser.code, 2);
  assert.match(new TextDecoder().decode(noUser.stderr), /--name is required/);
});

Deno.test("chat join talks with another client both ways, DMs included", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using alice = await ChatClient.connect({ port: server.port, nick: "alice" });
  const { events, done } = collect(alice);
  await alice.request({ type: "join", room: "general" });

  await using bob = new JoinProcess([
    `127.0.0.1:${server.port}`,
    "--name",
    "bob",
    "--room",
    "general",
    "--json",
  ]);
  await until(() => events.some((e) => e.type === "join" && e.nick === "bob"), "bob's join");
  await bob.write("hi alice\n");
  await until(
    () => events.some((e) => e.type === "message" && e.from === "bob" && e.body === "hi alice"),
    "bob's message",
  );
  await alice.request({ type: "say", room: "general", body: "hi bob \u202e!" });
  await bob.waitFor(
    () => bob.records.some((r) => r.type === "message" && r.from === "alice"),
    "alice's message",
  );
  await bob.write("/msg alice psst\n");
  assert.equal(await bob.finish(), 0, bob.stderr);

  const fromAlice = bob.records.find((r) => r.type === "message" && r.from === "alice")!;
  // JSON keeps the text exactly (escaped by JSON itself), so scripts see what was sent.
  assert.equal(fromAlice.body, "hi bob \u202e!");
  // ...but never raw on the terminal: a bidi override would reorder what follows.
  assert.equal(bob.stdout.includes("\u202e"), false);
  const dm = bob.records.find((r) => r.type === "dm")!;
  assert.deepEqual([dm.from, dm.to, dm.body, dm.room], ["bob", "alice", "psst", null]);
  await until(() => events.some((e) => e.type === "dm" && e.body === "psst"), "the DM");
  await until(() => events.some((e) => e.type === "leave" && e.nick === "bob"), "bob leaving");
  await alice.close();
  await done;
});

Deno.test("ChatClient reconnects to a restarted server and rejoins its rooms", async () => {
  const first = await ServerProcess.start(MEMORY);
  const port = first.port;
  let second: ServerProcess | undefined;
  const client = await ChatClient.connect({
    port,
    nick: "alice",
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  const { events, done } = collect(client);
  try {
    await client.request({ type: "join", room: "general" });
    await client.request({ type: "join", room: "random" });
    // SIGTERM: the server says bye (server_shutdown) to everyone, then exits.
    await first.stop("SIGTERM");
    await until(() => events.some((e) => e.type === "reconnecting"), "reconnecting");
    assert.equal(client.state, "reconnecting");
    second = await ServerProcess.start([...MEMORY, "--port", String(port)]);
    await until(() => events.some((e) => e.type === "reconnected"), "reconnected", 15_000);

    const bye = events.find((e) => e.type === "bye");
    assert.equal(bye?.type === "bye" && bye.code, "server_shutdown");
    const reconnected = events.find((e) => e.type === "reconnected");
    assert.deepEqual(reconnected?.type === "reconnected" && reconnected.rooms, [
      "general",
      "random",
    ]);
    assert.equal(client.state, "connected");
    // The new server knows alice is in both rooms again.
    const who = await client.request({ type: "who", room: "general" });
    assert.deepEqual([who?.room, who?.members], ["general", ["alice"]]);
    const rooms = await client.request({ type: "rooms" });
    assert.deepEqual(rooms?.rooms, [{ name: "general", members: 1, topic: "" }, {
      name: "random",
      members: 1,
      topic: "",
    }]);
    await client.close();
    await done;
  } finally {
    await client.close();
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
  }
});

/** A TCP proxy in front of the server whose connections a test can cut, and whose door it can shut. */
class CuttableProxy implements AsyncDisposable {
  #listener: Deno.TcpListener | undefined;
  #pairs = new Set<[Deno.TcpConn, Deno.TcpConn]>();
  #tasks = new Set<Promise<void>>();
  readonly port: number;
  readonly target: number;

  constructor(target: number, port = 0) {
    this.target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.port = this.#listener.addr.port;
    this.#track(this.#accept(this.#listener));
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.finally(() => this.#tasks.delete(task));
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const client of listener) {
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
        const pair: [Deno.TcpConn, Deno.TcpConn] = [client, upstream];
        this.#pairs.add(pair);
        this.#track(this.#pipe(client, upstream, pair));
        this.#track(this.#pipe(upstream, client, pair));
      }
    } catch {
      // Listener closed.
    }
  }

  async #pipe(
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    pair: [Deno.TcpConn, Deno.TcpConn],
  ): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const count = await from.read(buffer);
        if (count === null) break;
        let offset = 0;
        while (offset < count) offset += await to.write(buffer.subarray(offset, count));
      }
    } catch {
      // Cut.
    }
    this.#cut(pair);
  }

  #cut(pair: [Deno.TcpConn, Deno.TcpConn]): void {
    if (!this.#pairs.delete(pair)) return;
    for (const conn of pair) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Cuts every connection and refuses new ones until {@linkcode open}. */
  shut(): void {
    this.#listener?.close();
    this.#listener = undefined;
    for (const pair of [...this.#pairs]) this.#cut(pair);
  }

  /** Accepts connections again, on the same port. */
  open(): void {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#track(this.#accept(this.#listener));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.shut();
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }
}

Deno.test("ChatClient cut off from a running server catches up on what it missed", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using proxy = new CuttableProxy(server.port);
  await using bob = await ChatClient.connect({ port: server.port, nick: "bob" });
  await bob.request({ type: "join", room: "general" });
  const alice = await ChatClient.connect({
    port: proxy.port,
    nick: "alice",
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const { events, done } = collect(alice);
  try {
    await alice.request({ type: "join", room: "general" });
    await bob.request({ type: "say", room: "general", body: "before" });
    await until(() => events.some((e) => e.type === "message" && e.body === "before"), "before");

    proxy.shut();
    await until(() => events.some((e) => e.type === "reconnecting"), "reconnecting");
    // The server sees alice leave; what bob says now, she only gets on her return.
    await until(async () => {
      const who = await bob.request({ type: "who", room: "general" });
      return (who?.members as string[]).length === 1;
    }, "alice gone");
    await bob.request({ type: "say", room: "general", body: "while you were away" });
    proxy.open();
    await until(() => events.some((e) => e.type === "reconnected"), "reconnected");

    const bodies = events.flatMap((e) => e.type === "message" ? [e.body] : []);
    assert.deepEqual(bodies, ["before", "while you were away"]);
    const missed = events.find((e) => e.type === "message" && e.body === "while you were away");
    assert.equal(missed?.type === "message" && missed.history, true);
  } finally {
    await alice.close();
    await done;
  }
});

Deno.test("chat join keeps going across a server restart and delivers later lines", async () => {
  const first = await ServerProcess.start(MEMORY);
  const port = first.port;
  let second: ServerProcess | undefined;
  const bob = new JoinProcess([`127.0.0.1:${port}`, "--name", "bob", "--room", "general"]);
  try {
    await bob.waitFor(() => bob.stdout.includes("bob joined #general"), "bob's join");
    await first.stop("SIGKILL");
    await bob.waitFor(() => bob.stdout.includes("reconnecting in"), "reconnecting notice");
    second = await ServerProcess.start([...MEMORY, "--port", String(port)]);
    await bob.waitFor(
      () => bob.stdout.includes("reconnected; rejoined #general"),
      "reconnected notice",
      40_000,
    );
    await bob.write("after restart\n");
    assert.equal(await bob.finish(), 0, bob.stderr);
    assert.match(bob.stdout, /#general #\d+ <bob> after restart/);
  } finally {
    await bob[Symbol.asyncDispose]();
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
  }
});

Deno.test("chat join whose input has ended gives up once the server has been unreachable for --reconnect-timeout", async () => {
  const server = await ServerProcess.start(MEMORY);
  const bob = new JoinProcess([
    `127.0.0.1:${server.port}`,
    "--name",
    "bob",
    "--room",
    "general",
    "--reconnect-timeout",
    "2s",
  ]);
  try {
    await bob.waitFor(() => bob.stdout.includes("bob joined #general"), "bob's join");
    await server.stop("SIGKILL");
    await bob.waitFor(() => bob.stdout.includes("reconnecting in"), "reconnecting notice");
    // A line that can only wait for the server, then the end of the input.
    await bob.write("are you there?\n");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      bob.finish(),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("still running"), 20_000)),
    ]);
    clearTimeout(timer);
    assert.equal(code, 1, bob.stderr);
    assert.match(bob.stderr, /unreachable for \d+ s/);
  } finally {
    await bob[Symbol.asyncDispose]();
    await server.stop("SIGKILL");
  }
});

Deno.test("chat join logs in with $CHAT_PASSWORD or --password-file; a wrong or missing password exits 1", async () => {
  await using server = await ServerProcess.start(ACCOUNTS);
  const address = `127.0.0.1:${server.port}`;
  await createAccount(server.port, "alice", "correct horse");
  const dir = await Deno.makeTempDir();
  try {
    const good = `${dir}/good`;
    const bad = `${dir}/bad`;
    await Deno.writeTextFile(good, "correct horse\n");
    await Deno.writeTextFile(bad, "wrong horse\r\n");

    const viaEnv = await join([address, "--name", "alice"], "/users\n", {
      CHAT_PASSWORD: "correct horse",
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.match(viaEnv.stdout, /users online \(1\): alice/);
    const viaFile = await join([address, "--name", "alice", "--password-file", good], "/users\n");
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.match(viaFile.stdout, /users online \(1\): alice/);

    const wrongEnv = await join([address, "--name", "alice"], "hi\n", { CHAT_PASSWORD: "nope" });
    assert.equal(wrongEnv.code, 1);
    assert.match(
      wrongEnv.stderr,
      /refused alice: Wrong nickname or password \(auth_failed\); the password came from \$CHAT_PASSWORD/,
    );
    const wrongFile = await join([address, "--name", "alice", "--password-file", bad], "hi\n");
    assert.equal(wrongFile.code, 1);
    assert.match(
      wrongFile.stderr,
      new RegExp(`\\(auth_failed\\); the password came from --password-file ${bad}`),
    );
    for (const result of [wrongEnv, wrongFile]) {
      assert.equal(result.stdout, "");
      assert.equal(result.stderr.includes("nope") || result.stderr.includes("wrong horse"), false);
    }

    const missing = await join([address, "--name", "alice"], "hi\n");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /alice is a registered nickname.*\(auth_required\)/);
    assert.match(missing.stderr, /\$CHAT_PASSWORD or a file named by --password-file/);

    const noFile = await join([address, "--name", "alice", "--password-file", `${dir}/none`], "");
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /cannot read the password file .*none: no such file/);
    const login = await join([address, "--name", "alice", "--login"], "");
    assert.equal(login.code, 2);
    assert.match(login.stderr, /--login asks on a terminal/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat join shows a room's history on join, marked, in text and JSON, and pages with /history", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using alice = await ChatClient.connect({ port: server.port, nick: "alice" });
  await alice.request({ type: "join", room: "general" });
  for (const body of ["first", "second", "third"]) {
    await alice.request({ type: "say", room: "general", body });
  }
  const address = `127.0.0.1:${server.port}`;

  const text = await join(
    [address, "--name", "bob", "--room", "general"],
    "/history before 2\nnow\n",
  );
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split("\n");
  assert.match(lines[0]!, new RegExp(`^${TIME} --> bob joined #general$`));
  assert.match(lines[1]!, new RegExp(`^${HISTORY} #general #1 <alice> first$`));
  assert.match(lines[2]!, new RegExp(`^${HISTORY} #general #2 <alice> second$`));
  assert.match(lines[3]!, new RegExp(`^${HISTORY} #general #3 <alice> third$`));
  // /history before 2: message 1 again, the start of the room.
  assert.match(lines[4]!, new RegExp(`^${HISTORY} #general #1 <alice> first$`));
  assert.match(lines[5]!, new RegExp(`^${TIME} #general #4 <bob> now$`));
  assert.equal(lines.length, 6, text.stdout);

  const json = await join([address, "--name", "carol", "--room", "general", "--json"], "");
  assert.equal(json.code, 0, json.stderr);
  const messages = jsonLines(json.stdout).filter((record) => record.type === "message");
  assert.deepEqual(messages.map((record) => [record.body, record.history, record.id]), [
    ["first", true, 1],
    ["second", true, 2],
    ["third", true, 3],
    ["now", true, 4],
  ]);
});

Deno.test("chat join: a DM to someone offline is kept, delivered at their login with the unread count, then read", async () => {
  await using server = await ServerProcess.start(ACCOUNTS);
  const address = `127.0.0.1:${server.port}`;
  await createAccount(server.port, "bob", "bobs password");

  const sent = await join([address, "--name", "alice"], "/msg bob are you there?\n");
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, /-> bob: are you there\?/);
  assert.match(sent.stdout, /^bob is offline; they will get it at their next login$/m);
  const sentJson = await join([address, "--name", "alice", "--json"], "/msg bob again\n");
  assert.equal(sentJson.code, 0, sentJson.stderr);
  const stored = jsonLines(sentJson.stdout).find((record) => record.type === "stored");
  assert.equal(stored?.to, "bob");

  const env = { CHAT_PASSWORD: "bobs password" };
  const login = await join([address, "--name", "bob", "--json"], "", env);
  assert.equal(login.code, 0, login.stderr);
  const records = jsonLines(login.stdout);
  const dms = records.filter((record) => record.type === "dm");
  assert.deepEqual(dms.map((record) => [record.from, record.body, record.history]), [
    ["alice", "are you there?", true],
    ["alice", "again", true],
  ]);
  const notice = records.find((record) => record.type === "notice");
  assert.deepEqual(notice?.unread, [{ peer: "alice", count: 2 }]);
  assert.ok(records.indexOf(notice!) > records.indexOf(dms[1]!));

  // Delivered and marked read: the next login brings neither again.
  const text = await join([address, "--name", "bob"], "/dmhistory alice\n", env);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split("\n");
  assert.equal(lines.some((line) => line.includes("unread")), false, text.stdout);
  assert.match(lines[0]!, new RegExp(`^${HISTORY} <- alice: are you there\\?$`));
  assert.match(lines[1]!, new RegExp(`^${HISTORY} <- alice: again$`));
  assert.equal(lines.length, 2, text.stdout);

  // Shown the first time, in text, as the unread notice.
  await join([address, "--name", "alice"], "/msg bob third\n");
  const again = await join([address, "--name", "bob"], "", env);
  assert.match(again.stdout, new RegExp(`^${HISTORY} <- alice: third$`, "m"));
  assert.match(
    again.stdout,
    /-!- unread direct messages from alice \(1\): \/dmhistory NICK shows them/,
  );
});

Deno.test("chat join shows moderation: a mute with its end, a kick that moves the current room, a ban", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using alice = await ChatClient.connect({ port: server.port, nick: "alice" });
  // The first to join a room owns it.
  await alice.request({ type: "join", room: "general" });
  await using bob = new JoinProcess([
    `127.0.0.1:${server.port}`,
    "--name",
    "bob",
    "--room",
    "lobby",
  ]);
  await bob.waitFor(() => bob.stdout.includes("bob joined #lobby"), "bob in #lobby");
  await bob.write("/join general\n");
  await bob.waitFor(() => bob.stdout.includes("bob joined #general"), "bob in #general");

  await alice.request({ type: "mute", room: "general", nick: "bob", durationMs: 600_000 });
  await bob.waitFor(() => bob.stdout.includes("alice muted bob"), "the mute notice");
  await bob.write("can I speak?\n");
  await bob.waitFor(() => bob.stderr.includes("(muted"), "the muted error");
  assert.match(
    bob.stderr,
    /line 2: You are muted in #general until \S+ \(muted, you can speak again in (9m 5\ds|10m)\)/,
  );

  await alice.request({ type: "kick", room: "general", nick: "bob", reason: "spam" });
  await bob.waitFor(() => bob.stdout.includes("no longer in #general"), "the kick");
  assert.match(bob.stdout, new RegExp(`${TIME} -!- #general: alice kicked bob: spam`));
  assert.match(
    bob.stdout,
    new RegExp(`${TIME} -!- you are no longer in #general: kicked by alice: spam`),
  );
  // Plain lines go to the room before.
  await bob.write("back in the lobby\n");
  await bob.waitFor(() => /#lobby #\d+ <bob> back in the lobby/.test(bob.stdout), "lobby line");

  await alice.request({ type: "ban", room: "general", nick: "bob", reason: "enough" });
  await bob.write("/join general\n");
  assert.equal(await bob.finish(), 1);
  assert.match(bob.stderr, /line 4: You are banned from #general: enough \(banned\)/);
});

Deno.test("chat join cut off from a persistent server that restarts prints what it missed once", async () => {
  const dir = await Deno.makeTempDir();
  const first = await ServerProcess.start(["--data", dir]);
  const port = first.port;
  let second: ServerProcess | undefined;
  const proxy = new CuttableProxy(port);
  const alice = await ChatClient.connect({
    port,
    nick: "alice",
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const bob = new JoinProcess([`127.0.0.1:${proxy.port}`, "--name", "bob", "--room", "general"]);
  try {
    await alice.request({ type: "join", room: "general" });
    await bob.waitFor(() => bob.stdout.includes("bob joined #general"), "bob's join");
    await alice.request({ type: "say", room: "general", body: "before" });
    await bob.waitFor(() => bob.stdout.includes("<alice> before"), "before");

    proxy.shut();
    await bob.waitFor(() => bob.stdout.includes("reconnecting in"), "reconnecting notice");
    await until(async () => {
      const who = await alice.request({ type: "who", room: "general" });
      return (who?.members as string[]).length === 1;
    }, "bob gone");
    await alice.request({ type: "say", room: "general", body: "while you were away" });
    // The server restarts on its data: ids and messages survive.
    await first.stop("SIGTERM");
    second = await ServerProcess.start(["--data", dir, "--port", String(port)]);
    await until(() => alice.state === "connected" && alice.rooms.includes("general"), "alice back");
    proxy.open();
    await bob.waitFor(() => bob.stdout.includes("reconnected; rejoined #general"), "rejoined");
    await alice.request({ type: "say", room: "general", body: "after" });
    await bob.waitFor(() => bob.stdout.includes("<alice> after"), "after");
    assert.equal(await bob.finish(), 0, bob.stderr);

    const said = bob.lines.filter((line) => line.includes("<alice>"));
    assert.equal(said.length, 3, bob.stdout);
    assert.match(said[0]!, new RegExp(`^${TIME} #general #\\d+ <alice> before$`));
    assert.match(said[1]!, new RegExp(`^${HISTORY} #general #\\d+ <alice> while you were away$`));
    assert.match(said[2]!, new RegExp(`^${TIME} #general #\\d+ <alice> after$`));
  } finally {
    await bob[Symbol.asyncDispose]();
    await alice.close();
    await proxy[Symbol.asyncDispose]();
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- message changes (section 21)

Deno.test("ChatClient cut off from a running server catches up on changes made meanwhile", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using proxy = new CuttableProxy(server.port);
  await using bob = await ChatClient.connect({ port: server.port, nick: "bob" });
  await bob.request({ type: "join", room: "general" });
  const alice = await ChatClient.connect({
    port: proxy.port,
    nick: "alice",
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const { events, done } = collect(alice);
  try {
    await alice.request({ type: "join", room: "general" });
    const { id } = await bob.request({ type: "say", room: "general", body: "helo" });
    // The last thing alice sees before the cut is a change: she must resume after it.
    await bob.request({ type: "react", room: "general", target: id, emoji: "👍" });
    await until(() => events.some((e) => e.type === "react"), "the reaction");

    proxy.shut();
    await until(() => events.some((e) => e.type === "reconnecting"), "reconnecting");
    await until(async () => {
      const who = await bob.request({ type: "who", room: "general" });
      return (who?.members as string[]).length === 1;
    }, "alice gone");
    await bob.request({ type: "edit", room: "general", target: id, body: "hello" });
    await bob.request({ type: "unreact", room: "general", target: id, emoji: "👍" });
    proxy.open();
    await until(() => events.some((e) => e.type === "reconnected"), "reconnected");

    const timeline = events.flatMap((e) =>
      e.type === "message" || e.type === "edit" || e.type === "react" || e.type === "unreact"
        ? [[e.type, e.history === true]]
        : []
    );
    // Each once: the reaction seen live is not replayed, the changes missed are.
    assert.deepEqual(timeline, [
      ["message", false],
      ["react", false],
      ["edit", true],
      ["unreact", true],
    ]);
  } finally {
    await alice.close();
    await done;
  }
});

// ---- typing (docs/protocol.md, section 22)

Deno.test("chat join piped: --json writes typing events, plain text leaves them out", async () => {
  await using server = await ServerProcess.start(MEMORY);
  await using alice = await ChatClient.connect({ port: server.port, nick: "alice" });
  const { events } = collect(alice);
  await alice.request({ type: "join", room: "general" });
  const args = (nick: string, json: boolean) => [
    `127.0.0.1:${server.port}`,
    "--name",
    nick,
    "--room",
    "general",
    ...(json ? ["--json"] : []),
  ];
  await using bob = new JoinProcess(args("bob", true));
  await using carol = new JoinProcess(args("carol", false));
  await until(
    () =>
      ["bob", "carol"].every((nick) => events.some((e) => e.type === "join" && e.nick === nick)),
    "bob's and carol's joins",
  );
  await alice.request({ type: "typing", room: "general", state: "active" });
  await alice.request({ type: "say", room: "general", body: "typed" });
  await bob.waitFor(() => bob.records.some((r) => r.type === "message"), "the message as JSON");
  const typing = bob.records.find((r) => r.type === "typing");
  assert.equal(typing?.from, "alice");
  assert.equal(typing?.room, "general");
  assert.equal(typing?.state, "active");
  await carol.waitFor(() => carol.stdout.includes("<alice> typed"), "the message as text");
  assert.ok(!carol.stdout.includes("typing"), carol.stdout);
  assert.equal(await bob.finish(), 0, bob.stderr);
  assert.equal(await carol.finish(), 0, carol.stderr);
});
