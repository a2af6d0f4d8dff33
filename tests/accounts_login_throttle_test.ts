import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { LoginThrottle } from "../server/accounts/login_throttle.ts";
import { ipKey } from "../server/net/ip_key.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function refusal(fn: () => void): ChatError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected ChatError, got ${error}`);
    assert.equal(error.code, "rate_limited");
    return error;
  }
  assert.fail("expected rate_limited, nothing was thrown");
}

Deno.test("refuses an account once it reached its failures, with a retry time in seconds", () => {
  let now = 10 * HOUR;
  const throttle = new LoginThrottle({ maxFailuresPerAccount: 3, now: () => now });
  for (let i = 0; i < 3; i++) {
    throttle.check("alice", "192.0.2.1");
    throttle.recordFailure("alice", "192.0.2.1");
    now += MINUTE;
  }
  const error = refusal(() => throttle.check("alice", "198.51.100.9"));
  assert.match(error.message, /^Too many failed logins for this account; try again in \d+ s$/);
  // The oldest failure (3 minutes ago) frees a slot an hour after it, within one bucket.
  assert.ok(error.retryAfterMs! > 57 * MINUTE && error.retryAfterMs! <= 58 * MINUTE + MINUTE);
  assert.equal(
    error.message,
    `Too many failed logins for this account; try again in ${
      Math.ceil(error.retryAfterMs! / 1000)
    } s`,
  );
  // Other accounts and the address are fine.
  throttle.check("bob", "192.0.2.1");
  throttle.check(undefined, "192.0.2.1");
});

Deno.test("the window slides: failures stop counting after an hour", () => {
  let now = 5 * HOUR;
  const throttle = new LoginThrottle({ maxFailuresPerAccount: 3, now: () => now });
  for (const minute of [0, 10, 20]) {
    now = 5 * HOUR + minute * MINUTE;
    throttle.recordFailure("alice", "192.0.2.1");
  }
  now = 5 * HOUR + 59 * MINUTE;
  refusal(() => throttle.check("alice", "192.0.2.1"));
  assert.equal(throttle.accountFailures("alice"), 3);
  now = 5 * HOUR + 61 * MINUTE;
  throttle.check("alice", "192.0.2.1");
  assert.equal(throttle.accountFailures("alice"), 2);
  throttle.recordFailure("alice", "192.0.2.1");
  refusal(() => throttle.check("alice", "192.0.2.1"));
  now = 5 * HOUR + 3 * HOUR;
  assert.equal(throttle.accountFailures("alice"), 0);
  throttle.check("alice", "192.0.2.1");
});

Deno.test("never lets more than the limit through in any hour (checked every 7 s for a day)", () => {
  let now = 0;
  const limit = 5;
  const throttle = new LoginThrottle({ maxFailuresPerAccount: limit, now: () => now });
  const failures: number[] = [];
  for (now = 0; now < 24 * HOUR; now += 7_000) {
    try {
      throttle.check("alice", "192.0.2.1");
    } catch {
      continue;
    }
    throttle.recordFailure("alice", "192.0.2.1");
    failures.push(now);
    const inLastHour = failures.filter((t) => t > now - HOUR).length;
    assert.ok(inLastHour <= limit, `${inLastHour} failures in the hour before ${now}`);
  }
  // And it is not much stricter than that: about `limit` per hour over the day.
  assert.ok(failures.length >= 23 * limit, `only ${failures.length} allowed`);
});

Deno.test("per-address limit, across accounts and unknown names", () => {
  const throttle = new LoginThrottle({ maxFailuresPerIp: 4, now: () => 0 });
  throttle.recordFailure("alice", "192.0.2.1");
  throttle.recordFailure("bob", "192.0.2.1");
  throttle.recordFailure(undefined, "192.0.2.1");
  throttle.recordFailure("carol", "::ffff:192.0.2.1");
  const error = refusal(() => throttle.check("dave", "192.0.2.1"));
  assert.match(error.message, /^Too many failed logins from your address; try again in \d+ s$/);
  throttle.check("dave", "192.0.2.2");
  assert.equal(throttle.ipFailures("192.0.2.1"), 4);
});

Deno.test("IPv6 addresses are throttled per /64", () => {
  const throttle = new LoginThrottle({ maxFailuresPerIp: 2, now: () => 0 });
  throttle.recordFailure(undefined, "2001:db8:1:2::1");
  throttle.recordFailure(undefined, "2001:db8:1:2:ffff:ffff:ffff:ffff");
  refusal(() => throttle.check(undefined, "2001:0db8:0001:0002:0:0:0:abcd"));
  throttle.check(undefined, "2001:db8:1:3::1");
});

Deno.test("ipKey normalizes addresses", () => {
  assert.equal(ipKey("192.0.2.7"), "192.0.2.7");
  assert.equal(ipKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(ipKey("2001:DB8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(ipKey("[2001:db8::1]"), "2001:db8:0:0::/64");
  assert.equal(ipKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(ipKey("::1"), "0:0:0:0::/64");
  assert.equal(ipKey("not an address"), "not an address");
  assert.equal(ipKey("1::2::3"), "1::2::3");
});

Deno.test("memory is bounded: tracked keys are capped, expired ones swept first", () => {
  let now = 0;
  const throttle = new LoginThrottle({ maxTrackedKeys: 100, now: () => now });
  for (let i = 0; i < 1000; i++) throttle.recordFailure(`user${i}`, `10.0.${i >> 8}.${i & 255}`);
  assert.deepEqual(throttle.trackedKeys, { accounts: 100, ips: 100, pairs: 100 });
  // The most recent are kept.
  assert.equal(throttle.accountFailures("user999"), 1);
  assert.equal(throttle.accountFailures("user0"), 0);
  // Once everything expired, a new failure sweeps the table.
  now = 2 * HOUR;
  throttle.recordFailure("late", "10.9.9.9");
  assert.ok(throttle.trackedKeys.accounts <= 100);
  throttle.recordFailure("later", "10.9.9.9");
  assert.deepEqual(throttle.trackedKeys, { accounts: 2, ips: 1, pairs: 2 });
});

Deno.test("past the account's limit, a known address keeps its own budget for the account", () => {
  const now = 10 * HOUR;
  const throttle = new LoginThrottle({
    maxFailuresPerAccount: 3,
    maxFailuresPerKnownAddress: 2,
    now: () => now,
  });
  for (let i = 0; i < 3; i++) throttle.recordFailure("alice", `203.0.113.${i}`);
  assert.equal(throttle.accountLocked("alice"), true);
  refusal(() => throttle.check("alice", "198.51.100.9"));
  // The owner's address: not refused, and its own failures count apart.
  throttle.check("alice", "198.51.100.9", { knownAddress: true });
  throttle.recordFailure("alice", "198.51.100.9");
  throttle.check("alice", "198.51.100.9", { knownAddress: true });
  throttle.recordFailure("alice", "198.51.100.9");
  assert.equal(throttle.knownAddressFailures("alice", "198.51.100.9"), 2);
  const error = refusal(() => throttle.check("alice", "198.51.100.9", { knownAddress: true }));
  assert.match(error.message, /^Too many failed logins for this account from your address;/);
  assert.ok(error.retryAfterMs! > 59 * MINUTE);
  // Another known address of alice's is not affected; IPv6 counts per /64.
  throttle.check("alice", "2001:db8:1:2::5", { knownAddress: true });
  throttle.recordFailure("alice", "2001:db8:1:2::5");
  throttle.recordFailure("alice", "2001:db8:1:2:ffff::9");
  refusal(() => throttle.check("alice", "2001:db8:1:2::7", { knownAddress: true }));
  // Below the account's limit the known-address count does not matter.
  throttle.check("bob", "198.51.100.9");
  assert.equal(throttle.accountLocked("bob"), false);
});

Deno.test("recordFailure tells when a failure starts a lock: once, at the limit", () => {
  const throttle = new LoginThrottle({
    maxFailuresPerAccount: 3,
    maxFailuresPerIp: 4,
    maxFailuresPerKnownAddress: 2,
  });
  const starts = Array.from({ length: 6 }, () => throttle.recordFailure("alice", "192.0.2.1"));
  assert.deepEqual(starts.map((start) => start.account), [false, false, true, false, false, false]);
  assert.deepEqual(starts.map((start) => start.ip), [false, false, false, true, false, false]);
  assert.deepEqual(
    starts.map((start) => start.knownAddress),
    [false, true, false, false, false, false],
  );
  assert.deepEqual(throttle.recordFailure(undefined, "192.0.2.2"), {
    account: false,
    ip: false,
    knownAddress: false,
  });
});

Deno.test("unlockAccount forgets the account's failures until then, from every address, once", () => {
  let now = 10 * HOUR;
  const throttle = new LoginThrottle({
    maxFailuresPerAccount: 3,
    maxFailuresPerKnownAddress: 1,
    now: () => now,
  });
  for (let i = 0; i < 3; i++) throttle.recordFailure("alice", `203.0.113.${i}`);
  throttle.recordFailure("alice", "198.51.100.9");
  throttle.recordFailure("bob", "203.0.113.1");
  refusal(() => throttle.check("alice", "198.51.100.9", { knownAddress: true }));
  now += 5 * MINUTE;
  const unlockedAt = now;
  assert.equal(throttle.unlockAccount("alice", unlockedAt), true);
  assert.equal(throttle.accountFailures("alice"), 0);
  assert.equal(throttle.knownAddressFailures("alice", "198.51.100.9"), 0);
  throttle.check("alice", "203.0.113.7");
  // Other accounts and the addresses' own counts stay.
  assert.equal(throttle.accountFailures("bob"), 1);
  assert.equal(throttle.ipFailures("203.0.113.1"), 2);
  // Failures after the unlock count again, and applying the same unlock again keeps them.
  now += 2 * MINUTE;
  for (let i = 0; i < 3; i++) throttle.recordFailure("alice", `203.0.113.${i}`);
  assert.equal(throttle.unlockAccount("alice", unlockedAt), false);
  assert.equal(throttle.accountFailures("alice"), 3);
  refusal(() => throttle.check("alice", "203.0.113.7"));
  // A later unlock applies.
  assert.equal(throttle.unlockAccount("alice", now), true);
  throttle.check("alice", "203.0.113.7");
});

Deno.test("bad limits are refused", () => {
  assert.throws(() => new LoginThrottle({ maxFailuresPerKnownAddress: 0 }), RangeError);
  assert.throws(() => new LoginThrottle({ maxFailuresPerAccount: 0 }), RangeError);
  assert.throws(() => new LoginThrottle({ maxFailuresPerIp: 1.5 }), RangeError);
  assert.throws(() => new LoginThrottle({ windowMs: 0 }), RangeError);
});
