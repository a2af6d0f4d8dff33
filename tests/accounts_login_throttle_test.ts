import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { ipKey, LoginThrottle } from "../server/accounts/login_throttle.ts";

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
  assert.deepEqual(throttle.trackedKeys, { accounts: 100, ips: 100 });
  // The most recent are kept.
  assert.equal(throttle.accountFailures("user999"), 1);
  assert.equal(throttle.accountFailures("user0"), 0);
  // Once everything expired, a new failure sweeps the table.
  now = 2 * HOUR;
  throttle.recordFailure("late", "10.9.9.9");
  assert.ok(throttle.trackedKeys.accounts <= 100);
  throttle.recordFailure("later", "10.9.9.9");
  assert.deepEqual(throttle.trackedKeys, { accounts: 2, ips: 1 });
});

Deno.test("bad limits are refused", () => {
  assert.throws(() => new LoginThrottle({ maxFailuresPerAccount: 0 }), RangeError);
  assert.throws(() => new LoginThrottle({ maxFailuresPerIp: 1.5 }), RangeError);
  assert.throws(() => new LoginThrottle({ windowMs: 0 }), RangeError);
});
