import assert from "node:assert/strict";
import { LocalAddressQuota } from "../server/limits/address_quota.ts";
import { ChatError } from "../shared/errors.ts";

const WORDING = { refused: "Cannot create #dev", counted: "rooms created" };

function refusal(take: () => unknown): ChatError {
  try {
    take();
  } catch (error) {
    assert.ok(error instanceof ChatError);
    return error;
  }
  throw new Error("not refused");
}

Deno.test("LocalAddressQuota: an allowance per address per sliding hour, IPv6 per /64", () => {
  let now = 0;
  const quota = new LocalAddressQuota({ limit: 2, now: () => now });
  quota.take("2001:db8:1:2::1", WORDING);
  now = 30 * 60_000;
  quota.take("2001:db8:1:2::abcd", WORDING);
  const error = refusal(() => quota.take("2001:db8:1:2:ffff::9", WORDING));
  assert.equal(error.code, "rate_limited");
  assert.equal(
    error.message,
    "Cannot create #dev: 2 rooms created from your address in the last hour, the limit; " +
      "try again in 31 min",
  );
  // The first one leaves the window an hour (and a bucket) after it was counted.
  assert.ok(error.retryAfterMs! > 30 * 60_000 && error.retryAfterMs! <= 31 * 60_000);
  // Other addresses are not affected.
  quota.take("2001:db8:1:3::1", WORDING);
  quota.take("192.0.2.7", WORDING);
  now += error.retryAfterMs!;
  quota.take("2001:db8:1:2::1", WORDING);
  refusal(() => quota.take("2001:db8:1:2::1", WORDING));
});
