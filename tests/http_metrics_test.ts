/**
 * GET /metrics after real traffic over TCP and WebSocket: the exposition
 * text is checked the way `promtool check metrics` would (HELP and TYPE,
 * names, label syntax, histogram buckets cumulative up to +Inf with _sum and
 * _count), by promtool itself too when it is installed, and the values say
 * what happened.
 */
import assert from "node:assert/strict";
import { startHttp, WsPeer, wsUrl } from "./support/http_fixture.ts";
import { Peer } from "./support/peer.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses the text format 0.0.4 strictly; throws on anything promtool would reject. */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const families = new Map<string, Family>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      assert.match(name, NAME, line);
      const family = families.get(name) ?? { help: "", type: "", samples: [] };
      if (kind === "HELP") {
        assert.equal(family.help, "", `second HELP for ${name}`);
        assert.ok(rest.length > 0, `empty HELP for ${name}`);
        family.help = rest;
      } else {
        assert.equal(family.type, "", `second TYPE for ${name}`);
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(rest), line);
        assert.equal(family.samples.length, 0, `TYPE after samples for ${name}`);
        family.type = rest;
      }
      families.set(name, family);
      current = name;
      continue;
    }
    assert.ok(!line.startsWith("#"), `stray comment: ${line}`);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample !== null, `bad sample line: ${line}`);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string, string];
    const labels: Record<string, string> = {};
    for (const pair of (labelText ?? "").match(/[^,]+="(?:[^"\\]|\\.)*"/g) ?? []) {
      const [key, value] = [
        pair.slice(0, pair.indexOf("=")),
        pair.slice(pair.indexOf("=") + 2, -1),
      ];
      assert.match(key, LABEL, line);
      assert.ok(!(key in labels), `duplicate label ${key}: ${line}`);
      labels[key] = value;
    }
    const value = valueText === "+Inf" ? Infinity : Number(valueText);
    assert.ok(!Number.isNaN(value), `bad value: ${line}`);
    const family = families.get(current ?? "");
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const owner = family !== undefined && (name === current || base === current)
      ? family
      : undefined;
    assert.ok(owner !== undefined, `sample ${name} outside its family (${current})`);
    owner.samples.push({ name, labels, value });
  }
  for (const [name, family] of families) {
    assert.ok(family.help !== "" && family.type !== "", `${name} lacks HELP or TYPE`);
    if (family.type === "counter") assert.match(name, /_total$/, `counter ${name} ends _total`);
    else assert.doesNotMatch(name, /_total$/, `non-counter ${name} ends _total`);
    for (const sample of family.samples) {
      if (family.type === "counter") assert.ok(sample.value >= 0, `${name} negative`);
    }
    if (family.type === "histogram") checkHistogram(name, family);
  }
  return families;
}

function checkHistogram(name: string, family: Family): void {
  const buckets = family.samples.filter((s) => s.name === `${name}_bucket`);
  const sum = family.samples.filter((s) => s.name === `${name}_sum`);
  const count = family.samples.filter((s) => s.name === `${name}_count`);
  assert.equal(sum.length, 1, `${name}_sum`);
  assert.equal(count.length, 1, `${name}_count`);
  assert.ok(buckets.length >= 2, `${name} buckets`);
  let previousLe = -Infinity;
  let previousCount = 0;
  for (const bucket of buckets) {
    const le = bucket.labels.le === "+Inf" ? Infinity : Number(bucket.labels.le);
    assert.ok(le > previousLe, `${name} le increasing`);
    assert.ok(bucket.value >= previousCount, `${name} buckets cumulative`);
    [previousLe, previousCount] = [le, bucket.value];
  }
  assert.equal(buckets.at(-1)!.labels.le, "+Inf", `${name} ends with +Inf`);
  assert.equal(buckets.at(-1)!.value, count[0]!.value, `${name} +Inf equals _count`);
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const base = name.replace(/_(bucket|sum|count)$/, "");
  const family = families.get(name) ?? families.get(base);
  const sample = family?.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return sample?.value;
}

async function promtool(text: string): Promise<{ code: number; output: string } | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch {
    return null; // Not installed: the parser above is the check.
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, output: new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr) };
}

Deno.test("/metrics: valid exposition text whose values follow real TCP and WebSocket traffic", async () => {
  await using http = await startHttp({ rateBurst: 2, ratePerSecond: 0.01 });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await using web = await WsPeer.join(wsUrl(http), "webby");
  await alice.request({ type: "join", room: "general" });
  await web.request({ type: "join", room: "general" });
  // Two tokens each (hello, join): the third request is rate limited.
  assert.equal(
    (await alice.request({ type: "say", room: "general", body: "x" })).code,
    "rate_limited",
  );
  await http.api("GET", "/api/v1/rooms", { key: "chat_bad" });
  const posted = await http.api("POST", "/api/v1/rooms/general/messages", { body: { body: "hi" } });
  assert.equal(posted.status, 201);
  await alice.next((f) => f.type === "message");

  const response = await fetch(`${http.base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const families = parseExposition(text);
  const checked = await promtool(text);
  if (checked !== null) assert.equal(checked.code, 0, checked.output);

  for (
    const name of [
      "chat_connections",
      "chat_connections_accepted_total",
      "chat_rooms",
      "chat_users_online",
      "chat_messages_in_total",
      "chat_deliveries_total",
      "chat_received_bytes_total",
      "chat_sent_bytes_total",
      "chat_queued_bytes",
      "chat_slow_consumers_total",
      "chat_rate_limited_total",
      "chat_auth_failures_total",
      "chat_store_commit_seconds",
      "chat_store_errors_total",
      "chat_delivery_seconds",
      "chat_event_loop_lag_seconds",
    ]
  ) assert.ok(families.has(name), `${name} exported`);
  assert.equal(value(families, "chat_connections", { transport: "tcp" }), 1);
  assert.equal(value(families, "chat_connections", { transport: "ws" }), 1);
  assert.equal(value(families, "chat_connections_accepted_total", { transport: "ws" }), 1);
  assert.equal(value(families, "chat_rooms"), 1);
  // alice, webby and the API key's bot.
  assert.equal(value(families, "chat_users_online"), 3);
  assert.equal(value(families, "chat_messages_in_total"), 1);
  assert.ok(value(families, "chat_deliveries_total")! >= 3);
  assert.ok(value(families, "chat_received_bytes_total")! > 0);
  assert.ok(value(families, "chat_sent_bytes_total")! > 0);
  assert.ok(value(families, "chat_rate_limited_total")! >= 1);
  assert.equal(value(families, "chat_auth_failures_total"), 1);
  assert.equal(value(families, "chat_delivery_seconds_count"), 1);
  assert.ok(value(families, "chat_store_commit_seconds_count")! >= 1);
  assert.equal(value(families, "chat_store_errors_total"), 0);
  assert.equal(families.get("chat_delivery_seconds")!.type, "histogram");

  // Connections that end are no longer open.
  web.socket.close();
  await web.closed;
  for (let i = 0; i < 100 && http.server.broker.metrics.connectionsOpen.get("ws") !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const after = parseExposition(await (await fetch(`${http.base}/metrics`)).text());
  assert.equal(value(after, "chat_connections", { transport: "ws" }), 0);
  assert.equal(value(after, "chat_connections_accepted_total", { transport: "ws" }), 1);
});

Deno.test("the exposition checker refuses what promtool refuses", () => {
  const good = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n";
  parseExposition(good);
  for (
    const bad of [
      "a_total 1\n", // no HELP/TYPE
      "# HELP a A.\n# TYPE a counter\na 1\n", // counter without _total
      "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n", // bad name
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\n' +
      'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', // not cumulative
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    ]
  ) assert.throws(() => parseExposition(bad), bad);
});
