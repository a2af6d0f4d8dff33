import assert from "node:assert/strict";
import { encodeFrame } from "../shared/frame.ts";
import { FrameScanner } from "../bench/frame_scanner.ts";
import { LineScanner } from "../bench/line_scanner.ts";
import { makeBody } from "../bench/message_body.ts";
import { concatBytes } from "../shared/bytes.ts";

// Ten room messages sent at 1000, 1001, … ms, between a reply and a ping.
function frames(): Uint8Array[] {
  return [
    encodeFrame({ type: "ack", id: 1, result: {} }),
    ...Array.from({ length: 10 }, (_, i) =>
      encodeFrame({
        type: "message",
        room: "bench",
        from: "s0",
        body: makeBody(1000 + i, 64),
        id: i + 1,
        ts: 0,
      })),
    encodeFrame({ type: "ping" }),
  ];
}

function lines(): Uint8Array {
  const text = [
    "--- Now talking in #bench",
    ...Array.from({ length: 10 }, (_, i) => `[12:00:00] #bench <s0> ${makeBody(1000 + i, 64)}`),
    "! bad_request: nope",
  ].join("\n") + "\n";
  return new TextEncoder().encode(text);
}

Deno.test("FrameScanner counts frames fed one byte at a time", () => {
  const scanner = new FrameScanner();
  for (const byte of concatBytes(frames())) scanner.push(Uint8Array.of(byte), 2000);
  assert.deepEqual(
    [scanner.frames, scanner.messages, scanner.replies, scanner.pings, scanner.errors],
    [12, 10, 1, 1, 0],
  );
});

Deno.test("FrameScanner samples every n-th message after the warm-up, with its latency", () => {
  const latencies: number[] = [];
  const scanner = new FrameScanner({
    sampleEvery: 2,
    skipSamples: 4,
    onSample: (ms) => latencies.push(ms),
  });
  scanner.push(concatBytes(frames()), 2000);
  // Messages 0–3 are the warm-up; of the rest every second one (4, 6, 8).
  assert.deepEqual(latencies, [996, 994, 992]);
});

Deno.test("LineScanner counts lines fed one byte at a time and samples after the warm-up", () => {
  const byByte = new LineScanner();
  for (const byte of lines()) byByte.push(Uint8Array.of(byte), 2000);
  assert.deepEqual(
    [byByte.lines, byByte.messages, byByte.replies, byByte.errors],
    [12, 10, 2, 1],
  );
  const latencies: number[] = [];
  const scanner = new LineScanner({
    sampleEvery: 3,
    samplePhase: 1,
    skipSamples: 3,
    onSample: (ms) => latencies.push(ms),
  });
  scanner.push(lines(), 2000);
  // Indices with (index + 1) % 3 === 0 after the first three: 5 and 8.
  assert.deepEqual(latencies, [995, 992]);
});
