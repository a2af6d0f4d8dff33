/**
 * The flush scheduler driven by hand (manual timers): when queues write,
 * the phase of the coalescing clock, hooks before a tick, and coalescing
 * switched on and off by the load.
 */
import assert from "node:assert/strict";
import { FlushScheduler } from "../shared/flush_scheduler.ts";
import { OutboundQueue } from "../shared/outbound_queue.ts";
import { ManualTimers, settle } from "./support/manual_timers.ts";
import { ManualTransport } from "./support/manual_transport.ts";

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function setup(options: { coalesceMs?: number; coalesceFromFrames?: number } = {}) {
  const timers = new ManualTimers();
  const scheduler = new FlushScheduler({ ...options, timers });
  const queue = (transport = new ManualTransport()) => ({
    transport,
    queue: new OutboundQueue(transport, { scheduler }),
  });
  return { timers, scheduler, queue };
}

Deno.test("FlushScheduler: without a window every queue writes at the end of the turn, never on a timer", async () => {
  const { timers, queue } = setup();
  const a = queue();
  const b = queue();
  a.queue.push(bytes(1));
  a.queue.push(bytes(2));
  b.queue.push(bytes(3));
  assert.deepEqual(a.transport.calls, [], "nothing before the turn ends");
  await timers.endTurn();
  assert.deepEqual(a.transport.calls, [bytes(1, 2)]);
  assert.deepEqual(b.transport.calls, [bytes(3)]);
  a.transport.accept();
  await settle();
  a.queue.push(bytes(4));
  await timers.endTurn();
  assert.deepEqual(
    a.transport.calls[1],
    bytes(4),
    "right after a write, still the end of the turn",
  );
  assert.equal(timers.armed, 0);
});

Deno.test("FlushScheduler: a queue that wrote within the window waits for the tick, one period after the last", async () => {
  const { timers, queue } = setup({ coalesceMs: 10 });
  const { transport, queue: q } = queue();
  q.push(bytes(1));
  await timers.endTurn();
  transport.accept();
  await settle();
  await timers.advance(3);
  q.push(bytes(2));
  await timers.endTurn();
  assert.equal(transport.calls.length, 1, "busy: it waits for the tick");
  await timers.advance(6); // t = 9
  assert.equal(transport.calls.length, 1);
  q.push(bytes(3));
  await timers.advance(1); // t = 10: the tick
  assert.deepEqual(transport.calls[1], bytes(2, 3));
  transport.accept();
  await settle();
  // Within the next period again: the next tick keeps the phase (t = 20).
  await timers.advance(4);
  q.push(bytes(4));
  await timers.advance(5); // t = 19
  assert.equal(transport.calls.length, 2);
  await timers.advance(1); // t = 20
  assert.deepEqual(transport.calls[2], bytes(4));
});

Deno.test("FlushScheduler: a quiet queue is written at the end of the turn while a busy one waits for the tick", async () => {
  const { timers, queue } = setup({ coalesceMs: 10 });
  const busy = queue();
  const quiet = queue();
  busy.queue.push(bytes(1));
  await timers.endTurn();
  busy.transport.accept();
  await settle();
  await timers.advance(2);
  busy.queue.push(bytes(2));
  quiet.queue.push(bytes(3));
  await timers.endTurn();
  assert.deepEqual(quiet.transport.calls, [bytes(3)]);
  assert.equal(busy.transport.calls.length, 1);
  await timers.advance(8);
  assert.deepEqual(busy.transport.calls[1], bytes(2));
});

Deno.test("FlushScheduler.beforeNextFlush runs at the end of the turn, or before an armed tick's writes", async () => {
  const { timers, scheduler, queue } = setup({ coalesceMs: 10 });
  const order: string[] = [];
  scheduler.beforeNextFlush(() => order.push("no tick: end of turn"));
  assert.equal(order.length, 0);
  await timers.endTurn();
  assert.equal(order[0], "no tick: end of turn");
  const { transport, queue: q } = queue();
  q.push(bytes(1));
  await timers.endTurn();
  transport.accept();
  await settle();
  q.push(bytes(2)); // busy: arms the tick
  await timers.endTurn();
  scheduler.beforeNextFlush(() => {
    order.push(`hook at the tick, ${transport.calls.length} writes so far`);
    // A reaction of the hook (as a commit's would be) still makes the tick.
    Promise.resolve().then(() => q.push(bytes(3)));
  });
  await timers.endTurn();
  assert.equal(order.length, 1, "armed: the hook waits for the tick");
  await timers.advance(10);
  assert.equal(order[1], "hook at the tick, 1 writes so far");
  assert.deepEqual(transport.calls[1], bytes(2, 3));
});

Deno.test("FlushScheduler with coalesceFromFrames: ticks only from that many frames a window, off again below three quarters", async () => {
  const { timers, queue } = setup({ coalesceMs: 10, coalesceFromFrames: 8 });
  const { transport, queue: q } = queue();
  /** Pushes `count` frames, ends the turn; whether they went out then (else they wait for a tick). */
  const sendNow = async (count: number): Promise<boolean> => {
    const calls = transport.calls.length;
    for (let i = 0; i < count; i++) q.push(bytes(i));
    await timers.endTurn();
    const wrote = transport.calls.length > calls;
    if (wrote) {
      transport.accept();
      await settle();
    }
    return wrote;
  };
  assert.equal(await sendNow(1), true);
  await timers.advance(1);
  assert.equal(await sendNow(1), true, "light load: no waiting right after a write");
  await timers.advance(10); // t = 11: this flush measures 12 frames in 11 ms
  assert.equal(await sendNow(10), true, "measured after it was scheduled");
  await timers.advance(1);
  assert.equal(await sendNow(1), false, "busy and loaded: waits for the tick");
  await timers.advance(9); // t = 21: the tick writes, and measures 1 frame in the window
  assert.equal(transport.calls.length, 4);
  transport.accept();
  await settle();
  await timers.advance(1);
  assert.equal(await sendNow(1), true, "below three quarters: back to end-of-turn writes");
});

Deno.test("FlushScheduler refuses a negative window", () => {
  assert.throws(() => new FlushScheduler({ coalesceMs: -1 }), RangeError);
});
