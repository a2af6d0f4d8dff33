/**
 * `GET /api/v1/search` over real HTTP: the rooms the key's bot is in, one
 * room it joins first, paging by cursor, the text taken literally, bad
 * input answered with the error shape, and the rate cost of a search.
 */
import assert from "node:assert/strict";
import { startHttp } from "./support/http_fixture.ts";
import { type Frame, Peer } from "./support/peer.ts";

function bodies(json: Frame): string[] {
  return json.results.map((result: Frame) => result.body);
}

Deno.test("GET /api/v1/search: the bot's rooms, one room, pages, literal text, errors", async () => {
  await using http = await startHttp({ rateBurst: 1000, ratePerSecond: 1000 });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "general" });
  await alice.request({ type: "join", room: "private" });
  for (const body of ["build 1 green", "build 2 red", "build 3 green"]) {
    await alice.request({ type: "say", room: "general", body });
  }
  await alice.request({ type: "say", room: "private", body: "green secret" });

  // The bot is in no room yet: nothing to search.
  const none = await http.api("GET", "/api/v1/search?q=green");
  assert.equal(none.status, 200, JSON.stringify(none.json));
  assert.deepEqual(none.json.results, []);
  // With room, it joins it, as reading its history does.
  const one = await http.api("GET", "/api/v1/search?q=green&room=general");
  assert.equal(one.status, 200);
  assert.deepEqual(bodies(one.json), ["build 3 green", "build 1 green"]);
  assert.deepEqual(one.json.results[0].room, "general");
  // Now the bot's rooms: #general only, never #private.
  const page = await http.api("GET", "/api/v1/search?q=build&limit=2");
  assert.deepEqual(bodies(page.json), ["build 3 green", "build 2 red"]);
  assert.equal(page.json.more, true);
  const next = await http.api(
    "GET",
    `/api/v1/search?q=build&limit=2&cursor=${encodeURIComponent(page.json.cursor)}`,
  );
  assert.deepEqual(bodies(next.json), ["build 1 green"]);
  assert.equal(next.json.more, undefined);
  assert.deepEqual(bodies((await http.api("GET", "/api/v1/search?q=secret")).json), []);
  // Literal: quotes, a star and a minus are no syntax.
  const quoted = await http.api("GET", `/api/v1/search?q=${encodeURIComponent('"red*"')}`);
  assert.deepEqual(bodies(quoted.json), ["build 2 red"]);
  // "-red" is the word red, not "without red": no message has both.
  const minus = await http.api("GET", `/api/v1/search?q=${encodeURIComponent("green -red")}`);
  assert.deepEqual(bodies(minus.json), []);

  for (
    const [path, status, code] of [
      ["/api/v1/search", 400, "bad_request"],
      [`/api/v1/search?q=${encodeURIComponent('"*"')}`, 400, "bad_request"],
      ["/api/v1/search?q=x&cursor=nope", 400, "bad_request"],
      ["/api/v1/search?q=x&limit=0", 400, "bad_request"],
      ["/api/v1/search?q=x&room=nowhere", 404, "no_such_room"],
    ] as const
  ) {
    const refused = await http.api("GET", path);
    assert.equal(refused.status, status, `${path}: ${JSON.stringify(refused.json)}`);
    assert.equal(refused.json.error.code, code, path);
  }
  assert.equal((await http.api("GET", "/api/v1/search?q=x", { key: null })).status, 401);
});

Deno.test("GET /api/v1/search costs --search-cost of the key's rate", async () => {
  await using http = await startHttp({ rateBurst: 10, ratePerSecond: 0.01, searchCost: 5 });
  assert.equal((await http.api("GET", "/api/v1/search?q=a")).status, 200);
  assert.equal((await http.api("GET", "/api/v1/search?q=a")).status, 200);
  const refused = await http.api("GET", "/api/v1/search?q=a");
  assert.equal(refused.status, 429);
  assert.equal(refused.json.error.code, "rate_limited");
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
});
