/**
 * End to end: `chat join tls://...` and `chat join unix:...` against a real
 * `chat serve` with an openssl-made certificate and a Unix socket, across
 * server restarts too.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../client/chat_client.ts";
import type { ClientEvent } from "../client/client_event.ts";
import { makeCertificate, tlsFlags } from "./support/certificate.ts";
import { JoinProcess } from "./support/join_process.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

/** Waits for `chat serve` to print a line matching `pattern`: listeners after the first come later. */
async function printed(server: ServerProcess, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 10_000;
  while (true) {
    const match = pattern.exec(server.output);
    if (match !== null) return match;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${server.output}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The TLS port `chat serve` said it listens on. */
async function tlsPort(server: ServerProcess): Promise<number> {
  return Number((await printed(server, /listening on \S*:(\d+) \(TLS\)/))[1]);
}

/** Resolves once `chat serve` said it listens on a Unix socket. */
async function unixListening(server: ServerProcess): Promise<void> {
  await printed(server, /listening on unix:/);
}

/** A port nothing listens on right now (for a server to take again after a restart). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("chat join over TLS (--ca) and over a Unix socket talks with a TCP client", async () => {
  await using cert = await makeCertificate();
  const socket = `${cert.dir}/chat.sock`;
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    ...tlsFlags(cert),
    "--unix",
    socket,
  ]);
  await using bob = await ChatClient.connect({ port: server.port, nick: "bob", reconnect: false });
  await bob.request({ type: "join", room: "general" });
  const heard: ClientEvent[] = [];
  const reading = (async () => {
    for await (const event of bob) heard.push(event);
  })();

  const overTls = await runChat(
    [
      "join",
      `tls://localhost:${await tlsPort(server)}`,
      "--ca",
      cert.certFile,
      "-n",
      "tina",
      "-r",
      "general",
    ],
    { stdin: "hello over tls\n" },
  );
  assert.equal(overTls.code, 0, overTls.stderr);
  assert.match(overTls.stdout, /#general #\d+ <tina> hello over tls/);
  // The certificate names 127.0.0.1 too: an IP address is checked like a name.
  const byIp = await runChat(
    [
      "join",
      `tls://127.0.0.1:${await tlsPort(server)}`,
      "--ca",
      cert.certFile,
      "-n",
      "ivan",
      "--json",
    ],
    { stdin: "/users\n" },
  );
  assert.equal(byIp.code, 0, byIp.stderr);
  assert.match(byIp.stdout, /"ivan"/);

  await unixListening(server);
  const overUnix = await runChat(
    ["join", `unix:${socket}`, "-n", "ulla", "-r", "general"],
    { stdin: "hello over unix\n" },
  );
  assert.equal(overUnix.code, 0, overUnix.stderr);
  assert.match(overUnix.stdout, /#general #\d+ <ulla> hello over unix/);

  await until(
    () => heard.filter((event) => event.type === "message").length === 2,
    "both messages at bob",
  );
  assert.deepEqual(
    heard.flatMap((event) => event.type === "message" ? [`${event.from}: ${event.body}`] : []),
    ["tina: hello over tls", "ulla: hello over unix"],
  );
  await bob.close();
  await reading;
});

Deno.test("ChatClient connects over TLS and Unix sockets by transport", async () => {
  await using cert = await makeCertificate();
  const socket = `${cert.dir}/chat.sock`;
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    ...tlsFlags(cert),
    "--unix",
    socket,
  ]);
  await using alice = await ChatClient.connect({
    transport: "tls",
    hostname: "localhost",
    port: await tlsPort(server),
    caCerts: [cert.cert],
    nick: "alice",
  });
  await unixListening(server);
  await using bob = await ChatClient.connect({ transport: "unix", path: socket, nick: "bob" });
  const users = await alice.request({ type: "users" });
  assert.deepEqual([...(users?.users as string[])].sort(), ["alice", "bob"]);
  await assert.rejects(ChatClient.connect({ transport: "unix", nick: "carol" }), TypeError);
  await assert.rejects(
    ChatClient.connect({
      transport: "tls",
      hostname: "localhost",
      port: await tlsPort(server),
      nick: "dave",
      reconnect: false,
    }),
    /certificate/,
  );
  await bob.close();
});

Deno.test("chat join refuses an untrusted certificate clearly, exit 1; a bad --ca too", async () => {
  await using cert = await makeCertificate();
  await using other = await makeCertificate();
  await using server = await ServerProcess.start([
    "--memory",
    "--no-discovery",
    ...tlsFlags(cert),
  ]);
  const target = `tls://localhost:${await tlsPort(server)}`;
  const untrusted = await runChat(["join", target, "-n", "eve"], { stdin: "hi\n" });
  assert.equal(untrusted.code, 1);
  assert.match(
    untrusted.stderr,
    new RegExp(
      `^chat: cannot connect to ${target}: the server's TLS certificate is not trusted ` +
        String.raw`\(invalid peer certificate: UnknownIssuer\); .*pass --ca FILE\n$`,
    ),
  );
  assert.equal(untrusted.stdout, "");

  const wrongCa = await runChat(["join", target, "--ca", other.certFile, "-n", "eve"], {
    stdin: "",
  });
  assert.equal(wrongCa.code, 1);
  assert.match(
    wrongCa.stderr,
    new RegExp(
      String.raw`TLS certificate is not trusted \(invalid peer certificate: \w+\); ` +
        `it does not check out against --ca ${other.certFile} and the name localhost`,
    ),
  );

  const missing = await runChat(["join", target, "--ca", `${cert.dir}/none.pem`, "-n", "eve"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read --ca .*none\.pem: no such file/);
  const notPem = await runChat(["join", target, "--ca", cert.keyFile, "-n", "eve"]);
  assert.equal(notPem.code, 1);
  assert.match(notPem.stderr, /holds no PEM certificate/);
  const notTls = await runChat(["join", `127.0.0.1:${server.port}`, "--ca", cert.certFile]);
  assert.equal(notTls.code, 2);
  assert.match(notTls.stderr, /--ca is for tls:\/\/ servers/);
  const noSocket = await runChat(["join", `unix:${cert.dir}/none.sock`, "-n", "eve"]);
  assert.equal(noSocket.code, 1);
  assert.match(noSocket.stderr, /cannot connect to unix:.*none\.sock: no such socket/);
});

for (const transport of ["tls", "unix"] as const) {
  Deno.test(`chat join over ${transport} reconnects to a restarted server and goes on`, async () => {
    await using cert = await makeCertificate();
    const socket = `${cert.dir}/chat.sock`;
    const port = freePort();
    const args = [
      "--memory",
      "--no-discovery",
      ...tlsFlags(cert, port),
      "--unix",
      socket,
    ];
    const first = await ServerProcess.start(args);
    await tlsPort(first);
    await unixListening(first);
    let second: ServerProcess | undefined;
    const target = transport === "tls" ? `tls://localhost:${port}` : `unix:${socket}`;
    const ca = transport === "tls" ? ["--ca", cert.certFile] : [];
    const bob = new JoinProcess([target, ...ca, "--name", "bob", "--room", "general"]);
    try {
      await bob.waitFor(() => bob.stdout.includes("bob joined #general"), "bob's join");
      await first.stop("SIGKILL");
      await bob.waitFor(() => bob.stdout.includes("reconnecting in"), "reconnecting notice");
      // The same TLS port, and the killed server's socket file replaced.
      second = await ServerProcess.start(args);
      await bob.waitFor(
        () => bob.stdout.includes("reconnected; rejoined #general"),
        "reconnected notice",
        40_000,
      );
      await bob.write("after restart\n");
      assert.equal(await bob.finish(), 0, bob.stderr);
      assert.match(bob.stdout, /#general #\d+ <bob> after restart/);
    } finally {
      await bob[Symbol.asyncDispose]();
      await first.stop("SIGKILL");
      await second?.stop("SIGKILL");
    }
  });
}
