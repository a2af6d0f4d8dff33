/**
 * The web client and the dashboard in real headless Chromium (playwright-core
 * driving Debian's /usr/bin/chromium): two browser users and one `chat join`
 * user (a subprocess, piped, --json) talk in one room of a real `chat serve`
 * subprocess, and an admin's dashboard shows them all and disconnects one.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { httpPort, launchBrowser } from "./support/browser.ts";
import { ChatClient } from "../client/chat_client.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { JoinProcess } from "./support/join_process.ts";
import { Peer } from "./support/peer.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PASSWORD = "correct horse battery";
// Cheap hashes for the admin account made below and checked by the server.
const KDF = { CHAT_KDF_LN: "10" };

async function joinInBrowser(page: Page, base: string, nick: string): Promise<void> {
  await page.goto(base + "/");
  await page.fill("#nick", nick);
  await page.fill("#room", "general");
  await page.click("#connect");
  await page.locator("#chat").waitFor({ state: "visible" });
  await page.locator("#member-list li", { hasText: nick }).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

Deno.test({
  name: "two browser users and a chat join user talk in one room; the dashboard shows them",
  // playwright-core keeps its own pipes and timers to Chromium until the context closes.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-browser-" });
    try {
      const added = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "user", "add", "root", "--data", dir, "--create"],
        env: KDF,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = added.stdin.getWriter();
      await writer.write(new TextEncoder().encode(PASSWORD + "\n"));
      await writer.close();
      const result = await added.output();
      assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
      assert.equal((await runChat(["user", "admin", "root", "--data", dir])).code, 0);
      await using server = await ServerProcess.start([
        "--data",
        dir,
        "--http",
        "127.0.0.1:0",
        "--no-discovery",
        "--kdf-cost",
        "10",
      ]);
      const base = `http://127.0.0.1:${await httpPort(server)}`;
      await using browser = await launchBrowser();
      const alice = await browser.newPage();
      const bob = await browser.newPage();
      await joinInBrowser(alice, base, "alice");
      await joinInBrowser(bob, base, "bob");

      await using carol = new JoinProcess([
        `127.0.0.1:${server.port}`,
        "--name",
        "carol",
        "--room",
        "general",
        "--json",
      ]);
      await carol.waitFor(
        () => carol.records.some((r) => r.type === "join" && r.from === "carol"),
        "carol's join",
      );
      for (const page of [alice, bob]) {
        await page.locator("#member-list li", { hasText: "carol" }).waitFor();
      }

      await say(alice, "hello from a browser");
      await bob.locator("#log li", { hasText: "hello from a browser" }).waitFor();
      await carol.waitFor(
        () =>
          carol.records.some((r) =>
            r.type === "message" && r.from === "alice" && r.body === "hello from a browser"
          ),
        "alice's message in chat join",
      );
      await carol.write("hello from a terminal\n");
      for (const page of [alice, bob]) {
        const line = page.locator("#log li.message", { hasText: "hello from a terminal" });
        await line.waitFor();
        assert.equal(await line.locator(".from").textContent(), "carol");
      }
      await say(bob, "/me waves");
      await carol.waitFor(
        () =>
          carol.records.some((r) => r.type === "message" && r.from === "bob" && r.action === true),
        "bob's action in chat join",
      );
      // Text from the wire is shown as text, never run as HTML.
      await carol.write("<img src=x onerror=alert(1)>\n");
      const markup = alice.locator("#log li", { hasText: "<img src=x onerror=alert(1)>" });
      await markup.waitFor();
      assert.equal(await alice.locator("#log img").count(), 0);

      const admin = await browser.newPage();
      await admin.goto(base + "/admin");
      await admin.locator("#admin-login").waitFor({ state: "visible" });
      await admin.fill("#admin-name", "root");
      await admin.fill("#admin-password", "wrong password");
      await admin.click("#admin-submit");
      await admin.locator("#admin-error", { hasText: "Wrong nickname or password" }).waitFor();
      await admin.fill("#admin-password", PASSWORD);
      await admin.click("#admin-submit");
      await admin.locator("#dashboard").waitFor({ state: "visible" });
      await admin.locator("#stat-connections", { hasText: /^3$/ }).waitFor();
      const transports = await admin.locator("#stat-transports").textContent();
      assert.match(transports ?? "", /tcp 1/);
      assert.match(transports ?? "", /ws 2/);
      const room = admin.locator('#rooms-table tr[data-room="general"]');
      await room.waitFor();
      assert.equal(await room.locator("td").nth(1).textContent(), "3");
      assert.deepEqual(await admin.locator("#users-list li").allTextContents(), [
        "alice",
        "bob",
        "carol",
      ]);
      for (const [nick, transport] of [["alice", "ws"], ["bob", "ws"], ["carol", "tcp"]]) {
        const row = admin.locator(`#sessions-table tr[data-nick="${nick}"]`);
        assert.equal(await row.locator("td").nth(1).textContent(), transport);
      }
      await admin.locator("#logs li", { hasText: "carol connected from 127.0.0.1" }).waitFor();
      await admin.locator("#stat-rate", { hasText: /^[1-9]|^0\.[1-9]/ }).waitFor({ timeout: 5000 });
      // The dashboard's cookie is not readable from the page.
      assert.equal(await admin.evaluate("document.cookie"), "");

      // Disconnecting bob from the dashboard ends his browser session.
      await admin.locator('#sessions-table tr[data-nick="bob"] button').click();
      await bob.locator("#status", { hasText: "Disconnected by a server admin" }).waitFor();
      await admin.locator("#stat-connections", { hasText: /^2$/ }).waitFor();
      await alice.locator("#log li", { hasText: "bob left" }).waitFor();

      assert.equal(await carol.finish(), 0);
      const leaks = server.output;
      assert.equal(leaks.includes(PASSWORD), false, "the admin password is not logged");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a crowded room: the web client follows the member pages and says when a list has more",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A 4 KiB frame cap: 40 nicknames of 128 bytes take several pages.
    await using server = await ServerProcess.start([
      "--memory",
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
      "--max-frame-bytes",
      "4096",
    ]);
    const base = `http://127.0.0.1:${await httpPort(server)}`;
    const peers: Peer[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const peer = await Peer.join(
          server.port,
          `m${String(i).padStart(2, "0")}${"\u{20731}".repeat(29)}`,
        );
        peers.push(peer);
        await peer.request({ type: "join", room: "general" });
      }
      await using browser = await launchBrowser();
      const page = await browser.newPage();
      await joinInBrowser(page, base, "alice");
      await page.locator("#member-list li", { hasText: /^m39/ }).waitFor();
      assert.equal(await page.locator("#member-list li").count(), 41);
      await say(page, "/users");
      await page.locator("#log li", { hasText: /Online \(41\): .*; more: \/users after m\d\d/ })
        .waitFor();
    } finally {
      for (const peer of peers) await peer[Symbol.asyncDispose]();
    }
  },
});

// ---------------------------------------------------------------- message changes (section 21)

Deno.test({
  name: "the web client redraws a message edited and reacted to, and sends /react and /reply",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = await ServerProcess.start([
      "--memory",
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
    ]);
    const base = `http://127.0.0.1:${await httpPort(server)}`;
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    await joinInBrowser(page, base, "alice");
    await using bob = await ChatClient.connect({
      hostname: "127.0.0.1",
      port: server.port,
      nick: "bob",
    });
    const events: ClientEvent[] = [];
    (async () => {
      for await (const event of bob) events.push(event);
    })();
    await bob.request({ type: "join", room: "general" });
    const { id } = await bob.request({ type: "say", room: "general", body: "helo from bob" });
    const line = page.locator(`#log li.message[data-id="${id}"]`);
    await line.locator(".body", { hasText: "helo from bob" }).waitFor();
    assert.equal(await line.locator(".msg-id").textContent(), `#${id}`);

    await bob.request({ type: "edit", room: "general", target: id, body: "hello from bob" });
    await line.locator(".body", { hasText: "hello from bob" }).waitFor();
    await line.locator(".edited", { hasText: /^\(edited \d\d:\d\d\)$/ }).waitFor();
    await bob.request({ type: "react", room: "general", target: id, emoji: "👍" });
    await line.locator(".reaction", { hasText: "👍 1" }).waitFor();
    // Redrawn in place: still one line for the message.
    assert.equal(await page.locator(`#log li[data-id="${id}"]`).count(), 1);

    // The page's own commands, with the id the line shows.
    await say(page, `/react ${id} 🎉`);
    await line.locator(".reaction", { hasText: "🎉 1" }).waitFor();
    for (let wait = 0; !events.some((e) => e.type === "react" && e.from === "alice"); wait++) {
      assert.ok(wait < 500, "bob never saw alice's reaction");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await say(page, `/reply ${id} nice`);
    const answer = page.locator("#log li.message", { hasText: "nice" });
    await answer.locator(".reply", { hasText: "↪ bob: hello from bob" }).waitFor();
    await bob.request({ type: "delete", room: "general", target: id });
    await line.locator(".tombstone", { hasText: "[deleted by bob]" }).waitFor();
    assert.equal(await line.locator(".reaction").count(), 0);
    // The reply's quote follows the message it answers.
    await answer.locator(".reply", { hasText: "↪ bob: [deleted by bob]" }).waitFor();
    await say(page, "/edit 0 nothing");
    await page.locator("#log li.system", { hasText: "Usage: /edit ID TEXT" }).waitFor();
  },
});

// ---- away and typing (docs/protocol.md, section 22)

Deno.test({
  name: "the web client: typing is sent and shown, done on send; /away and /back, shown in /users",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = await ServerProcess.start([
      "--memory",
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
    ]);
    const base = `http://127.0.0.1:${await httpPort(server)}`;
    await using bob = await Peer.join(server.port, "bob");
    await bob.request({ type: "join", room: "general" });
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    await joinInBrowser(page, base, "alice");

    // Bob types: the page says so, then not once he is done.
    await bob.request({ type: "typing", room: "general", state: "active" });
    await page.locator("#typing", { hasText: "bob is typing" }).waitFor();
    await bob.request({ type: "typing", room: "general", state: "done" });
    await page.locator("#typing", { hasText: "is typing" }).waitFor({ state: "hidden" });

    // Alice types: bob hears active; she sends: done, then the message.
    await page.locator("#input").pressSequentially("hel");
    const active = await bob.next((f) => f.type === "typing");
    assert.deepEqual([active.from, active.room, active.state], ["alice", "general", "active"]);
    await page.locator("#input").pressSequentially("lo");
    await page.press("#input", "Enter");
    const done = await bob.next((f) => f.type === "typing");
    assert.equal(done.state, "done");
    await bob.next((f) => f.type === "message" && f.body === "hello");

    await say(page, "/away lunch");
    assert.equal((await bob.next((f) => f.type === "away")).message, "lunch");
    await page.locator("#log li", { hasText: "You are away: lunch" }).waitFor();
    await say(page, "/users");
    await page.locator("#log li", { hasText: /Online \(2\): alice \(away: lunch\), bob/ })
      .waitFor();
    await bob.request({ type: "away", message: "brb" });
    await page.locator("#log li", { hasText: "bob is away: brb" }).waitFor();
    await say(page, "/back");
    const back = await bob.next((f) => f.type === "away" && f.nick === "alice");
    assert.equal(back.message, undefined);
  },
});

Deno.test({
  name: "the web client shows a shared file as a link to /files/ID, and a click downloads it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = await ServerProcess.start([
      "--memory",
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
      "--guest-uploads",
    ]);
    const base = `http://127.0.0.1:${await httpPort(server)}`;
    await using browser = await launchBrowser();
    const alice = await browser.newPage();
    await joinInBrowser(alice, base, "alice");
    await using carol = await Peer.join(server.port, "carol");
    await carol.request({ type: "join", room: "general" });
    const bytes = new TextEncoder().encode("<script>alert(1)</script> not run\n");
    const begin = await carol.request({
      type: "upload_begin",
      name: "page.html",
      size: bytes.length,
      mediaType: "text/html",
      room: "general",
    });
    await carol.request({
      type: "upload_chunk",
      upload: begin.result.upload,
      offset: 0,
      data: bytes,
    });
    const end = await carol.request({ type: "upload_end", upload: begin.result.upload });
    const link = alice.locator("#log li.message a.file");
    await link.waitFor();
    assert.equal(await link.textContent(), "[file] page.html (34 B, text/html)");
    assert.equal(await link.getAttribute("href"), `/files/${end.result.file.id}`);
    const [download] = await Promise.all([alice.waitForEvent("download"), link.click()]);
    assert.equal(download.suggestedFilename(), "page.html");
    const saved = await download.path();
    assert.deepEqual(await Deno.readFile(saved), bytes);
    // The page stayed where it was, its own policy intact.
    assert.equal(new URL(alice.url()).pathname, "/");
    assert.equal(await alice.locator("#chat").isVisible(), true);
  },
});
