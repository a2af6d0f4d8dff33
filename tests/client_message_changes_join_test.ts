/**
 * End to end: message changes (docs/protocol.md, section 21) between two
 * `chat join` subprocesses on a real `chat serve`: alice piped with
 * `--json`, bob piped with text output, and carol, joining later, reading
 * the messages' current state from history.
 */
import assert from "node:assert/strict";
import { JoinProcess } from "./support/join_process.ts";
import { runChat, ServerProcess } from "./support/server_process.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

const TIME = String.raw`\[\d\d:\d\d:\d\d\]`;
const HISTORY = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \(history\)`;

function record(records: Json[], fields: Json): Json | undefined {
  return records.find((entry) =>
    Object.entries(fields).every(([key, value]) => entry[key] === value)
  );
}

Deno.test({
  name: "two chat join users reply, react, edit and delete; a later joiner reads the state",
}, async () => {
  await using server = await ServerProcess.start(["--memory"]);
  const address = `127.0.0.1:${server.port}`;
  await using alice = new JoinProcess([address, "--name", "alice", "--room", "general", "--json"]);
  await alice.waitFor(
    () => record(alice.records, { type: "join", from: "alice" }) !== undefined,
    "alice in",
  );
  await using bob = new JoinProcess([address, "--name", "bob", "--room", "general"]);
  await alice.waitFor(
    () => record(alice.records, { type: "join", from: "bob" }) !== undefined,
    "bob in",
  );

  await alice.write("lunch at noon?\n");
  await alice.waitFor(
    () => record(alice.records, { type: "message", body: "lunch at noon?" }) !== undefined,
    "alice's message",
  );
  const asked = record(alice.records, { type: "message", body: "lunch at noon?" })!.id as number;
  await bob.waitFor(
    () => new RegExp(`^${TIME} #general #${asked} <alice> lunch at noon\\?$`, "m").test(bob.stdout),
    "alice's message with its id, for bob",
  );

  // Bob answers and reacts, naming the message by the id his line showed.
  await bob.write(`/reply ${asked} yes\n/react #${asked} 👍\n`);
  await alice.waitFor(
    () => record(alice.records, { type: "react", from: "bob", target: asked }) !== undefined,
    "bob's reaction as JSON",
  );
  const answer = record(alice.records, { type: "message", from: "bob", body: "yes" });
  assert.equal(answer?.replyTo, asked);
  assert.equal(record(alice.records, { type: "react", from: "bob" })!.emoji, "👍");
  await bob.waitFor(
    () => bob.stdout.includes(`<bob> (↪ alice: lunch at noon?) yes`),
    "bob's reply quoting alice",
  );

  await alice.write(`/edit ${asked} lunch at one?\n`);
  await bob.waitFor(
    () =>
      new RegExp(`${TIME} #general alice edited #${asked}: lunch at one\\?$`, "m").test(bob.stdout),
    "the edit in bob's text",
  );
  const edit = record(alice.records, { type: "edit", target: asked });
  assert.equal(edit?.body, "lunch at one?");
  assert.equal(edit?.from, "alice");

  // Someone else's message: only its author (or an operator) may delete it; nobody may edit it.
  await bob.write(`/edit ${asked} hijacked\n`);
  await bob.waitFor(() => bob.stderr.includes("forbidden"), "bob refused the edit");
  await bob.write(`/delete ${answer!.id}\n`);
  await alice.waitFor(
    () => record(alice.records, { type: "delete", target: answer!.id }) !== undefined,
    "bob's delete as JSON",
  );
  assert.equal(record(alice.records, { type: "delete", target: answer!.id })!.by, "bob");
  await bob.waitFor(
    () => bob.stdout.includes(`bob deleted #${answer!.id} (bob: yes)`),
    "the delete in bob's text",
  );

  // Carol comes later: history shows each message as it stands now.
  const carol = await runChat(["join", address, "--name", "carol", "--room", "general"], {
    stdin: "",
  });
  assert.equal(carol.code, 0, carol.stderr);
  assert.match(
    carol.stdout,
    new RegExp(
      `^${HISTORY} #general #${asked} <alice> lunch at one\\? \\(edited \\d\\d:\\d\\d:\\d\\d\\)  👍 1$`,
      "m",
    ),
  );
  assert.match(
    carol.stdout,
    new RegExp(
      `^${HISTORY} #general #${
        answer!.id
      } <bob> \\(↪ alice: lunch at one\\?\\) \\[deleted by bob\\]$`,
      "m",
    ),
  );

  assert.equal(await alice.finish(), 0, alice.stderr);
  // Bob's refused edit makes his exit code 1, as any failed request does.
  assert.equal(await bob.finish(), 1);
});
