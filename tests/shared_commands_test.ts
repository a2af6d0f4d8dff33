import assert from "node:assert/strict";
import {
  type Command,
  COMMAND_HELP,
  type CommandContext,
  parseCommand,
} from "../shared/commands.ts";
import { ChatError } from "../shared/errors.ts";

const inRoom: CommandContext = { currentRoom: "general" };
const noRoom: CommandContext = {};

function request(line: string, context: CommandContext = inRoom): unknown {
  const command = parseCommand(line, context);
  assert.equal(command.kind, "request", `${line} → ${JSON.stringify(command)}`);
  return (command as Extract<Command, { kind: "request" }>).request;
}

function rejects(
  line: string,
  context: CommandContext,
  code: string,
  message?: string,
): void {
  assert.throws(() => parseCommand(line, context), (error: unknown) => {
    assert.ok(error instanceof ChatError, `expected ChatError, got ${error}`);
    assert.equal(error.code, code, `${line}: ${error.message}`);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

Deno.test("a plain line is a message to the current room, kept as typed", () => {
  assert.deepEqual(request("hello there"), { type: "say", room: "general", body: "hello there" });
  assert.deepEqual(request("  spaced  "), { type: "say", room: "general", body: "  spaced  " });
  assert.deepEqual(request("a/b"), { type: "say", room: "general", body: "a/b" });
  assert.deepEqual(request("hi", { currentRoom: "dev" }), { type: "say", room: "dev", body: "hi" });
});

Deno.test("// sends a line starting with a literal /", () => {
  assert.deepEqual(request("//shrug"), { type: "say", room: "general", body: "/shrug" });
  assert.deepEqual(request("// x"), { type: "say", room: "general", body: "/ x" });
  assert.deepEqual(request("///"), { type: "say", room: "general", body: "//" });
});

Deno.test("a plain line outside any room is not_in_room", () => {
  rejects("hello", noRoom, "not_in_room", "You are not in a room: /join ROOM first");
  rejects("//escaped", noRoom, "not_in_room");
  rejects("hello", { currentRoom: undefined }, "not_in_room");
});

Deno.test("/join and its aliases", () => {
  for (const word of ["/join", "/j", "/create_group", "/join_group", "/JOIN", "/Join_Group"]) {
    assert.deepEqual(request(`${word} #dev`, noRoom), { type: "join", room: "#dev" }, word);
    assert.deepEqual(request(`${word}   dev`, noRoom), { type: "join", room: "dev" }, word);
    // A second word is the room's key.
    assert.deepEqual(request(`${word}   dev   s3cret`, noRoom), {
      type: "join",
      room: "dev",
      key: "s3cret",
    }, word);
  }
  rejects("/join", noRoom, "bad_request", "Usage: /join ROOM [KEY]");
  rejects("/create_group   ", noRoom, "bad_request", "Usage: /create_group ROOM [KEY]");
  rejects("/j", noRoom, "bad_request", "Usage: /j ROOM [KEY]");
});

Deno.test("/leave and its aliases, defaulting to the current room", () => {
  for (const word of ["/leave", "/part", "/leave_group"]) {
    assert.deepEqual(request(`${word} dev`, noRoom), { type: "leave", room: "dev" }, word);
    assert.deepEqual(request(word), { type: "leave", room: "general" }, word);
    rejects(word, noRoom, "not_in_room");
  }
});

Deno.test("/msg and its aliases send a direct message, keeping inner spacing", () => {
  for (const word of ["/msg", "/query", "/dm"]) {
    assert.deepEqual(request(`${word} bob hi there`, noRoom), {
      type: "dm",
      to: "bob",
      body: "hi there",
    }, word);
  }
  assert.deepEqual(request("/msg bob a  b   c"), { type: "dm", to: "bob", body: "a  b   c" });
  rejects("/msg bob", noRoom, "bad_request", "Usage: /msg NICK TEXT");
  rejects("/msg", noRoom, "bad_request", "Usage: /msg NICK TEXT");
  rejects("/dm   ", noRoom, "bad_request", "Usage: /msg NICK TEXT");
});

Deno.test("/me sends an action to the current room", () => {
  assert.deepEqual(request("/me waves  hello"), {
    type: "say",
    room: "general",
    body: "waves  hello",
    action: true,
  });
  rejects("/me", inRoom, "bad_request", "Usage: /me ACTION");
  rejects("/me waves", noRoom, "not_in_room");
});

Deno.test("/group_msg sends to a named room without joining the current one", () => {
  assert.deepEqual(request("/group_msg dev ship it", noRoom), {
    type: "say",
    room: "dev",
    body: "ship it",
  });
  rejects("/group_msg dev", inRoom, "bad_request", "Usage: /group_msg ROOM TEXT");
  rejects("/group_msg", inRoom, "bad_request", "Usage: /group_msg ROOM TEXT");
});

Deno.test("/broadcast sends a notice to everyone", () => {
  assert.deepEqual(request("/broadcast maintenance at 5", noRoom), {
    type: "broadcast",
    body: "maintenance at 5",
  });
  rejects("/broadcast", noRoom, "bad_request", "Usage: /broadcast TEXT");
  rejects("/broadcast    ", noRoom, "bad_request", "Usage: /broadcast TEXT");
});

Deno.test("/rooms, /list and /users take no room", () => {
  assert.deepEqual(request("/rooms", noRoom), { type: "rooms" });
  assert.deepEqual(request("/list", noRoom), { type: "rooms" });
  assert.deepEqual(request("/users", noRoom), { type: "users" });
});

Deno.test("/who and /names default to the current room", () => {
  for (const word of ["/who", "/names"]) {
    assert.deepEqual(request(`${word} dev`, noRoom), { type: "who", room: "dev" });
    assert.deepEqual(request(word), { type: "who", room: "general" });
    rejects(word, noRoom, "not_in_room");
  }
});

Deno.test("/rooms, /users and /who take a cursor: after NAME", () => {
  assert.deepEqual(request("/rooms after dev", noRoom), { type: "rooms", after: "dev" });
  assert.deepEqual(request("/users AFTER bob", noRoom), { type: "users", after: "bob" });
  assert.deepEqual(request("/who dev after bob", noRoom), {
    type: "who",
    room: "dev",
    after: "bob",
  });
  // Without a room: the current one; a room named "after" still works alone.
  assert.deepEqual(request("/who after bob"), { type: "who", room: "general", after: "bob" });
  assert.deepEqual(request("/who after"), { type: "who", room: "after" });
  rejects("/rooms dev", noRoom, "bad_request", "Usage: /rooms [after NAME]");
  rejects("/users after", noRoom, "bad_request", "Usage: /users [after NAME]");
  rejects("/who dev after bob carol", noRoom, "bad_request", "Usage: /who [ROOM] [after NAME]");
});

Deno.test("/topic shows or sets the current room's topic", () => {
  assert.deepEqual(request("/topic"), { type: "topic", room: "general" });
  assert.deepEqual(request("/topic Release  day "), {
    type: "topic",
    room: "general",
    topic: "Release  day",
  });
  rejects("/topic", noRoom, "not_in_room");
  rejects("/topic new", noRoom, "not_in_room");
});

Deno.test("/nick changes nickname", () => {
  assert.deepEqual(request("/nick robert", noRoom), { type: "nick", nick: "robert" });
  assert.deepEqual(request("/nick robert extra", noRoom), { type: "nick", nick: "robert" });
  rejects("/nick", noRoom, "bad_request", "Usage: /nick NICK");
});

Deno.test("/switch and /go change the current room locally", () => {
  assert.deepEqual(parseCommand("/switch dev", noRoom), { kind: "switch", room: "dev" });
  assert.deepEqual(parseCommand("/go #dev", inRoom), { kind: "switch", room: "#dev" });
  rejects("/switch", inRoom, "bad_request", "Usage: /switch ROOM");
});

Deno.test("/help, /?, /quit and /exit", () => {
  assert.deepEqual(parseCommand("/help", noRoom), { kind: "help" });
  assert.deepEqual(parseCommand("/?", noRoom), { kind: "help" });
  assert.deepEqual(parseCommand("/quit", noRoom), { kind: "quit" });
  assert.deepEqual(parseCommand("/exit", inRoom), { kind: "quit" });
  assert.deepEqual(parseCommand("/quit gone  fishing ", noRoom), {
    kind: "quit",
    reason: "gone  fishing",
  });
});

Deno.test("an unknown command is unknown_command", () => {
  rejects("/frobnicate now", inRoom, "unknown_command", "Unknown command /frobnicate: try /help");
  rejects("/", inRoom, "unknown_command", "Unknown command /: try /help");
  rejects("/ hello", inRoom, "unknown_command");
  rejects(
    `/${"x".repeat(100)}`,
    inRoom,
    "unknown_command",
    `Unknown command /${"x".repeat(31)}: try /help`,
  );
});

Deno.test("every command listed in COMMAND_HELP parses", () => {
  for (const [usage] of COMMAND_HELP) {
    // "/create_group, /join_group ROOM": aliases, then the arguments they share.
    const match = /^((?:\/\S+, )*\/\S+)(.*)$/.exec(usage);
    assert.ok(match, usage);
    // Fill each placeholder: " NICK TEXT" → " bob some words".
    const args = match[2]!.replace(
      /\[?(ROOM|NICK|TEXT|ACTION|REASON|DURATION|PASSWORD|SECRET|ID|EMOJI)\]?/g,
      (_, word: string) =>
        ({
          ROOM: "dev",
          NICK: "bob",
          DURATION: "10m",
          PASSWORD: "hunter22",
          SECRET: "s3cret",
          ID: "42",
          EMOJI: "👍",
        } as Record<string, string>)[
          word
        ] ?? "some words",
    );
    for (const name of match[1]!.split(", ")) {
      const command = parseCommand(name + args, inRoom);
      assert.ok(
        ["request", "help", "quit", "switch", "typing"].includes(command.kind),
        name + args,
      );
    }
  }
  assert.ok(COMMAND_HELP.length >= 15);
});

Deno.test("/register keeps the whole rest of the line as the password", () => {
  assert.deepEqual(request("/register correct horse battery", noRoom), {
    type: "register",
    password: "correct horse battery",
  });
  rejects("/register   ", noRoom, "bad_request", "Usage: /register PASSWORD");
});
