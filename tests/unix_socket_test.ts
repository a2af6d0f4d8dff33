import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { Peer } from "./support/peer.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function connectUnix(path: string): Promise<Deno.UnixConn> {
  return Deno.connect({ transport: "unix", path });
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("Unix socket beside TCP: mode 0660, same sessions, removed at shutdown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-unix-" });
  const path = `${dir}/chat.sock`;
  try {
    const server = await ChatServer.listen({ host: "127.0.0.1", port: 0, unixPath: path });
    try {
      const info = await Deno.lstat(path);
      assert.ok(info.isSocket);
      assert.equal(info.mode! & 0o777, 0o660);
      assert.deepEqual(server.listeners.map((l) => l.kind), ["tcp", "unix"]);
      await using alice = await Peer.join(await connectUnix(path), "alice");
      await using bob = await Peer.join(server.addr.port, "bob");
      assert.equal((await alice.request({ type: "join", room: "dev" })).type, "ack");
      assert.equal((await bob.request({ type: "join", room: "dev" })).type, "ack");
      assert.equal((await alice.request({ type: "say", room: "dev", body: "hi" })).type, "ack");
      const heard = await bob.next((f) => f.type === "message" && f.from === "alice");
      assert.equal(heard.body, "hi");
    } finally {
      await server.shutdown();
    }
    assert.equal(await exists(path), false, "socket file removed at shutdown");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Unix socket peers are counted under one cap key, 'unix'", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-unix-" });
  const path = `${dir}/chat.sock`;
  try {
    await using _server = await ChatServer.listen({
      host: "127.0.0.1",
      tcp: false,
      unixPath: path,
      maxConnectionsPerIp: 1,
    });
    await using alice = await Peer.join(await connectUnix(path), "alice");
    const second = new Peer(await connectUnix(path));
    second.send({ type: "hello", protocol: "1.0", client: "t", clientVersion: "0", nick: "bob" });
    const bye = await second.next((f) => f.type === "bye");
    assert.equal(bye.code, "too_many_connections");
    assert.match(bye.message, /from unix/);
    await second[Symbol.asyncDispose]();
    assert.equal((await alice.request({ type: "ping" })).type, "ack");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a live server on the path makes a second one refuse to start; a file that is not a socket too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-unix-" });
  const path = `${dir}/chat.sock`;
  try {
    await using first = await ChatServer.listen({ host: "127.0.0.1", tcp: false, unixPath: path });
    await assert.rejects(
      ChatServer.listen({ host: "127.0.0.1", port: 0, unixPath: path }),
      (error: Error) => /another server is answering on .*chat\.sock/.test(error.message),
    );
    // The first server's socket is untouched.
    await using alice = await Peer.join(await connectUnix(path), "alice");
    assert.equal((await alice.request({ type: "ping" })).type, "ack");
    assert.equal(first.stats.connections, 1);

    const file = `${dir}/plain`;
    await Deno.writeTextFile(file, "keep me");
    await assert.rejects(
      ChatServer.listen({ host: "127.0.0.1", port: 0, unixPath: file }),
      (error: Error) => /exists and is not a socket/.test(error.message),
    );
    assert.equal(await Deno.readTextFile(file), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve --unix: a socket left by a killed server is replaced; --unix-mode applies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-unix-" });
  const path = `${dir}/chat.sock`;
  try {
    {
      await using killed = await ServerProcess.start([
        "--memory",
        "--no-discovery",
        "--unix",
        path,
      ]);
      await waitFor(() => killed.output.includes(`listening on unix:${path}`));
      assert.equal((await killed.stop("SIGKILL")).signal, "SIGKILL");
    }
    assert.ok((await Deno.lstat(path)).isSocket, "SIGKILL leaves the socket file behind");
    await assert.rejects(connectUnix(path), Deno.errors.ConnectionRefused);

    await using server = await ServerProcess.start([
      "--memory",
      "--no-discovery",
      "--unix",
      path,
      "--unix-mode",
      "0600",
    ]);
    assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
    await using alice = await Peer.join(await connectUnix(path), "alice");
    assert.deepEqual((await alice.request({ type: "users" })).result.users, ["alice"]);
    await alice[Symbol.asyncDispose]();
    assert.equal((await server.stop("SIGTERM")).code, 0);
    assert.equal(await exists(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve --no-tcp --unix: only the socket; a second server on it exits 1 with a clear line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-unix-" });
  const path = `${dir}/chat.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--memory", "--no-discovery", "--no-tcp", "--unix", path],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const deadline = Date.now() + 20_000;
    while (!(await exists(path))) {
      if (Date.now() > deadline) throw new Error("no socket after 20 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await using alice = await Peer.join(await connectUnix(path), "alice");
    assert.equal((await alice.request({ type: "ping" })).type, "ack");

    const second = await runChat([
      "serve",
      "--memory",
      "--no-discovery",
      "--no-tcp",
      "--unix",
      path,
    ]);
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stderr,
      /^chat: cannot listen on unix:.*chat\.sock: another server is answering/,
    );
    assert.equal(second.stderr.trim().split("\n").length, 1, second.stderr);
    assert.equal((await alice.request({ type: "ping" })).type, "ack");
  } finally {
    child.kill("SIGTERM");
    const { code, stdout } = await child.output();
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stdout), /listening on unix:/);
    await Deno.remove(dir, { recursive: true });
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
