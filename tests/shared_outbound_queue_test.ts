import assert from "node:assert/strict";
import { FlushScheduler } from "../shared/flush_scheduler.ts";
import { DEFAULT_MAX_QUEUE_BYTES, OutboundQueue } from "../shared/outbound_queue.ts";
import type { Transport } from "../shared/transport.ts";
import { ManualTransport } from "./support/manual_transport.ts";

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Pushes one byte to an idle end-of-turn queue and lets the peer take it: the queue just wrote. */
async function writeOnceAtEndOfTurn(queue: OutboundQueue, transport: ManualTransport) {
  queue.push(bytes(1));
  await new Promise((resolve) => setImmediate(resolve));
  await settle();
  assert.deepEqual(transport.calls, [bytes(1)]);
  transport.accept();
  await settle();
}

Deno.test("OutboundQueue writes the first frame at once and joins frames queued meanwhile", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport);
  assert.equal(queue.push(bytes(1, 2)), true);
  // The first push starts a write straight away.
  assert.deepEqual(transport.calls, [bytes(1, 2)]);
  assert.equal(queue.push(bytes(3)), true);
  assert.equal(queue.push(bytes(4, 5, 6)), true);
  assert.equal(queue.push(bytes(7)), true);
  // Nothing more is written while the first write is in flight.
  assert.equal(transport.calls.length, 1);
  assert.equal(queue.queuedBytes, 7);
  transport.accept();
  await settle();
  // The three frames queued meanwhile go out as one write.
  assert.deepEqual(transport.calls, [bytes(1, 2), bytes(3, 4, 5, 6, 7)]);
  assert.equal(queue.queuedBytes, 5);
  transport.accept();
  await queue.drained();
  assert.equal(queue.queuedBytes, 0);
  assert.equal(transport.calls.length, 2);
  assert.deepEqual(transport.written, [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("OutboundQueue completes partial writes in order", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport);
  queue.push(bytes(1, 2, 3, 4));
  queue.push(bytes(5, 6));
  transport.accept(1);
  await settle();
  assert.deepEqual(transport.calls.at(-1), bytes(2, 3, 4));
  transport.accept(3);
  await settle();
  assert.deepEqual(transport.calls.at(-1), bytes(5, 6));
  transport.accept(1);
  await settle();
  transport.accept();
  await queue.drained();
  assert.deepEqual(transport.written, [1, 2, 3, 4, 5, 6]);
  assert.equal(queue.queuedBytes, 0);
});

Deno.test("OutboundQueue refuses a push that would exceed maxBytes, counting bytes in flight", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport, { maxBytes: 10 });
  assert.equal(queue.push(new Uint8Array(6)), true); // in flight
  assert.equal(queue.push(new Uint8Array(5)), false); // 6 + 5 > 10
  assert.equal(queue.queuedBytes, 6);
  assert.equal(queue.push(new Uint8Array(4)), true); // exactly 10
  assert.equal(queue.push(new Uint8Array(1)), false);
  assert.equal(queue.queuedBytes, 10);
  // A refused push is not a failure: once the peer reads, pushes fit again.
  assert.equal(queue.failed, false);
  transport.accept();
  await settle();
  assert.equal(queue.queuedBytes, 4);
  assert.equal(queue.push(new Uint8Array(6)), true);
  transport.accept();
  await settle();
  transport.accept();
  await queue.drained();
  assert.equal(transport.written.length, 16);
  // A single frame larger than the bound never fits.
  assert.equal(
    new OutboundQueue(new ManualTransport(), { maxBytes: 3 }).push(new Uint8Array(4)),
    false,
  );
});

Deno.test("OutboundQueue bound defaults to 1 MiB", () => {
  assert.equal(DEFAULT_MAX_QUEUE_BYTES, 1024 * 1024);
  const queue = new OutboundQueue(new ManualTransport());
  assert.equal(queue.push(new Uint8Array(DEFAULT_MAX_QUEUE_BYTES)), true);
  assert.equal(queue.push(new Uint8Array(1)), false);
});

Deno.test("OutboundQueue: a failing write calls onError once and later pushes return false", async () => {
  const transport = new ManualTransport();
  const errors: unknown[] = [];
  const queue = new OutboundQueue(transport, { onError: (error) => errors.push(error) });
  queue.push(bytes(1));
  queue.push(bytes(2));
  const broken = new Error("connection reset");
  transport.fail(broken);
  await queue.drained();
  assert.deepEqual(errors, [broken]);
  assert.equal(queue.failed, true);
  assert.equal(queue.queuedBytes, 0);
  // The frame queued behind the failed write is dropped, not written.
  assert.equal(transport.calls.length, 1);
  assert.equal(queue.push(bytes(3)), false);
  await queue.drained();
  assert.equal(transport.calls.length, 1);
  assert.equal(transport.pendingWrites, 0);
  assert.equal(errors.length, 1);
});

Deno.test("OutboundQueue: a write that throws synchronously is a failure too", async () => {
  const errors: unknown[] = [];
  const transport: Transport = {
    read: () => Promise.resolve(null),
    write: () => {
      throw new Deno.errors.BrokenPipe("gone");
    },
    close: () => {},
  };
  const queue = new OutboundQueue(transport, { onError: (error) => errors.push(error) });
  assert.equal(queue.push(bytes(1)), true);
  await queue.drained();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BrokenPipe);
  assert.equal(queue.push(bytes(2)), false);
});

Deno.test("OutboundQueue.drained resolves only once everything queued is written", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport);
  // Nothing queued: resolves at once.
  await queue.drained();
  queue.push(bytes(1));
  queue.push(bytes(2));
  let done = false;
  const drained = queue.drained().then(() => done = true);
  await settle();
  assert.equal(done, false);
  transport.accept();
  await settle();
  assert.equal(done, false); // the second batch is still in flight
  assert.equal(transport.pendingWrites, 1);
  transport.accept();
  await drained;
  assert.equal(done, true);
  assert.deepEqual(transport.written, [1, 2]);
  // The queue restarts its writer for later pushes.
  queue.push(bytes(3));
  assert.equal(transport.pendingWrites, 1);
  transport.accept();
  await queue.drained();
  assert.deepEqual(transport.written, [1, 2, 3]);
});

Deno.test("OutboundQueue keeps the byte order of many pushes across batches", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport);
  const expected: number[] = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i <= round % 4; i++) {
      const frame = bytes(round, i, 255 - round);
      expected.push(...frame);
      assert.equal(queue.push(frame), true);
    }
    if (transport.pendingWrites > 0) transport.accept(round % 3 === 0 ? 1 : undefined);
    await settle();
  }
  while (transport.pendingWrites > 0) {
    transport.accept();
    await settle();
  }
  await queue.drained();
  assert.deepEqual(transport.written, expected);
  assert.ok(transport.calls.length < 50, `${transport.calls.length} writes for 50 frames`);
});

Deno.test("OutboundQueue with start end-of-turn joins everything pushed in one turn into one write", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport, { scheduler: new FlushScheduler() });
  assert.equal(queue.push(bytes(1, 2)), true);
  assert.equal(queue.push(bytes(3)), true);
  // Nothing is written until the event-loop turn that queued it is over.
  assert.deepEqual(transport.calls, []);
  await new Promise((resolve) => setImmediate(resolve));
  await settle();
  assert.deepEqual(transport.calls, [bytes(1, 2, 3)]);
  // While that write is in flight, later pushes join the next write as usual.
  queue.push(bytes(4));
  transport.accept();
  await settle();
  assert.deepEqual(transport.calls, [bytes(1, 2, 3), bytes(4)]);
  transport.accept();
  await queue.drained();
  assert.deepEqual(transport.written, [1, 2, 3, 4]);
});

Deno.test("OutboundQueue with coalesceMs waits out the window after a write, then joins what came", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport, {
    scheduler: new FlushScheduler({ coalesceMs: 30 }),
  });
  await writeOnceAtEndOfTurn(queue, transport);
  const started = performance.now();
  queue.push(bytes(2));
  queue.push(bytes(3));
  await new Promise((resolve) => setTimeout(resolve, 5));
  // Within the window: nothing yet, however many turns pass.
  assert.equal(transport.calls.length, 1);
  queue.push(bytes(4));
  while (transport.calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(performance.now() - started >= 20, "waited for the window");
  assert.deepEqual(transport.calls[1], bytes(2, 3, 4));
  transport.accept();
  await queue.drained();
});

Deno.test("FlushScheduler.beforeNextTick runs a hook before the tick's writes, and what it pushes goes out in that tick", async () => {
  const scheduler = new FlushScheduler({ coalesceMs: 25 });
  // No clock armed: nothing to hook into.
  assert.equal(scheduler.beforeNextTick(() => {}), false);
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport, { scheduler });
  await writeOnceAtEndOfTurn(queue, transport);
  // Written just now: the next push waits for the clock, which is now armed.
  queue.push(bytes(2));
  const order: string[] = [];
  assert.equal(
    scheduler.beforeNextTick(() => {
      order.push(`hook saw ${transport.calls.length} writes`);
      // A reaction of the hook (as a commit's promise would be) still makes this tick.
      Promise.resolve().then(() => queue.push(bytes(3)));
    }),
    true,
  );
  while (transport.calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(order, ["hook saw 1 writes"]);
  assert.deepEqual(transport.calls[1], bytes(2, 3));
  transport.accept();
  await queue.drained();
});

Deno.test("beforeNextFlush falls back to the end of the turn when no clock is armed", async () => {
  let ran = false;
  new FlushScheduler({ coalesceMs: 25 }).beforeNextFlush(() => ran = true);
  assert.equal(ran, false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, true);
});

Deno.test("OutboundQueue: a quiet queue writes at the end of the turn even while another keeps the clock ticking", async () => {
  const busy = new ManualTransport();
  const quiet = new ManualTransport();
  const options = { scheduler: new FlushScheduler({ coalesceMs: 40 }) };
  const busyQueue = new OutboundQueue(busy, options);
  const quietQueue = new OutboundQueue(quiet, options);
  quietQueue.push(bytes(1));
  await new Promise((resolve) => setImmediate(resolve));
  quiet.accept();
  // The quiet queue's last write is now more than a period old.
  await new Promise((resolve) => setTimeout(resolve, 60));
  busyQueue.push(bytes(2));
  await new Promise((resolve) => setImmediate(resolve));
  busy.accept();
  await settle();
  busyQueue.push(bytes(3)); // within the period: waits for the tick, which is now armed
  const started = performance.now();
  quietQueue.push(bytes(4));
  while (quiet.calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(performance.now() - started < 30, "the quiet queue did not wait for the tick");
  assert.equal(busy.calls.length, 1, "the busy queue still waits");
  quiet.accept();
  while (busy.calls.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  busy.accept();
  await Promise.all([busyQueue.drained(), quietQueue.drained()]);
});

Deno.test("OutboundQueue with coalesceFromFrames waits for ticks only while enough frames go out", async () => {
  const transport = new ManualTransport();
  const queue = new OutboundQueue(transport, {
    scheduler: new FlushScheduler({ coalesceMs: 40, coalesceFromFrames: 20 }),
  });
  /** Pushes `frames`, waits for their write, lets the peer take it; how long the write took to start. */
  const send = async (...frames: number[]): Promise<number> => {
    const calls = transport.calls.length;
    const started = performance.now();
    for (const frame of frames) queue.push(bytes(frame));
    while (transport.calls.length === calls) await new Promise((resolve) => setTimeout(resolve, 1));
    const waited = performance.now() - started;
    transport.accept();
    await settle();
    return waited;
  };
  // Few frames: each write goes out at the end of its turn, even right after another.
  await send(1);
  assert.ok(await send(2) < 25, "a lightly loaded queue does not wait for the window");
  // Many frames in one window: from the next measurement on, busy queues wait for ticks.
  await send(...Array.from({ length: 30 }, (_, i) => i));
  await new Promise((resolve) => setTimeout(resolve, 45)); // the window ends
  await send(3); // measured here: 32 frames in a little more than a window
  assert.ok(await send(4) >= 25, "a busy queue waits for the window once the load is high");
  // Quiet again for a while: back to writing at the end of the turn.
  await new Promise((resolve) => setTimeout(resolve, 100));
  await send(5);
  assert.ok(await send(6) < 25, "back to end-of-turn writes when the load drops");
  await queue.drained();
});
