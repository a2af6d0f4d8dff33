/**
 * Desktop notification sequences: the protocol per terminal, sanitized
 * one-line fields, and tmux's passthrough wrapping.
 */
import assert from "node:assert/strict";
import { notificationProtocol, notificationSequence } from "../client/tui/notification.ts";

Deno.test("tui notification: OSC 9 for iTerm2, WezTerm, kitty, Windows Terminal; else OSC 777", () => {
  assert.equal(notificationProtocol({ TERM_PROGRAM: "iTerm.app" }), "osc9");
  assert.equal(notificationProtocol({ TERM_PROGRAM: "WezTerm" }), "osc9");
  assert.equal(notificationProtocol({ TERM: "xterm-kitty" }), "osc9");
  assert.equal(notificationProtocol({ WT_SESSION: "x" }), "osc9");
  assert.equal(notificationProtocol({ TERM: "xterm-256color" }), "osc777");
  assert.equal(notificationProtocol({}), "osc777");
});

Deno.test("tui notification: fields are one sanitized line; ';' cannot start a new OSC 777 field", () => {
  const message = { title: "bob in #general", body: "hi alice;\nrun \x1b]52;c;x\x07 now\u202e" };
  assert.equal(
    notificationSequence(message, { protocol: "osc777" }),
    "\x1b]777;notify;bob in #general;hi alice, run ^[]52,c,x^G now<U+202E>\x07",
  );
  assert.equal(
    notificationSequence(message, { protocol: "osc9" }),
    "\x1b]9;bob in #general: hi alice; run ^[]52;c;x^G now<U+202E>\x07",
  );
  const long = notificationSequence({ title: "t", body: "x".repeat(500) }, { protocol: "osc9" });
  assert.ok(long.length < 220);
});

Deno.test("tui notification: inside tmux the sequence goes through a DCS passthrough", () => {
  assert.equal(
    notificationSequence({ title: "a", body: "b" }, { protocol: "osc9", tmux: true }),
    "\x1bPtmux;\x1b\x1b]9;a: b\x07\x1b\\",
  );
});
