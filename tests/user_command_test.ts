import assert from "node:assert/strict";
import { join } from "node:path";
import { AccountService } from "../server/accounts/account_service.ts";
import { parsePasswordHash } from "../server/accounts/password_hash.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { Peer } from "./support/peer.ts";
import { ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PASSWORD = "correct horse battery staple";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `chat user ARGS` with tiny scrypt parameters, piping `stdin` if given. */
async function chatUser(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "user", ...args],
    env: { CHAT_KDF_LN: "10", NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** A temporary data directory, removed on dispose. */
class DataDir implements AsyncDisposable {
  readonly path: string;
  private constructor(path: string) {
    this.path = path;
  }
  /** A directory with an empty database, as a server's first start leaves it. */
  static async create(): Promise<DataDir> {
    const path = join(await Deno.makeTempDir({ prefix: "chat-user-" }), "data");
    await SqliteStore.open(path).close();
    return new DataDir(path);
  }
  /** Runs `chat user ARGS --data DIR`. */
  run(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
    return chatUser([...args, "--data", this.path], options);
  }
  /** Opens the store the command wrote, for checks from the test's side. */
  async withAccounts<T>(fn: (accounts: AccountService, store: SqliteStore) => Promise<T>) {
    const store = SqliteStore.open(this.path);
    try {
      return await fn(new AccountService(store, { kdf: { ln: 10, r: 8, p: 1 } }), store);
    } finally {
      await store.close();
    }
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(join(this.path, ".."), { recursive: true });
  }
}

function assertOk(run: Run): void {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

function assertNoSecret(run: Run, ...secrets: string[]): void {
  for (const secret of secrets) {
    assert.ok(!run.stdout.includes(secret), `stdout shows a password: ${run.stdout}`);
    assert.ok(!run.stderr.includes(secret), `stderr shows a password: ${run.stderr}`);
  }
}

Deno.test("chat user --help documents every subcommand, the env knob and examples", async () => {
  const run = await chatUser(["--help"]);
  assertOk(run);
  for (
    const text of [
      "chat user add NAME",
      "chat user passwd NAME",
      "chat user del NAME",
      "chat user list",
      "chat user import FILE",
      "chat user admin NAME [--revoke]",
      "chat user unlock NAME",
      "honours it at the account's",
      "--redis URL",
      "--data DIR",
      "(default ./chat-data)",
      "CHAT_KDF_LN",
      "Examples:",
    ]
  ) assert.ok(run.stdout.includes(text), `help lacks ${text}`);
  const top = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--help"],
    stdin: "null",
  }).output();
  assert.match(
    new TextDecoder().decode(top.stdout),
    /chat user add\|passwd\|del\|list\|import\|admin\|unlock/,
  );
});

Deno.test("add reads the password from piped stdin and stores a verifiable hash", async () => {
  await using data = await DataDir.create();
  const add = await data.run(["add", "Alice"], { stdin: `${PASSWORD}\nignored second line\n` });
  assertOk(add);
  assert.equal(add.stdout, "Added account Alice.\n");
  assertNoSecret(add, PASSWORD);
  await data.withAccounts(async (accounts, store) => {
    const account = await accounts.authenticate("alice", PASSWORD, "127.0.0.1");
    assert.equal(account.name, "Alice");
    assert.equal(account.admin, false);
    // CHAT_KDF_LN=10 was honoured.
    assert.deepEqual(parsePasswordHash((await store.getAccount("alice"))!.passwordHash).params, {
      ln: 10,
      r: 8,
      p: 1,
    });
  });
  // No trailing newline and CRLF work too.
  assertOk(await data.run(["add", "bob"], { stdin: "bob password" }));
  assertOk(await data.run(["add", "carol"], { stdin: "carol password\r\n" }));
  await data.withAccounts(async (accounts) => {
    await accounts.authenticate("bob", "bob password", "127.0.0.1");
    await accounts.authenticate("carol", "carol password", "127.0.0.1");
  });
});

Deno.test("add refuses a taken name, a bad name, a bad password and an empty stdin with exit 1", async () => {
  await using data = await DataDir.create();
  assertOk(await data.run(["add", "alice"], { stdin: PASSWORD }));
  const taken = await data.run(["add", "ALICE"], { stdin: "other password" });
  assert.equal(taken.code, 1);
  assert.equal(taken.stderr, "chat user: Nickname ALICE is already registered\n");
  const badName = await data.run(["add", "no spaces"], { stdin: PASSWORD });
  assert.equal(badName.code, 1);
  assert.match(badName.stderr, /^chat user: Invalid nickname/);
  const short = await data.run(["add", "bob"], { stdin: "Zq9x\n" });
  assert.equal(short.code, 1);
  assert.equal(short.stderr, "chat user: Password too short: use at least 8 characters\n");
  assertNoSecret(short, "Zq9x");
  const empty = await data.run(["add", "bob"], { stdin: "" });
  assert.equal(empty.code, 1);
  assert.equal(empty.stderr, "chat user: no password on standard input\n");
  const closed = await data.run(["add", "bob"]);
  assert.equal(closed.code, 1);
  await data.withAccounts(async (accounts) => {
    assert.deepEqual((await accounts.list()).map((a) => a.name), ["alice"]);
  });
});

Deno.test("list shows name, admin flag and created date; admin grants and --revoke revokes", async () => {
  await using data = await DataDir.create();
  const empty = await data.run(["list"]);
  assertOk(empty);
  assert.equal(empty.stdout, "No accounts.\n");
  assertOk(await data.run(["add", "bob"], { stdin: PASSWORD }));
  assertOk(await data.run(["add", "alice_in_wonderland"], { stdin: PASSWORD }));

  const grant = await data.run(["admin", "Alice_In_Wonderland"]);
  assertOk(grant);
  assert.equal(grant.stdout, "alice_in_wonderland is now a server admin.\n");
  const today = new Date().toISOString().slice(0, 10);
  const list = await data.run(["list"]);
  assertOk(list);
  assert.equal(
    list.stdout,
    [
      "NAME                 ADMIN  CREATED",
      `alice_in_wonderland  yes    ${today}`,
      `bob                  no     ${today}`,
      "",
    ].join("\n"),
  );
  assertNoSecret(list, PASSWORD, "$scrypt$");

  const revoke = await data.run(["admin", "alice_in_wonderland", "--revoke"]);
  assertOk(revoke);
  assert.equal(revoke.stdout, "alice_in_wonderland is no longer a server admin.\n");
  assert.match((await data.run(["list"])).stdout, /alice_in_wonderland {2}no {5}\d{4}-/);

  const unknown = await data.run(["admin", "nobody"]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, "chat user: No account named nobody\n");
});

Deno.test("passwd changes the password; an unknown user fails with exit 1 before reading one", async () => {
  await using data = await DataDir.create();
  assertOk(await data.run(["add", "alice"], { stdin: PASSWORD }));
  assertOk(await data.run(["admin", "alice"]));
  const passwd = await data.run(["passwd", "ALICE"], { stdin: "brand new password\n" });
  assertOk(passwd);
  assert.equal(passwd.stdout, "Changed the password of alice.\n");
  assertNoSecret(passwd, "brand new password");
  await data.withAccounts(async (accounts) => {
    const account = await accounts.authenticate("alice", "brand new password", "127.0.0.1");
    assert.equal(account.admin, true, "admin rights survive a password change");
    await assert.rejects(accounts.authenticate("alice", PASSWORD, "127.0.0.1"), /Wrong nickname/);
  });
  // No stdin at all: the lookup fails before any password is read.
  const unknown = await data.run(["passwd", "nobody"]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, "chat user: No account named nobody\n");
  const bad = await data.run(["passwd", "alice"], { stdin: "short\n" });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Password too short/);
});

Deno.test("del removes an account; deleting it again fails with exit 1", async () => {
  await using data = await DataDir.create();
  assertOk(await data.run(["add", "alice"], { stdin: PASSWORD }));
  assertOk(await data.run(["add", "bob"], { stdin: PASSWORD }));
  const del = await data.run(["del", "Alice"]);
  assertOk(del);
  assert.equal(del.stdout, "Deleted account Alice.\n");
  const again = await data.run(["del", "alice"]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, "chat user: No account named alice\n");
  assert.doesNotMatch((await data.run(["list"])).stdout, /alice/);
});

Deno.test("import adds username:password lines, reports skipped ones, reads '-' as stdin", async () => {
  await using data = await DataDir.create();
  assertOk(await data.run(["add", "existing"], { stdin: PASSWORD }));
  const file = join(data.path, "..", "users.txt");
  await Deno.writeTextFile(
    file,
    [
      "# users of the old server",
      "alice:alice:password:with:colons",
      "",
      "existing:whatever password",
      "bad name:some password",
      "carol:carol password",
      "dave",
    ].join("\n") + "\n",
  );
  const run = await data.run(["import", file]);
  assertOk(run);
  assert.equal(run.stdout, "Imported 2 accounts; skipped 3 lines.\n");
  assert.equal(
    run.stderr,
    [
      `${file}:4: skipped: existing is already registered`,
      `${file}:5: skipped: Invalid nickname "bad name": use letters, digits and _-[]\\\`^{}|, starting with a letter or _`,
      `${file}:7: skipped: no ':' between name and password`,
      "",
    ].join("\n"),
  );
  assertNoSecret(run, "alice:password:with:colons", "whatever password", "some password");
  await data.withAccounts(async (accounts) => {
    await accounts.authenticate("alice", "alice:password:with:colons", "127.0.0.1");
    await accounts.authenticate("carol", "carol password", "127.0.0.1");
  });

  const piped = await data.run(["import", "-"], { stdin: "erin:erin password\n" });
  assertOk(piped);
  assert.equal(piped.stdout, "Imported 1 account; skipped 0 lines.\n");

  // A name that looks like a registered one, or like an earlier line, is refused.
  const lookalikes = await data.run(["import", "-"], {
    stdin:
      "\u0430lice:some password\ncar0l:carol password\nfrank:frank password\nfr\u0430nk:x password\n",
  });
  assertOk(lookalikes);
  assert.equal(lookalikes.stdout, "Imported 1 account; skipped 3 lines.\n");
  assert.match(lookalikes.stderr, /-:1: skipped: Invalid nickname "\u0430lice": mixes the scripts/);
  assert.match(lookalikes.stderr, /-:2: skipped: car0l looks like the registered name carol\n/);
  assert.match(lookalikes.stderr, /-:4: skipped: Invalid nickname "fr\u0430nk": mixes the scripts/);
  const added = await data.run(["add", "CAR0L"], { stdin: PASSWORD });
  assert.equal(added.code, 1);
  assert.match(added.stderr, /CAR0L looks like the registered name carol/);

  const missing = await data.run(["import", join(data.path, "nope.txt")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^chat user: cannot read .*nope\.txt/);
});

Deno.test("bad usage exits 2 with one line", async () => {
  await using data = await DataDir.create();
  for (
    const [args, expected] of [
      [[], /'chat user' needs one of add, passwd, del, list, import, admin, unlock/],
      [["unlock"], /'chat user unlock' takes one NAME/],
      [["list", "--redis", "redis://x", "--data", "d"], /--data and --redis exclude each other/],
      [["list", "--redis-prefix", "p:"], /--redis-prefix only applies with --redis/],
      [["frobnicate"], /unknown 'chat user' command "frobnicate"/],
      [["add"], /'chat user add' takes one NAME, got 0 arguments/],
      [["add", "a", "b"], /'chat user add' takes one NAME, got 2 arguments/],
      [["del"], /'chat user del' takes one NAME/],
      [["passwd"], /'chat user passwd' takes one NAME/],
      [["import"], /'chat user import' takes one FILE/],
      [["admin"], /'chat user admin' takes one NAME/],
      [["list", "extra"], /'chat user list' takes no arguments/],
      [["list", "--bogus"], /unknown flag --bogus/],
      [["list", "--revoke"], /--revoke only applies to 'chat user admin'/],
    ] as const
  ) {
    const run = await data.run([...args]);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, expected);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  }
  const noValue = await chatUser(["list", "--data"]);
  assert.equal(noValue.code, 2);
  assert.match(noValue.stderr, /flag --data needs a value/);
  const badEnv = await data.run(["list"], { env: { CHAT_KDF_LN: "lots" } });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /CHAT_KDF_LN must be a whole number from 1 to 24, got "lots"/);
});

Deno.test("without a database every subcommand fails with one line and creates nothing; --create makes one", async () => {
  const parent = await Deno.makeTempDir({ prefix: "chat-user-" });
  try {
    // A mistyped --data, and an existing directory that holds no database.
    for (const dir of [join(parent, "chta-data"), parent]) {
      for (
        const [args, stdin] of [
          [["list"]],
          [["add", "alice"], `${PASSWORD}\n`],
          [["passwd", "alice"], `${PASSWORD}\n`],
          [["del", "alice"]],
          [["admin", "alice"]],
          [["import", "-"], `alice:${PASSWORD}\n`],
        ] as const
      ) {
        const run = await chatUser([...args, "--data", dir], stdin === undefined ? {} : { stdin });
        assert.equal(run.code, 1, `${args.join(" ")}: ${run.stderr}`);
        assert.equal(
          run.stderr,
          `chat user: no database in ${dir} (is --data right? --create makes one)\n`,
        );
        assert.equal(run.stdout, "");
      }
    }
    assert.deepEqual([...Deno.readDirSync(parent)], [], "nothing was created");
    const dir = join(parent, "data");
    const add = await chatUser(["add", "alice", "--data", dir, "--create"], {
      stdin: `${PASSWORD}\n`,
    });
    assertOk(add);
    assert.equal(Deno.statSync(join(dir, "chat.db")).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(dir).mode! & 0o077, 0, "the directory is its owner's only");
    const list = await chatUser(["list", "--data", dir]);
    assertOk(list);
    assert.match(list.stdout, /^alice +no /m);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

/** A hello from `localAddress` as `nick` with `password`: "welcome" or the error code. */
async function loginFrom(port: number, localAddress: string, password: string): Promise<string> {
  await using peer = await Peer.connectFrom(port, localAddress);
  const reply = await peer.hello("alice", { password });
  return reply.type === "welcome" ? "welcome" : reply.code;
}

Deno.test("unlock lifts the lock a running server holds, at the next try, without a restart", async () => {
  await using data = await DataDir.create();
  assertOk(await data.run(["add", "alice"], { stdin: `${PASSWORD}\n` }));
  await using server = await ServerProcess.start([
    "--data",
    data.path,
    "--no-discovery",
    "--kdf-cost",
    "10",
    "--max-login-failures-per-account",
    "3",
  ]);
  for (let i = 0; i < 3; i++) {
    assert.equal(await loginFrom(server.port, "127.0.0.2", `guess ${i}`), "auth_failed");
  }
  assert.equal(await loginFrom(server.port, "127.0.0.3", PASSWORD), "rate_limited");
  assert.equal(await loginFrom(server.port, "127.0.0.3", PASSWORD), "rate_limited");

  const unlock = await data.run(["unlock", "ALICE"]);
  assertOk(unlock);
  assert.equal(unlock.stdout, "Unlocked alice: its failed logins so far no longer count.\n");
  assert.equal(await loginFrom(server.port, "127.0.0.3", PASSWORD), "welcome");
  // Failures count from zero again.
  assert.equal(await loginFrom(server.port, "127.0.0.2", "guess 4"), "auth_failed");
  assert.equal(await loginFrom(server.port, "127.0.0.4", PASSWORD), "welcome");

  const log = server.output;
  assert.equal(log.match(/Failed login for "?alice"? from "?127\.0\.0\.2/g)?.length, 4, log);
  assert.equal(log.match(/Account "?alice"? locked/g)?.length, 1, log);
  assert.match(log, /login lock of "?alice"? was lifted/);
  assert.ok(!log.includes("guess") && !log.includes(PASSWORD), log);

  const unknown = await data.run(["unlock", "bob"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /chat user: No account named bob/);
});

// The terminal path needs a pseudo-terminal: util-linux `script` provides one.
const HAS_SCRIPT = Deno.build.os === "linux" &&
  await new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((output) => output.success, () => false);

/**
 * Runs `chat user ARGS` on a pseudo-terminal, answering each prompt in
 * `dialog` (wait for the text, then type the keys); resolves to the exit
 * code and everything the terminal showed.
 */
async function chatUserOnTerminal(
  args: string[],
  dialog: Array<[prompt: string, keys: string]>,
): Promise<{ code: number; screen: string }> {
  const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", "-A", MAIN, "user", ...args].map(quote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    env: { CHAT_KDF_LN: "10", NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let screen = "";
  const read = async () => {
    const { value, done } = await reader.read();
    if (!done) screen += decoder.decode(value, { stream: true });
    return !done;
  };
  try {
    for (const [prompt, keys] of dialog) {
      while (!screen.includes(prompt)) {
        if (!await read()) throw new Error(`no prompt ${prompt}; the terminal showed:\n${screen}`);
      }
      await writer.write(new TextEncoder().encode(keys));
    }
    while (await read());
  } finally {
    await writer.close().catch(() => {});
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
  }
  return { code: (await child.status).code, screen };
}

Deno.test({
  name: "on a terminal, add asks twice without echo and handles backspace",
  ignore: !HAS_SCRIPT,
  async fn() {
    await using data = await DataDir.create();
    const run = await chatUserOnTerminal(["add", "alice", "--data", data.path], [
      ["New password for alice: ", "secret pasX\x7fsword\r"],
      ["Repeat the password: ", "secret password\r"],
    ]);
    assert.equal(run.code, 0, run.screen);
    assert.equal(
      run.screen,
      "New password for alice: \r\nRepeat the password: \r\nAdded account alice.\r\n",
    );
    await data.withAccounts(async (accounts) => {
      await accounts.authenticate("alice", "secret password", "127.0.0.1");
    });
  },
});

Deno.test({
  name: "on a terminal, mismatched entries, a bad password or Ctrl-C change nothing",
  ignore: !HAS_SCRIPT,
  async fn() {
    await using data = await DataDir.create();
    const mismatch = await chatUserOnTerminal(["add", "alice", "--data", data.path], [
      ["New password for alice: ", "one password\r"],
      ["Repeat the password: ", "another password\r"],
    ]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.screen, /chat user: the passwords do not match; nothing changed/);
    // Refused after the first entry, without asking again.
    const short = await chatUserOnTerminal(["add", "alice", "--data", data.path], [
      ["New password for alice: ", "Zq9x\r"],
    ]);
    assert.equal(short.code, 1);
    assert.doesNotMatch(short.screen, /Repeat/);
    assert.match(short.screen, /Password too short/);
    const interrupted = await chatUserOnTerminal(["add", "alice", "--data", data.path], [
      ["New password for alice: ", "half typed\x03"],
    ]);
    assert.equal(interrupted.code, 130);
    assert.match(interrupted.screen, /chat user: interrupted/);
    for (const run of [mismatch, short, interrupted]) {
      for (const secret of ["one password", "another password", "Zq9x", "half typed"]) {
        assert.ok(!run.screen.includes(secret), `the terminal showed a password: ${run.screen}`);
      }
    }
    await data.withAccounts(async (accounts) => assert.deepEqual(await accounts.list(), []));
  },
});
