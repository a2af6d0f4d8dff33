/**
 * `chat user`: manages registered accounts in a server's data directory,
 * or in its Redis with `--redis` (add, passwd, del, list, import, admin,
 * unlock). Safe to run while the server is up: both use the same store and
 * the server reads accounts, and unlocks, at each login.
 *
 * @module
 */
import { parseFlags, UsageError } from "../../shared/cli.ts";
import { ChatError } from "../../shared/errors.ts";
import { sanitizeForTerminal, validateNick } from "../../shared/validation.ts";
import { AccountService, type AccountServiceOptions } from "./account_service.ts";
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams } from "./password_hash.ts";
import { validatePassword } from "./password_policy.ts";
import { DEFAULT_REDIS_PREFIX } from "../cluster/redis_keys.ts";
import { RedisLoginFailures } from "../cluster/redis_login_failures.ts";
import { RedisStore } from "../store/redis_store.ts";
import { SqliteStore } from "../store/sqlite_store.ts";
import type { Store } from "../store/store.ts";

/** The data directory used without `--data`. */
export const DEFAULT_DATA_DIR = "./chat-data";

/** The environment variable that lowers the scrypt cost of new hashes. */
export const KDF_LN_ENV = "CHAT_KDF_LN";

const FLAGS = {
  data: { type: "string" },
  create: { type: "boolean" },
  redis: { type: "string" },
  "redis-prefix": { type: "string" },
  revoke: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text of `chat user`. */
export const USER_HELP = `chat user: manage registered accounts

Usage:
  chat user add NAME [--data DIR]           register NAME; asks for its password
  chat user passwd NAME [--data DIR]        set NAME's password
  chat user del NAME [--data DIR]           delete the account NAME
  chat user list [--data DIR]               list accounts: name, admin flag, created date
  chat user import FILE [--data DIR]        add accounts from username:password lines
                                            (FILE '-' reads standard input)
  chat user admin NAME [--revoke] [--data DIR]
                                            make NAME a server admin (--revoke undoes it)
  chat user unlock NAME [--data DIR]        lift NAME's login lock: its failed logins
                                            so far stop counting

Options:
  --data DIR          the server's data directory (default ${DEFAULT_DATA_DIR})
  --create            make the directory and its database if missing (without it
                      a directory with no database is an error, so a mistyped
                      --data does not register accounts nobody's server reads)
  --redis URL         the server's Redis instead (chat serve --redis)
  --redis-prefix P    its key prefix (default ${DEFAULT_REDIS_PREFIX})
  -h, --help          print this help

Safe while 'chat serve' runs on the same directory: changes apply at the
server's next login.

Passwords are read without echo and asked twice when standard input is a
terminal; otherwise the first line of standard input is the password, so
scripts can pipe it. Passwords are never printed or logged.

Import files hold one username:password per line (the first colon splits,
so passwords may contain colons); blank lines and # comments are ignored.
Bad lines and names already registered are reported and skipped.

Login locks: after --max-login-failures-per-account failed logins in an
hour, an account is refused from every address it never logged in from
(the addresses it did keep their own tries, so others cannot lock its owner
out). 'unlock' lifts the lock: a running server honours it at the account's
next login attempt, without a restart (it reads the unlock from the store;
with --redis the cluster's shared failure counts are cleared as well).

Environment:
  ${KDF_LN_ENV}    log2 of the scrypt cost N for new hashes (default ${DEFAULT_SCRYPT_PARAMS.ln},
                 i.e. 128 MiB per hash). A knob for tests and low-memory
                 machines only: a server with the default cost upgrades such
                 hashes when their owners next log in.

Examples:
  chat user add alice --create             # before the server's first start
  printf '%s\\n' "$BOT_PASSWORD" | chat user add bot --data /var/lib/chat
  chat user admin alice
  chat user admin mallory --revoke
  chat user import old-server-users.txt
  chat user list
  chat user unlock alice --data /var/lib/chat
  chat user unlock alice --redis redis://10.0.0.5:6379
`;

/** A failure reported as one line on stderr with exit code 1. */
class CommandFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CommandFailure";
    this.exitCode = exitCode;
  }
}

const encoder = new TextEncoder();

async function writeStderr(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += await Deno.stderr.write(bytes.subarray(written));
  }
}

/** Drops the last UTF-8 character from `bytes` (for backspace). */
function dropLastChar(bytes: number[]): void {
  while (bytes.length > 0 && (bytes[bytes.length - 1]! & 0xc0) === 0x80) bytes.pop();
  bytes.pop();
}

/** Reads a line from the terminal without echo. */
async function readHidden(prompt: string): Promise<string> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
  // Raw before the prompt shows, so keys typed right away are never echoed.
  Deno.stdin.setRaw(true);
  try {
    await writeStderr(prompt);
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) throw new CommandFailure("no password given");
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 0x0d || byte === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
        // Raw mode turns off the terminal's own handling of these keys.
        if (byte === 0x03) throw new CommandFailure("interrupted", 130); // Ctrl-C
        if (byte === 0x04 && bytes.length === 0) throw new CommandFailure("no password given");
        if (byte === 0x7f || byte === 0x08) dropLastChar(bytes);
        else if (byte === 0x15) bytes.length = 0; // Ctrl-U
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await writeStderr("\n");
  }
}

// A line longer than this is not a password we would accept anyway.
const MAX_LINE_BYTES = 16 * 1024;

/** Reads the first line of a non-terminal stdin. */
async function readLine(): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(4096);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    const chunk = buffer.subarray(0, n);
    const newline = chunk.indexOf(0x0a);
    chunks.push(chunk.slice(0, newline === -1 ? n : newline));
    size += n;
    if (newline !== -1) break;
    if (size > MAX_LINE_BYTES) throw new CommandFailure("password line too long");
  }
  if (size === 0) throw new CommandFailure("no password on standard input");
  const line = new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
  return line.replace(/\r$/, "");
}

/** The new password for `name`: twice without echo on a terminal, else one stdin line. */
async function readNewPassword(name: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) return validatePassword(await readLine());
  const password = await readHidden(`New password for ${name}: `);
  // Refuse a bad one before asking for it again.
  validatePassword(password);
  if (await readHidden("Repeat the password: ") !== password) {
    throw new CommandFailure("the passwords do not match; nothing changed");
  }
  return password;
}

function kdfFromEnv(): ScryptParams | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get(KDF_LN_ENV);
  } catch {
    return undefined; // no --allow-env: keep the default
  }
  if (value === undefined || value === "") return undefined;
  const ln = Number(value);
  if (!/^\d+$/.test(value) || ln < 1 || ln > 24) {
    throw new UsageError(`${KDF_LN_ENV} must be a whole number from 1 to 24, got "${value}"`);
  }
  return { ...DEFAULT_SCRYPT_PARAMS, ln };
}

function oneArgument(subcommand: string, what: string, positionals: string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      `'chat user ${subcommand}' takes one ${what}, got ${positionals.length} arguments`,
    );
  }
  return positionals[0]!;
}

function show(name: string): string {
  return sanitizeForTerminal(name);
}

async function listAccounts(accounts: AccountService): Promise<void> {
  const records = await accounts.list();
  if (records.length === 0) {
    console.log("No accounts.");
    return;
  }
  const width = Math.max(4, ...records.map((record) => show(record.name).length));
  console.log(`${"NAME".padEnd(width)}  ADMIN  CREATED`);
  for (const record of records) {
    const created = new Date(record.createdAt).toISOString().slice(0, 10);
    console.log(
      `${show(record.name).padEnd(width)}  ${(record.admin ? "yes" : "no").padEnd(5)}  ${created}`,
    );
  }
}

async function importFile(accounts: AccountService, file: string): Promise<void> {
  let text: string;
  try {
    text = file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(file);
  } catch (error) {
    throw new CommandFailure(
      `cannot read ${file}: ${error instanceof Error ? error.message : error}`,
    );
  }
  const { added, skipped } = await accounts.importLines(text);
  for (const { line, reason } of skipped) {
    await writeStderr(`${file}:${line}: skipped: ${sanitizeForTerminal(reason)}\n`);
  }
  console.log(
    `Imported ${added} account${added === 1 ? "" : "s"}; skipped ${skipped.length} line${
      skipped.length === 1 ? "" : "s"
    }.`,
  );
}

async function execute(
  accounts: AccountService,
  subcommand: string,
  positionals: string[],
  revoke: boolean,
): Promise<void> {
  switch (subcommand) {
    case "add": {
      const name = validateNick(oneArgument("add", "NAME", positionals));
      if (await accounts.exists(name)) {
        throw new ChatError("name_taken", `Nickname ${name} is already registered`);
      }
      // Before asking for the password: a lookalike is refused anyway.
      await accounts.refuseLookalike(name);
      const record = await accounts.create(name, await readNewPassword(name));
      console.log(`Added account ${show(record.name)}.`);
      return;
    }
    case "passwd": {
      const name = oneArgument("passwd", "NAME", positionals);
      const record = await accounts.get(name);
      if (record === undefined) throw new ChatError("no_such_user", `No account named ${name}`);
      await accounts.setPassword(record.name, await readNewPassword(record.name));
      console.log(`Changed the password of ${show(record.name)}.`);
      return;
    }
    case "del": {
      const name = oneArgument("del", "NAME", positionals);
      if (!await accounts.remove(name)) {
        throw new ChatError("no_such_user", `No account named ${name}`);
      }
      console.log(`Deleted account ${show(name)}.`);
      return;
    }
    case "list":
      if (positionals.length > 0) throw new UsageError("'chat user list' takes no arguments");
      await listAccounts(accounts);
      return;
    case "import":
      await importFile(accounts, oneArgument("import", "FILE", positionals));
      return;
    case "unlock": {
      const record = await accounts.unlock(oneArgument("unlock", "NAME", positionals));
      console.log(
        `Unlocked ${show(record.name)}: its failed logins so far no longer count.`,
      );
      return;
    }
    case "admin": {
      const record = await accounts.setAdmin(oneArgument("admin", "NAME", positionals), !revoke);
      console.log(
        record.admin
          ? `${show(record.name)} is now a server admin.`
          : `${show(record.name)} is no longer a server admin.`,
      );
      return;
    }
  }
}

const SUBCOMMANDS = ["add", "passwd", "del", "list", "import", "admin", "unlock"];

/**
 * Why the store of data directory `dir` did not open, as one line for
 * `chat user` and `chat apikey`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openFailure } from "./user_command.ts";
 * assert.equal(
 *   openFailure("/srv/chta", new Deno.errors.NotFound("gone")),
 *   "no database in /srv/chta (is --data right? --create makes one)",
 * );
 * ```
 */
export function openFailure(dir: string, error: unknown): string {
  if (error instanceof Deno.errors.NotFound) {
    return `no database in ${dir} (is --data right? --create makes one)`;
  }
  return `cannot open data directory ${dir}: ${error instanceof Error ? error.message : error}`;
}

/**
 * Runs `chat user ARGS` and returns the exit code: 0 on success, 1 when the
 * operation fails (unknown user, name taken, bad password...). A bad
 * command line throws {@linkcode UsageError} (exit code 2 in `main`).
 *
 * @example
 * ```ts ignore
 * import { runUser } from "./user_command.ts";
 * Deno.exit(await runUser(["list", "--data", "./chat-data"]));
 * ```
 */
export async function runUser(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(USER_HELP);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) {
    throw new UsageError(`'chat user' needs one of ${SUBCOMMANDS.join(", ")}`);
  }
  if (!SUBCOMMANDS.includes(subcommand)) {
    throw new UsageError(`unknown 'chat user' command "${subcommand}"`);
  }
  if (values.revoke && subcommand !== "admin") {
    throw new UsageError("--revoke only applies to 'chat user admin'");
  }
  if (values.data === "") throw new UsageError("--data needs a directory");
  if (values.data !== undefined && values.redis !== undefined) {
    throw new UsageError("--data and --redis exclude each other");
  }
  if (values["redis-prefix"] !== undefined && values.redis === undefined) {
    throw new UsageError("--redis-prefix only applies with --redis");
  }
  if (values.create && values.redis !== undefined) {
    throw new UsageError("--create applies to a data directory, not to --redis");
  }
  const kdf = kdfFromEnv();
  const dir = values.data ?? DEFAULT_DATA_DIR;
  let store: Store;
  const options: AccountServiceOptions = kdf === undefined ? {} : { kdf };
  try {
    if (values.redis === undefined) {
      store = SqliteStore.open(dir, { create: values.create === true });
    } else {
      const redisStore = await RedisStore.open(values.redis, {
        prefix: values["redis-prefix"] ?? DEFAULT_REDIS_PREFIX,
      });
      // The cluster's failure counts too: unlock clears them.
      options.sharedFailures = new RedisLoginFailures(redisStore.redis, redisStore.keys);
      store = redisStore;
    }
  } catch (error) {
    console.error(
      `chat user: ${
        values.redis === undefined
          ? openFailure(dir, error)
          : `cannot open Redis: ${error instanceof Error ? error.message : error}`
      }`,
    );
    return 1;
  }
  try {
    const accounts = new AccountService(store, options);
    await execute(accounts, subcommand, rest, values.revoke === true);
    return 0;
  } catch (error) {
    if (error instanceof ChatError || error instanceof CommandFailure) {
      console.error(`chat user: ${sanitizeForTerminal(error.message)}`);
      return error instanceof CommandFailure ? error.exitCode : 1;
    }
    throw error;
  } finally {
    await store.close();
  }
}
