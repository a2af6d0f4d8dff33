/**
 * `--trusted-proxy`: the client's address of HTTP requests and WebSockets
 * from a trusted reverse proxy comes from X-Forwarded-For, for the
 * per-address caps (connections, logins) and in logs; from anyone else the
 * header changes nothing. Over real HTTP and WebSockets.
 */
import assert from "node:assert/strict";
import { resolveSettings } from "../server/config/load_settings.ts";
import { ConfigError } from "../server/config/config_error.ts";
import { parseCidr, TrustedProxies } from "../server/http/trusted_proxies.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { type HttpFixture, startHttp, WsPeer, wsUrl } from "./support/http_fixture.ts";
import { ServerProcess } from "./support/server_process.ts";

Deno.test("CIDR ranges: IPv4 and IPv6, single addresses as /32 and /128, in canonical form", () => {
  assert.equal(parseCidr("10.0.0.0/8"), "10.0.0.0/8");
  assert.equal(parseCidr(" 192.0.2.1 "), "192.0.2.1/32");
  assert.equal(parseCidr("::1"), "::1/128");
  assert.equal(parseCidr("FD00:0:0::/8"), "fd00::/8");
  assert.equal(parseCidr("::ffff:10.0.0.0/104"), "10.0.0.0/8");
  for (
    const bad of ["10.0.0.0/33", "010.0.0.0/8", "1.2.3", "proxy.local", "fe80::1%eth0", "10/8"]
  ) {
    assert.throws(() => parseCidr(bad), RangeError, bad);
  }
  // Bits past the prefix: a range or one host? Say which.
  assert.throws(
    () => parseCidr("10.1.2.3/8"),
    /has bits set past its \/8 prefix: 10\.0\.0\.0\/8 for the range, or 10\.1\.2\.3\/32 for the one address/,
  );
});

Deno.test("the client is the rightmost forwarded address that is not a trusted proxy", () => {
  const proxies = new TrustedProxies(["10.0.0.0/8", "::1/128"]);
  const cases: [string, string | null, string][] = [
    // Not from a proxy: whatever the header says, the peer is the client.
    ["192.0.2.1", "203.0.113.7", "192.0.2.1"],
    ["10.0.0.2", null, "10.0.0.2"],
    ["10.0.0.2", "203.0.113.7", "203.0.113.7"],
    // What the client wrote itself is left of what the proxy appended.
    ["10.0.0.2", "198.51.100.1, 203.0.113.7", "203.0.113.7"],
    // Through two proxies.
    ["10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"],
    ["10.0.0.2", "10.0.0.3, 10.0.0.9", "10.0.0.3"],
    // Not an address: the walk stops at the proxy that wrote it.
    ["10.0.0.2", "203.0.113.7, unknown", "10.0.0.2"],
    ["10.0.0.2", "203.0.113.7, garbage, 10.0.0.9", "10.0.0.9"],
    ["::1", "[2001:DB8::1]:443", "2001:db8::1"],
    ["::1", "203.0.113.7:5555", "203.0.113.7"],
    ["::ffff:10.1.1.1", "::ffff:203.0.113.7", "203.0.113.7"],
    ["10.0.0.2", "", "10.0.0.2"],
  ];
  for (const [peer, header, client] of cases) {
    assert.equal(proxies.clientAddress(peer, header), client, `${peer} ${header}`);
  }
  assert.equal(new TrustedProxies([]).clientAddress("10.0.0.2", "203.0.113.7"), "10.0.0.2");
});

Deno.test("--trusted-proxy is repeatable, reads IPv4 and IPv6, and names a bad range", () => {
  const { settings } = resolveSettings({
    flags: { "trusted-proxy": ["10.0.0.0/8", "::1"] },
  });
  assert.deepEqual(settings.trustedProxies, ["10.0.0.0/8", "::1/128"]);
  const file = resolveSettings({
    file: { path: "c.toml", table: { trusted_proxy: ["fd00::/8"] } },
  });
  assert.deepEqual(file.settings.trustedProxies, ["fd00::/8"]);
  assert.throws(
    () => resolveSettings({ env: { CHAT_TRUSTED_PROXY: "10.0.0.0/40" } }),
    (error: Error) =>
      error instanceof ConfigError &&
      /^CHAT_TRUSTED_PROXY must have a prefix length from 0 to 32, got "10\.0\.0\.0\/40"$/.test(
        error.message,
      ),
  );
});

/** Opens a WebSocket with `forwardedFor` and says hello; resolves to welcome or the bye's code. */
async function wsHello(
  http: HttpFixture,
  nick: string,
  forwardedFor: string,
): Promise<{ peer: WsPeer; reply: string }> {
  const peer = await WsPeer.open(wsUrl(http), { headers: { "x-forwarded-for": forwardedFor } });
  peer.send({ type: "hello", protocol: PROTOCOL_VERSION, client: "t", clientVersion: "0", nick });
  const reply = await peer.next((f) => f.type === "welcome" || f.type === "bye");
  return { peer, reply: reply.type === "bye" ? reply.code : reply.type };
}

async function sessionIps(http: HttpFixture): Promise<string[]> {
  const { json } = await http.api("GET", "/api/v1/sessions", { key: http.adminKey });
  return json.sessions.map((session: { ip: string }) => session.ip).sort();
}

Deno.test("WebSockets through a trusted proxy count against the per-address cap by X-Forwarded-For", async () => {
  await using http = await startHttp({ trustedProxies: ["127.0.0.0/8"], maxConnectionsPerIp: 2 });
  const peers: WsPeer[] = [];
  try {
    for (const nick of ["a1", "a2"]) {
      const { peer, reply } = await wsHello(http, nick, "203.0.113.7");
      peers.push(peer);
      assert.equal(reply, "welcome");
    }
    // A third from the same client is over its cap, though the proxy's address is not.
    const third = await wsHello(http, "a3", "198.51.100.1, 203.0.113.7");
    await third.peer[Symbol.asyncDispose]();
    assert.equal(third.reply, "too_many_connections");
    // Another client through the same proxy has its own.
    const other = await wsHello(http, "b1", "203.0.113.8");
    peers.push(other.peer);
    assert.equal(other.reply, "welcome");
    assert.deepEqual(await sessionIps(http), ["203.0.113.7", "203.0.113.7", "203.0.113.8"]);
  } finally {
    for (const peer of peers) await peer[Symbol.asyncDispose]();
  }
});

Deno.test("without --trusted-proxy, or from another address, X-Forwarded-For changes nothing", async () => {
  for (const trustedProxies of [[], ["10.0.0.0/8", "::1/128"]]) {
    await using http = await startHttp({ trustedProxies, maxConnectionsPerIp: 2 });
    const peers: WsPeer[] = [];
    try {
      // Each claims another address; all are 127.0.0.1, and the third is over the cap.
      for (const [i, address] of ["203.0.113.1", "203.0.113.2"].entries()) {
        const { peer, reply } = await wsHello(http, `n${i}`, address);
        peers.push(peer);
        assert.equal(reply, "welcome");
      }
      const third = await wsHello(http, "n3", "203.0.113.3");
      await third.peer[Symbol.asyncDispose]();
      assert.equal(third.reply, "too_many_connections", `trusting ${trustedProxies}`);
      assert.deepEqual(await sessionIps(http), ["127.0.0.1", "127.0.0.1"]);
    } finally {
      for (const peer of peers) await peer[Symbol.asyncDispose]();
    }
  }
});

Deno.test("failed dashboard logins through a trusted proxy are throttled per client, not per proxy", async () => {
  for (const trusted of [true, false]) {
    await using http = await startHttp({
      kdfLogN: 10,
      maxLoginFailuresPerIp: 2,
      ...(trusted ? { trustedProxies: ["127.0.0.1"] } : {}),
    });
    await http.server.accounts.create("root", "correct horse battery");
    const login = (forwardedFor: string) =>
      http.api("POST", "/admin/login", {
        key: null,
        body: { name: "root", password: "wrong wrong" },
        headers: { "x-forwarded-for": forwardedFor },
      }).then(({ status, json }) => `${status} ${json.error?.code}`);
    assert.equal(await login("203.0.113.7"), "401 auth_failed");
    assert.equal(await login("203.0.113.7"), "401 auth_failed");
    assert.match(await login("203.0.113.7"), /rate_limited/);
    // Another client of the same proxy: its own tries, if the proxy is trusted.
    const other = await login("203.0.113.8");
    if (trusted) assert.equal(other, "401 auth_failed");
    else assert.match(other, /rate_limited/);
  }
});

Deno.test("chat serve --trusted-proxy: the log names the client a proxy forwarded, not the proxy", async () => {
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    "--http",
    "127.0.0.1:0",
    "--trusted-proxy",
    "127.0.0.1",
  ]);
  await waitFor(() => /serving HTTP on/.test(server.output));
  const port = /serving HTTP on 127\.0\.0\.1:(\d+)/.exec(server.output)![1];
  await using web = await WsPeer.join(`ws://127.0.0.1:${port}/ws`, "webby", {
    headers: { "x-forwarded-for": "203.0.113.7" },
  });
  assert.equal((await web.request({ type: "ping" })).type, "ack");
  await waitFor(() => /webby.*203\.0\.113\.7/.test(server.output));
  assert.doesNotMatch(server.output, /webby.*127\.0\.0\.1/);
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
