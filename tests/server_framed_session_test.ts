/**
 * The last line of defence of a framed session: a frame longer than the cap
 * the server announced never goes out; an `internal` error does instead.
 */
import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { Delivery } from "../server/chat/delivery.ts";
import { FramedSession } from "../server/session/framed_session.ts";
import { FrameDecoder } from "../shared/frame.ts";
import { ConformanceCheck } from "./support/conformance.ts";
import type { Frame } from "./support/peer.ts";
import { ManualTransport } from "./support/manual_transport.ts";
import { sessionContext } from "./support/test_server.ts";

const T0 = 1_700_000_000_000;

Deno.test("a frame over the announced cap is never sent: an internal error goes out instead", async () => {
  await using server = await ChatServer.listen({ host: "127.0.0.1", port: 0 });
  const transport = new ManualTransport();
  const session = new FramedSession(transport, sessionContext(server), "192.0.2.1");
  session.deliver(new Delivery({ type: "notice", body: "x".repeat(70_000), ts: T0 }));
  session.deliver(new Delivery({ type: "notice", body: "fits", ts: T0 }));
  const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
  const frames: Frame[] = [];
  const conformance = new ConformanceCheck();
  while (frames.length < 2) {
    while (transport.pendingWrites === 0) await new Promise((resolve) => setImmediate(resolve));
    const bytes = transport.calls[transport.calls.length - transport.pendingWrites]!;
    transport.accept();
    for (const value of decoder.push(bytes)) {
      conformance.received(value);
      frames.push(value as Frame);
    }
  }
  conformance.assertConforms();
  assert.deepEqual(frames.map((frame) => [frame.type, frame.code ?? frame.body]), [
    ["error", "internal"],
    ["notice", "fits"],
  ]);
  assert.equal(session.closed, false);
  session.abort("test over");
});
