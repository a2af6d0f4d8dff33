import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { HistoryLimiter } from "../server/limits/history_limiter.ts";

/** A read the test finishes when it wants: `started` says whether it began. */
function gatedRead() {
  const gate = Promise.withResolvers<void>();
  const read = { started: false, finish: () => gate.resolve(), work: async () => {} };
  read.work = async () => {
    read.started = true;
    await gate.promise;
  };
  return read;
}

async function refusal(promise: Promise<unknown>): Promise<ChatError> {
  const error = await promise.then(() => undefined, (error) => error);
  assert.ok(error instanceof ChatError, `expected a ChatError, got ${error}`);
  return error;
}

/** Lets reads granted a slot start: each starts in a turn of its own. */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

Deno.test("a holder runs one read at a time, a few wait, more are rate_limited with a retry delay", async () => {
  const limiter = new HistoryLimiter({ perHolder: 1, perHolderWaiting: 2, retryAfterMs: 70 });
  const session = {};
  const reads = [gatedRead(), gatedRead(), gatedRead()];
  const runs = reads.map((read) => limiter.run(session, read.work));
  const refused = await refusal(limiter.run(session, async () => {}));
  assert.equal(refused.code, "rate_limited");
  assert.equal(refused.retryAfterMs, 70);
  await turns();
  assert.deepEqual(reads.map((read) => read.started), [true, false, false]);
  // Another holder is not held up by this one.
  await limiter.run({}, async () => {});
  reads[0]!.finish();
  await turns();
  assert.deepEqual(reads.map((read) => read.started), [true, true, false]);
  reads[1]!.finish();
  reads[2]!.finish();
  await Promise.all(runs);
  // All done: the holder may queue again.
  await limiter.run(session, async () => {});
});

Deno.test("the server runs a few reads at once, queues a bounded number, and is server_busy beyond", async () => {
  const limiter = new HistoryLimiter({ perHolder: 1, running: 2, waiting: 1 });
  const reads = [gatedRead(), gatedRead(), gatedRead()];
  const runs = reads.map((read) => limiter.run({}, read.work));
  const busy = await refusal(limiter.run({}, async () => {}));
  assert.equal(busy.code, "server_busy");
  assert.ok(busy.retryAfterMs !== undefined && busy.retryAfterMs > 0);
  await turns();
  assert.deepEqual(reads.map((read) => read.started), [true, true, false]);
  assert.deepEqual([limiter.running, limiter.waiting], [2, 1]);
  reads[1]!.finish();
  await turns();
  assert.equal(reads[2]!.started, true, "the waiting read takes the freed slot");
  reads[0]!.finish();
  reads[2]!.finish();
  await Promise.all(runs);
  assert.deepEqual([limiter.running, limiter.waiting], [0, 0]);
});

Deno.test("a failed read frees its slots; reads never start in the caller's turn", async () => {
  const limiter = new HistoryLimiter({ perHolder: 1, perHolderWaiting: 0, running: 1, waiting: 0 });
  const session = {};
  let started = false;
  const run = limiter.run(session, () => {
    started = true;
    return Promise.reject(new Error("disk on fire"));
  });
  // Granted at once, but started in a later turn: back-to-back reads let I/O in between.
  await Promise.resolve();
  assert.equal(started, false);
  await assert.rejects(run, /disk on fire/);
  assert.equal(await limiter.run(session, () => Promise.resolve(42)), 42);
});

Deno.test("bad limits are refused with a RangeError", () => {
  assert.throws(() => new HistoryLimiter({ running: 0 }), RangeError);
  assert.throws(() => new HistoryLimiter({ perHolderWaiting: -1 }), RangeError);
  assert.throws(() => new HistoryLimiter({ waiting: 1.5 }), RangeError);
});
