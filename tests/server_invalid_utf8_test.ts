import assert from "node:assert/strict";
import { InvalidTextFrame } from "../shared/frame.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { startHttp, WsPeer, wsUrl } from "./support/http_fixture.ts";
import { frameWithRawString, utf8 } from "./support/raw_text.ts";

// What a lenient decoder would turn into something: each must be refused.
const BAD_BODIES: Array<[string, number[]]> = [
  ["a lone surrogate", [...utf8("evil "), 0xed, 0xa0, 0x80]],
  ["an overlong slash", [...utf8("../.."), 0xc0, 0xaf, ...utf8("etc")]],
  ["a lone surrogate in a long body", [...utf8("x".repeat(300)), 0xed, 0xbf, 0xbf]],
  ["an overlong form in a long body", [0xe0, 0x80, 0xaf, ...utf8("y".repeat(300))]],
];

/** Every message `witness` got, after a message of its own proves the earlier ones are in. */
async function messagesSeen(witness: Peer, room: string): Promise<Frame[]> {
  const ack = await witness.request({ type: "say", room, body: "barrier" });
  assert.equal(ack.type, "ack");
  await witness.next((f) => f.type === "message" && f.id === ack.result.id);
  assert.deepEqual(witness.all((f) => f instanceof InvalidTextFrame), []);
  return witness.all((f) => f.type === "message" && f.body !== "barrier");
}

Deno.test("a say whose body is not UTF-8 is refused by id and never reaches the room: framed, text, WebSocket, REST", async () => {
  await using http = await startHttp();
  const port = http.server.addr.port;
  await using alice = await Peer.join(port, "alice");
  await alice.request({ type: "join", room: "general" });

  // Framed over TCP: each bad say is answered by its id; the connection stays.
  await using mallory = await Peer.join(port, "mallory");
  await mallory.request({ type: "join", room: "general" });
  let id = 100;
  for (const [what, body] of BAD_BODIES) {
    mallory.sendRaw(frameWithRawString({ type: "say", id: ++id, room: "general" }, "body", body));
    const reply = await mallory.next((f) =>
      f.id === id && (f.type === "error" || f.type === "ack")
    );
    assert.deepEqual([reply.type, reply.code], ["error", "invalid_utf8"], what);
    assert.match(reply.message, /not valid UTF-8: byte 0x(ED|C0|E0) at offset \d+/);
  }
  assert.equal(
    (await mallory.request({ type: "say", room: "general", body: "framed ok" })).type,
    "ack",
  );

  // Plain text: the line is dropped with an error line; the next line is said.
  await using trudy = await TextPeer.connect(port);
  trudy.write("trudy\n/join general\n");
  await trudy.waitFor("Now talking in #general");
  for (const [, body] of BAD_BODIES) {
    await trudy.conn.write(Uint8Array.from([...body, 0x0a]));
  }
  trudy.write("text ok\n");
  await trudy.waitFor("text ok");
  assert.equal(trudy.text.match(/! invalid_utf8: Line is not valid UTF-8/g)?.length, 4, trudy.text);

  // WebSocket: the same frames in binary messages.
  await using walter = await WsPeer.join(wsUrl(http), "walter");
  await walter.request({ type: "join", room: "general" });
  for (const [what, body] of BAD_BODIES) {
    walter.socket.send(
      frameWithRawString({ type: "say", id: ++id, room: "general" }, "body", body),
    );
    const reply = await walter.next((f) => f.id === id && (f.type === "error" || f.type === "ack"));
    assert.deepEqual([reply.type, reply.code], ["error", "invalid_utf8"], what);
  }
  assert.equal((await walter.request({ type: "say", room: "general", body: "ws ok" })).type, "ack");

  // REST: a JSON escape for a lone surrogate, and raw bytes that are not UTF-8.
  const escaped = await http.api("POST", "/api/v1/rooms/general/messages", {
    body: '{"body": "evil \\ud800"}',
  });
  assert.deepEqual([escaped.status, escaped.json.error?.code], [400, "invalid_utf8"]);
  assert.match(escaped.json.error.message, /lone surrogate U\+D800/);
  for (const [what, body] of BAD_BODIES) {
    const response = await fetch(`${http.base}/api/v1/rooms/general/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${http.key}`, "content-type": "application/json" },
      body: Uint8Array.from([...utf8('{"body": "'), ...body, ...utf8('"}')]),
    });
    const json = await response.json();
    assert.deepEqual([response.status, json.error?.code], [400, "invalid_utf8"], what);
  }
  const posted = await http.api("POST", "/api/v1/rooms/general/messages", {
    body: { body: "rest ok" },
  });
  assert.equal(posted.status, 201);

  // The room saw the four good messages and nothing else.
  const seen = await messagesSeen(alice, "general");
  assert.deepEqual(seen.map((m) => m.body), ["framed ok", "text ok", "ws ok", "rest ok"]);
});

Deno.test("a hello or nick with a name that is not UTF-8 is refused; nobody sees it", async () => {
  await using http = await startHttp();
  const port = http.server.addr.port;
  await using alice = await Peer.join(port, "alice");
  await alice.request({ type: "join", room: "general" });
  await using mallory = await Peer.connect(port);
  // An overlong "a" would decode to "alice" with a lenient decoder.
  const hello = { type: "hello", protocol: "1.0", client: "t", clientVersion: "0" };
  mallory.sendRaw(frameWithRawString(hello, "nick", [0xc1, 0xa1, ...utf8("lice")]));
  const refused = await mallory.next((f) => f.type === "error");
  assert.deepEqual([refused.code, refused.id], ["invalid_utf8", undefined]);
  // The connection stays open for a proper hello.
  mallory.send({ ...hello, nick: "mallory" });
  await mallory.next((f) => f.type === "welcome");
  await mallory.request({ type: "join", room: "general" });
  mallory.sendRaw(frameWithRawString({ type: "nick", id: 5 }, "nick", [0x62, 0xed, 0xa0, 0x80]));
  const renamed = await mallory.next((f) => f.id === 5);
  assert.deepEqual([renamed.type, renamed.code], ["error", "invalid_utf8"]);
  await messagesSeen(alice, "general");
  assert.deepEqual(alice.all((f) => f.type === "nick"), []);
});
