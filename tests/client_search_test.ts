/**
 * `/search` in the bundled client against a real `chat serve`: ChatClient's
 * typed reply, piped text and `--json` output, and the line mode and full
 * screen in a real terminal (tmux).
 */
import assert from "node:assert/strict";
import { ChatClient } from "../client/chat_client.ts";
import { formatResult } from "../client/format.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A server with alice's messages in #general (and one in #other, which bob never joins). */
async function serverWithMessages(): Promise<{ server: ServerProcess; alice: ChatClient }> {
  const server = await ServerProcess.start(["--memory"]);
  const alice = await ChatClient.connect({
    hostname: "127.0.0.1",
    port: server.port,
    nick: "alice",
  });
  await alice.request({ type: "join", room: "general" });
  await alice.request({ type: "join", room: "other" });
  await alice.request({ type: "say", room: "general", body: "the deploy failed" });
  await alice.request({ type: "say", room: "other", body: "deploy elsewhere" });
  for (let i = 1; i <= 3; i++) {
    await alice.request({ type: "say", room: "general", body: `deploy ${i} done` });
  }
  return { server, alice };
}

Deno.test("ChatClient: search is a typed request, and its lines mark the matches in colour", async () => {
  const { server, alice } = await serverWithMessages();
  try {
    const result = await alice.request({
      type: "search",
      text: "deploy",
      room: "general",
      limit: 2,
    });
    assert.deepEqual(result.results.map((r) => r.body), ["deploy 3 done", "deploy 2 done"]);
    assert.equal(result.more, true);
    const lines = formatResult(
      { type: "search", text: "deploy", room: "general", limit: 2 },
      result,
      { color: 16, utc: true },
    );
    // deno-lint-ignore no-control-regex -- the escape sequences are what is tested
    assert.match(lines[1]!, /#general #\d+ <.*alice.*> \x1b\[1;4mdeploy\x1b\[0m 3 done$/);
    assert.match(lines.at(-1)!, /^more results: \/search after:\S+ deploy #general$/);
  } finally {
    await alice.close();
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("chat join: /search in piped text and --json output", async () => {
  const { server, alice } = await serverWithMessages();
  try {
    const address = `127.0.0.1:${server.port}`;
    const text = await runChat(
      ["join", address, "--name", "bob", "--room", "general"],
      { stdin: "/search deploy\n/search nothing-like-it\n" },
    );
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /search "deploy":\n\[[\d-]+ [\d:]+\] #general #4 <alice> deploy 3 done\n.*deploy 2 done\n.*deploy 1 done\n.*the deploy failed\n/,
    );
    assert.doesNotMatch(text.stdout, /elsewhere/);
    assert.match(text.stdout, /no results for "nothing-like-it"/);

    const json = await runChat(
      ["join", address, "--name", "bob", "--room", "general", "--json"],
      { stdin: "/search deploy #general\n" },
    );
    assert.equal(json.code, 0, json.stderr);
    const records: Json[] = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const search = records.find((record) => record.type === "search")!;
    assert.equal(search.room, "general");
    assert.equal(search.body, "deploy");
    assert.deepEqual(search.results.map((r: Json) => [r.room, r.from, r.body, r.action]), [
      ["general", "alice", "deploy 3 done", false],
      ["general", "alice", "deploy 2 done", false],
      ["general", "alice", "deploy 1 done", false],
      ["general", "alice", "the deploy failed", false],
    ]);
    assert.equal(search.more, false);
    assert.equal(search.cursor, null);
  } finally {
    await alice.close();
    await server[Symbol.asyncDispose]();
  }
});

/** `chat join ARGS` in a detached tmux window of its own; the screen read back as text. */
class Terminal implements AsyncDisposable {
  static #count = 0;
  readonly socket = `chat-search-test-${Deno.pid}-${++Terminal.#count}`;

  static async start(args: string[]): Promise<Terminal> {
    const terminal = new Terminal();
    const quoted = [Deno.execPath(), "run", "-A", MAIN, "join", ...args]
      .map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(" ");
    await terminal.tmux(
      "new-session",
      "-d",
      "-x",
      "140",
      "-y",
      "40",
      `cd '${ROOT}' && ${quoted}; sleep 60`,
    );
    return terminal;
  }

  async tmux(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { TMUX: "" },
    }).output();
    const decoder = new TextDecoder();
    if (!output.success) throw new Error(`tmux failed: ${decoder.decode(output.stderr)}`);
    return decoder.decode(output.stdout);
  }

  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "0", "-l", text);
    await this.tmux("send-keys", "-t", "0", "Enter");
  }

  /** Waits until the screen matches `pattern` (bounded), polling the pane as tmux offers no event. */
  async waitFor(pattern: RegExp, what: string): Promise<string> {
    const deadline = Date.now() + 20_000;
    while (true) {
      const screen = await this.tmux("capture-pane", "-p", "-J", "-t", "0");
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`no ${what} within 20 s; the screen:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
  }
}

for (const mode of ["full screen", "line mode"] as const) {
  Deno.test({
    name: `chat join in a terminal (${mode}): /search shows the results and the next page`,
    ignore: !hasTmux(),
  }, async () => {
    const { server, alice } = await serverWithMessages();
    try {
      const args = [`127.0.0.1:${server.port}`, "--name", "bob", "--room", "general"];
      await using terminal = await Terminal.start(
        mode === "line mode" ? [...args, "--plain"] : args,
      );
      await terminal.waitFor(/bob joined|joined #general/, "joined #general");
      await terminal.type("/search deploy");
      const screen = await terminal.waitFor(/#1 .*the deploy failed/, "the results");
      assert.match(screen, /#general #4 .*deploy 3 done/);
      assert.doesNotMatch(screen, /elsewhere/);
      for (let i = 4; i <= 25; i++) {
        await alice.request({ type: "say", room: "general", body: `deploy ${i} done` });
      }
      await terminal.type("/search deploy done");
      const paged = await terminal.waitFor(/more results: \/search after:\S+ deploy done/, "more");
      const next = /more results: (\/search after:\S+ deploy done)/.exec(paged)![1]!;
      await terminal.type(next);
      await terminal.waitFor(
        /more results:[\s\S]*#6 [^\n]*deploy 5 done[\s\S]*#2 [^\n]*deploy 1 done/,
        "the second page",
      );
    } finally {
      await alice.close();
      await server[Symbol.asyncDispose]();
    }
  });
}
