/**
 * Sessions in process, fed one byte at a time as a slow or hostile peer
 * would send them: frames and lines split anywhere (inside a length, a
 * multi-byte character, a CRLF) mean the same as sent whole. The writer is
 * a {@linkcode ManualTransport}: the test is the peer that reads.
 */
import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { FramedSession } from "../server/session/framed_session.ts";
import type { Session } from "../server/session/session.ts";
import { TextSession } from "../server/session/text_session.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { ConformanceCheck } from "./support/conformance.ts";
import { ManualTransport } from "./support/manual_transport.ts";
import { sessionContext } from "./support/test_server.ts";
import type { Frame } from "./support/peer.ts";

/** Feeds `bytes` one at a time, waiting whenever the session asks to (as the server's pump does). */
async function feedBytewise(session: Session, bytes: Uint8Array): Promise<void> {
  for (let index = 0; index < bytes.length; index++) {
    const busy = session.receive(bytes.subarray(index, index + 1));
    if (busy !== undefined) await busy;
  }
}

/** Accepts every write until `done` says the bytes so far are enough (bounded by turns, not time). */
async function readUntil(
  transport: ManualTransport,
  done: (written: Uint8Array) => boolean,
): Promise<Uint8Array> {
  for (let turn = 0; turn < 10_000; turn++) {
    while (transport.pendingWrites > 0) transport.accept();
    const written = new Uint8Array(transport.written);
    if (done(written)) return written;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(
    `not there yet; written: ${new TextDecoder().decode(new Uint8Array(transport.written))}`,
  );
}

Deno.test("a framed session fed one byte at a time answers as if each frame came whole", async () => {
  await using server = await ChatServer.listen({ host: "127.0.0.1", port: 0 });
  const transport = new ManualTransport();
  const session = new FramedSession(transport, sessionContext(server), "192.0.2.1");
  session.start();
  const requests = [
    { type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "Zoë" },
    { type: "join", id: 1, room: "café" },
    { type: "say", id: 2, room: "café", body: "naïve \u{1F600}" },
  ];
  const bytes = new Uint8Array(requests.flatMap((request) => [...encodeFrame(request)]));
  await feedBytewise(session, bytes);
  const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
  const conformance = new ConformanceCheck();
  const frames: Frame[] = [];
  let seen = 0;
  await readUntil(transport, (written) => {
    for (const value of decoder.push(written.subarray(seen))) {
      conformance.received(value);
      frames.push(value as Frame);
    }
    seen = written.length;
    return frames.some((frame) => frame.type === "ack" && frame.id === 2);
  });
  conformance.assertConforms();
  assert.deepEqual(frames.map((frame) => [frame.type, frame.id ?? frame.body ?? frame.nick]), [
    ["welcome", "Zoë"],
    ["join", "Zoë"],
    ["ack", 1],
    ["message", 1],
    ["ack", 2],
  ]);
  assert.equal(frames[3]!.body, "naïve \u{1F600}");
  session.abort("test over");
});

Deno.test("a plain-text session fed one byte at a time reads its lines whole, CRLF and UTF-8 included", async () => {
  await using server = await ChatServer.listen({ host: "127.0.0.1", port: 0 });
  const transport = new ManualTransport();
  const session = new TextSession(transport, sessionContext(server), "192.0.2.1");
  session.start();
  const input = new TextEncoder().encode("Zoë\r\n/join café\r\nnaïve \u{1F600}\n");
  await feedBytewise(session, input);
  const text = new TextDecoder().decode(
    await readUntil(
      transport,
      (written) => new TextDecoder().decode(written).includes("\u{1F600}"),
    ),
  );
  assert.match(text, /Welcome, Zoë!/);
  assert.match(text, /--> Zoë joined #café\r\n/);
  assert.match(text, /#café #1 <Zoë> naïve \u{1F600}\r\n/u);
  assert.doesNotMatch(text, /!\s*\w+:/); // no error line
  session.abort("test over");
});
