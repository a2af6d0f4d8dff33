/**
 * The dashboard's login and API over real HTTP: only admin accounts get in,
 * the cookie is HttpOnly and SameSite=Strict, requests from other origins
 * are refused, and the overview shows the live server.
 */
import assert from "node:assert/strict";
import { startHttp, WsPeer, wsUrl } from "./support/http_fixture.ts";
import { Peer } from "./support/peer.ts";

const PASSWORD = "correct horse battery";

Deno.test("dashboard: admin login sets a strict HttpOnly cookie; overview, disconnect and logout", async () => {
  await using http = await startHttp({ kdfLogN: 10 });
  const root = await http.server.accounts.create("root", PASSWORD);
  await http.server.accounts.setAdmin(root.name, true);
  await http.server.accounts.create("plain", PASSWORD);
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await using web = await WsPeer.join(wsUrl(http), "webby");
  await alice.request({ type: "join", room: "general" });
  await web.request({ type: "join", room: "general" });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    http.api("POST", path, { key: null, body, headers });

  assert.equal((await http.api("GET", "/admin/api/overview", { key: null })).status, 401);
  assert.equal((await post("/admin/login", { name: "root", password: "nope nope" })).status, 401);
  const notAdmin = await post("/admin/login", { name: "plain", password: PASSWORD });
  assert.deepEqual([notAdmin.status, notAdmin.json.error.code], [403, "forbidden"]);
  assert.equal((await post("/admin/login", { name: "root" })).status, 400);
  assert.equal(http.server.broker.metrics.authFailures, 1);

  const login = await post("/admin/login", { name: "root", password: PASSWORD });
  assert.equal(login.status, 200);
  const setCookie = login.headers.get("set-cookie") ?? "";
  assert.match(setCookie, /^chat_admin=[0-9a-f]{64}; /);
  for (const attribute of ["HttpOnly", "SameSite=Strict", "Path=/admin"]) {
    assert.ok(setCookie.includes(attribute), `${attribute} in ${setCookie}`);
  }
  const cookie = setCookie.split(";")[0]!;
  const overview = await http.api("GET", "/admin/api/overview", { key: null, headers: { cookie } });
  assert.equal(overview.status, 200);
  const data = overview.json;
  assert.equal(data.admin, "root");
  assert.deepEqual(data.connections.byTransport, { tcp: 1, ws: 1 });
  assert.deepEqual(data.rooms.rooms, [{ name: "general", members: 2, topic: "" }]);
  assert.deepEqual(data.users.users, ["alice", "webby"]);
  const sessions = data.sessions.sessions.map((s: { nick: string; transport: string }) =>
    `${s.nick}/${s.transport}`
  );
  assert.deepEqual(sessions.sort(), ["alice/tcp", "webby/ws"]);

  // Another origin's page cannot act with the cookie, even if the browser sent it.
  const target = data.sessions.sessions.find((s: { nick: string }) => s.nick === "webby").id;
  const path = `/admin/api/sessions/${target}/disconnect`;
  for (
    const headers of [
      { cookie, origin: "https://evil.example" },
      { cookie, "sec-fetch-site": "cross-site" },
    ]
  ) {
    const forged = await post(path, {}, headers);
    assert.deepEqual([forged.status, forged.json.error.code], [403, "forbidden"]);
  }
  // Nor with a form post (not JSON).
  const form = await http.api("POST", path, {
    key: null,
    body: "x=1",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(form.status, 415);
  assert.equal(web.frames.some((f) => f.type === "bye"), false);
  const done = await post(path, {}, { cookie, origin: http.base });
  assert.deepEqual([done.status, done.json.nick], [200, "webby"]);
  assert.equal((await web.next((f) => f.type === "bye")).code, "forbidden");

  const logout = await post("/admin/logout", {}, { cookie });
  assert.match(logout.headers.get("set-cookie") ?? "", /Max-Age=0/);
  assert.equal(
    (await http.api("GET", "/admin/api/overview", { key: null, headers: { cookie } })).status,
    401,
  );
});

Deno.test("dashboard: losing admin rights ends access at the next request", async () => {
  await using http = await startHttp({ kdfLogN: 10 });
  await http.server.accounts.create("root", PASSWORD);
  await http.server.accounts.setAdmin("root", true);
  const login = await http.api("POST", "/admin/login", {
    key: null,
    body: { name: "root", password: PASSWORD },
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const get = () => http.api("GET", "/admin/api/overview", { key: null, headers: { cookie } });
  assert.equal((await get()).status, 200);
  await http.server.accounts.setAdmin("root", false);
  assert.equal((await get()).status, 401);
});

Deno.test("web pages are served from the binary with a strict Content-Security-Policy and ETags", async () => {
  await using http = await startHttp();
  for (
    const path of ["/", "/admin", "/assets/chat.js", "/assets/msgpack.js", "/assets/style.css"]
  ) {
    const response = await fetch(http.base + path);
    const text = await response.text();
    assert.equal(response.status, 200, path);
    assert.ok(text.length > 100, path);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const etag = response.headers.get("etag")!;
    const again = await fetch(http.base + path, { headers: { "if-none-match": etag } });
    await again.body?.cancel();
    assert.equal(again.status, 304, path);
    if (path === "/" || path === "/admin") {
      const csp = response.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      // Nothing from elsewhere: every script and style is local.
      assert.doesNotMatch(text, /(src|href)="(https?:)?\/\//);
    }
  }
});

Deno.test("dashboard: an account named in --admins gets in as a flagged one does, and is admin in chat", async () => {
  await using http = await startHttp({ kdfLogN: 10, admins: ["root"] });
  await http.server.accounts.create("root", PASSWORD);
  const post = (path: string, body: unknown) => http.api("POST", path, { key: null, body });
  assert.equal((await post("/admin/login", { name: "root", password: PASSWORD })).status, 200);
  // The same decision in chat: a broadcast needs server admin rights.
  await using root = await Peer.join(http.server.addr.port, "root", { password: PASSWORD });
  assert.equal(
    (await root.request({ type: "broadcast", body: "maintenance at noon" })).type,
    "ack",
  );
});
