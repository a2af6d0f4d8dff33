import assert from "node:assert/strict";
import { backoffDelay } from "../client/backoff.ts";
import { RequestPacer } from "../client/request_pacer.ts";

Deno.test("backoffDelay doubles from 250 ms up to 30 s", () => {
  const top = (attempt: number) => backoffDelay(attempt, { random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5].map(top), [250, 500, 1000, 2000, 4000]);
  assert.equal(top(8), 30_000);
  assert.equal(top(1000), 30_000);
});

Deno.test("backoffDelay is full jitter: anywhere from 0 to the ceiling", () => {
  assert.equal(backoffDelay(4, { random: () => 0 }), 0);
  assert.equal(backoffDelay(4, { random: () => 0.5 }), 1000);
  for (let i = 0; i < 200; i++) {
    const delay = backoffDelay(3);
    assert.ok(delay >= 0 && delay <= 1000, String(delay));
  }
});

Deno.test("backoffDelay honours custom bounds", () => {
  assert.equal(backoffDelay(1, { initialDelayMs: 10, maxDelayMs: 15, random: () => 1 }), 10);
  assert.equal(backoffDelay(2, { initialDelayMs: 10, maxDelayMs: 15, random: () => 1 }), 15);
});

Deno.test("RequestPacer allows a burst, then spaces requests just under the rate", () => {
  const pacer = new RequestPacer({ burst: 3, ratePerSecond: 10 });
  assert.deepEqual([pacer.take(0), pacer.take(0), pacer.take(0)], [0, 0, 0]);
  const wait = pacer.take(0);
  assert.ok(wait >= 100 && wait <= 110, String(wait));
  assert.equal(pacer.take(wait), 0);
});

Deno.test("RequestPacer pause holds everything until the server's retry time", () => {
  const pacer = new RequestPacer({ burst: 5, ratePerSecond: 0 });
  assert.equal(pacer.take(0), 0);
  pacer.pause(200, 0);
  assert.equal(pacer.take(50), 150);
  assert.equal(pacer.take(200), 0);
});
