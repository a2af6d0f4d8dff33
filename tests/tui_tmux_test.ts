/**
 * End to end: the full-screen `chat join` in a real terminal (tmux) against
 * a real `chat serve`, with a second user driven through the ChatClient
 * library. Each test has its own server and its own tmux server (`-L`),
 * both stopped at the end; every wait is bounded. Skipped only when tmux is
 * not installed.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../client/chat_client.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const TMUX = hasTmux();

let sessions = 0;

/** A tmux server of our own running one window: `chat join ...`, then the exit code. */
class Terminal implements AsyncDisposable {
  readonly socket: string;
  #socketPath: string | undefined;

  private constructor(socket: string) {
    this.socket = socket;
  }

  /** Starts `chat join ARGS` in a detached `columns` × `rows` tmux window. */
  static async start(
    args: string[],
    options: { columns?: number; rows?: number } = {},
  ): Promise<Terminal> {
    const terminal = new Terminal(`chat-tui-test-${Deno.pid}-${++sessions}`);
    const quoted = [Deno.execPath(), "run", "-A", MAIN, "join", ...args]
      .map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(" ");
    // After the client: its exit code, then a pause so the pane can be read.
    const command = `cd '${ROOT}' && ${quoted}; echo "EXIT=$?"; sleep 120`;
    await terminal.tmux(
      "new-session",
      "-d",
      "-x",
      String(options.columns ?? 120),
      "-y",
      String(options.rows ?? 40),
      command,
    );
    terminal.#socketPath = (await terminal.tmux("display-message", "-p", "#{socket_path}")).trim();
    return terminal;
  }

  /** Runs `tmux -L SOCKET ARGS` and returns what it printed. */
  async tmux(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // A test run from inside tmux must not talk to that tmux.
      env: { TMUX: "" },
    }).output();
    const decoder = new TextDecoder();
    if (!output.success) {
      throw new Error(`tmux ${args.join(" ")} failed: ${decoder.decode(output.stderr)}`);
    }
    return decoder.decode(output.stdout);
  }

  /** Presses keys by tmux name ("Enter", "C-n", "M-2", "PPage"). */
  async keys(...names: string[]): Promise<void> {
    await this.tmux("send-keys", "-t", "0", ...names);
  }

  /** Types `text` literally. */
  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", "0", "-l", text);
  }

  /** The screen as text rows. */
  async screen(): Promise<string[]> {
    return (await this.tmux("capture-pane", "-p", "-t", "0")).replace(/\n$/, "").split("\n");
  }

  /** A tmux format about the pane, e.g. "#{cursor_x}". */
  async format(format: string): Promise<string> {
    return (await this.tmux("display-message", "-p", "-t", "0", format)).trim();
  }

  /** Waits until the screen satisfies `check`, or fails with the screen after `timeoutMs`. */
  async waitFor(
    check: RegExp | ((rows: string[]) => boolean),
    what: string,
    timeoutMs = 20_000,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const ok = (rows: string[]) =>
      check instanceof RegExp ? check.test(rows.join("\n")) : check(rows);
    while (true) {
      const rows = await this.screen();
      if (ok(rows)) return rows;
      if (Date.now() > deadline) {
        throw new Error(`no ${what} within ${timeoutMs} ms; the screen:\n${rows.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The input row: the last one. */
  async inputRow(): Promise<string> {
    return (await this.screen()).at(-1)!.trimEnd();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
    // tmux leaves the socket file behind.
    if (this.#socketPath) await Deno.remove(this.#socketPath).catch(() => {});
  }
}

/** A second user through the library, with every event it receives kept. */
async function connectBob(port: number): Promise<{ bob: ChatClient; events: ClientEvent[] }> {
  const bob = await ChatClient.connect({ hostname: "127.0.0.1", port, nick: "bob" });
  const events: ClientEvent[] = [];
  (async () => {
    for await (const event of bob) events.push(event);
  })();
  return { bob, events };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function said(events: ClientEvent[], body: string): boolean {
  return events.some((event) => event.type === "message" && event.body === body);
}

const ALICE = ["--name", "alice", "--room", "general"];
const ready = /alice joined[\s\S]*\[#general\]/;

Deno.test({
  name: "tui in tmux: typing while messages arrive keeps the typed text; the message is sent",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  const { bob, events } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    await terminal.type("half typ");
    await terminal.waitFor(/\[#general\] half typ/, "typed text");
    for (let index = 1; index <= 5; index++) {
      await bob.request({ type: "say", room: "general", body: `incoming ${index}` });
    }
    const rows = await terminal.waitFor(/bob │ incoming 5/, "bob's messages");
    assert.match(rows.at(-1)!, /^\[#general\] half typ\s*$/);
    // The cursor is still at the end of the typed text: "[#general] " is 11 columns.
    assert.equal(await terminal.format("#{cursor_x},#{cursor_y}"), "19,39");
    await terminal.type("ed text");
    await terminal.keys("Enter");
    await until(() => said(events, "half typed text"), "bob receiving alice's message");
    await terminal.waitFor(/alice │ half typed text/, "alice's own message");
    assert.equal(await terminal.inputRow(), "[#general]");
  } finally {
    await bob.close();
  }
});

Deno.test({
  name: "tui in tmux: switching conversations, unread counts and Tab completion",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  const { bob, events } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    await bob.request({ type: "join", room: "random" });
    await bob.request({ type: "say", room: "general", body: "anyone here?" });
    await terminal.waitFor(/bob │ anyone here\?/, "bob in #general");

    // Command completion, then a room.
    await terminal.type("/jo");
    await terminal.keys("Tab");
    // (tmux drops trailing spaces from captures.)
    await terminal.waitFor(/\[#general\] \/join\s*$/, "completed /join");
    await terminal.type("random");
    await terminal.keys("Enter");
    await terminal.waitFor(/▸3 #random/, "#random opened and current");
    await terminal.waitFor(/^ #random/, "title of #random");

    // A message in the other room counts as unread there.
    await bob.request({ type: "say", room: "general", body: "over in general" });
    await terminal.waitFor(/2 #general +1/, "an unread count on #general");

    await terminal.keys("M-2");
    await terminal.waitFor(/^ #general/, "Alt+2 to #general");
    await terminal.waitFor((rows) => !/2 #general +1/.test(rows.join("\n")), "unread cleared");
    await terminal.keys("C-n");
    await terminal.waitFor(/^ #random/, "Ctrl+N to #random");
    await terminal.keys("C-p", "C-p");
    await terminal.waitFor(/▸1 127\.0\.0\.1/, "Ctrl+P twice to the server buffer");
    await terminal.keys("M-2");
    await terminal.waitFor(/^ #general/, "back to #general");

    // A nickname: the recent speaker, with ": " at the start of the line.
    await terminal.type("b");
    await terminal.keys("Tab");
    await terminal.waitFor(/\[#general\] bob:\s*$/, "completed nickname");
    await terminal.type("hello");
    await terminal.keys("Enter");
    await until(() => said(events, "bob: hello"), "the completed message");
  } finally {
    await bob.close();
  }
});

Deno.test({
  name: "tui in tmux: resizing lays the screen out again",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  await terminal.type("draft 日本");
  await terminal.waitFor(/\[#general\] draft 日本/, "typed text");

  await terminal.tmux("resize-window", "-t", "0", "-x", "50", "-y", "15");
  const small = await terminal.waitFor(
    (rows) =>
      rows.length === 15 && /^ #general/.test(rows[0]!) && /alice │ connected/.test(rows[13]!) &&
      /^\[#general\] draft 日本\s*$/.test(rows[14]!),
    "the small layout",
  );
  assert.doesNotMatch(small.join("\n"), /conversations/);
  assert.ok(small.some((row) => /alice joined/.test(row)), small.join("\n"));

  await terminal.tmux("resize-window", "-t", "0", "-x", "120", "-y", "40");
  const large = await terminal.waitFor(
    (rows) =>
      rows.length === 40 && /conversations/.test(rows[1]!) && /│1 person/.test(rows[1]!) &&
      /^\[#general\] draft 日本\s*$/.test(rows[39]!),
    "the large layout",
  );
  // Nothing of the small layout is left over: every row is a row of the large one.
  for (const row of large.slice(1, 38)) assert.match(row, /^.{18}│.*│/u, row);
});

Deno.test({
  name: "tui in tmux: a bracketed paste of several lines asks, then sends one message",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  const { bob, events } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    await terminal.tmux("set-buffer", "-b", "clip", "first line\nsecond line\n");
    await terminal.tmux("paste-buffer", "-p", "-b", "clip", "-t", "0");
    await terminal.waitFor(/Paste 2 lines to \[#general\]\?/, "the paste question");
    await terminal.type("m");
    await until(() => said(events, "first line\nsecond line"), "one two-line message");
    const rows = await terminal.waitFor(/alice │ first line/, "the message on screen");
    const index = rows.findIndex((row) => /alice │ first line/.test(row));
    assert.match(rows[index + 1]!, /│ second line/);
  } finally {
    await bob.close();
  }
});

Deno.test({
  name: "tui in tmux: scrolling to the top loads older history from the server",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory", "--history-on-join", "5"]);
  const { bob } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    for (let index = 1; index <= 60; index++) {
      await bob.request({ type: "say", room: "general", body: `old message ${index}` });
    }
  } finally {
    await bob.close();
  }
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE], {
    rows: 20,
  });
  await terminal.waitFor(/old message 60[\s\S]*end of history[\s\S]*alice joined/, "history");
  const first = await terminal.screen();
  assert.ok(!first.join("\n").includes("old message 55"), "only five messages came on join");
  for (let press = 0; press < 40; press++) {
    await terminal.keys("PPage");
    const rows = await terminal.screen();
    if (rows.join("\n").includes("beginning of history")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const top = await terminal.waitFor(/beginning of history/, "the start of the history");
  assert.match(top.join("\n"), /bob │ old message 1\b/);
  await terminal.keys("Escape");
  await terminal.waitFor(/alice joined\s*│?[^\n]*\n[^\n]*alice │ connected/, "back at the bottom");
});

Deno.test({
  name: "tui in tmux: a server restart shows as reconnecting and keeps the typed text",
  ignore: !TMUX,
}, async () => {
  const first = await ServerProcess.start(["--memory"]);
  const port = first.port;
  let second: ServerProcess | undefined;
  try {
    await using terminal = await Terminal.start([`127.0.0.1:${port}`, ...ALICE]);
    await terminal.waitFor(ready, "joined #general");
    await terminal.type("kept across");
    await first.stop("SIGKILL");
    await terminal.waitFor(/reconnecting \(attempt/, "the reconnecting status");
    assert.match(await terminal.inputRow(), /^\[#general\] kept across$/);
    second = await ServerProcess.start(["--memory", "--port", String(port)]);
    await terminal.waitFor(/reconnected; rejoined #general/, "reconnected", 40_000);
    await terminal.waitFor(/alice │ connected/, "connected again");
    assert.match(await terminal.inputRow(), /^\[#general\] kept across$/);
    await terminal.type(" the restart");
    await terminal.keys("Enter");
    await terminal.waitFor(/alice │ kept across the restart/, "the message sent after it");
  } finally {
    await first.stop("SIGKILL");
    await second?.stop();
  }
});

for (const [how, keys] of [["/quit", ["/quit", "Enter"]], ["Ctrl+C", ["C-c"]]] as const) {
  Deno.test({
    name: `tui in tmux: ${how} leaves the terminal as it was and exits 0`,
    ignore: !TMUX,
  }, async () => {
    await using server = await ServerProcess.start(["--memory"]);
    await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
    await terminal.waitFor(ready, "joined #general");
    assert.equal(await terminal.format("#{alternate_on}"), "1");
    if (keys.length === 2) {
      await terminal.type(keys[0]);
      await terminal.keys(keys[1]);
    } else {
      await terminal.keys(keys[0]);
    }
    const rows = await terminal.waitFor(/EXIT=\d+/, "the client's exit");
    const text = rows.join("\n");
    assert.match(text, /EXIT=0/);
    // The normal screen is back, with nothing of the UI left on it.
    assert.doesNotMatch(text, /conversations|#general|alice joined|connected/);
    assert.equal(await terminal.format("#{alternate_on}"), "0");
    assert.equal(await terminal.format("#{cursor_flag}"), "1");
    assert.equal(await terminal.format("#{mouse_any_flag}"), "0");
    // Raw mode is off again: the tty echoes and turns Enter into a newline.
    const pane = await terminal.format("#{pane_tty}");
    const stty = await new Deno.Command("stty", { args: ["-a", "-F", pane] }).output();
    if (stty.success) {
      const settings = new TextDecoder().decode(stty.stdout);
      assert.match(settings, /(^|\s)icanon(\s|$)/);
      assert.match(settings, /(^|\s)echo(\s|$)/);
    }
  });
}

Deno.test({
  name: "tui in tmux: --plain keeps the line mode on a terminal",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([
    `127.0.0.1:${server.port}`,
    ...ALICE,
    "--plain",
  ]);
  // Only what the line mode is sure to show: the room's name.
  await terminal.waitFor(/general/, "the line mode in #general");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await terminal.format("#{alternate_on}"), "0");
  assert.doesNotMatch((await terminal.screen()).join("\n"), /conversations/);
  await terminal.keys("C-d");
  await terminal.waitFor(/EXIT=0/, "the client's exit");
});

Deno.test({
  name: "tui in tmux: /register asks twice without echo; DMs seen in their conversation are read",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory", "--kdf-cost", "10"]);
  const address = `127.0.0.1:${server.port}`;
  await using terminal = await Terminal.start([address, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  await terminal.type("/register");
  await terminal.keys("Enter");
  await terminal.waitFor(/New password for alice \(not shown\):\s*$/, "the password prompt");
  await terminal.type("horse staple");
  await terminal.keys("Enter");
  await terminal.waitFor(/Repeat the password:\s*$/, "asked again");
  await terminal.type("horse staple");
  await terminal.keys("Enter");
  const registered = await terminal.waitFor(/registered alice/, "registered");
  assert.doesNotMatch(registered.join("\n"), /horse|staple/);

  const { bob } = await connectBob(server.port);
  try {
    await bob.request({ type: "dm", to: "alice", body: "one" });
    await bob.request({ type: "dm", to: "alice", body: "two" });
    await terminal.waitFor(/3 @bob +2/, "an unread count on @bob");
    // Looked at: the server hears they were read.
    await terminal.keys("M-3");
    await terminal.waitFor(/bob » one[\s\S]*bob » two/, "bob's messages");
    await terminal.keys("M-2");
    await terminal.waitFor(/^ #general/, "back to #general");
    await bob.request({ type: "dm", to: "alice", body: "three" });
    await terminal.waitFor(/3 @bob +1/, "one more, not looked at");
  } finally {
    await bob.close();
  }
  await terminal.keys("C-c");
  await terminal.waitFor(/EXIT=0/, "the client's exit");

  // At the next login only "three" is unread, and the DM history is there.
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "join", address, "--name", "alice", "--json"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { CHAT_PASSWORD: "horse staple" },
  }).output();
  const records = new TextDecoder().decode(child.stdout).trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
  const notice = records.find((record) => record.type === "notice");
  assert.deepEqual(notice?.unread, [{ peer: "bob", count: 1 }]);
});

Deno.test({
  name: "tui in tmux: with several servers found, chat join asks which and joins it",
  ignore: !TMUX,
}, async () => {
  await using one = await ServerProcess.start(["--memory", "--discovery-port", "0"]);
  await using two = await ServerProcess.start(["--memory", "--discovery-port", "0"]);
  const udp = (server: ServerProcess) =>
    Number(/discovery probes on udp "?127\.0\.0\.1:(\d+)/.exec(server.output)?.[1]);
  await until(() => udp(one) > 0 && udp(two) > 0, "both discovery ports");
  // Loopback only: the probe goes to 127.0.0.1, never to the LAN.
  await using terminal = await Terminal.start([
    "--discovery-address",
    "127.0.0.1",
    "--discovery-port",
    `${udp(one)},${udp(two)}`,
    ...ALICE,
  ]);
  const rows = await terminal.waitFor(/Join which one\? \[1-2\]/, "the question");
  const second = rows.join("\n").match(/ {2}2\) \S+ {2}127\.0\.0\.1:(\d+)/);
  assert.ok(second !== null, rows.join("\n"));
  assert.ok([one.port, two.port].includes(Number(second[1])));
  await terminal.type("2");
  await terminal.keys("Enter");
  await terminal.waitFor(ready, "joined #general");
  await terminal.waitFor(new RegExp(` 127\\.0\\.0\\.1:${second[1]} │ alice │ connected`), "where");
  await terminal.keys("C-c");
  await terminal.waitFor(/EXIT=0/, "the client's exit");
});

/** How many times `text` shows on the screen. */
function occurrences(rows: string[], text: string): number {
  return rows.join("\n").split(text).length - 1;
}

/** Answers the terminal's password prompts with `answers`, one per prompt, in order. */
async function answerPasswordPrompts(terminal: Terminal, answers: string[]): Promise<void> {
  for (const [index, answer] of answers.entries()) {
    await terminal.waitFor(
      (rows) => occurrences(rows, "Password for alice:") === index + 1,
      `password prompt ${index + 1}`,
    );
    await terminal.type(answer);
    await terminal.keys("Enter");
  }
}

Deno.test({
  name: "tui in tmux: a registered nickname's password is asked for three times, as the help says",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory", "--kdf-cost", "10"]);
  const address = `127.0.0.1:${server.port}`;
  const owner = await ChatClient.connect({
    hostname: "127.0.0.1",
    port: server.port,
    nick: "alice",
  });
  await owner.request({ type: "register", password: "horse staple" });
  await owner.close();

  // Asked because the server says the nickname needs it: the third answer still counts.
  {
    await using terminal = await Terminal.start([address, ...ALICE, "--plain"]);
    await answerPasswordPrompts(terminal, ["wrong one", "wrong two", "horse staple"]);
    const rows = await terminal.waitFor(/general/, "joined #general on the third password");
    assert.equal(occurrences(rows, "Wrong nickname or password"), 2);
    assert.doesNotMatch(rows.join("\n"), /wrong one|wrong two|horse staple/);
    await terminal.keys("C-d");
    await terminal.waitFor(/EXIT=0/, "the client's exit");
  }
  // Asked first because of --login: three wrong answers, then exit 1 without a fourth prompt.
  {
    await using terminal = await Terminal.start([address, ...ALICE, "--plain", "--login"]);
    await answerPasswordPrompts(terminal, ["wrong one", "wrong two", "wrong three"]);
    const rows = await terminal.waitFor(/EXIT=1/, "the client's exit after three wrong passwords");
    assert.equal(occurrences(rows, "Password for alice:"), 3);
    assert.match(rows.join("\n"), /refused alice: Wrong nickname or password \(auth_failed\)/);
    assert.doesNotMatch(rows.join("\n"), /wrong one|wrong two|wrong three/);
  }
});

// ---------------------------------------------------------------- message changes (section 21)

Deno.test({
  name: "tui in tmux: an edit and reactions redraw the message in place; /react sends one",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  const { bob, events } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    const { id } = await bob.request({ type: "say", room: "general", body: "helo wrld" });
    await bob.request({ type: "say", room: "general", body: "said after it" });
    const before = await terminal.waitFor(/bob │ said after it/, "bob's messages");
    const row = before.findIndex((text) => text.includes(`bob │ helo wrld #${id}`));
    assert.ok(row >= 0, before.join("\n"));

    await bob.request({ type: "edit", room: "general", target: id, body: "hello world" });
    const edited = await terminal.waitFor(
      new RegExp(`bob │ hello world #${id} \\(edited \\d\\d:\\d\\d\\)`),
      "the edit in place",
    );
    // The same row, nothing added below: redrawn where it was, not printed again.
    assert.match(edited[row]!, new RegExp(`bob │ hello world #${id} \\(edited`));
    assert.equal(edited.join("\n").includes("helo wrld"), false);
    assert.match(edited[row + 1]!, /bob │ said after it/);

    // Alice reacts with the id the line shows; bob's reaction joins hers.
    await terminal.type(`/react ${id} 👍`);
    await terminal.keys("Enter");
    await until(
      () => events.some((event) => event.type === "react" && event.from === "alice"),
      "bob receiving alice's reaction",
    );
    await bob.request({ type: "react", room: "general", target: id, emoji: "🎉" });
    const reacted = await terminal.waitFor(
      (rows) => rows.some((text) => text.includes("│ 👍 1  🎉 1")),
      "both reactions under the message",
    );
    // Still one message line, now with a row of reactions under it; the pane is anchored at
    // the bottom, so what is above moved up by that row.
    const now = reacted.findIndex((text) => text.includes(`bob │ hello world #${id}`));
    assert.equal(now, row - 1, reacted.join("\n"));
    assert.ok(reacted[now + 1]!.includes(" │ 👍 1  🎉 1"), reacted.join("\n"));
    assert.doesNotMatch(reacted[now + 1]!, /bob │/);
    assert.match(reacted[now + 2]!, /bob │ said after it/);
  } finally {
    await bob.close();
  }
});

Deno.test({
  name:
    "tui in tmux: --plain line mode prints changes with the message they change, quotes replies",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE, "--plain"]);
  await terminal.waitFor(/alice joined #general/, "the line mode in #general");
  const { bob, events } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    const { id } = await bob.request({ type: "say", room: "general", body: "helo" });
    await terminal.waitFor(new RegExp(`#general #${id} <bob> helo`), "bob's message with its id");
    await bob.request({ type: "edit", room: "general", target: id, body: "hello" });
    await terminal.waitFor(new RegExp(`#general bob edited #${id}: hello$`, "m"), "the edit");
    await bob.request({ type: "react", room: "general", target: id, emoji: "👍" });
    await terminal.waitFor(
      (rows) => rows.some((row) => row.includes(`bob reacted 👍 to #${id} (bob: hello): 👍 1`)),
      "the reaction, with the edited text and the count",
    );
    await terminal.type(`/reply ${id} sure`);
    await terminal.keys("Enter");
    await until(() => said(events, "sure"), "bob receiving the reply");
    await terminal.waitFor(
      (rows) => rows.some((row) => /#general #\d+ <alice> \(↪ bob: hello\) sure/.test(row)),
      "alice's reply quoting bob",
    );
  } finally {
    await bob.close();
  }
});

// ---- typing (docs/protocol.md, section 22)

Deno.test({
  name: "tui in tmux: the status line shows who is typing until done; alice's own typing is sent",
  ignore: !TMUX,
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
  await terminal.waitFor(ready, "joined #general");
  const { bob, events } = await connectBob(server.port);
  try {
    await bob.request({ type: "join", room: "general" });
    await terminal.waitFor(/bob joined/, "bob joined");
    await bob.request({ type: "typing", room: "general", state: "active" });
    await terminal.waitFor(/│ bob is typing/, "bob is typing in the status line");
    await bob.request({ type: "typing", room: "general", state: "done" });
    await terminal.waitFor((rows) => !rows.join("\n").includes("is typing"), "the indicator gone");

    // Alice types: bob hears active; she sends: bob hears done and the message.
    await terminal.type("hel");
    await until(
      () => events.some((event) => event.type === "typing" && event.state === "active"),
      "alice's typing at bob",
    );
    await terminal.type("lo");
    await terminal.keys("Enter");
    await until(() => said(events, "hello"), "alice's message");
    await until(
      () => events.some((event) => event.type === "typing" && event.state === "done"),
      "alice's done",
    );
    const typing = events.filter((event) => event.type === "typing");
    assert.deepEqual(typing.map((event) => event.type === "typing" && event.state), [
      "active",
      "done",
    ]);
  } finally {
    await bob.close();
  }
});

Deno.test({
  name:
    "tui in tmux: /upload shows its progress and the file message; /download in line mode saves it",
  ignore: !TMUX,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-tui-files-" });
  try {
    // A small frame cap: many chunks, so progress has steps to show.
    await using server = await ServerProcess.start([
      "--memory",
      "--guest-uploads",
      "--max-frame-bytes",
      "4096",
    ]);
    const bytes = new Uint8Array(120_000).map((_, index) => (index * 7) % 251);
    await Deno.writeFile(`${dir}/photo.png`, bytes);
    const { bob, events } = await connectBob(server.port);
    try {
      await bob.request({ type: "join", room: "general" });
      {
        await using terminal = await Terminal.start([`127.0.0.1:${server.port}`, ...ALICE]);
        await terminal.waitFor(ready, "joined #general");
        await terminal.type(`/upload ${dir}/photo.png`);
        await terminal.keys("Enter");
        await terminal.waitFor(/uploading photo\.png: \d0% \(/, "upload progress");
        await terminal.waitFor(/uploaded photo\.png \(120\.0 kB\) to #general/, "upload done");
        await terminal.waitFor(
          /alice │ \[file\] photo\.png \(120\.0 kB, image\/png\) id/,
          "the file message",
        );
      }
      await until(
        () => events.some((event) => event.type === "message" && event.file !== undefined),
        "bob getting the file",
      );
      const message = events.find((event) => event.type === "message" && event.file)!;
      const id = message.type === "message" ? message.file!.id : "";
      await using line = await Terminal.start([
        `127.0.0.1:${server.port}`,
        "--name",
        "carol",
        "--room",
        "general",
        "--plain",
      ]);
      await line.waitFor(/carol joined/, "carol in line mode");
      await line.type(`/download ${id} ${dir}/copy.png`);
      await line.keys("Enter");
      await line.waitFor(/saved photo\.png \(120\.0 kB\) as /, "the download");
      assert.deepEqual(await Deno.readFile(`${dir}/copy.png`), bytes);
    } finally {
      await bob.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
