/**
 * Files over HTTP (docs/protocol.md section 23): GET /files/ID with a link
 * from file_url or with an API key, its headers (nothing uploaded runs in
 * the page's origin), and uploads through the REST API.
 */
import assert from "node:assert/strict";
import { startHttp } from "./support/http_fixture.ts";
import { Peer } from "./support/peer.ts";
import { bytesOf, download, upload } from "./support/file_transfer.ts";

Deno.test("GET /files/ID: a file_url link works for its file alone, is an attachment, never sniffed, sandboxed", async () => {
  await using http = await startHttp({ guestUploads: true });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await using carol = await Peer.join(http.server.addr.port, "carol");
  await alice.request({ type: "join", room: "dev" });
  const page = new TextEncoder().encode("<script>alert(document.cookie)</script>");
  const end = await upload(alice, page, { room: "dev" }, {
    name: "évil.html",
    mediaType: "text/html",
  });
  const id = end.result.file.id;
  // Carol is not in #dev: no link for her.
  assert.equal((await carol.request({ type: "file_url", file: id })).code, "no_such_file");
  const link = await alice.request({ type: "file_url", file: id });
  assert.match(link.result.url, new RegExp(`^/files/${id}\\?t=`));
  assert.ok(link.result.expiresAt > Date.now());
  const response = await fetch(http.base + link.result.url);
  assert.equal(response.status, 200);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), page);
  assert.equal(response.headers.get("content-type"), "text/html");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  assert.match(
    response.headers.get("content-disposition")!,
    /^attachment; filename="_vil.html"; filename\*=UTF-8''%C3%A9vil\.html$/,
  );
  assert.match(response.headers.get("content-security-policy")!, /sandbox/);
  // The token names its file: another id, or a changed token, gets nothing.
  const other = await upload(alice, bytesOf(10), { room: "dev" });
  const token = new URL(http.base + link.result.url).searchParams.get("t")!;
  const wrong = await fetch(`${http.base}/files/${other.result.file.id}?t=${token}`);
  assert.equal(wrong.status, 404);
  assert.equal((await wrong.json()).error.code, "no_such_file");
  const forged = await fetch(`${http.base}/files/${id}?t=${token.slice(0, -2)}xx`);
  assert.equal(forged.status, 404);
  await forged.body?.cancel();
  // Without a token or a key: 401.
  const bare = await fetch(`${http.base}/files/${id}`);
  assert.equal(bare.status, 401);
  await bare.body?.cancel();
});

Deno.test("GET /files/ID with an API key: a room's file as the room's history, a DM's only to its parties", async () => {
  await using http = await startHttp({ guestUploads: true });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const bytes = bytesOf(200_000, 3);
  const end = await upload(alice, bytes, { room: "dev" });
  const got = await fetch(`${http.base}/files/${end.result.file.id}`, {
    headers: { authorization: `Bearer ${http.key}` },
  });
  assert.equal(got.status, 200);
  assert.equal(got.headers.get("content-length"), "200000");
  assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bytes);
  // A DM between alice and bob is not the bot's.
  await using bob = await Peer.join(http.server.addr.port, "bob");
  const dm = await upload(alice, bytesOf(5), { to: "bob" });
  const refused = await http.api("GET", `/files/${dm.result.file.id}`);
  assert.equal(refused.status, 404);
  assert.equal(refused.json.error.code, "no_such_file");
  assert.equal((await download(bob, dm.result.file.id)).bytes.length, 5);
});

Deno.test("POST /api/v1/rooms/{room}/files shares the body as the key's bot, within --max-upload-bytes", async () => {
  await using http = await startHttp({ maxUploadBytes: 100_000 });
  await using alice = await Peer.join(http.server.addr.port, "alice");
  await alice.request({ type: "join", room: "dev" });
  const bytes = bytesOf(90_000, 5);
  const response = await fetch(`${http.base}/api/v1/rooms/dev/files?name=build.log`, {
    method: "POST",
    headers: { authorization: `Bearer ${http.key}`, "content-type": "text/plain; charset=utf-8" },
    body: bytes,
  });
  const posted = await response.json();
  assert.equal(response.status, 201, JSON.stringify(posted));
  assert.equal(posted.from, "deploybot");
  assert.deepEqual({ ...posted.file, id: "" }, {
    id: "",
    name: "build.log",
    size: 90_000,
    type: "text/plain",
  });
  const message = await alice.next((f) => f.type === "message" && f.from === "deploybot");
  assert.deepEqual(message.file, posted.file);
  assert.deepEqual((await download(alice, posted.file.id)).bytes, bytes);
  const big = await fetch(`${http.base}/api/v1/rooms/dev/files?name=big.bin`, {
    method: "POST",
    headers: { authorization: `Bearer ${http.key}` },
    body: bytesOf(100_001),
  });
  assert.equal(big.status, 413);
  await big.body?.cancel();
  const noName = await http.api("POST", "/api/v1/rooms/dev/files", { body: "x" });
  assert.equal(noName.status, 400);
});
