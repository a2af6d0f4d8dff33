import assert from "node:assert/strict";
import { type Address, formatAddress, parseAddress } from "../client/address.ts";
import { UsageError } from "../shared/cli.ts";

const tcp = (hostname: string, port: number): Address => ({ transport: "tcp", hostname, port });

Deno.test("parseAddress takes HOST, HOST:PORT and bracketed or bare IPv6", () => {
  assert.deepEqual(parseAddress(undefined), tcp("127.0.0.1", 7007));
  assert.deepEqual(parseAddress("chat.example.org"), tcp("chat.example.org", 7007));
  assert.deepEqual(parseAddress("chat.example.org:8000"), tcp("chat.example.org", 8000));
  assert.deepEqual(parseAddress("[::1]:7008"), tcp("::1", 7008));
  assert.deepEqual(parseAddress("[::1]"), tcp("::1", 7007));
  assert.deepEqual(parseAddress("::1"), tcp("::1", 7007));
  assert.deepEqual(parseAddress("fe80::1%eth0"), tcp("fe80::1%eth0", 7007));
  assert.deepEqual(parseAddress("tcp://box:9"), tcp("box", 9));
});

Deno.test("parseAddress takes tls://HOST[:PORT] (port 7443) and unix:PATH", () => {
  assert.deepEqual(parseAddress("tls://chat.example.org"), {
    transport: "tls",
    hostname: "chat.example.org",
    port: 7443,
  });
  assert.deepEqual(parseAddress("TLS://[::1]:8443"), {
    transport: "tls",
    hostname: "::1",
    port: 8443,
  });
  assert.deepEqual(parseAddress("unix:/run/chat/chat.sock"), {
    transport: "unix",
    path: "/run/chat/chat.sock",
  });
  assert.deepEqual(parseAddress("unix:chat.sock"), { transport: "unix", path: "chat.sock" });
});

Deno.test("parseAddress refuses bad ports, hosts and schemes with a usage error", () => {
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
      "tls://",
      "tls://host:0",
      "tls://a/b",
      "unix:",
      "http://host",
    ]
  ) {
    assert.throws(() => parseAddress(input), UsageError, input);
  }
});

Deno.test("formatAddress brackets IPv6 literals and reads back as it was parsed", () => {
  assert.equal(formatAddress(tcp("::1", 7007)), "[::1]:7007");
  assert.equal(formatAddress({ transport: "tcp", hostname: "127.0.0.1", port: 1 }), "127.0.0.1:1");
  for (const text of ["[::1]:7007", "tls://box:7443", "tls://[::1]:1", "unix:/tmp/chat.sock"]) {
    assert.equal(formatAddress(parseAddress(text)), text);
  }
});
