import assert from "node:assert/strict";
import { parseClientCommand } from "../client/client_commands.ts";
import { ChatError } from "../shared/errors.ts";

Deno.test("parseClientCommand reads /dmhistory with an optional page", () => {
  assert.deepEqual(parseClientCommand("/dmhistory bob", {}), {
    kind: "request",
    request: { type: "dm_history", with: "bob" },
  });
  assert.deepEqual(parseClientCommand("/DMHISTORY bob before 40", {}), {
    kind: "request",
    request: { type: "dm_history", with: "bob", before: 40 },
  });
  assert.deepEqual(parseClientCommand("/dmhistory bob after 7", {}), {
    kind: "request",
    request: { type: "dm_history", with: "bob", after: 7 },
  });
  for (const line of ["/dmhistory", "/dmhistory bob since 3", "/dmhistory bob before x"]) {
    assert.throws(() => parseClientCommand(line, {}), (error: unknown) => {
      assert.ok(error instanceof ChatError);
      assert.equal(error.code, "bad_request");
      assert.match(error.message, /Usage: \/dmhistory NICK/);
      return true;
    });
  }
});

Deno.test("parseClientCommand asks for a /register password only where it can", () => {
  assert.deepEqual(parseClientCommand("/register", {}, { secretPrompt: true }), {
    kind: "register_prompt",
  });
  assert.throws(() => parseClientCommand("/register", {}), /Usage: \/register PASSWORD/);
  assert.deepEqual(parseClientCommand("/register hunter22", {}, { secretPrompt: true }), {
    kind: "request",
    request: { type: "register", password: "hunter22" },
  });
  // A passphrase is kept whole, not cut at its first space.
  assert.deepEqual(parseClientCommand("/register  correct horse battery ", {}), {
    kind: "request",
    request: { type: "register", password: "correct horse battery" },
  });
});

Deno.test("parseClientCommand leaves everything else to parseCommand", () => {
  assert.deepEqual(parseClientCommand("hello", { currentRoom: "general" }), {
    kind: "request",
    request: { type: "say", room: "general", body: "hello" },
  });
  assert.deepEqual(parseClientCommand("//dmhistory bob", { currentRoom: "general" }), {
    kind: "request",
    request: { type: "say", room: "general", body: "/dmhistory bob" },
  });
  assert.deepEqual(parseClientCommand("/history before 5", { currentRoom: "general" }), {
    kind: "request",
    request: { type: "history", room: "general", before: 5 },
  });
});
