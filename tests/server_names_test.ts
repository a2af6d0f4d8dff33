/**
 * Names as docs/protocol.md section 7 states them: the character classes of
 * nicknames and room names, the name key (NFKC, full case folding, NFKC) as
 * the identity of users, accounts and rooms, and the order of `rooms`,
 * `users`, `who` and `join.members` (name keys, code point by code point).
 */
import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { type Frame, Peer } from "./support/peer.ts";

function listen(): Promise<ChatServer> {
  return ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    rateBurst: 10_000,
    ratePerSecond: 10_000,
  });
}

async function helloReply(port: number, nick: string): Promise<Frame> {
  await using peer = await Peer.connect(port);
  return await peer.hello(nick);
}

Deno.test("nicknames: a letter or _ first, then letters, numbers and _-[]\\`^{}|; no marks", async () => {
  await using server = await listen();
  const port = server.addr.port;
  for (const nick of ["_x", "a-b[c]d\\e`f^g{h}i|j", "Zoë", "名前", "x１"]) {
    const reply = await helloReply(port, nick);
    assert.equal(reply.type, "welcome", `${nick}: ${reply.message}`);
  }
  for (const nick of ["1abc", "-abc", "a.b", "a b", "a@b", "नमस्ते", "e\u20dd"]) {
    const reply = await helloReply(port, nick);
    assert.deepEqual([reply.type, reply.code], ["error", "invalid_name"], nick);
  }
  // Composed by NFKC first: e + U+0301 is é, a letter.
  assert.equal((await helloReply(port, "Rene\u0301")).nick, "René");
});

Deno.test("room names: a letter, number or _ first, then letters, numbers and _-.", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  for (const room of ["#1st.floor", "a_b-c.d", "＃café"]) {
    const reply = await alice.request({ type: "join", room });
    assert.equal(reply.type, "ack", `${room}: ${reply.message}`);
  }
  for (const room of ["#.x", "-x", "a[b]", "a|b", "##x"]) {
    const reply = await alice.request({ type: "join", room });
    assert.deepEqual([reply.type, reply.code], ["error", "invalid_room"], room);
  }
});

Deno.test("the name key folds fully: STRASSE logs in to the account straße, İ is i + U+0307", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await server.accounts.create("straße", "correct horse");
  // Without the password the name is the account's, in any case.
  assert.equal((await helloReply(port, "STRASSE")).code, "auth_required");
  await using owner = await Peer.join(port, "STRASSE", { password: "correct horse" });
  await using bob = await Peer.join(port, "bob");
  // One user: a DM to either spelling reaches the one account.
  assert.equal((await bob.request({ type: "dm", to: "Strasse", body: "hi" })).type, "ack");
  const dm = await owner.next((frame) => frame.type === "dm");
  assert.equal(dm.body, "hi");
  // Guests: İstanbul and ISTANBUL are two names (İ folds to i + U+0307), İSTANBUL is the first.
  await using turkish = await Peer.join(port, "İstanbul");
  await using other = await Peer.join(port, "ISTANBUL");
  assert.equal((await helloReply(port, "İSTANBUL")).code, "name_taken");
  // Rooms: one room for #Fußball and #FUSSBALL, spelled as it was first joined.
  assert.equal((await turkish.request({ type: "join", room: "#Fußball" })).result.room, "Fußball");
  const same = await other.request({ type: "join", room: "#FUSSBALL" });
  assert.equal(same.result.room, "Fußball");
  // istanbul before i + U+0307 + stanbul: s (U+0073) is before U+0307.
  assert.deepEqual(same.result.members, ["ISTANBUL", "İstanbul"]);
});

Deno.test("rooms, users, who and join.members are in name-key order, code point by code point", async () => {
  await using server = await listen();
  const port = server.addr.port;
  // Keys: alice, strasse, strat, zed, émile (U+00E9), ωμέγα (U+03C9). Under lower case only,
  // Straße (ß is U+00DF) would sort after zed.
  const nicks = ["zed", "Ωμέγα", "Strat", "émile", "Straße", "alice"];
  const sorted = ["alice", "Straße", "Strat", "zed", "émile", "Ωμέγα"];
  const peers: Peer[] = [];
  try {
    for (const nick of nicks) {
      const peer = await Peer.join(port, nick);
      peers.push(peer);
      assert.equal((await peer.request({ type: "join", room: "#lobby" })).type, "ack");
      assert.equal((await peer.request({ type: "join", room: `#${nick}_1` })).type, "ack");
    }
    const viewer = peers[0]!;
    assert.deepEqual((await viewer.request({ type: "users" })).result.users, sorted);
    assert.deepEqual((await viewer.request({ type: "who", room: "lobby" })).result.members, sorted);
    await using late = await Peer.join(port, "ÆON"); // key æon: U+00E6, before émile
    const joined = await late.request({ type: "join", room: "lobby" });
    assert.deepEqual(joined.result.members, [...sorted.slice(0, 4), "ÆON", ...sorted.slice(4)]);
    const rooms = (await viewer.request({ type: "rooms" })).result.rooms as Frame[];
    assert.deepEqual(
      rooms.map((room) => room.name),
      ["alice_1", "lobby", "Straße_1", "Strat_1", "zed_1", "émile_1", "Ωμέγα_1"],
    );
    // The cursor is a name in any spelling: after STRASSE_1 comes Strat_1.
    const page = await viewer.request({ type: "rooms", after: "STRASSE_1", limit: 1 });
    assert.deepEqual(page.result.rooms.map((room: Frame) => room.name), ["Strat_1"]);
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});
