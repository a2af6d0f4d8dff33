import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import type { ServerOptions } from "../server/config/server_options.ts";
import { type Frame, Peer, TextPeer } from "./support/peer.ts";
import { ServerProcess } from "./support/server_process.ts";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";

const FAST_KDF = { kdfLogN: 10 } as const;

function listen(dataDir: string, options: Partial<ServerOptions> = {}): Promise<ChatServer> {
  return listenRelaxed({ dataDir, ...options });
}

Deno.test("a restart keeps accounts, rooms, topics, history with original ids and times, and bans", async () => {
  await withDataDir(async (dir) => {
    let sentTs: number[] = [];
    {
      await using server = await listen(dir);
      await server.accounts.create("alice", "correct horse");
      await using alice = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
      await alice.request({ type: "join", room: "dev" });
      await alice.request({ type: "topic", room: "dev", topic: "Release day" });
      for (let i = 1; i <= 5; i++) {
        const ack = await alice.request({ type: "say", room: "dev", body: `message ${i}` });
        assert.equal(ack.result.id, i);
        sentTs.push(ack.result.ts);
      }
      assert.equal(
        (await alice.request({ type: "ban", room: "dev", nick: "mallory", reason: "spam" })).type,
        "ack",
      );
    }
    {
      await using server = await listen(dir);
      // The account survived: the nickname needs its password.
      await assert.rejects(Peer.join(server.addr.port, "alice"), /auth_required/);
      await using alice = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
      const joined = await alice.request({ type: "join", room: "dev" });
      assert.equal(joined.result.topic, "Release day");
      assert.deepEqual(joined.result.history.map((m: { id: number }) => m.id), [1, 2, 3, 4, 5]);
      assert.deepEqual(joined.result.history.map((m: { ts: number }) => m.ts), sentTs);
      assert.ok(joined.result.history.every((m: { history: boolean }) => m.history === true));
      // Ids go on from where they were.
      assert.equal(
        (await alice.request({ type: "say", room: "dev", body: "after restart" })).result.id,
        6,
      );
      await using mallory = await Peer.join(server.addr.port, "mallory");
      const banned = await mallory.request({ type: "join", room: "dev" });
      assert.equal(banned.code, "banned");
      assert.match(banned.message, /spam/);
      const rooms = await alice.request({ type: "rooms" });
      assert.deepEqual(rooms.result.rooms, [{ name: "dev", members: 1, topic: "Release day" }]);
      assert.equal(rooms.result.total, 1);
    }
    sentTs = [];
  });
});

Deno.test("kill -9: every acknowledged message is there after a restart, in order, with its id", async () => {
  await withDataDir(async (dir) => {
    const acked: Array<{ id: number; body: string }> = [];
    {
      const server = await ServerProcess.start([
        "--data",
        dir,
        "--rate-burst",
        "100000",
        "--rate-per-second",
        "100000",
      ]);
      const alice = await Peer.join(server.port, "alice");
      try {
        await alice.request({ type: "join", room: "durable" });
        // Pipelined sends; the kill lands while many are in flight.
        const total = 50_000;
        for (let i = 0; i < total; i++) {
          alice.send({ type: "say", id: 10_000 + i, room: "durable", body: `m${i}` });
        }
        while (acked.length < 500) {
          const ack = await alice.next((f) => f.type === "ack" && f.id >= 10_000);
          acked.push({ id: ack.result.id, body: `m${ack.id - 10_000}` });
        }
        await server.stop("SIGKILL");
        // Acks that were already on the wire count too.
        for (const frame of alice.all((f) => f.type === "ack" && f.id >= 10_000)) {
          if (!acked.some((a) => a.body === `m${frame.id - 10_000}`)) {
            acked.push({ id: frame.result.id, body: `m${frame.id - 10_000}` });
          }
        }
      } finally {
        await alice[Symbol.asyncDispose]();
        await server[Symbol.asyncDispose]();
      }
    }
    assert.ok(acked.length >= 500);
    console.log(`acknowledged before the kill: ${acked.length} of 50000`);
    {
      await using server = await ServerProcess.start(["--data", dir]);
      await using bob = await Peer.join(server.port, "bob");
      const joined = await bob.request({ type: "join", room: "durable", since: 0 });
      const history: Array<{ id: number; body: string }> = [...joined.result.history];
      // Replies are cut to fit one frame: page on for the rest.
      for (let more = joined.result.more; more;) {
        const page = await bob.request({
          type: "history",
          room: "durable",
          after: history.at(-1)!.id,
          limit: 500,
        });
        history.push(...page.result.messages);
        more = page.result.messages.length > 0;
      }
      const stored = new Map<number, string>(history.map((m) => [m.id, m.body]));
      for (const { id, body } of acked) {
        assert.equal(stored.get(id), body, `acknowledged message ${id} lost`);
      }
      const ids = history.map((m) => m.id);
      assert.deepEqual(ids, ids.toSorted((a: number, b: number) => a - b));
      assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), "no holes in ids");
    }
  });
});

Deno.test("resume after a dropped connection replays what was missed, without duplicates", async () => {
  await withDataDir(async (dir) => {
    await using server = await listen(dir);
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    let bob = await Peer.join(server.addr.port, "bob");
    await bob.request({ type: "join", room: "dev" });
    await alice.request({ type: "say", room: "dev", body: "one" });
    const seen = await bob.next((f) => f.type === "message");
    await bob[Symbol.asyncDispose]();
    for (const body of ["two", "three", "four"]) {
      await alice.request({ type: "say", room: "dev", body });
    }
    bob = await Peer.join(server.addr.port, "bob");
    try {
      const joined = await bob.request({ type: "join", room: "dev", since: seen.id });
      assert.deepEqual(joined.result.history.map((m: { body: string }) => m.body), [
        "two",
        "three",
        "four",
      ]);
      assert.equal(joined.result.gap, undefined);
      await alice.request({ type: "say", room: "dev", body: "five" });
      assert.equal((await bob.next((f) => f.type === "message")).body, "five");
    } finally {
      await bob[Symbol.asyncDispose]();
    }
  });
});

Deno.test("a resume older than retention says plainly what is lost", async () => {
  await withDataDir(async (dir) => {
    await using server = await listen(dir, { retentionMaxMessages: 3 });
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    for (let i = 1; i <= 10; i++) await alice.request({ type: "say", room: "dev", body: `m${i}` });
    await server.pruneNow();
    await using bob = await Peer.join(server.addr.port, "bob");
    const joined = await bob.request({ type: "join", room: "dev", since: 2 });
    assert.deepEqual(joined.result.gap, { after: 2, oldest: 8 });
    assert.deepEqual(joined.result.history.map((m: { id: number }) => m.id), [8, 9, 10]);
  });
});

Deno.test("history pages: latest, before an id, after an id, marked as history", async () => {
  await withDataDir(async (dir) => {
    await using server = await listen(dir);
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    for (let i = 1; i <= 30; i++) await alice.request({ type: "say", room: "dev", body: `m${i}` });
    const ids = (frame: Frame) => frame.result.messages.map((m: { id: number }) => m.id);
    assert.deepEqual(ids(await alice.request({ type: "history", room: "dev", limit: 3 })), [
      28,
      29,
      30,
    ]);
    assert.deepEqual(
      ids(await alice.request({ type: "history", room: "dev", before: 10, limit: 3 })),
      [7, 8, 9],
    );
    assert.deepEqual(
      ids(await alice.request({ type: "history", room: "dev", after: 10, limit: 3 })),
      [11, 12, 13],
    );
    const page = await alice.request({ type: "history", room: "dev", limit: 1 });
    assert.equal(page.result.messages[0].history, true);
    await using bob = await Peer.join(server.addr.port, "bob");
    assert.equal((await bob.request({ type: "history", room: "dev" })).code, "not_in_room");
  });
});

Deno.test("a DM to a registered user who is offline waits for their login, with unread counts", async () => {
  await withDataDir(async (dir) => {
    {
      await using server = await listen(dir);
      await server.accounts.create("bob", "bobs password");
      await using alice = await Peer.join(server.addr.port, "alice");
      const stored = await alice.request({ type: "dm", to: "bob", body: "are you there?" });
      assert.equal(stored.result.stored, true);
      await alice.request({ type: "dm", to: "bob", body: "call me" });
      assert.equal(
        (await alice.request({ type: "dm", to: "nobody", body: "hi" })).code,
        "no_such_user",
      );
    }
    await using server = await listen(dir);
    await using bob = await Peer.join(server.addr.port, "bob", { password: "bobs password" });
    const first = await bob.next((f) => f.type === "dm");
    const second = await bob.next((f) => f.type === "dm");
    assert.deepEqual([first.body, second.body], ["are you there?", "call me"]);
    assert.equal(first.history, true);
    const notice = await bob.next((f) => f.type === "notice");
    assert.deepEqual(notice.unread, [{ peer: "alice", count: 2 }]);
    const page = await bob.request({ type: "dm_history", with: "alice" });
    assert.deepEqual(page.result.messages.map((m: { body: string }) => m.body), [
      "are you there?",
      "call me",
    ]);
    const read = await bob.request({ type: "read", with: "alice", upTo: second.id });
    assert.deepEqual(read.result, { with: "alice", upTo: second.id });
    // The marker never moves back, and the ack says where it stays.
    const back = await bob.request({ type: "read", with: "alice", upTo: first.id });
    assert.deepEqual(back.result, { with: "alice", upTo: second.id });
    // Not past alice's last DM (later ones stay unread), and nothing for someone who sent none.
    const ahead = await bob.request({ type: "read", with: "alice", upTo: second.id + 1000 });
    assert.deepEqual(ahead.result, { with: "alice", upTo: second.id });
    const nobody = await bob.request({ type: "read", with: "nobody", upTo: 5 });
    assert.deepEqual(nobody.result, { with: "nobody", upTo: 0 });
    assert.equal(await server.store.readMarker("bob", "nobody"), 0);
    // Delivered once: a second login gets no replay, and nothing is unread.
    await using again = await Peer.join(server.addr.port, "bob", { password: "bobs password" });
    await again.request({ type: "ping" });
    assert.equal(again.all((f) => f.type === "dm").length, 0);
    assert.equal(again.all((f) => f.type === "notice").length, 0);
  });
});

Deno.test("accounts: wrong name and wrong password get the same error; guests cannot take registered names", async () => {
  await using server = await ChatServer.listen({ host: "127.0.0.1", port: 0, ...FAST_KDF });
  await server.accounts.create("alice", "correct horse");
  const refusal = async (hello: Record<string, unknown>) => {
    await using peer = await Peer.connect(server.addr.port);
    peer.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", ...hello });
    return await peer.next((f) => f.type === "error");
  };
  const wrongPassword = await refusal({ nick: "alice", password: "wrong" });
  const wrongName = await refusal({ nick: "alicia", password: "correct horse" });
  assert.deepEqual([wrongPassword.code, wrongPassword.message], [
    wrongName.code,
    wrongName.message,
  ]);
  assert.equal(wrongPassword.code, "auth_failed");
  assert.equal((await refusal({ nick: "ALICE" })).code, "auth_required");
  // A guest registers its nickname from the client.
  await using carol = await Peer.join(server.addr.port, "carol");
  assert.equal(
    (await carol.request({ type: "register", password: "short" })).code,
    "invalid_password",
  );
  assert.equal(
    (await carol.request({ type: "register", password: "carols password" })).type,
    "ack",
  );
  await using carol2 = await Peer.join(server.addr.port, "carol", { password: "carols password" });
  assert.deepEqual((await carol2.request({ type: "users" })).result.users, ["carol"]);
});

Deno.test("failed logins are throttled per account; the right password is refused while throttled", async () => {
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    ...FAST_KDF,
    maxLoginFailuresPerAccount: 5,
    rateBurst: 1000,
    ratePerSecond: 1000,
  });
  await server.accounts.create("alice", "correct horse");
  await using peer = await Peer.connect(server.addr.port);
  const hello = (password: string) =>
    peer.send({
      type: "hello",
      protocol: "1.0",
      client: "t",
      clientVersion: "0",
      nick: "alice",
      password,
    });
  for (let i = 0; i < 5; i++) {
    hello("guess" + i);
    assert.equal((await peer.next((f) => f.type === "error")).code, "auth_failed");
  }
  hello("correct horse");
  const throttled = await peer.next((f) => f.type === "error");
  assert.equal(throttled.code, "rate_limited");
  assert.ok(throttled.retryAfterMs > 0);
});

Deno.test("--auth required: only accounts may log in, in framed and plain-text mode", async () => {
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    ...FAST_KDF,
    auth: "required",
    textPromptDelayMs: 50,
  });
  await server.accounts.create("alice", "correct horse");
  await assert.rejects(Peer.join(server.addr.port, "guest"), /auth_required/);
  await using alice = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
  await using text = await TextPeer.connect(server.addr.port);
  await text.waitFor("Nickname: ");
  text.write("guest\n");
  await text.waitFor("Password for guest: ");
  text.write("whatever\n");
  await text.waitFor("! auth_failed: Wrong nickname or password");
  text.write("alice\ncorrect horse\n");
  await text.waitFor("Welcome, alice!");
});

Deno.test("--sessions: several sessions of one account all get its DMs, or a second login is refused", async () => {
  await using server = await ChatServer.listen({ host: "127.0.0.1", port: 0, ...FAST_KDF });
  await server.accounts.create("alice", "correct horse");
  await using phone = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  await using laptop = await Peer.join(server.addr.port, "alice", { password: "correct horse" });
  await using bob = await Peer.join(server.addr.port, "bob");
  await bob.request({ type: "dm", to: "alice", body: "to both" });
  assert.equal((await phone.next((f) => f.type === "dm")).body, "to both");
  assert.equal((await laptop.next((f) => f.type === "dm")).body, "to both");
  assert.deepEqual((await bob.request({ type: "users" })).result.users, ["alice", "bob"]);

  await using strict = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    ...FAST_KDF,
    sessions: "refuse",
  });
  await strict.accounts.create("alice", "correct horse");
  await using first = await Peer.join(strict.addr.port, "alice", { password: "correct horse" });
  await assert.rejects(
    Peer.join(strict.addr.port, "alice", { password: "correct horse" }),
    /logged in elsewhere/,
  );
  void first;
});

Deno.test("moderation: every command allowed for the right rank and refused naming the missing right", async () => {
  await withDataDir(async (dir) => {
    await using server = await listen(dir, { admins: ["root"] });
    for (const name of ["alice", "bob", "root", "dave", "eve"]) {
      await server.accounts.create(name, `${name} password`);
    }
    const join = (nick: string) =>
      Peer.join(server.addr.port, nick, { password: `${nick} password` });
    await using alice = await join("alice"); // creates #dev: owner
    await using bob = await join("bob");
    await using root = await join("root"); // server admin
    await using dave = await join("dave");
    await using eve = await join("eve");
    await alice.request({ type: "join", room: "dev" });
    for (const peer of [bob, dave]) await peer.request({ type: "join", room: "dev" });

    const kick = await bob.request({ type: "kick", room: "dev", nick: "dave" });
    assert.deepEqual([kick.code, kick.message], [
      "forbidden",
      "Kicking needs operator rights in #dev; you are a member",
    ]);
    assert.equal((await bob.request({ type: "topic", room: "dev", topic: "x" })).code, "forbidden");
    assert.equal((await bob.request({ type: "op", room: "dev", nick: "bob" })).code, "forbidden");

    assert.equal((await alice.request({ type: "op", room: "dev", nick: "bob" })).type, "ack");
    assert.equal(
      (await bob.request({ type: "topic", room: "dev", topic: "ops only" })).type,
      "ack",
    );
    const deopOwner = await bob.request({ type: "deop", room: "dev", nick: "alice" });
    assert.equal(deopOwner.code, "forbidden");
    assert.match(deopOwner.message, /higher rank than theirs \(owner\)/);

    assert.equal(
      (await bob.request({ type: "mute", room: "dev", nick: "dave", durationMs: 60_000 })).type,
      "ack",
    );
    assert.equal((await dave.request({ type: "say", room: "dev", body: "hello?" })).code, "muted");
    assert.equal((await bob.request({ type: "unmute", room: "dev", nick: "dave" })).type, "ack");
    assert.equal((await dave.request({ type: "say", room: "dev", body: "thanks" })).type, "ack");

    assert.equal(
      (await bob.request({ type: "kick", room: "dev", nick: "dave", reason: "cool off" })).type,
      "ack",
    );
    const kicked = await dave.next((f) => f.type === "leave" && f.nick === "dave");
    assert.equal(kicked.reason, "kicked by bob: cool off");
    assert.equal(
      (await dave.request({ type: "say", room: "dev", body: "still here?" })).code,
      "not_in_room",
    );
    assert.equal(
      (await alice.request({ type: "ban", room: "dev", nick: "dave", reason: "spam" })).type,
      "ack",
    );
    assert.equal((await dave.request({ type: "join", room: "dev" })).code, "banned");
    assert.equal((await alice.request({ type: "unban", room: "dev", nick: "dave" })).type, "ack");
    assert.equal((await dave.request({ type: "join", room: "dev" })).type, "ack");

    assert.equal(
      (await alice.request({ type: "mode", room: "dev", inviteOnly: true })).type,
      "ack",
    );
    assert.equal((await eve.request({ type: "join", room: "dev" })).code, "invite_only");
    assert.equal((await bob.request({ type: "invite", room: "dev", nick: "eve" })).type, "ack");
    assert.match((await eve.next((f) => f.type === "notice")).body, /invited you to #dev/);
    assert.equal((await eve.request({ type: "join", room: "dev" })).type, "ack");
    await eve.request({ type: "leave", room: "dev" });
    // A withdrawn invitation no longer opens the door.
    assert.equal(
      (await dave.request({ type: "uninvite", room: "dev", nick: "eve" })).code,
      "forbidden",
    );
    assert.equal((await bob.request({ type: "uninvite", room: "dev", nick: "eve" })).type, "ack");
    assert.equal((await eve.request({ type: "join", room: "dev" })).code, "invite_only");
    assert.equal((await bob.request({ type: "invite", room: "dev", nick: "eve" })).type, "ack");

    assert.equal(
      (await alice.request({ type: "mode", room: "dev", inviteOnly: false, key: "s3cret" })).type,
      "ack",
    );
    assert.equal((await eve.request({ type: "join", room: "dev" })).code, "bad_key");
    assert.equal((await eve.request({ type: "join", room: "dev", key: "s3cret" })).type, "ack");
    assert.equal((await eve.request({ type: "mode", room: "dev", key: null })).code, "forbidden");

    // Ops cannot act on the owner; the admin can act anywhere, even outside the room.
    assert.equal(
      (await bob.request({ type: "kick", room: "dev", nick: "alice" })).code,
      "forbidden",
    );
    assert.equal((await root.request({ type: "deop", room: "dev", nick: "bob" })).type, "ack");
    assert.equal((await bob.request({ type: "kick", room: "dev", nick: "eve" })).code, "forbidden");
    assert.equal((await alice.request({ type: "broadcast", body: "hi all" })).code, "forbidden");
    assert.equal(
      (await root.request({ type: "broadcast", body: "maintenance at noon" })).type,
      "ack",
    );
    assert.equal(
      (await eve.next((f) => f.type === "notice" && f.from === "root")).body,
      "maintenance at noon",
    );

    await server.broker.flushed();
    const audit = await server.store.auditLog(100);
    const actions = audit.map((entry) => `${entry.actor}:${entry.action}:${entry.target ?? ""}`);
    for (
      const expected of [
        "alice:op:bob",
        "bob:topic:",
        "bob:mute:dave",
        "bob:unmute:dave",
        "bob:kick:dave",
        "alice:ban:dave",
        "alice:unban:dave",
        "alice:mode:",
        "bob:invite:eve",
        "bob:uninvite:eve",
        "root:deop:bob",
        "root:broadcast:",
      ]
    ) assert.ok(actions.includes(expected), `audit log lacks ${expected}: ${actions.join(", ")}`);
  });
});

Deno.test("retention by age deletes old messages in batches", async () => {
  await withDataDir(async (dir) => {
    const tenDaysAgo = Date.now() - 10 * 86_400_000;
    {
      await using server = await listen(dir);
      await using alice = await Peer.join(server.addr.port, "alice");
      await alice.request({ type: "join", room: "dev" });
      for (let i = 1; i <= 3; i++) await alice.request({ type: "say", room: "dev", body: `m${i}` });
    }
    // Age the stored messages as if sent ten days ago.
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(`${dir}/chat.db`);
    db.prepare("UPDATE messages SET ts = ? WHERE id <= 2").run(tenDaysAgo);
    db.close();
    await using server = await listen(dir, { retentionMaxAgeMs: 86_400_000 });
    await server.pruneNow();
    await using bob = await Peer.join(server.addr.port, "bob");
    const joined = await bob.request({ type: "join", room: "dev" });
    assert.deepEqual(joined.result.history.map((m: { body: string }) => m.body), ["m3"]);
  });
});

Deno.test("a guest cannot take a registered nickname with /nick, nor an admin's name to gain rank", async () => {
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    ...FAST_KDF,
    admins: ["root"],
  });
  await server.accounts.create("alice", "correct horse");
  await using mallory = await Peer.join(server.addr.port, "mallory");
  const refused = await mallory.request({ type: "nick", nick: "Alice" });
  assert.equal(refused.code, "auth_required");
  // A guest named like an admin is no admin, and no harder to kick.
  await using root = await Peer.join(server.addr.port, "root");
  assert.equal((await root.request({ type: "broadcast", body: "hi" })).code, "forbidden");
  await using owner = await Peer.join(server.addr.port, "owner");
  await owner.request({ type: "join", room: "dev" });
  await root.request({ type: "join", room: "dev" });
  assert.equal((await owner.request({ type: "kick", room: "dev", nick: "root" })).type, "ack");
});

Deno.test("join history and history pages are cut to fit one frame; more says whether there is more", async () => {
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    rateBurst: 1000,
    ratePerSecond: 1000,
  });
  await using alice = await Peer.join(server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const long = "é".repeat(3900); // about 7.8 KB each in UTF-8
  for (let i = 1; i <= 50; i++) {
    await alice.request({ type: "say", room: "dev", body: `${i} ${long}` });
  }
  await using bob = await Peer.join(server.addr.port, "bob");
  const joined = await bob.request({ type: "join", room: "dev" });
  const ids = joined.result.history.map((m: { id: number }) => m.id);
  assert.ok(ids.length > 0 && ids.length < 50, `${ids.length} messages`);
  assert.equal(ids.at(-1), 50, "the newest are kept");
  const page = await bob.request({ type: "history", room: "dev", before: ids[0], limit: 100 });
  assert.equal(page.result.more, true);
  assert.equal(page.result.messages.at(-1).id, ids[0] - 1);
  const small = await bob.request({ type: "history", room: "dev", after: 47, limit: 2 });
  assert.deepEqual(small.result.messages.map((m: { id: number }) => m.id), [48, 49]);
  assert.equal(small.result.more, true);
  const last = await bob.request({ type: "history", room: "dev", after: 48, limit: 2 });
  assert.equal(last.result.more, undefined);
});
