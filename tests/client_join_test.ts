/**
 * End to end: `chat join` as a subprocess and ChatClient in-process, against
 * `chat serve` as a real subprocess.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../client/chat_client.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
// Each test gets a server with no state from earlier runs.
const MEMORY = ["--memory"];

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** `chat join ARGS` with stdin held open, its output read as it comes. */
class JoinProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pump: Promise<void>;
  #inputClosed = false;

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "join", ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    const collect = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
    };
    this.#pump = Promise.all([
      collect(this.child.stdout, "stdout"),
      collect(this.child.stderr, "stderr"),
    ])
      .then(() => {});
  }

  get lines(): string[] {
    return this.stdout.split("\n").filter((line) => line !== "");
  }

  get records(): Json[] {
    return this.lines.map((line) => JSON.parse(line));
  }

  async write(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  async closeInput(): Promise<void> {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    await this.#writer.close().catch(() => {});
  }

  async waitFor(found: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!found()) {
      if (Date.now() > deadline) {
        throw new Error(
          `no ${what} within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Closes stdin and waits for the exit code. */
  async finish(): Promise<number> {
    await this.closeInput();
    const { code } = await this.child.status;
    await this.#pump;
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeInput();
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#pump;
  }
}

/** Drops the leave a quitting client may hear about itself: whether it does is up to the server. */
function withoutQuitLeave(records: Json[]): Json[] {
  const last = records.at(-1);
  return last?.type === "leave" && last.body === "quit" ? records.slice(0, -1) : records;
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
    "#general <bob> one",
    "--> bob joined #random",
    "#random <bob> two",
    "<-- bob left #random",
    "#general <bob> three",
    "#general <bob> /slash",
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
  assert.match(result.stdout, /#general <bob> still here/);
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
  assert.match(help.stdout, /Usage: chat join \[HOST\[:PORT\]\]/);
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
    assert.deepEqual(await client.request({ type: "who", room: "general" }), {
      room: "general",
      members: ["alice"],
    });
    assert.deepEqual(await client.request({ type: "rooms" }), {
      rooms: [{ name: "general", members: 1, topic: "" }, {
        name: "random",
        members: 1,
        topic: "",
      }],
    });
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
    assert.match(bob.stdout, /#general <bob> after restart/);
  } finally {
    await bob[Symbol.asyncDispose]();
    await first.stop("SIGKILL");
    await second?.stop("SIGKILL");
  }
});
