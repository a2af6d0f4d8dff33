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

Deno.test("lanes take turns: one lane's backlog cannot starve a lane that arrives later", async () => {
  const log: string[] = [];
  const limiter = new HashLimiter({ maxConcurrent: 1, maxPendingPerLane: 10 });
  const attacker = ["a1", "a2", "a3", "a4", "a5"].map((name) => manualTask(log, name));
  const bystander = ["b1", "b2"].map((name) => manualTask(log, name));
  const results = attacker.map((t) => limiter.run(t.task, { lane: "192.0.2.66" }));
  await settle();
  // The bystander arrives behind four of the attacker's waiting tasks.
  results.push(...bystander.map((t) => limiter.run(t.task, { lane: "198.51.100.7" })));
  await settle();
  assert.equal(limiter.queued, 6);
  for (const t of [...attacker, ...bystander]) {
    t.finish();
    await settle();
  }
  // One turn each: b1 runs after a2, not after a5.
  assert.deepEqual(log, [
    "start a1",
    "start a2",
    "start b1",
    "start a3",
    "start b2",
    "start a4",
    "start a5",
  ]);
  await Promise.all(results);
  assert.equal(limiter.pendingIn("192.0.2.66"), 0);
  assert.equal(limiter.queued, 0);
});

Deno.test("one lane holds all slots but one, so another lane starts at once", async () => {
  const log: string[] = [];
  const limiter = new HashLimiter({ maxConcurrent: 3, maxPendingPerLane: 10 });
  const attacker = ["a1", "a2", "a3", "a4"].map((name) => manualTask(log, name));
  const results = attacker.map((t) => limiter.run(t.task, { lane: "192.0.2.66" }));
  await settle();
  // Two of three slots; the third stays free although the lane has more waiting.
  assert.deepEqual(log, ["start a1", "start a2"]);
  assert.equal(limiter.active, 2);
  assert.equal(limiter.queued, 2);
  const bystander = manualTask(log, "b1");
  results.push(limiter.run(bystander.task, { lane: "198.51.100.7" }));
  await settle();
  assert.deepEqual(log, ["start a1", "start a2", "start b1"]);
  // A finished task of the lane hands its slot to the lane's next.
  attacker[0]!.finish();
  await settle();
  assert.deepEqual(log.slice(3), ["start a3"]);
  bystander.finish();
  await settle();
  // The bystander's slot is not the lane's to take: it stays free.
  assert.deepEqual(log.slice(4), []);
  assert.equal(limiter.active, 2);
  for (const t of attacker.slice(1)) {
    t.finish();
    await settle();
  }
  await Promise.all(results);
  assert.deepEqual(log.slice(4), ["start a4"]);
  assert.equal(limiter.peakActive, 3);
  // Local work (no lane) may use every slot.
  const local = ["l1", "l2", "l3"].map((name) => manualTask(log, name));
  const running = local.map((t) => limiter.run(t.task));
  await settle();
  assert.equal(limiter.active, 3);
  for (const t of local) t.finish();
  await Promise.all(running);
});

Deno.test("beyond maxPendingPerLane, a lane is refused at once while other lanes still queue", async () => {
  const log: string[] = [];
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 64, maxPendingPerLane: 2 });
  const running = manualTask(log, "a1");
  const waiting = manualTask(log, "a2");
  const other = manualTask(log, "b1");
  const results = [
    limiter.run(running.task, { lane: "192.0.2.66" }),
    limiter.run(waiting.task, { lane: "192.0.2.66" }),
  ];
  await settle();
  // Running and waiting both count: the third of the lane is refused, without running.
  assert.equal(limiter.pendingIn("192.0.2.66"), 2);
  let ran = false;
  const refused = await limiter.run(() => {
    ran = true;
    return Promise.resolve("a3");
  }, { lane: "192.0.2.66" }).catch((error) => error);
  assert.ok(refused instanceof ChatError);
  assert.equal(refused.code, "rate_limited");
  assert.match(refused.message, /^Too many password checks from your address at once \(limit 2\)/);
  assert.ok(refused.retryAfterMs !== undefined && refused.retryAfterMs >= 100);
  assert.equal(ran, false);
  results.push(limiter.run(other.task, { lane: "198.51.100.7" }));
  await settle();
  assert.equal(limiter.queued, 2);
  for (const t of [running, waiting, other]) {
    t.finish();
    await settle();
  }
  await Promise.all(results);
  // Room again in the lane once its tasks are done.
  assert.equal(await limiter.run(() => Promise.resolve("a4"), { lane: "192.0.2.66" }), "a4");
  // The unnamed lane has no per-lane cap.
  const local = await Promise.all(
    Array.from({ length: 5 }, (_, index) => limiter.run(() => Promise.resolve(index))),
  );
  assert.deepEqual(local, [0, 1, 2, 3, 4]);
});

Deno.test("bad limits are refused", () => {
  assert.throws(() => new HashLimiter({ maxPendingPerLane: 0 }), RangeError);
  assert.throws(() => new HashLimiter({ maxConcurrent: 0 }), RangeError);
  assert.throws(() => new HashLimiter({ maxConcurrent: 1.5 }), RangeError);
  assert.throws(() => new HashLimiter({ maxQueued: -1 }), RangeError);
});
