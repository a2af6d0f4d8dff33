/**
 * The OpenAPI document is kept true: the router's routes and the
 * document's operations are the same set, and every request example in the
 * document is sent to a real server, which must answer with a documented
 * status and a body of the documented shape.
 */
import assert from "node:assert/strict";
import { OPENAPI_DOCUMENT } from "../server/http/openapi.ts";
import { startHttp } from "./support/http_fixture.ts";
import { Peer } from "./support/peer.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
// Examples that cannot succeed as written: a session id is only known at run time,
// and /ws answers plain GETs with 400.
// A file's id too (tests/http_files_test.ts downloads real ones).
const EXPECTED_FAILURES = new Set([
  "disconnectSession",
  "adminDisconnect",
  "webSocket",
  "downloadFile",
]);

function operations(doc: Json): Array<{ method: string; path: string; operation: Json }> {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of METHODS) {
      if (item[method] !== undefined) {
        out.push({ method: method.toUpperCase(), path, operation: item[method] });
      }
    }
  }
  return out;
}

/** Checks `value` against the subset of JSON Schema the document uses. */
function validate(value: unknown, schema: Json, doc: Json, where: string): void {
  if (schema.$ref !== undefined) {
    const name = String(schema.$ref).replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    assert.ok(target !== undefined, `${where}: unknown $ref ${schema.$ref}`);
    return validate(value, target, doc, where);
  }
  if (schema.enum !== undefined) {
    assert.ok(schema.enum.includes(value), `${where}: ${value} not in enum`);
  }
  switch (schema.type) {
    case "object": {
      assert.ok(
        typeof value === "object" && value !== null && !Array.isArray(value),
        `${where}: object`,
      );
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? []) assert.ok(key in record, `${where}: missing ${key}`);
      for (const [key, child] of Object.entries(schema.properties ?? {})) {
        if (record[key] !== undefined) validate(record[key], child, doc, `${where}.${key}`);
      }
      return;
    }
    case "array":
      assert.ok(Array.isArray(value), `${where}: array`);
      for (const [index, item] of (value as unknown[]).entries()) {
        if (schema.items) validate(item, schema.items, doc, `${where}[${index}]`);
      }
      return;
    case "integer":
      assert.ok(Number.isInteger(value), `${where}: integer, got ${value}`);
      return;
    case "number":
      assert.equal(typeof value, "number", where);
      return;
    case "string":
    case "boolean":
      assert.equal(typeof value, schema.type, where);
      return;
  }
}

Deno.test("every route is documented and every documented operation is a route", async () => {
  await using http = await startHttp();
  const routes = http.server.http!.routes.map((r) => `${r.method} ${r.path}`).sort();
  const documented = operations(OPENAPI_DOCUMENT).map((o) => `${o.method} ${o.path}`).sort();
  assert.deepEqual(routes, documented);
  // The served document is this one.
  const served = await (await fetch(`${http.base}/api/openapi.json`)).json();
  assert.deepEqual(served, JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  assert.equal(served.openapi, "3.1.0");
  const ids = operations(OPENAPI_DOCUMENT).map((o) => o.operation.operationId);
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
});

Deno.test("every request example in the OpenAPI document runs against a real server as documented", async () => {
  await using http = await startHttp({ kdfLogN: 10 });
  // What the examples name: an admin account, alice online, mallory in #general.
  const root = await http.server.accounts.create("root", "correct horse battery");
  await http.server.accounts.setAdmin(root.name, true);
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await using mallory = await Peer.join(http.server.addr.port, "mallory");
  await alice.request({ type: "join", room: "general" });
  await mallory.request({ type: "join", room: "general" });

  let cookie: string | undefined;
  const ran: string[] = [];
  for (const { method, path, operation } of operations(OPENAPI_DOCUMENT)) {
    const id = operation.operationId;
    let url = path;
    const query = new URLSearchParams();
    for (const parameter of operation.parameters ?? []) {
      if (parameter.in === "path") {
        assert.ok(
          parameter.example !== undefined,
          `${id}: path parameter ${parameter.name} has an example`,
        );
        url = url.replace(`{${parameter.name}}`, encodeURIComponent(String(parameter.example)));
      } else if (parameter.example !== undefined) {
        query.set(parameter.name, String(parameter.example));
      }
    }
    const headers: Record<string, string> = { origin: http.base };
    if (operation.security !== undefined) headers.authorization = `Bearer ${http.adminKey}`;
    if (path.startsWith("/admin/") && cookie !== undefined) headers.cookie = cookie;
    let body: string | null = null;
    const content = operation.requestBody?.content?.["application/json"];
    if (content !== undefined) {
      assert.ok(content.example !== undefined, `${id}: request body has an example`);
      headers["content-type"] = "application/json";
      body = JSON.stringify(content.example);
    }
    const bytes = operation.requestBody?.content?.["application/octet-stream"];
    if (bytes !== undefined) {
      assert.ok(bytes.example !== undefined, `${id}: request body has an example`);
      headers["content-type"] = "text/plain";
      body = bytes.example;
    }
    const target = `${http.base}${url}${query.size > 0 ? `?${query}` : ""}`;
    const response = await fetch(target, { method, headers, body });
    const text = await response.text();
    const documented = operation.responses[String(response.status)];
    assert.ok(
      documented !== undefined,
      `${id}: ${method} ${url} got undocumented ${response.status}: ${text}`,
    );
    if (EXPECTED_FAILURES.has(id)) assert.ok(response.status >= 400, id);
    else assert.ok(response.status < 400, `${id}: ${response.status} ${text}`);
    const schema = documented.content?.["application/json"]?.schema;
    if (schema !== undefined) validate(JSON.parse(text), schema, OPENAPI_DOCUMENT, id);
    const type = Object.keys(documented.content ?? {})[0];
    if (type !== undefined) {
      assert.ok(response.headers.get("content-type")?.startsWith(type), `${id}: ${type}`);
    }
    const setCookie = response.headers.get("set-cookie");
    if (id === "adminLogin") cookie = setCookie?.split(";")[0];
    ran.push(id);
  }
  assert.ok(ran.includes("postRoomMessage") && ran.includes("adminLogout"));
  // The examples did what they say.
  assert.equal(
    (await alice.next((f) => f.type === "message" && f.from === "opsbot")).body,
    "Deploy 1.4.2 finished",
  );
  assert.equal((await alice.next((f) => f.type === "dm")).body, "Your build is green");
  assert.match(
    (await mallory.next((f) => f.type === "leave" && f.nick === "mallory")).reason,
    /kicked by opsbot: spam/,
  );
});

Deno.test("GET /api/protocol.schema.json serves docs/protocol.schema.json", async () => {
  await using http = await startHttp();
  const response = await fetch(`${http.base}/api/protocol.schema.json`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/schema+json");
  const file = await Deno.readTextFile(new URL("../docs/protocol.schema.json", import.meta.url));
  assert.deepEqual(await response.json(), JSON.parse(file));
});
