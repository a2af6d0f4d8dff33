import assert from "node:assert/strict";
import { EventQueue } from "../client/event_queue.ts";
import { LineReader } from "../client/line_reader.ts";

Deno.test("EventQueue hands items to a waiting consumer and ends after the buffer", async () => {
  const queue = new EventQueue<number>();
  const seen: number[] = [];
  const reading = (async () => {
    for await (const item of queue) seen.push(item);
  })();
  queue.push(1);
  queue.push(2);
  queue.end();
  queue.push(3); // After end: ignored.
  await reading;
  assert.deepEqual(seen, [1, 2]);
});

Deno.test("EventQueue drops the oldest items beyond its bound and counts them", async () => {
  const queue = new EventQueue<number>({ maxItems: 2 });
  for (let i = 1; i <= 5; i++) queue.push(i);
  queue.end();
  assert.equal(queue.dropped, 3);
  assert.deepEqual(await Array.fromAsync(queue), [4, 5]);
});

Deno.test("EventQueue allows one loop at a time; a later loop continues", async () => {
  const queue = new EventQueue<number>();
  queue.push(1);
  queue.push(2);
  for await (const item of queue) {
    assert.equal(item, 1);
    assert.throws(() => queue[Symbol.asyncIterator](), /already reading/);
    break;
  }
  queue.end();
  assert.deepEqual(await Array.fromAsync(queue), [2]);
});

Deno.test("LineReader splits on LF and CRLF, keeps a last line without newline", async () => {
  const reader = new LineReader(new Blob(["one\r\ntwo\n\nthr", "ee"]).stream());
  const lines: Array<string | null> = [];
  for (let i = 0; i < 5; i++) lines.push(await reader.next());
  assert.deepEqual(lines, ["one", "two", "", "three", null]);
});

Deno.test("LineReader.cancel ends a pending read", async () => {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const reader = new LineReader(readable);
  const pending = reader.next();
  await reader.cancel();
  assert.equal(await pending, null);
  await writer.close().catch(() => {});
});
