import assert from "node:assert/strict";
import { ChatServer } from "../server/chat_server.ts";
import { DiscoveryResponder } from "../server/net/discovery_responder.ts";
import {
  decodeAnswer,
  decodeProbe,
  DISCOVERY_MAGIC,
  encodeAnswer,
  encodeProbe,
  MAX_ANSWER_BYTES,
} from "../shared/discovery.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { VERSION } from "../shared/version.ts";
import { makeCertificate } from "./support/certificate.ts";
import { ServerProcess } from "./support/server_process.ts";

const ANSWER = { name: "box", version: "0.1.0", protocol: "1.0", tcp: 7007, tls: 7443 };

Deno.test("probes and answers round-trip; answers never outgrow probes", () => {
  const probe = encodeProbe(0xdead_beef);
  assert.equal(probe.length, MAX_ANSWER_BYTES);
  assert.deepEqual(decodeProbe(probe), { nonce: 0xdead_beef });
  const answer = encodeAnswer(ANSWER, { nonce: 5 });
  assert.deepEqual(decodeAnswer(answer), { nonce: 5, ...ANSWER });
  const long = encodeAnswer({ ...ANSWER, name: "é".repeat(200), version: "9".repeat(100) }, {
    nonce: 1,
  });
  assert.ok(long.length <= MAX_ANSWER_BYTES);
  assert.equal(new TextEncoder().encode(decodeAnswer(long)!.name).length, 64);
  assert.deepEqual(decodeAnswer(encodeAnswer({ ...ANSWER, tcp: null }, { nonce: 2 }))?.tcp, null);
  assert.throws(() => encodeProbe(-1), RangeError);
  assert.throws(() => encodeAnswer({ ...ANSWER, tcp: 0 }, { nonce: 1 }), RangeError);
});

Deno.test("malformed packets decode to null, never throw", () => {
  const probe = encodeProbe(1);
  const answer = encodeAnswer(ANSWER, { nonce: 1 });
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    DISCOVERY_MAGIC,
    probe.subarray(0, MAX_ANSWER_BYTES - 1), // unpadded: could amplify
    answer, // an answer is not a probe
    Uint8Array.from(probe, (byte, i) => i === 8 ? 2 : byte), // another format version
    Uint8Array.from(probe, (byte, i) => i === 0 ? 0x63 : byte), // wrong magic
  ];
  for (const packet of cases) assert.equal(decodeProbe(packet), null);
  const body = (text: string) => {
    const packet = new Uint8Array(14 + text.length);
    packet.set(answer.subarray(0, 14));
    packet.set(new TextEncoder().encode(text), 14);
    return packet;
  };
  for (
    const packet of [
      probe,
      answer.subarray(0, 20),
      body("[]"),
      body("null"),
      body('{"name":1,"version":"1","protocol":"1","tcp":1,"tls":null}'),
      body('{"name":"a","version":"1","protocol":"1","tcp":70000,"tls":null}'),
      body('{"name":"a","version":"1","protocol":"1","tcp":1.5,"tls":null}'),
      Uint8Array.from({ length: 300 }, () => 0x41),
      new Uint8Array([...answer.subarray(0, 14), 0xff, 0xfe]),
    ]
  ) assert.equal(decodeAnswer(packet), null);
  // Random bytes behind a valid header, many times over.
  for (let i = 0; i < 500; i++) {
    const noise = crypto.getRandomValues(new Uint8Array(1 + (i % 250)));
    decodeAnswer(new Uint8Array([...answer.subarray(0, 14), ...noise]));
    decodeProbe(new Uint8Array([...probe.subarray(0, 14), ...noise]));
  }
});

/** A UDP socket on loopback that sends probes and collects answers. */
async function withProber<T>(use: (prober: Prober) => Promise<T>): Promise<T> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const answers: Uint8Array[] = [];
  const reading = (async () => {
    try {
      for await (const [data] of socket) answers.push(data);
    } catch {
      // Closed.
    }
  })();
  try {
    return await use({
      send: (packet, port) =>
        socket.send(packet, { transport: "udp", hostname: "127.0.0.1", port }),
      answers,
    });
  } finally {
    socket.close();
    await reading;
  }
}

interface Prober {
  send(packet: Uint8Array, port: number): Promise<number>;
  answers: Uint8Array[];
}

const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a server answers a probe on loopback with its name, version and TCP and TLS ports", async () => {
  await using cert = await makeCertificate();
  await using server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    tls: { cert: cert.cert, key: cert.key },
    tlsPort: 0,
    discovery: true,
    discoveryPort: 0,
    serverName: "test box",
  });
  const udp = server.discoveryAddr!;
  assert.equal(udp.hostname, "127.0.0.1");
  const tls = server.listeners.find((l) => l.kind === "tls")!.addr as Deno.NetAddr;
  await withProber(async (prober) => {
    await prober.send(encodeProbe(77), udp.port);
    const deadline = Date.now() + 5000;
    while (prober.answers.length === 0 && Date.now() < deadline) await settle(10);
    assert.deepEqual(decodeAnswer(prober.answers[0]!), {
      nonce: 77,
      name: "test box",
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      tcp: server.addr.port,
      tls: tls.port,
    });
  });
});

Deno.test("the responder ignores malformed packets and rate-limits each source", async () => {
  const responder = DiscoveryResponder.open(ANSWER, {
    hostname: "127.0.0.1",
    port: 0,
    burstPerSource: 3,
    ratePerSource: 0.01,
  });
  try {
    await withProber(async (prober) => {
      const port = responder.addr.port;
      for (
        const junk of [
          new Uint8Array(0),
          new TextEncoder().encode("hello?"),
          encodeProbe(1).subarray(0, 100),
          encodeAnswer(ANSWER, { nonce: 1 }),
          crypto.getRandomValues(new Uint8Array(1500)),
        ]
      ) await prober.send(junk, port);
      await settle();
      assert.equal(prober.answers.length, 0, "no answer to malformed packets");
      for (let i = 0; i < 10; i++) await prober.send(encodeProbe(i), port);
      await settle();
      assert.deepEqual(prober.answers.map((a) => decodeAnswer(a)?.nonce), [0, 1, 2]);
      assert.deepEqual(responder.stats, { answered: 3, dropped: 12 });
    });
  } finally {
    await responder.close();
  }
});

Deno.test("servers on one host share the discovery port", async () => {
  const first = DiscoveryResponder.open(ANSWER, { hostname: "127.0.0.1", port: 0 });
  try {
    const second = DiscoveryResponder.open({ ...ANSWER, name: "second" }, {
      hostname: "127.0.0.1",
      port: first.addr.port,
    });
    await second.close();
  } finally {
    await first.close();
  }
});

Deno.test("chat serve answers probes (discovery-port 0 is logged); --no-discovery answers none", async () => {
  {
    await using server = await ServerProcess.start([
      "--memory",
      "--discovery-port",
      "0",
      "--server-name",
      "cli box",
    ]);
    const deadline = Date.now() + 5000;
    let match: RegExpExecArray | null = null;
    while ((match = /discovery probes on udp "?127\.0\.0\.1:(\d+)/.exec(server.output)) === null) {
      if (Date.now() > deadline) throw new Error(`no discovery line:\n${server.output}`);
      await settle(20);
    }
    await withProber(async (prober) => {
      await prober.send(encodeProbe(9), Number(match![1]));
      while (prober.answers.length === 0 && Date.now() < deadline) await settle(10);
      const answer = decodeAnswer(prober.answers[0]!)!;
      assert.equal(answer.name, "cli box");
      assert.equal(answer.tcp, server.port);
      assert.equal(answer.tls, null);
    });
  }
  {
    await using server = await ServerProcess.start(["--memory", "--no-discovery"]);
    await settle(200);
    assert.doesNotMatch(server.output, /discovery/i);
    assert.equal((await server.stop("SIGTERM")).code, 0);
  }
});
