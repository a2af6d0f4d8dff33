import assert from "node:assert/strict";
import { ChatError, type ErrorCode } from "../shared/errors.ts";
import { AccountService, type AccountServiceOptions } from "../server/accounts/account_service.ts";
import { parsePasswordHash, verifyPassword } from "../server/accounts/password_hash.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import { LogCapture } from "./support/log_capture.ts";

const FAST = { ln: 10, r: 8, p: 1 };
const PASSWORD = "correct horse battery staple";
const IP = "192.0.2.10";
const MINUTE = 60_000;

/** A real SQLite store in a temporary directory, removed on dispose. */
class Fixture implements AsyncDisposable {
  readonly dir: string;
  store: SqliteStore;
  clock = Date.UTC(2026, 0, 1);

  private constructor(dir: string) {
    this.dir = dir;
    this.store = SqliteStore.open(dir);
  }

  static async create(): Promise<Fixture> {
    return new Fixture(await Deno.makeTempDir({ prefix: "chat-accounts-" }));
  }

  service(options: AccountServiceOptions = {}): AccountService {
    return new AccountService(this.store, { kdf: FAST, now: () => this.clock, ...options });
  }

  /** Closes the database and opens it again, as a server restart does. */
  async reopen(): Promise<void> {
    await this.store.close();
    this.store = SqliteStore.open(this.dir);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.store.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}

async function chatError(promise: Promise<unknown>, code: ErrorCode): Promise<ChatError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected ChatError ${code}, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ChatError ${code}, got success`);
}

Deno.test("create then authenticate, by any case or width of the name", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  const created = await accounts.create("Alice", PASSWORD);
  assert.equal(created.key, "alice");
  assert.equal(created.name, "Alice");
  assert.equal(created.admin, false);
  assert.equal(created.createdAt, fixture.clock);
  assert.match(created.passwordHash, /^\$scrypt\$ln=10,r=8,p=1\$/);
  assert.deepEqual(await fixture.store.getAccount("alice"), created);

  for (const name of ["Alice", "alice", "ALICE", "ＡＬＩＣＥ"]) {
    assert.deepEqual(await accounts.authenticate(name, PASSWORD, IP), created);
  }
  assert.equal(await accounts.exists("aLiCe"), true);
  assert.equal(await accounts.exists("bob"), false);
  assert.equal(await accounts.exists("not a nick!"), false);
  assert.deepEqual(await accounts.get("ALICE"), created);
  assert.equal(await accounts.get("bob"), undefined);
});

Deno.test("create refuses taken names, bad names and bad passwords", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("alice", PASSWORD);
  const taken = await chatError(accounts.create("ALICE", "another password"), "name_taken");
  assert.equal(taken.message, "Nickname ALICE is already registered");
  await chatError(accounts.create("ａｌｉｃｅ", "another password"), "name_taken");
  await chatError(accounts.create("bad name", PASSWORD), "invalid_name");
  await chatError(accounts.create("", PASSWORD), "invalid_name");

  const short = await chatError(accounts.create("bob", "1234567"), "invalid_password");
  assert.equal(short.message, "Password too short: use at least 8 characters");
  await accounts.create("bob", "12345678");
  const long = await chatError(accounts.create("carol", "x".repeat(1025)), "invalid_password");
  assert.equal(long.message, "Password too long: use at most 1024 characters");
  await accounts.create("carol", "é".repeat(1024)); // characters, not bytes
  const control = await chatError(
    accounts.create("dave", "tab\there ok?"),
    "invalid_password",
  );
  assert.equal(control.message, "Invalid password: contains a control character");
  await chatError(accounts.create("dave", "bell\u0007password"), "invalid_password");
  await chatError(accounts.create("dave", "c1\u0085password"), "invalid_password");
  // Nothing was stored for the refusals.
  assert.deepEqual((await accounts.list()).map((a) => a.key), ["alice", "bob", "carol"]);

  const lenient = fixture.service({ minPasswordLength: 4 });
  await lenient.create("dave", "1234");
});

Deno.test("two concurrent creations of one name: exactly one wins", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  const results = await Promise.allSettled([
    accounts.create("alice", "first password"),
    accounts.create("Alice", "second password"),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.equal((rejected.reason as ChatError).code, "name_taken");
  await accounts.authenticate("alice", "first password", IP);
});

Deno.test("a wrong name and a wrong password fail alike, and both cost one hash", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("alice", PASSWORD);
  const limiter = accounts.hashLimiter;

  let before = limiter.completed;
  const wrongPassword = await chatError(
    accounts.authenticate("alice", "wrong password", IP),
    "auth_failed",
  );
  assert.equal(limiter.completed - before, 1);
  before = limiter.completed;
  const wrongName = await chatError(accounts.authenticate("mallory", PASSWORD, IP), "auth_failed");
  // The unknown name was checked against a dummy hash (made once, lazily).
  assert.equal(limiter.completed - before, 1);
  before = limiter.completed;
  const invalidName = await chatError(
    accounts.authenticate("no such nick!", PASSWORD, IP),
    "auth_failed",
  );
  assert.equal(limiter.completed - before, 1);

  assert.equal(wrongPassword.message, "Wrong nickname or password");
  assert.deepEqual(wrongName.toWire(1), wrongPassword.toWire(1));
  assert.deepEqual(invalidName.toWire(1), wrongPassword.toWire(1));
  await chatError(accounts.authenticate("alice", "", IP), "auth_failed");
  await chatError(accounts.authenticate("alice", "x".repeat(100_000), IP), "auth_failed");
});

Deno.test("100 failures lock the account for the hour, even with the right password", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("alice", PASSWORD);
  await accounts.create("bob", PASSWORD);
  for (let i = 0; i < 100; i++) {
    // Spread over addresses so only the per-account limit applies.
    await chatError(accounts.authenticate("alice", `guess ${i}`, `10.0.0.${i}`), "auth_failed");
  }
  const hashes = accounts.hashLimiter.completed;
  const locked = await chatError(accounts.authenticate("alice", PASSWORD, IP), "rate_limited");
  assert.match(locked.message, /^Too many failed logins for this account; try again in \d+ s$/);
  assert.ok(locked.retryAfterMs! > 59 * MINUTE && locked.retryAfterMs! <= 61 * MINUTE);
  // Refused before hashing.
  assert.equal(accounts.hashLimiter.completed, hashes);
  // Other accounts, from the same addresses, are unaffected.
  await accounts.authenticate("bob", PASSWORD, "10.0.0.1");
  await accounts.authenticate("bob", PASSWORD, IP);
});

Deno.test("failures per address are throttled across account names", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxFailuresPerIpPerHour: 5 });
  await accounts.create("alice", PASSWORD);
  for (const name of ["alice", "bob", "carol", "dave", "eve"]) {
    await chatError(accounts.authenticate(name, "wrong password", "203.0.113.5"), "auth_failed");
  }
  const error = await chatError(
    accounts.authenticate("alice", PASSWORD, "203.0.113.5"),
    "rate_limited",
  );
  assert.match(error.message, /from your address/);
  assert.ok(error.retryAfterMs! > 0);
  await accounts.authenticate("alice", PASSWORD, "203.0.113.6");
});

Deno.test("the throttle window slides with the clock", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxFailuresPerAccountPerHour: 3 });
  await accounts.create("alice", PASSWORD);
  const start = fixture.clock;
  for (const minute of [0, 20, 40]) {
    fixture.clock = start + minute * MINUTE;
    await chatError(accounts.authenticate("alice", "wrong password", IP), "auth_failed");
  }
  fixture.clock = start + 50 * MINUTE;
  const locked = await chatError(accounts.authenticate("alice", PASSWORD, IP), "rate_limited");
  // The failure at minute 0 expires about an hour after it: ten minutes from now.
  assert.ok(locked.retryAfterMs! > 10 * MINUTE && locked.retryAfterMs! <= 11 * MINUTE);
  fixture.clock = start + 50 * MINUTE + locked.retryAfterMs!;
  await accounts.authenticate("alice", PASSWORD, IP);
  // Still two failures in the window: one more locks it again (for addresses alice
  // never logged in from: IP now is one she did).
  await chatError(accounts.authenticate("alice", "wrong password", IP), "auth_failed");
  await chatError(accounts.authenticate("alice", PASSWORD, "192.0.2.11"), "rate_limited");
  fixture.clock = start + 3 * 60 * MINUTE;
  await accounts.authenticate("alice", PASSWORD, IP);
});

Deno.test("login upgrades a weaker stored hash to the current parameters", async () => {
  await using fixture = await Fixture.create();
  const old = fixture.service({ kdf: { ln: 10, r: 8, p: 1 } });
  const created = await old.create("alice", PASSWORD);
  const current = fixture.service({ kdf: { ln: 12, r: 8, p: 1 } });

  // A failed login changes nothing.
  await chatError(current.authenticate("alice", "wrong password", IP), "auth_failed");
  assert.equal((await fixture.store.getAccount("alice"))!.passwordHash, created.passwordHash);

  const upgraded = await current.authenticate("alice", PASSWORD, IP);
  const stored = (await fixture.store.getAccount("alice"))!;
  assert.equal(stored.passwordHash, upgraded.passwordHash);
  assert.notEqual(stored.passwordHash, created.passwordHash);
  assert.deepEqual(parsePasswordHash(stored.passwordHash).params, { ln: 12, r: 8, p: 1 });
  assert.equal(await verifyPassword(PASSWORD, stored.passwordHash), true);
  assert.deepEqual({ ...stored, passwordHash: "" }, { ...created, passwordHash: "" });

  // Once upgraded it stays put, and the weaker service does not downgrade it.
  await current.authenticate("alice", PASSWORD, IP);
  await old.authenticate("alice", PASSWORD, IP);
  assert.equal((await fixture.store.getAccount("alice"))!.passwordHash, stored.passwordHash);
});

Deno.test("setPassword, setAdmin, remove and list", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("bob", PASSWORD);
  await accounts.create("alice", PASSWORD);

  const changed = await accounts.setPassword("ALICE", "a new password");
  assert.equal(changed.name, "alice");
  await chatError(accounts.authenticate("alice", PASSWORD, IP), "auth_failed");
  await accounts.authenticate("alice", "a new password", IP);
  await chatError(accounts.setPassword("alice", "short"), "invalid_password");
  await chatError(accounts.setPassword("nobody", PASSWORD), "no_such_user");

  assert.equal((await accounts.setAdmin("alice", true)).admin, true);
  assert.equal((await accounts.authenticate("alice", "a new password", IP)).admin, true);
  // Changing the password keeps admin rights.
  await accounts.setPassword("alice", "yet another password");
  assert.equal((await accounts.get("alice"))!.admin, true);
  assert.equal((await accounts.setAdmin("alice", false)).admin, false);
  await chatError(accounts.setAdmin("nobody", true), "no_such_user");

  assert.deepEqual((await accounts.list()).map((a) => [a.name, a.admin]), [
    ["alice", false],
    ["bob", false],
  ]);
  assert.equal(await accounts.remove("Bob"), true);
  assert.equal(await accounts.remove("bob"), false);
  assert.equal(await accounts.remove("not a nick!"), false);
  assert.deepEqual((await accounts.list()).map((a) => a.name), ["alice"]);
  await chatError(accounts.authenticate("bob", PASSWORD, IP), "auth_failed");
});

Deno.test("importLines adds good lines and skips bad ones with a reason, never the password", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("existing", PASSWORD);
  const text = [
    "\uFEFF# exported from the old server", // 1
    "alice:alice password", // 2
    "", // 3
    "bob:pass:with:colons", // 4
    "   # indented comment", // 5
    "no colon on this line", // 6
    "bad name:some password", // 7
    "carol:Zq9x", // 8
    "Alice:another password", // 9 (duplicate of line 2)
    "existing:some password", // 10
    "dave:  spaces kept  \r", // 11 (CRLF)
    ":nameless password", // 12
    "eve:tab\tinside", // 13
    "   ", // 14
  ].join("\n");
  const result = await accounts.importLines(text);
  assert.equal(result.added, 3);
  assert.deepEqual(result.skipped.map((s) => s.line), [6, 7, 8, 9, 10, 12, 13]);
  const reason = (line: number) => result.skipped.find((s) => s.line === line)!.reason;
  assert.equal(reason(6), "no ':' between name and password");
  assert.match(reason(7), /^Invalid nickname/);
  assert.equal(reason(8), "Password too short: use at least 8 characters");
  assert.equal(reason(9), "Alice already appears on line 2");
  assert.equal(reason(10), "existing is already registered");
  assert.match(reason(12), /^Invalid nickname: empty/);
  assert.equal(reason(13), "Invalid password: contains a control character");
  for (const { reason } of result.skipped) {
    for (const secret of ["some password", "Zq9x", "another password", "inside"]) {
      assert.ok(!reason.includes(secret), `reason "${reason}" leaks a password`);
    }
  }

  await accounts.authenticate("alice", "alice password", IP);
  await accounts.authenticate("bob", "pass:with:colons", IP);
  await accounts.authenticate("dave", "  spaces kept  ", IP);
  await accounts.authenticate("existing", PASSWORD, IP);
  assert.deepEqual((await accounts.list()).map((a) => a.name), [
    "alice",
    "bob",
    "dave",
    "existing",
  ]);

  // Importing again adds nothing and reports each account as registered.
  const again = await accounts.importLines("alice:alice password\nbob:pass:with:colons\n");
  assert.deepEqual(again, {
    added: 0,
    skipped: [
      { line: 1, reason: "alice is already registered" },
      { line: 2, reason: "bob is already registered" },
    ],
  });
  assert.deepEqual(await accounts.importLines(""), { added: 0, skipped: [] });
});

Deno.test("a big import hashes in parallel up to the cap without overflowing the queue", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxConcurrentHashes: 2, maxQueuedHashes: 0 });
  const lines = Array.from({ length: 20 }, (_, i) => `user${i}:password number ${i}`);
  const result = await accounts.importLines(lines.join("\n"));
  assert.deepEqual(result, { added: 20, skipped: [] });
  assert.equal(accounts.hashLimiter.peakActive, 2);
  await accounts.authenticate("user17", "password number 17", IP);
});

Deno.test("with maxConcurrentHashes 1, hashes never overlap; with 2 they do", async () => {
  for (const cap of [1, 2]) {
    await using fixture = await Fixture.create();
    const accounts = fixture.service({ maxConcurrentHashes: cap });
    await accounts.create("alice", PASSWORD);
    await accounts.create("bob", PASSWORD);
    // The limiter's counters are the instrumentation: every hash runs inside it.
    const results = await Promise.allSettled([
      accounts.authenticate("alice", PASSWORD, IP),
      accounts.authenticate("bob", PASSWORD, IP),
      accounts.authenticate("mallory", PASSWORD, IP),
      accounts.create("carol", PASSWORD),
    ]);
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    assert.equal(accounts.hashLimiter.peakActive, cap);
    assert.equal(accounts.hashLimiter.active, 0);
  }
});

Deno.test("when the hash queue is full, a login is refused as rate_limited and not counted as a failure", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxConcurrentHashes: 1, maxQueuedHashes: 0 });
  await accounts.create("alice", PASSWORD);
  const [first, second] = await Promise.allSettled([
    accounts.authenticate("alice", PASSWORD, IP),
    accounts.authenticate("alice", PASSWORD, IP),
  ]);
  assert.equal(first.status, "fulfilled");
  assert.equal(second.status, "rejected");
  const error = (second as PromiseRejectedResult).reason;
  assert.ok(error instanceof ChatError && error.code === "rate_limited");
  assert.ok(error.retryAfterMs! > 0);
  assert.equal(accounts.throttle.accountFailures("alice"), 0);
  assert.equal(accounts.throttle.ipFailures(IP), 0);
});

Deno.test("an unreadable stored hash fails the login without crashing", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await fixture.store.putAccount({
    key: "alice",
    name: "alice",
    passwordHash: "$2b$12$not-an-scrypt-hash",
    admin: false,
    createdAt: 0,
  });
  await chatError(accounts.authenticate("alice", PASSWORD, IP), "auth_failed");
  assert.equal(accounts.throttle.accountFailures("alice"), 1);
});

Deno.test("create refuses a name that looks like a registered one, saying which", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("paypal", PASSWORD);
  await accounts.create("Ian", PASSWORD);
  for (const [name, like] of [["paypa1", "paypal"], ["PAYPAI", "paypal"], ["lan", "Ian"]]) {
    const error = await chatError(accounts.create(name!, PASSWORD), "name_taken");
    assert.equal(
      error.message,
      `Nickname ${name} looks like the registered name ${like}; choose another`,
    );
  }
  // All Cyrillic: one script, and the same look as "coco".
  await accounts.create("coco", PASSWORD);
  await chatError(accounts.create("\u0441\u043e\u0441\u043e", PASSWORD), "name_taken");
  await chatError(accounts.refuseLookalike("c0c0"), "name_taken");
  // Its own name, in any case, is no lookalike of itself.
  await accounts.refuseLookalike("COCO");
  await accounts.refuseLookalike("ian");
  assert.deepEqual((await accounts.list()).map((a) => a.name), ["coco", "Ian", "paypal"]);
});

Deno.test("importLines skips lookalikes of registered names and of earlier lines", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service();
  await accounts.create("paypal", PASSWORD);
  const result = await accounts.importLines(
    ["paypa1:some password", "bob:bob password", "b0b:b0b password", "\u3164:filler pass"]
      .join("\n"),
  );
  assert.equal(result.added, 1);
  assert.deepEqual(result.skipped, [
    { line: 1, reason: "paypa1 looks like the registered name paypal" },
    { line: 3, reason: "b0b looks like bob on line 2" },
    { line: 4, reason: "Invalid nickname: contains the invisible character U+1160" },
  ]);
});

Deno.test("SQLite: a store from before lookalike keys gets them at open, found by index", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-looks-" });
  try {
    // Schema version 2, as an older build left it, with one account.
    const { DatabaseSync } = await import("node:sqlite");
    const { MIGRATIONS } = await import("../server/store/sqlite_migrations.ts");
    const old = new DatabaseSync(`${dir}/chat.db`);
    for (const sql of MIGRATIONS.slice(0, 2)) old.exec(sql);
    old.exec("PRAGMA user_version = 2");
    old.prepare(
      "INSERT INTO accounts (name_key, name, password_hash, admin, created_at) VALUES (?, ?, ?, 0, 0)",
    ).run("paypal", "paypal", "x");
    old.close();
    const store = SqliteStore.open(dir);
    try {
      assert.equal(store.schemaVersion, MIGRATIONS.length);
      assert.equal((await store.findAccountLike("paypal", "other"))?.name, "paypal");
      assert.equal(await store.findAccountLike("paypal", "paypal"), undefined);
      const plan = new DatabaseSync(`${dir}/chat.db`).prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM accounts WHERE lookalike_key = ? AND name_key <> ?",
      ).all("x", "y");
      assert.match(JSON.stringify(plan), /accounts_lookalike/);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const OWNER = "198.51.100.20";

/** Fails `alice` `times` times, each from a fresh address, so only the per-account limit counts. */
async function lockFromAfar(accounts: AccountService, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await chatError(accounts.authenticate("alice", `guess ${i}`, `10.1.0.${i}`), "auth_failed");
  }
}

Deno.test("past the account's limit, addresses that logged in before keep their own tries", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({
    maxFailuresPerAccountPerHour: 3,
    maxFailuresPerKnownAddressPerHour: 2,
  });
  await accounts.create("alice", PASSWORD);
  await accounts.authenticate("alice", PASSWORD, OWNER);
  await accounts.authenticate("alice", PASSWORD, "198.51.100.21");
  await lockFromAfar(accounts, 3);
  // An address alice never used is refused even with the right password, before hashing.
  const hashes = accounts.hashLimiter.completed;
  const locked = await chatError(accounts.authenticate("alice", PASSWORD, IP), "rate_limited");
  assert.match(locked.message, /^Too many failed logins for this account;/);
  assert.equal(accounts.hashLimiter.completed, hashes);
  // Her own address gets in.
  assert.equal((await accounts.authenticate("alice", PASSWORD, OWNER)).key, "alice");
  // It has a budget of its own: two mistakes, then it waits too.
  await chatError(accounts.authenticate("alice", "typo one", OWNER), "auth_failed");
  await chatError(accounts.authenticate("alice", "typo two", OWNER), "auth_failed");
  const own = await chatError(accounts.authenticate("alice", PASSWORD, OWNER), "rate_limited");
  assert.match(own.message, /^Too many failed logins for this account from your address;/);
  // Her other address still has its own.
  await accounts.authenticate("alice", PASSWORD, "198.51.100.21");
});

Deno.test("known addresses survive a restart and are bounded in number and age; IPv6 per /64", async () => {
  await using fixture = await Fixture.create();
  const DAY = 24 * 60 * MINUTE;
  const options = {
    maxFailuresPerAccountPerHour: 3,
    knownLoginAddresses: 2,
    knownLoginAddressMaxAgeMs: 7 * DAY,
  };
  let accounts = fixture.service(options);
  await accounts.create("alice", PASSWORD);
  for (const address of ["203.0.113.1", "203.0.113.2", "2001:db8:1:2::5"]) {
    await accounts.authenticate("alice", PASSWORD, address);
    fixture.clock += MINUTE;
  }
  // The two most recent are kept.
  assert.deepEqual(await accounts.knownAddresses("alice"), ["2001:db8:1:2::/64", "203.0.113.2"]);

  await fixture.reopen();
  accounts = fixture.service(options);
  assert.deepEqual(await accounts.knownAddresses("alice"), ["2001:db8:1:2::/64", "203.0.113.2"]);
  await lockFromAfar(accounts, 3);
  await chatError(accounts.authenticate("alice", PASSWORD, "203.0.113.1"), "rate_limited");
  await accounts.authenticate("alice", PASSWORD, "2001:db8:1:2:ffff::99");
  await accounts.authenticate("alice", PASSWORD, "203.0.113.2");

  // A week after its last login an address is forgotten.
  fixture.clock += 7 * DAY - 10 * MINUTE;
  await accounts.authenticate("alice", PASSWORD, "2001:db8:1:2::5");
  fixture.clock += 20 * MINUTE;
  await lockFromAfar(accounts, 3);
  await chatError(accounts.authenticate("alice", PASSWORD, "203.0.113.2"), "rate_limited");
  await accounts.authenticate("alice", PASSWORD, "2001:db8:1:2::5");
  assert.deepEqual(await accounts.knownAddresses("alice"), ["2001:db8:1:2::/64"]);
  // Deleting the account forgets them: a new alice starts with none.
  await accounts.remove("alice");
  await accounts.create("alice", PASSWORD);
  assert.deepEqual(await accounts.knownAddresses("alice"), []);
});

Deno.test("an account created from a session knows the address it was created from", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxFailuresPerAccountPerHour: 3 });
  await accounts.create("alice", PASSWORD, { ip: OWNER });
  assert.deepEqual(await accounts.knownAddresses("alice"), [OWNER]);
  await lockFromAfar(accounts, 3);
  await accounts.authenticate("alice", PASSWORD, OWNER);
});

Deno.test("unlock, from another service on the same store as chat user is, lifts the lock at the next try", async () => {
  await using fixture = await Fixture.create();
  const server = fixture.service({ maxFailuresPerAccountPerHour: 3 });
  await server.create("alice", PASSWORD);
  await lockFromAfar(server, 3);
  await chatError(server.authenticate("alice", PASSWORD, IP), "rate_limited");
  fixture.clock += MINUTE;
  // `chat user unlock` is another process: here another service on the same database.
  const command = fixture.service();
  assert.equal((await command.unlock("ALICE")).key, "alice");
  fixture.clock += MINUTE;
  await server.authenticate("alice", PASSWORD, IP);
  // Later failures count again from zero.
  await lockFromAfar(server, 2);
  await server.authenticate("alice", PASSWORD, IP);
  await lockFromAfar(server, 1);
  await chatError(server.authenticate("alice", PASSWORD, "192.0.2.11"), "rate_limited");
  await chatError(command.unlock("bob"), "no_such_user");
});

Deno.test("failed logins and the start of each lock are logged as warnings, never the password", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxFailuresPerAccountPerHour: 3, maxFailuresPerIpPerHour: 5 });
  await accounts.create("alice", PASSWORD);
  await using logs = await LogCapture.start();
  for (let i = 0; i < 3; i++) {
    await chatError(
      accounts.authenticate("alice", `secret guess ${i}`, "203.0.113.9"),
      "auth_failed",
    );
  }
  // Refused tries of a locked account are not logged again.
  for (let i = 0; i < 5; i++) {
    await chatError(accounts.authenticate("alice", PASSWORD, "203.0.113.9"), "rate_limited");
  }
  await chatError(accounts.authenticate("mallory", "secret guess m", "203.0.113.9"), "auth_failed");
  await chatError(
    accounts.authenticate("no such nick!", "secret guess n", "203.0.113.9"),
    "auth_failed",
  );
  await chatError(accounts.authenticate("bob", PASSWORD, "203.0.113.9"), "rate_limited");
  const warnings = logs.records.filter((record) => record.level === "warning");
  assert.ok(warnings.every((record) => record.category.join(".") === "chat.accounts"));
  assert.deepEqual(logs.lines.filter((line) => line.startsWith("warning")), [
    "warning Failed login for alice from 203.0.113.9",
    "warning Failed login for alice from 203.0.113.9",
    "warning Failed login for alice from 203.0.113.9",
    "warning Account alice locked: 3 failed logins within an hour, the last from 203.0.113.9; " +
    "only addresses it logged in from before may still try ('chat user unlock' lifts it)",
    "warning Failed login for unknown account mallory from 203.0.113.9",
    "warning Failed login with an invalid name from 203.0.113.9",
    "warning Address 203.0.113.9 locked: 5 failed logins within an hour, for any account",
  ]);
  assert.deepEqual(warnings[0]!.properties, { account: "alice", ip: "203.0.113.9" });
  const everything = JSON.stringify(logs.records);
  assert.ok(!everything.includes("secret guess"), everything);
  assert.ok(!everything.includes(PASSWORD), everything);
});

Deno.test("at most maxPasswordChecksPerIp checks pending per address; the rest are refused at once", async () => {
  await using fixture = await Fixture.create();
  const accounts = fixture.service({ maxConcurrentHashes: 1, maxPasswordChecksPerIp: 2 });
  await accounts.create("alice", PASSWORD);
  await accounts.create("bob", PASSWORD);
  const attacker = Array.from(
    { length: 6 },
    (_, i) => accounts.authenticate("alice", `guess ${i}`, "2001:db8:66::1"),
  );
  // Another host in the attacker's /64 shares its lane.
  attacker.push(accounts.authenticate("alice", "guess 6", "2001:db8:66::2"));
  const bystander = accounts.authenticate("bob", PASSWORD, IP);
  const results = await Promise.allSettled(attacker);
  const codes = results.map((result) =>
    result.status === "rejected" ? (result.reason as ChatError).code : "ok"
  );
  assert.deepEqual(codes, [
    "auth_failed",
    "auth_failed",
    "rate_limited",
    "rate_limited",
    "rate_limited",
    "rate_limited",
    "rate_limited",
  ]);
  const refused = (results[2] as PromiseRejectedResult).reason as ChatError;
  assert.match(refused.message, /^Too many password checks from your address at once \(limit 2\)/);
  assert.ok(refused.retryAfterMs! > 0);
  assert.equal((await bystander).key, "bob");
  // Refusals cost no hash and count as no failure.
  assert.equal(accounts.throttle.accountFailures("alice"), 2);
  assert.equal(accounts.hashLimiter.pendingIn("2001:db8:66::/64"), 0);
});
