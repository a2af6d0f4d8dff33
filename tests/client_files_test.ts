/**
 * Files from the client's side (docs/protocol.md section 23): two real
 * `chat join` processes share a file bigger than the frame cap, one
 * uploading with `/upload`, the other saving it with `/download` (never
 * over an existing file unless `--force`); the commands and the lines that
 * show file messages; plain text refuses transfers with `unsupported`.
 */
import assert from "node:assert/strict";
import { parseClientCommand } from "../client/client_commands.ts";
import { uploadTarget } from "../client/file_commands.ts";
import { mediaTypeOf, safeFileName } from "../client/file_transfer.ts";
import { formatEvent } from "../client/format.ts";
import { listenRelaxed, withDataDir } from "./support/test_server.ts";
import { JoinProcess } from "./support/join_process.ts";
import { Peer, TextPeer } from "./support/peer.ts";
import { bytesOf, upload } from "./support/file_transfer.ts";

Deno.test("two chat join users: /upload from piped text, --json sees the file, /download saves the same bytes", async () => {
  await withDataDir(async (dir) => {
    // A small frame cap: the file crosses in many chunks.
    const server = await listenRelaxed({ guestUploads: true, maxFrameBytes: 8192 });
    try {
      const address = `127.0.0.1:${server.addr.port}`;
      await using bob = new JoinProcess([address, "--name", "bob", "--room", "dev", "--json"]);
      await bob.waitFor(
        () => bob.records.some((r) => r.type === "join" && r.from === "bob"),
        "bob's join",
      );
      const bytes = bytesOf(100_000, 4);
      await Deno.writeFile(`${dir}/report.pdf`, bytes);
      await using alice = new JoinProcess([address, "--name", "alice", "--room", "dev"]);
      await alice.write(`/upload ${dir}/report.pdf\n`);
      await alice.waitFor(
        () => /uploaded report\.pdf \(100\.0 kB\) to #dev: id /.test(alice.stdout),
        "the upload",
      );
      assert.match(
        alice.stdout,
        /#dev #\d+ <alice> \[file\] report\.pdf \(100\.0 kB, application\/pdf\) id \S+/,
      );
      await bob.waitFor(
        () => bob.records.some((r) => r.type === "message" && r.file),
        "the file message",
      );
      const message = bob.records.find((r) => r.type === "message" && r.file)!;
      assert.deepEqual({ ...message.file, id: "" }, {
        id: "",
        name: "report.pdf",
        size: 100_000,
        type: "application/pdf",
      });
      const out = `${dir}/saved.pdf`;
      await bob.write(`/download ${message.file.id} ${out}\n`);
      await bob.waitFor(() => bob.records.some((r) => r.type === "download"), "the download");
      assert.deepEqual(await Deno.readFile(out), bytes);
      // Not over an existing file: refused, the file kept; --force replaces it.
      await Deno.writeTextFile(out, "mine");
      await bob.write(`/download ${message.file.id} ${out}\n`);
      await bob.waitFor(() => /it exists/.test(bob.stderr), "the refusal");
      assert.equal(await Deno.readTextFile(out), "mine");
      await bob.write(`/download ${message.file.id} ${out} --force\n`);
      await bob.waitFor(
        () => bob.records.filter((r) => r.type === "download").length === 2,
        "the forced download",
      );
      assert.deepEqual(await Deno.readFile(out), bytes);
      assert.deepEqual(
        (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort(),
        ["report.pdf", "saved.pdf"],
      );
      assert.equal(await alice.finish(), 0, alice.stderr);
      assert.equal(await bob.finish(), 1, "a failed download is a failure");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("/upload and /download parse as the help says; the target is #room, @nick, a room one is in, or a user", () => {
  assert.deepEqual(parseClientCommand('/upload "my report.pdf" bob', {}), {
    kind: "upload",
    path: "my report.pdf",
    to: "bob",
  });
  assert.deepEqual(parseClientCommand("/upload a.txt", {}), { kind: "upload", path: "a.txt" });
  assert.deepEqual(parseClientCommand("/download ID -f out", {}), {
    kind: "download",
    file: "ID",
    path: "out",
    overwrite: true,
  });
  assert.throws(() => parseClientCommand("/upload", {}), { code: "bad_request" });
  assert.throws(() => parseClientCommand("/download a b c", {}), { code: "bad_request" });
  assert.deepEqual(uploadTarget("#ops", { rooms: [] }), { room: "ops" });
  assert.deepEqual(uploadTarget("@dev", { rooms: ["dev"] }), { to: "dev" });
  assert.throws(() => uploadTarget(undefined, { rooms: [] }), { code: "not_in_room" });
  assert.equal(safeFileName("a/b\u202e.txt"), "b_.txt");
  assert.equal(safeFileName(".."), "download");
  assert.equal(mediaTypeOf("x.PNG"), "image/png");
});

Deno.test("a file message reads [file] NAME (SIZE, TYPE) id ID, with its caption when there is one", () => {
  const file = { id: "f1", name: "r\u202e.pdf", size: 1_234_567, type: "application/pdf" };
  const base = {
    type: "message",
    room: "dev",
    from: "ann",
    id: 1,
    ts: Date.UTC(2024, 0, 1),
  } as const;
  assert.equal(
    formatEvent({ ...base, body: file.name, file }, { utc: true }),
    "[00:00:00] #dev #1 <ann> [file] r<U+202E>.pdf (1.2 MB, application/pdf) id f1",
  );
  assert.equal(
    formatEvent({ ...base, body: "the report", file }, { utc: true }),
    "[00:00:00] #dev #1 <ann> [file] r<U+202E>.pdf (1.2 MB, application/pdf) id f1: the report",
  );
});

Deno.test("plain text: /upload and /download are unsupported; file messages are shown", async () => {
  const server = await listenRelaxed({ guestUploads: true, textPromptDelayMs: 0 });
  try {
    await using text = await TextPeer.connect(server.addr.port);
    text.write("carol\n/join dev\n");
    await text.waitFor("joined #dev");
    text.write("/upload notes.txt\n/download abcdefgh\n");
    await text.waitFor(/! unsupported: \/upload needs[^\n]*\n[^\n]*! unsupported: \/download/);
    await using alice = await Peer.join(server.addr.port, "alice");
    await alice.request({ type: "join", room: "dev" });
    const end = await upload(alice, bytesOf(2500), { room: "dev" }, { name: "n.txt" });
    await text.waitFor(
      `#dev #${end.result.id} <alice> [file] n.txt (2.5 kB, application/octet-stream) id ${end.result.file.id}`,
    );
  } finally {
    await server.shutdown();
  }
});
