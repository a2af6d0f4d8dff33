/**
 * LAN discovery in the client, on loopback only: probes go to 127.0.0.1
 * (`--discovery-address`), never to a broadcast or other address, and each
 * server answers on a port of its own (on one shared port a unicast probe
 * reaches only one of them).
 */
import assert from "node:assert/strict";
import { discoverServers } from "../client/server_discovery.ts";
import { describeServer, pickServer } from "../client/server_picker.ts";
import { DiscoveryResponder } from "../server/net/discovery_responder.ts";
import { decodeProbe, encodeAnswer } from "../shared/discovery.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

const ANSWER = { name: "box", version: "0.1.0", protocol: "1.0", tcp: 7007, tls: null };
const LOOPBACK = "127.0.0.1";

/** The UDP port `chat serve` said it answers probes on. */
async function discoveryPort(server: ServerProcess): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (true) {
    const match = /discovery probes on udp "?127\.0\.0\.1:(\d+)/.exec(server.output);
    if (match !== null) return Number(match[1]);
    if (Date.now() > deadline) throw new Error(`no discovery line:\n${server.output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A UDP port nothing answers on. */
function silentPort(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/** Answers every probe twice: once with a nonce off by one (someone else's), once rightly. */
function confusedResponder(): { port: number; close: () => Promise<void> } {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  const loop = (async () => {
    try {
      for await (const [packet, from] of socket) {
        const probe = decodeProbe(packet);
        if (probe === null) continue;
        const stranger = (probe.nonce + 1) % 0x1_0000_0000;
        await socket.send(encodeAnswer({ ...ANSWER, name: "stranger" }, { nonce: stranger }), from);
        await socket.send(new TextEncoder().encode("CHATDISC junk"), from);
        await socket.send(
          encodeAnswer({ ...ANSWER, name: "honest", tcp: 7009 }, {
            nonce: probe.nonce,
          }),
          from,
        );
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port: (socket.addr as Deno.NetAddr).port,
    close: async () => {
      socket.close();
      await loop;
    },
  };
}

Deno.test("discoverServers collects each server once, from every port probed, and drops answers to other nonces", async () => {
  const first = DiscoveryResponder.open(ANSWER, { hostname: LOOPBACK, port: 0 });
  const second = DiscoveryResponder.open({ ...ANSWER, name: "other", tcp: 7008, tls: 7443 }, {
    hostname: LOOPBACK,
    port: 0,
  });
  const confused = confusedResponder();
  try {
    const started = performance.now();
    const servers = await discoverServers({
      address: LOOPBACK,
      ports: [first.addr.port, second.addr.port, confused.port],
      timeoutMs: 400,
    });
    assert.ok(performance.now() - started >= 390, "collects for the whole time");
    // Answers are told apart by address and ports: one server answering twice is listed once.
    assert.deepEqual(servers.map((server) => server.name).sort(), ["box", "honest", "other"]);
    const other = servers.find((server) => server.name === "other")!;
    assert.deepEqual(other, { ...ANSWER, name: "other", tcp: 7008, tls: 7443, hostname: LOOPBACK });
    // Two probes (the retry) reached each: answered twice, listed once.
    assert.equal(first.stats.answered, 2);
    assert.deepEqual(await discoverServers({ address: LOOPBACK, ports: [silentPort()] }), []);
  } finally {
    await first.close();
    await second.close();
    await confused.close();
  }
});

Deno.test("pickServer: the only server is joined; several are asked about on a terminal", async () => {
  const first = DiscoveryResponder.open(ANSWER, { hostname: LOOPBACK, port: 0 });
  const second = DiscoveryResponder.open({ ...ANSWER, name: "tls only", tcp: null, tls: 7443 }, {
    hostname: LOOPBACK,
    port: 0,
  });
  const lines: string[] = [];
  const write = {
    error: (line: string) => lines.push(line),
    out: (line: string) => lines.push(line),
  };
  const discovery = { address: LOOPBACK, timeoutMs: 300 };
  try {
    const one = await pickServer({
      discovery: { ...discovery, ports: [first.addr.port] },
      list: false,
      ask: false,
      json: false,
      write,
    });
    assert.deepEqual(one, {
      kind: "join",
      address: { transport: "tcp", hostname: LOOPBACK, port: 7007 },
    });
    assert.deepEqual(lines, ["chat: found box  127.0.0.1:7007  (chat 0.1.0)"]);

    lines.length = 0;
    const answers = ["", "3", "x", "2"];
    const asked: string[] = [];
    const picked = await pickServer({
      discovery: { ...discovery, ports: [first.addr.port, second.addr.port] },
      list: false,
      ask: true,
      json: false,
      write,
      question: (text) => {
        asked.push(text);
        return answers.shift() ?? null;
      },
    });
    const order = lines.slice(1, 3).map((line) => line.includes("tls only") ? "tls" : "tcp");
    const tlsChoice = order.indexOf("tls") + 1;
    assert.equal(lines[0], "Chat servers on the local network:");
    assert.match(lines[1]!, /^ {2}1\) /);
    assert.ok(lines.includes(`  ${tlsChoice}) tls only  tls://127.0.0.1:7443  (chat 0.1.0)`));
    assert.equal(asked[0], "Join which one? [1-2]");
    // "", "3" and "x" are no answer; "2" is.
    assert.equal(asked.length, 4);
    assert.equal(lines.filter((line) => line.startsWith("Type a number from 1 to 2")).length, 3);
    assert.deepEqual(
      picked,
      tlsChoice === 2
        ? { kind: "join", address: { transport: "tls", hostname: LOOPBACK, port: 7443 } }
        : { kind: "join", address: { transport: "tcp", hostname: LOOPBACK, port: 7007 } },
    );

    lines.length = 0;
    const gaveUp = await pickServer({
      discovery: { ...discovery, ports: [first.addr.port, second.addr.port] },
      list: true,
      ask: true,
      json: false,
      write,
      question: () => null,
    });
    assert.deepEqual(gaveUp, { kind: "exit", code: 1 });
  } finally {
    await first.close();
    await second.close();
  }
});

Deno.test("describeServer keeps control characters from the network off the terminal", () => {
  const line = describeServer({
    ...ANSWER,
    name: "evil\x1b[2J",
    version: "1\x07",
    hostname: "10.0.0.1",
    tls: 7443,
  });
  assert.equal(line.includes("\x1b"), false);
  assert.equal(line.includes("\x07"), false);
  assert.match(
    line,
    /^evil\^\[\[2J {2}10\.0\.0\.1:7007 {2}\(chat 1\^G; also tls:\/\/10\.0\.0\.1:7443\)$/,
  );
});

Deno.test("chat join without a server: joins the only one found, lists several, falls back when none answer", async () => {
  await using one = await ServerProcess.start([
    "--memory",
    "--discovery-port",
    "0",
    "--server-name",
    "one",
  ]);
  await using two = await ServerProcess.start([
    "--memory",
    "--discovery-port",
    "0",
    "--server-name",
    "two",
  ]);
  const onePort = await discoveryPort(one);
  const twoPort = await discoveryPort(two);
  const probe = (ports: number[]) => [
    "--discovery-address",
    LOOPBACK,
    "--discovery-port",
    ports.join(","),
  ];

  const joined = await runChat(
    ["join", ...probe([onePort]), "--name", "alice", "--room", "general"],
    { stdin: "found you\n" },
  );
  assert.equal(joined.code, 0, joined.stderr);
  assert.equal(joined.stderr, `chat: found one  127.0.0.1:${one.port}  (chat 0.1.0)\n`);
  assert.match(joined.stdout, /#general #\d+ <alice> found you/);

  const several = await runChat(["join", ...probe([onePort, twoPort]), "--name", "alice"], {
    stdin: "never sent\n",
  });
  assert.equal(several.code, 2, several.stderr);
  assert.equal(several.stdout, "");
  assert.match(several.stderr, /^chat: 2 chat servers answered on the local network; name one:\n/);
  assert.match(several.stderr, new RegExp(`  chat join 127\\.0\\.0\\.1:${one.port}   # one  `));
  assert.match(several.stderr, new RegExp(`  chat join 127\\.0\\.0\\.1:${two.port}   # two  `));

  const listed = await runChat(["join", "--discover", "--json", ...probe([onePort, twoPort])]);
  assert.equal(listed.code, 0, listed.stderr);
  const records = listed.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(
    records.map((record) => [record.name, record.address]).sort(),
    [["one", `127.0.0.1:${one.port}`], ["two", `127.0.0.1:${two.port}`]],
  );
  const listedText = await runChat(["join", "--discover", ...probe([onePort])]);
  assert.equal(listedText.code, 0, listedText.stderr);
  assert.equal(listedText.stdout, `one  127.0.0.1:${one.port}  (chat 0.1.0)\n`);

  const none = await runChat(["join", ...probe([silentPort()]), "--name", "alice"], { stdin: "" });
  assert.match(
    none.stderr,
    /^chat: no chat server answered on the local network within 1 s; trying 127\.0\.0\.1:7007\n/,
  );
  const noneListed = await runChat(["join", "--discover", ...probe([silentPort()])]);
  assert.equal(noneListed.code, 1);
  assert.equal(
    noneListed.stderr,
    "chat: no chat server answered on the local network within 1 s\n",
  );

  for (
    const [args, message] of [
      [["127.0.0.1", "--discover"], /--discover looks for a server: name none with it/],
      [["--discovery-port", "0"], /--discovery-port must be between 1 and 65535/],
      [["--discovery-port", "7007,x"], /--discovery-port must be a whole number/],
    ] as const
  ) {
    const result = await runChat(["join", ...args, "--name", "bob"], { stdin: "" });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
  }
});
