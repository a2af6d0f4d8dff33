/**
 * `/search` in the web client (server/http/assets/chat.js) in real headless
 * Chromium against a real `chat serve`: the results of the rooms the user
 * is in, newest first, with the matched words marked, and the next page.
 */
import assert from "node:assert/strict";
import { httpPort, keepScreenshots, launchBrowser } from "./support/browser.ts";
import { Peer } from "./support/peer.ts";
import { ServerProcess } from "./support/server_process.ts";

Deno.test({
  name: "web client: /search shows the matches, marked, newest first, and pages",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = await ServerProcess.start([
      "--memory",
      "--http",
      "127.0.0.1:0",
      "--no-discovery",
      "--rate-burst",
      "1000",
      "--rate-per-second",
      "1000",
    ]);
    const base = `http://127.0.0.1:${await httpPort(server)}`;
    await using bob = await Peer.join(server.port, "bob");
    await bob.request({ type: "join", room: "general" });
    await bob.request({ type: "join", room: "hidden" });
    await bob.request({ type: "say", room: "hidden", body: "a secret deploy" });
    for (let i = 1; i <= 25; i++) {
      const ack = await bob.request({ type: "say", room: "general", body: `Déploy number ${i}` });
      assert.equal(ack.type, "ack", JSON.stringify(ack));
    }
    await using browser = await launchBrowser();
    await keepScreenshots(browser, "web client search", async () => {
      const page = await browser.newPage();
      await page.goto(base + "/");
      await page.fill("#nick", "alice");
      await page.fill("#room", "general");
      await page.click("#connect");
      await page.locator("#chat").waitFor({ state: "visible" });
      await page.fill("#input", "/search deploy");
      await page.press("#input", "Enter");
      await page.locator("#log li.system", { hasText: 'Search "deploy":' }).waitFor();
      const results = page.locator("#log li.search");
      await results.nth(19).waitFor({ timeout: 5000 }).catch(async (error) => {
        throw new Error(`${error}; the log: ${await page.locator("#log").textContent()}`);
      });
      assert.equal(await results.count(), 20);
      assert.match((await results.nth(0).textContent())!, /#general \(25\)bobDéploy number 25/);
      assert.equal(await results.nth(0).locator("mark").textContent(), "Déploy");
      assert.equal(await page.locator("#log li.search", { hasText: "secret" }).count(), 0);
      const more = page.locator("#log li.system", { hasText: "More results: /search after:" });
      await more.waitFor();
      const next = /(\/search after:\S+ deploy)/.exec((await more.textContent())!)![1]!;
      await page.fill("#input", next);
      await page.press("#input", "Enter");
      await results.nth(24).waitFor();
      assert.match((await results.nth(24).textContent())!, /#general \(1\)bobDéploy number 1$/);
      await page.fill("#input", "/search deploy #hidden");
      await page.press("#input", "Enter");
      await page.locator("#log li.system", { hasText: /not in #hidden/ }).waitFor();
    });
  },
});
