import assert from "node:assert/strict";
import { formatAddress, parseAddress } from "../client/address.ts";
import { UsageError } from "../shared/cli.ts";

Deno.test("parseAddress takes HOST, HOST:PORT and bracketed or bare IPv6", () => {
  assert.deepEqual(parseAddress(undefined), { hostname: "127.0.0.1", port: 7007 });
  assert.deepEqual(parseAddress("chat.example.org"), { hostname: "chat.example.org", port: 7007 });
  assert.deepEqual(parseAddress("chat.example.org:8000"), {
    hostname: "chat.example.org",
    port: 8000,
  });
  assert.deepEqual(parseAddress("[::1]:7008"), { hostname: "::1", port: 7008 });
  assert.deepEqual(parseAddress("[::1]"), { hostname: "::1", port: 7007 });
  assert.deepEqual(parseAddress("::1"), { hostname: "::1", port: 7007 });
  assert.deepEqual(parseAddress("fe80::1%eth0"), { hostname: "fe80::1%eth0", port: 7007 });
});

Deno.test("parseAddress refuses bad ports and hosts with a usage error", () => {
  for (
    const input of [
      "host:0",
      "host:65536",
      "host:x",
      "host:",
      ":7007",
      "[::1]:x",
      "[::1",
      "a b:1",
      "a/b",
    ]
  ) {
    assert.throws(() => parseAddress(input), UsageError, input);
  }
});

Deno.test("formatAddress brackets IPv6 literals", () => {
  assert.equal(formatAddress({ hostname: "::1", port: 7007 }), "[::1]:7007");
  assert.equal(formatAddress({ hostname: "127.0.0.1", port: 1 }), "127.0.0.1:1");
});
