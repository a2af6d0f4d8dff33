import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { ApiKeyService } from "../server/http/api_key_service.ts";
import { Peer, TextPeer } from "./support/peer.ts";
import { startHttp } from "./support/http_fixture.ts";
import { RedisServer } from "./support/redis_server.ts";

const FAST_KDF = { kdfLogN: 10 };

function listen(): Promise<ChatServer> {
  return ChatServer.listen({ host: "127.0.0.1", port: 0, textPromptDelayMs: 100, ...FAST_KDF });
}

/** The error a hello as `nick` gets (the connection is closed after). */
async function helloRefusal(port: number, nick: string) {
  await using peer = await Peer.connect(port);
  peer.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick });
  return await peer.next((f) => f.type === "error" || f.type === "welcome");
}

Deno.test("a nickname that looks like one online is refused with name_taken, naming it", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await using ian = await Peer.join(port, "Ian");
  await using coco = await Peer.join(port, "coco");
  for (
    const [nick, like] of [["lan", "Ian"], ["\u0441\u043e\u0441\u043e", "coco"], ["c0c0", "coco"]]
  ) {
    const refused = await helloRefusal(port, nick!);
    assert.deepEqual(
      [refused.type, refused.code, refused.message],
      ["error", "name_taken", `Nickname ${nick} looks like ${like}, who is online; choose another`],
    );
  }
  // The issue's own example mixes scripts, refused before any comparison.
  const mixed = await helloRefusal(port, "\u0430lice");
  assert.equal(mixed.code, "invalid_name");
  assert.match(mixed.message, /mixes the scripts Cyrillic and Latin/);
  // Fillers are refused, alone or inside a name.
  for (const nick of ["\u3164", "\u115f\u1160", "bob\u3164"]) {
    const filler = await helloRefusal(port, nick);
    assert.equal(filler.code, "invalid_name");
    assert.match(filler.message, /invisible character U\+/);
  }
  // A guest cannot rename into a lookalike either, nor change case into one.
  await using lan = await Peer.join(port, "ian2");
  const renamed = await lan.request({ type: "nick", nick: "lan" });
  assert.deepEqual([renamed.code, renamed.message], [
    "name_taken",
    "Nickname lan looks like Ian, who is online; choose another",
  ]);
  // Once Ian is gone (its room sees it leave), its look is free.
  await ian.request({ type: "join", room: "r" });
  await coco.request({ type: "join", room: "r" });
  await ian[Symbol.asyncDispose]();
  await coco.next((f) => f.type === "leave" && f.nick === "Ian");
  assert.equal((await lan.request({ type: "nick", nick: "lan" })).type, "ack");
  assert.deepEqual((await coco.request({ type: "users" })).result.users, ["coco", "lan"]);
});

Deno.test("a guest cannot take, rename into or register a lookalike of a registered name", async () => {
  await using server = await listen();
  const port = server.addr.port;
  await server.accounts.create("paypal", "correct horse");
  const refused = await helloRefusal(port, "paypa1");
  assert.deepEqual([refused.code, refused.message], [
    "name_taken",
    "Nickname paypa1 looks like the registered name paypal; choose another",
  ]);
  await using guest = await Peer.join(port, "guest");
  const renamed = await guest.request({ type: "nick", nick: "PAYPAI" });
  assert.equal(renamed.code, "name_taken");
  // The account itself still logs in.
  await using owner = await Peer.join(port, "paypal", { password: "correct horse" });
  assert.equal((await owner.request({ type: "ping" })).type, "ack");

  // Plain text: the same refusal, then the prompt again.
  await using text = await TextPeer.connect(port);
  text.write("paypa1\n");
  await text.waitFor("! name_taken: Nickname paypa1 looks like the registered name paypal");
  text.write("\u3164\n");
  await text.waitFor("! invalid_name: Invalid nickname: contains the invisible character U+1160");
});

Deno.test("a room is not created beside one whose name looks like it", async () => {
  await using server = await listen();
  await using alice = await Peer.join(server.addr.port, "alice");
  assert.equal((await alice.request({ type: "join", room: "coco" })).type, "ack");
  const lookalike = await alice.request({ type: "join", room: "#\u0441\u043e\u0441\u043e" });
  assert.deepEqual([lookalike.code, lookalike.message], [
    "invalid_room",
    "Cannot create #\u0441\u043e\u0441\u043e: it looks like #coco; join that room or choose another name",
  ]);
  const mixed = await alice.request({ type: "join", room: "#g\u0435neral" });
  assert.equal(mixed.code, "invalid_room");
  assert.equal((await alice.request({ type: "join", room: "COCO" })).result.room, "coco");
  assert.deepEqual(
    (await alice.request({ type: "rooms" })).result.rooms.map((r: { name: string }) => r.name),
    ["coco"],
  );
});

Deno.test("API key names, the names of bots, may not look alike; a bot may not look like an account", async () => {
  await using http = await startHttp(FAST_KDF);
  const keys = new ApiKeyService(http.server.store);
  await assert.rejects(keys.create("dep1oybot"), /looks like the existing key deploybot/);
  await http.server.accounts.create("paypal", "correct horse");
  const { key } = await keys.create("paypa1");
  const posted = await http.api("POST", "/api/v1/rooms/general/messages", {
    key,
    body: { body: "hi" },
  });
  assert.deepEqual([posted.status, posted.json.error?.code], [409, "name_taken"]);
  assert.match(posted.json.error.message, /looks like the registered name paypal/);
});

Deno.test("over Redis, a nickname that looks like one online on another instance is refused", async () => {
  await using redis = await RedisServer.start();
  const options = { host: "127.0.0.1", port: 0, redis: redis.url, redisPresenceTtlMs: 3000 };
  await using a = await ChatServer.listen(options);
  await using b = await ChatServer.listen(options);
  await using coco = await Peer.join(a.addr.port, "coco");
  // All Cyrillic: one script, and the look of "coco".
  const cyrillic = "\u0441\u043e\u0441\u043e";
  await assert.rejects(
    Peer.join(b.addr.port, cyrillic),
    new RegExp(`name_taken Nickname ${cyrillic} looks like coco, who is online`),
  );
  await using bob = await Peer.join(b.addr.port, "bob");
  const renamed = await bob.request({ type: "nick", nick: "c0c0" });
  assert.equal(renamed.code, "name_taken");
  assert.match(renamed.message, /looks like coco, who is online/);
  // Once coco is gone, the look is free on every instance.
  await coco[Symbol.asyncDispose]();
  const deadline = Date.now() + 5000;
  while ((await bob.request({ type: "nick", nick: "c0c0" })).type !== "ack") {
    assert.ok(Date.now() < deadline, "the look stayed taken");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});
