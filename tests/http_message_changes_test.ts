/**
 * Message changes over the REST API (docs/protocol.md section 21) on real
 * HTTP, reaching a real TCP client: a bot edits and deletes its own
 * messages, reacts and takes reactions back, replies; an admin key deletes
 * anyone's; refusals have their codes and HTTP statuses.
 */
import assert from "node:assert/strict";
import { startHttp } from "./support/http_fixture.ts";
import { type Frame, Peer } from "./support/peer.ts";

function assertError(json: Frame, code: string): void {
  assert.equal(json.error?.code, code, JSON.stringify(json));
  assert.equal(typeof json.error?.message, "string");
}

Deno.test("REST: a bot posts a reply, edits and deletes its message, reacts and unreacts; a TCP client sees each in order", async () => {
  await using http = await startHttp();
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "general" });
  const question = (await alice.request({ type: "say", room: "general", body: "status?" })).result;
  const posted = await http.api("POST", "/api/v1/rooms/general/messages", {
    body: { body: "deploy runing", replyTo: question.id },
  });
  assert.equal(posted.status, 201, JSON.stringify(posted.json));
  const id = posted.json.id;
  const live = await alice.next((f) => f.type === "message" && f.id === id);
  assert.equal(live.replyTo, question.id);

  const edited = await http.api("PATCH", `/api/v1/rooms/general/messages/${id}`, {
    body: { body: "deploy running" },
  });
  assert.equal(edited.status, 200, JSON.stringify(edited.json));
  assert.deepEqual(Object.keys(edited.json).sort(), ["id", "room", "target", "ts"]);
  assert.deepEqual([edited.json.room, edited.json.target], ["general", id]);
  const emoji = encodeURIComponent("👍");
  const reacted = await http.api(
    "PUT",
    `/api/v1/rooms/general/messages/${question.id}/reactions/${emoji}`,
  );
  assert.equal(reacted.status, 200, JSON.stringify(reacted.json));
  assert.equal(reacted.json.emoji, "👍");
  const again = await http.api(
    "PUT",
    `/api/v1/rooms/general/messages/${question.id}/reactions/${emoji}`,
  );
  assert.deepEqual([again.status, again.json.unchanged, again.json.id], [200, true, undefined]);
  const unreacted = await http.api(
    "DELETE",
    `/api/v1/rooms/general/messages/${question.id}/reactions/${emoji}`,
  );
  assert.equal(unreacted.status, 200);
  assert.ok(unreacted.json.id > reacted.json.id);
  const deleted = await http.api("DELETE", `/api/v1/rooms/general/messages/${id}`);
  assert.equal(deleted.status, 200, JSON.stringify(deleted.json));

  await alice.next((f) => f.type === "delete" && f.id === deleted.json.id);
  const seen = alice.all((f) => f.room === "general" && f.from !== "alice" || f.type === "delete")
    .filter((f) => f.type !== "join");
  assert.deepEqual(seen.map((f) => [f.type, f.id]), [
    ["message", id],
    ["edit", edited.json.id],
    ["react", reacted.json.id],
    ["unreact", unreacted.json.id],
    ["delete", deleted.json.id],
  ]);
  assert.equal(seen[1]!.from, "deploybot");
  // The history route gives the current state.
  const page = await http.api("GET", "/api/v1/rooms/general/messages");
  const mine = page.json.messages.find((m: Frame) => m.id === id);
  assert.deepEqual(mine.deleted, { by: "deploybot", ts: deleted.json.ts });
  assert.equal(mine.body, "");
  const caught = await http.api("GET", `/api/v1/rooms/general/messages?after=${question.id}`);
  assert.deepEqual(caught.json.messages.map((m: Frame) => m.type), [
    "message",
    "edit",
    "react",
    "unreact",
    "delete",
  ]);
});

Deno.test("REST: others' messages: a plain key may not edit or delete them, an admin key may delete; refusals are coded", async () => {
  await using http = await startHttp({ maxReactionsPerMessage: 1 });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "general" });
  const words = (await alice.request({ type: "say", room: "general", body: "mine" })).result.id;
  const path = `/api/v1/rooms/general/messages/${words}`;
  const edit = await http.api("PATCH", path, { body: { body: "bot's" } });
  assert.equal(edit.status, 403);
  assertError(edit.json, "forbidden");
  const asAdmin = await http.api("PATCH", path, { key: http.adminKey, body: { body: "x" } });
  assert.equal(asAdmin.status, 403, "admins cannot rewrite others' words either");
  const plain = await http.api("DELETE", path);
  assert.equal(plain.status, 403);
  assertError(plain.json, "forbidden");
  // One emoji at most on this server.
  const first = await http.api("PUT", `${path}/reactions/${encodeURIComponent("🎉")}`);
  assert.equal(first.status, 200);
  const second = await http.api("PUT", `${path}/reactions/${encodeURIComponent("🚀")}`);
  assert.equal(second.status, 409);
  assertError(second.json, "too_many_reactions");
  const notEmoji = await http.api("PUT", `${path}/reactions/ok`);
  assert.equal(notEmoji.status, 400);
  assertError(notEmoji.json, "bad_request");
  const byAdmin = await http.api("DELETE", path, { key: http.adminKey });
  assert.equal(byAdmin.status, 200, JSON.stringify(byAdmin.json));
  assert.equal((await alice.next((f) => f.type === "delete")).by, "opsbot");
  const gone = await http.api("DELETE", path, { key: http.adminKey });
  assert.equal(gone.status, 404);
  assertError(gone.json, "no_such_message");
  const unknown = await http.api("PATCH", "/api/v1/rooms/general/messages/999", {
    body: { body: "x" },
  });
  assert.equal(unknown.status, 404);
  assertError(unknown.json, "no_such_message");
  const badId = await http.api("DELETE", "/api/v1/rooms/general/messages/abc");
  assert.equal(badId.status, 400);
  const badReply = await http.api("POST", "/api/v1/rooms/general/messages", {
    body: { body: "re", replyTo: 999 },
  });
  assert.equal(badReply.status, 404);
  assertError(badReply.json, "no_such_message");
  const noRoom = await http.api("DELETE", "/api/v1/rooms/nowhere/messages/1");
  assert.equal(noRoom.status, 404);
  assertError(noRoom.json, "no_such_room");
});
