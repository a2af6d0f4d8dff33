import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { makeCertificate, tlsFlags } from "./support/certificate.ts";
import { Peer } from "./support/peer.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

function connectTls(port: number, ca: string): Promise<Deno.TlsConn> {
  return Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
}

Deno.test("TLS beside TCP: framed clients on both meet in one room", async () => {
  await using cert = await makeCertificate();
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    tls: { cert: cert.cert, key: cert.key },
    tlsPort: 0,
  });
  const tls = server.listeners.find((l) => l.kind === "tls")!.addr as Deno.NetAddr;
  assert.notEqual(tls.port, server.addr.port);
  await using alice = await Peer.join(await connectTls(tls.port, cert.cert), "alice");
  await using bob = await Peer.join(server.addr.port, "bob");
  assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
  assert.equal((await bob.request({ type: "join", room: "dev" })).type, "ack");
  assert.equal((await bob.request({ type: "say", room: "dev", body: "over tcp" })).type, "ack");
  assert.equal((await alice.next((f) => f.type === "message")).body, "over tcp");
  assert.equal((await alice.request({ type: "say", room: "dev", body: "over tls" })).type, "ack");
  const heard = await bob.next((f) => f.type === "message" && f.from === "alice");
  assert.equal(heard.body, "over tls");
});

Deno.test("TLS: a client that does not trust the certificate, or speaks plain TCP, gets nowhere; others go on", async () => {
  await using cert = await makeCertificate();
  await using other = await makeCertificate();
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    tcp: false,
    tls: { cert: cert.cert, key: cert.key },
    tlsPort: 0,
    handshakeTimeoutMs: 500,
  });
  const port = server.addr.port;
  // Untrusted: the client refuses the handshake.
  const untrusted = await connectTls(port, other.cert);
  await assert.rejects(untrusted.handshake());
  untrusted.close();
  // Plain bytes on the TLS port: no session, the connection is closed.
  const plain = await Deno.connect({ hostname: "127.0.0.1", port });
  await plain.write(new TextEncoder().encode("alice\r\n"));
  const buffer = new Uint8Array(1024);
  let read: number | null = 0;
  try {
    while (read !== null) read = await plain.read(buffer);
  } catch {
    // Reset is as good as closed.
  }
  plain.close();
  assert.equal(server.stats.connections, 0);
  await using alice = await Peer.join(await connectTls(port, cert.cert), "alice");
  assert.equal((await alice.request({ type: "ping" })).type, "ack");
});

Deno.test("TLS: a person with a TLS terminal gets the plain-text prompt", async () => {
  await using cert = await makeCertificate();
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    tcp: false,
    tls: { cert: cert.cert, key: cert.key },
    tlsPort: 0,
    textPromptDelayMs: 100,
  });
  const conn = await connectTls(server.addr.port, cert.cert);
  try {
    const buffer = new Uint8Array(4096);
    const count = await conn.read(buffer);
    assert.ok(count !== null && count > 0);
    assert.match(new TextDecoder().decode(buffer.subarray(0, count)), /nick/i);
  } finally {
    conn.close();
  }
});

Deno.test("chat serve --tls-cert --tls-key --no-tcp: TLS only, with openssl-made files", async () => {
  await using cert = await makeCertificate();
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    ...tlsFlags(cert),
    "--no-tcp",
  ]);
  assert.match(server.output, /listening on 127\.0\.0\.1:\d+ \(TLS\)/);
  assert.doesNotMatch(server.output, /listening on 127\.0\.0\.1:\d+\n/);
  // A leaf certificate, as docs/operations.md makes it: no warning.
  assert.doesNotMatch(server.output, /CA certificate/);
  await using alice = await Peer.join(await connectTls(server.port, cert.cert), "alice");
  assert.deepEqual((await alice.request({ type: "users" })).result.users, ["alice"]);
  await alice[Symbol.asyncDispose]();
  assert.equal((await server.stop("SIGTERM")).code, 0);
});

Deno.test("chat serve: unreadable or mismatched TLS files fail at start with a clear line", async () => {
  await using cert = await makeCertificate();
  const missing = await runChat([
    "serve",
    "--memory",
    "--tls-cert",
    `${cert.dir}/nope.pem`,
    "--tls-key",
    cert.keyFile,
  ]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /--tls-cert: cannot read .*nope\.pem/);
  const swapped = await runChat([
    "serve",
    "--memory",
    "--tls-cert",
    cert.keyFile,
    "--tls-key",
    cert.certFile,
  ]);
  assert.equal(swapped.code, 2, swapped.stderr);
  assert.match(swapped.stderr, /--tls-cert: .*key\.pem holds no PEM certificate/);
  const half = await runChat(["serve", "--memory", "--tls-key", cert.keyFile]);
  assert.equal(half.code, 2);
  assert.match(half.stderr, /--tls-key needs --tls-cert too/);
});

Deno.test("chat serve and chat config check: a key that is not the certificate's, or an unreadable certificate, is exit 2 with one line", async () => {
  await using cert = await makeCertificate();
  await using other = await makeCertificate();
  const garbled = `${cert.dir}/garbled.pem`;
  await Deno.writeTextFile(
    garbled,
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  );
  for (const command of [["serve", "--no-discovery"], ["config", "check"]]) {
    const args = [...command, "--memory", "--port", "0"];
    const mismatched = await runChat([
      ...args,
      "--tls-cert",
      cert.certFile,
      "--tls-key",
      other.keyFile,
    ]);
    assert.equal(mismatched.code, 2, mismatched.stderr);
    assert.match(
      mismatched.stderr,
      new RegExp(
        `^chat: --tls-key: ${other.keyFile} is not the private key of the certificate in ` +
          `${cert.certFile}: give the key the certificate was made with`,
      ),
    );
    assert.equal(mismatched.stderr.trim().split("\n").length, 1, mismatched.stderr);
    assert.equal(mismatched.stdout, "");
    const unreadable = await runChat([...args, "--tls-cert", garbled, "--tls-key", cert.keyFile]);
    assert.equal(unreadable.code, 2, unreadable.stderr);
    assert.match(
      unreadable.stderr,
      /^chat: --tls-cert: .*garbled\.pem holds no readable certificate/,
    );
    assert.equal(unreadable.stderr.trim().split("\n").length, 1, unreadable.stderr);
  }
  // The library says the same instead of rustls's "KeyMismatch".
  await assert.rejects(
    ChatServer.listen({ port: 0, host: "127.0.0.1", tls: { cert: cert.cert, key: other.key } }),
    /Cannot listen on tls 127\.0\.0\.1:7443: The TLS private key is not the key of the certificate CN=localhost/,
  );
});

Deno.test("a CA certificate as the server's: chat serve warns how to make a leaf; chat join says what is wrong in words", async () => {
  await using ca = await makeCertificate({ ca: true });
  const check = await runChat(["config", "check", "--memory", ...tlsFlags(ca)]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(
    check.stderr,
    /^chat: warning: The TLS certificate CN=localhost is a CA certificate \(basicConstraints CA:TRUE\)/,
  );
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    ...tlsFlags(ca),
    "--no-tcp",
  ]);
  assert.match(
    server.output,
    /WARN.*The TLS certificate CN=localhost is a CA certificate \(basicConstraints CA:TRUE\): chat join and other rustls clients refuse .*-addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth to openssl req -x509/,
  );
  const target = `tls://localhost:${server.port}`;
  const join = await runChat(["join", target, "--ca", ca.certFile, "-n", "eve"], { stdin: "" });
  assert.equal(join.code, 1);
  assert.equal(
    join.stderr,
    `chat: cannot connect to ${target}: the server's TLS certificate is a CA certificate ` +
      "(basicConstraints CA:TRUE), which TLS clients refuse as a server's own; no --ca helps: " +
      "the server needs a leaf certificate (CA:FALSE), see TLS in docs/operations.md\n",
  );
  assert.equal((await server.stop("SIGTERM")).code, 0);
});

Deno.test("TLS: a connection that never handshakes stays counted until it leaves; shutdown does not wait for it", async () => {
  await using cert = await makeCertificate();
  const server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    tcp: false,
    tls: { cert: cert.cert, key: cert.key },
    tlsPort: 0,
    handshakeTimeoutMs: 100,
    maxConnectionsPerIp: 1,
  });
  const port = server.addr.port;
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  await waitFor(() => server.stats.connections === 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Past the timeout, Deno still holds the socket: it still counts.
  assert.equal(server.stats.connections, 1);
  silent.close();
  await waitFor(() => server.stats.connections === 0);

  const pending = await Deno.connect({ hostname: "127.0.0.1", port });
  await waitFor(() => server.stats.connections === 1);
  const before = Date.now();
  await server.shutdown();
  assert.ok(Date.now() - before < 1000, "shutdown waited for a handshake");
  pending.close();
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
