import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { HashLimiter } from "../server/accounts/hash_limiter.ts";

/** A task the test finishes by hand, recording when it started. */
function manualTask(log: string[], name: string) {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  return {
    task: () => {
      log.push(`start ${name}`);
      return promise;
    },
    finish: () => resolve(name),
    fail: () => reject(new Error(`${name} failed`)),
  };
}

/** Lets queued promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("runs at most maxConcurrent tasks, then the waiting ones first come first served", async () => {
  const log: string[] = [];
  const limiter = new HashLimiter({ maxConcurrent: 2 });
  const tasks = ["a", "b", "c", "d"].map((name) => manualTask(log, name));
  const results = tasks.map((t) => limiter.run(t.task));
  await settle();
  assert.deepEqual(log, ["start a", "start b"]);
  assert.equal(limiter.active, 2);
  assert.equal(limiter.queued, 2);
  tasks[1]!.finish();
  await settle();
  assert.deepEqual(log, ["start a", "start b", "start c"]);
  tasks[0]!.finish();
  await settle();
  assert.deepEqual(log, ["start a", "start b", "start c", "start d"]);
  tasks[2]!.finish();
  tasks[3]!.finish();
  assert.deepEqual(await Promise.all(results), ["a", "b", "c", "d"]);
  assert.equal(limiter.active, 0);
  assert.equal(limiter.queued, 0);
  assert.equal(limiter.peakActive, 2);
  assert.equal(limiter.completed, 4);
});

Deno.test("a failing task frees its slot and its error reaches the caller", async () => {
  const log: string[] = [];
  const limiter = new HashLimiter({ maxConcurrent: 1 });
  const first = manualTask(log, "first");
  const second = manualTask(log, "second");
  const a = limiter.run(first.task);
  const b = limiter.run(second.task);
  await settle();
  first.fail();
  await assert.rejects(a, /first failed/);
  await settle();
  assert.deepEqual(log, ["start first", "start second"]);
  second.finish();
  assert.equal(await b, "second");
  assert.equal(limiter.peakActive, 1);
});

Deno.test("beyond maxQueued waiters, run refuses with rate_limited and retryAfterMs, without running", async () => {
  const log: string[] = [];
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 2 });
  const tasks = ["a", "b", "c"].map((name) => manualTask(log, name));
  const results = tasks.map((t) => limiter.run(t.task));
  await settle();
  let ran = false;
  const refused = await limiter.run(() => {
    ran = true;
    return Promise.resolve("d");
  }).catch((error) => error);
  assert.ok(refused instanceof ChatError);
  assert.equal(refused.code, "rate_limited");
  assert.ok(refused.retryAfterMs !== undefined && refused.retryAfterMs >= 100);
  assert.equal(ran, false);
  for (const t of tasks) t.finish();
  assert.deepEqual(await Promise.all(results), ["a", "b", "c"]);
  // Room again once the queue drained.
  assert.equal(await limiter.run(() => Promise.resolve("e")), "e");
});

Deno.test("bad limits are refused", () => {
  assert.throws(() => new HashLimiter({ maxConcurrent: 0 }), RangeError);
  assert.throws(() => new HashLimiter({ maxConcurrent: 1.5 }), RangeError);
  assert.throws(() => new HashLimiter({ maxQueued: -1 }), RangeError);
});
