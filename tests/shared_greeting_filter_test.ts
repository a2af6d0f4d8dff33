import assert from "node:assert/strict";
import { ChatError } from "../shared/errors.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { GreetingFilter, MAX_GREETING_BYTES } from "../shared/greeting_filter.ts";

const GREETING = new TextEncoder().encode("chat 1.0, plain-text mode.\r\nNickname: ");

Deno.test("GreetingFilter drops the greeting however it is split and passes the frames whole", () => {
  const stream = new Uint8Array([...GREETING, ...encodeFrame({ type: "welcome" })]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const filter = new GreetingFilter();
    const decoder = new FrameDecoder();
    const values = [
      ...decoder.push(filter.push(stream.subarray(0, cut))),
      ...decoder.push(filter.push(stream.subarray(cut))),
    ];
    assert.deepEqual(values, [{ type: "welcome" }], `cut at ${cut}`);
    assert.equal(filter.discarded, GREETING.length);
  }
});

Deno.test("GreetingFilter passes a stream without a greeting untouched, and everything after the first frame", () => {
  const filter = new GreetingFilter();
  const frame = encodeFrame({ type: "ping" });
  assert.equal(filter.push(frame), frame);
  // Later bytes are frame bytes whatever they are.
  const later = new TextEncoder().encode("not a greeting");
  assert.equal(filter.push(later), later);
  assert.equal(filter.discarded, 0);
});

Deno.test("GreetingFilter refuses more than the greeting limit before any frame", () => {
  const filter = new GreetingFilter();
  assert.equal(filter.push(new Uint8Array(MAX_GREETING_BYTES).fill(0x41)).length, 0);
  assert.throws(
    () => filter.push(Uint8Array.of(0x41)),
    (error) =>
      error instanceof ChatError && error.code === "bad_frame" &&
      /1025 bytes before the first frame exceed the greeting limit of 1024/.test(error.message),
  );
});
