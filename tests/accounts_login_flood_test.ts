/**
 * A flood of wrong passwords from one address against a real `chat serve`:
 * the address gets only a few password checks pending, the rest are refused
 * at once, and a login from another address waits behind a few of the
 * flood's checks, not behind all of them.
 */
import assert from "node:assert/strict";
import { type Frame, Peer } from "./support/peer.ts";
import { ServerProcess } from "./support/server_process.ts";

const FLOOD = 80;

Deno.test("80 wrong-password hellos from one address: 4 are checked, 76 refused at once; another address gets in next", async () => {
  // Hashes slow enough (16 MiB each), one at a time, that a queue would show.
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    "--kdf-cost",
    "14",
    "--max-concurrent-hashes",
    "1",
    // Not the cap on connections logging in: this is about the checks they ask for.
    "--max-handshakes-per-ip",
    String(FLOOD + 10),
  ]);
  for (const nick of ["victim", "bystander"]) {
    await using peer = await Peer.join(server.port, nick);
    assert.equal(
      (await peer.request({ type: "register", password: `${nick} password` })).type,
      "ack",
    );
  }
  const attackers = await Promise.all(
    Array.from({ length: FLOOD }, () => Peer.connectFrom(server.port, "127.0.0.2")),
  );
  try {
    const replies: Frame[] = [];
    const refused = () => replies.filter((reply) => reply.code === "rate_limited").length;
    // Resolves once the refusals are in (or every reply is, when there are fewer).
    const settled = Promise.withResolvers<void>();
    const answered = attackers.map((peer) =>
      peer.hello("victim", { password: "wrong guess" }).then((reply) => {
        replies.push(reply);
        if (refused() === FLOOD - 4 || replies.length === FLOOD) settled.resolve();
      })
    );
    await settled.promise;
    for (const reply of replies.filter((reply) => reply.code === "rate_limited")) {
      assert.match(reply.message, /^Too many password checks from your address at once/);
      assert.ok(reply.retryAfterMs > 0);
    }
    assert.equal(refused(), FLOOD - 4, JSON.stringify(replies.slice(0, 3)));

    // The bystander's check is served after at most the flood's checks in hand.
    await using bystander = await Peer.join(server.port, "bystander", {
      password: "bystander password",
    });
    const checkedBefore = replies.filter((reply) => reply.code === "auth_failed").length;
    assert.ok(checkedBefore <= 4, `${checkedBefore} of the flood's checks ran first`);
    await Promise.all(answered);
    assert.equal(replies.filter((reply) => reply.code === "auth_failed").length, 4);
    assert.equal(bystander.frames[0]?.nick, "bystander");
  } finally {
    await Promise.all(attackers.map((peer) => peer[Symbol.asyncDispose]()));
  }
});
