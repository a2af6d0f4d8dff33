/**
 * Conformance over real TCP where docs/protocol.md and the server once
 * disagreed: each test checks what the server does on the wire and that
 * the document says so, in the place a client author reads it.
 */
import assert from "node:assert/strict";
import { Peer, TextPeer } from "./support/peer.ts";
import { docSection, errorTable, flat } from "./support/protocol_doc.ts";
import { listenRelaxed } from "./support/test_server.ts";

Deno.test("a body that is missing, not a string or empty is invalid_body, as the error table says", async () => {
  await using server = await listenRelaxed();
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const bodies = [{}, { body: null }, { body: 5 }, { body: "" }, { body: " \n\t" }];
  for (
    const request of [{ type: "say", room: "dev" }, { type: "dm", to: "alice" }, {
      type: "broadcast",
    }]
  ) {
    for (const body of bodies) {
      const reply = await alice.request({ ...request, ...body });
      assert.equal(reply.code, "invalid_body", JSON.stringify({ ...request, ...body }));
    }
  }
  // Topics and reasons are checked the same way.
  assert.equal(
    (await alice.request({ type: "topic", room: "dev", topic: 5 })).code,
    "invalid_body",
  );
  assert.equal((await alice.request({ type: "quit", reason: [] })).code, "invalid_body");
  // Any other field missing is bad_request.
  assert.equal((await alice.request({ type: "say", body: "hi" })).code, "bad_request");
  const table = errorTable();
  assert.match(table.get("invalid_body")!, /missing, not a string, empty/);
  assert.match(table.get("bad_request")!, /except a body, topic or reason/);
  assert.match(
    flat(docSection("## 7. Names and text")),
    /A `body` that is missing or not a string is `invalid_body` too/,
  );
});

Deno.test("plain text writes a body's TAB as is, a newline as an indented continuation, the rest made visible", async () => {
  await using server = await listenRelaxed({ textPromptDelayMs: 50 });
  await using carol = await TextPeer.connect(server.addr.port);
  carol.write("carol\n/join dev\n");
  await carol.waitFor("--- Now talking in #dev");
  await using bob = await Peer.join(server.addr.port, "bob");
  await bob.request({ type: "join", room: "dev" });
  // Bidi controls and zero-width characters are allowed in bodies; controls but these two are not.
  const body = "col\tumn\u202Eevil\u200Bgap\nnext\tline";
  assert.equal((await bob.request({ type: "say", room: "dev", body })).type, "ack");
  await carol.waitFor("next\tline\r\n");
  assert.match(carol.text, /<bob> col\tumn<U\+202E>evil<U\+200B>gap\r\n {4}next\tline\r\n/);
  const output = flat(docSection("## 17. Plain-text mode"));
  assert.match(output, /a TAB is written as is/);
  assert.match(output, /a newline ends the line, its continuation line indented by four spaces/);
});
