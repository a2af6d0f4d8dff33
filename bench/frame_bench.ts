/**
 * Micro-benchmarks of the framing layer (shared/frame.ts): encoding one
 * event, and decoding frames one at a time or many per chunk.
 *
 * @module
 */
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";

const MESSAGE = {
  type: "message",
  room: "bench",
  from: "s0",
  body: "x".repeat(64),
  id: 123456,
  ts: 1_700_000_000_000,
};
const BIG_MESSAGE = { ...MESSAGE, body: "y".repeat(4000) };
const SAY = { type: "say", id: 42, room: "bench", body: "x".repeat(64) };
const SAY_FRAME = encodeFrame(SAY);
const CHUNK_OF_100 = new Uint8Array(SAY_FRAME.length * 100);
for (let i = 0; i < 100; i++) CHUNK_OF_100.set(SAY_FRAME, i * SAY_FRAME.length);

Deno.bench("encodeFrame: room message, 64-byte body", { group: "encode", baseline: true }, () => {
  encodeFrame(MESSAGE);
});

Deno.bench("encodeFrame: room message, 4000-byte body", { group: "encode" }, () => {
  encodeFrame(BIG_MESSAGE);
});

const decoder = new FrameDecoder();

Deno.bench("FrameDecoder: one say frame per chunk", { group: "decode", baseline: true }, () => {
  for (const _ of decoder.push(SAY_FRAME)) { /* consume */ }
});

Deno.bench("FrameDecoder: 100 say frames in one chunk (per chunk)", { group: "decode" }, () => {
  for (const _ of decoder.push(CHUNK_OF_100)) { /* consume */ }
});

Deno.bench("FrameDecoder: say frame split in two chunks", { group: "decode" }, () => {
  for (const _ of decoder.push(SAY_FRAME.subarray(0, 10))) { /* consume */ }
  for (const _ of decoder.push(SAY_FRAME.subarray(10))) { /* consume */ }
});
