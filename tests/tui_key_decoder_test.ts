/**
 * The full-screen client's key decoder: legacy keys, modifiers in the
 * kitty and modifyOtherKeys forms, bracketed paste, mouse wheel, and
 * sequences split across reads.
 */
import assert from "node:assert/strict";
import { namedKey, type TuiKey, TuiKeyDecoder } from "../client/tui/tui_key_decoder.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function decode(...chunks: string[]): TuiKey[] {
  const decoder = new TuiKeyDecoder();
  return [...chunks.flatMap((chunk) => decoder.push(bytes(chunk))), ...decoder.flush()];
}

Deno.test("tui keys: text runs, Enter, Tab, Backspace and Ctrl+letters", () => {
  assert.deepEqual(decode("hé😀\r\t\x7f\x0e\x10\x03"), [
    { kind: "text", text: "hé😀" },
    namedKey("enter"),
    namedKey("tab"),
    namedKey("backspace"),
    namedKey("n", { ctrl: true }),
    namedKey("p", { ctrl: true }),
    namedKey("c", { ctrl: true }),
  ]);
});

Deno.test("tui keys: arrows, paging and editing keys, with modifiers", () => {
  assert.deepEqual(decode("\x1b[A\x1bOB\x1b[5~\x1b[6~\x1b[3~\x1b[1;5C\x1b[1;3D\x1b[Z"), [
    namedKey("up"),
    namedKey("down"),
    namedKey("pageup"),
    namedKey("pagedown"),
    namedKey("delete"),
    namedKey("right", { ctrl: true }),
    namedKey("left", { alt: true }),
    namedKey("tab", { shift: true }),
  ]);
});

Deno.test("tui keys: Alt+digit and Alt+Enter in the ESC-prefix form", () => {
  assert.deepEqual(decode("\x1b1\x1b9\x1b\r\x1bm"), [
    namedKey("1", { alt: true }),
    namedKey("9", { alt: true }),
    namedKey("enter", { alt: true }),
    namedKey("m", { alt: true }),
  ]);
});

Deno.test("tui keys: Shift+Enter and Ctrl keys in kitty and modifyOtherKeys forms", () => {
  assert.deepEqual(decode("\x1b[13;2u\x1b[27;2;13~\x1b[99;5u\x1b[49;3u\x1b[97u"), [
    namedKey("enter", { shift: true }),
    namedKey("enter", { shift: true }),
    namedKey("c", { ctrl: true }),
    namedKey("1", { alt: true }),
    { kind: "text", text: "a" },
  ]);
  // Key releases (only with flags we never ask for) and query replies are not keys.
  assert.deepEqual(decode("\x1b[97;1:3u\x1b[?1u"), []);
});

Deno.test("tui keys: SGR mouse wheel up and down; clicks ignored", () => {
  assert.deepEqual(decode("\x1b[<64;10;5M\x1b[<65;10;5M\x1b[<0;3;4M\x1b[<0;3;4m"), [
    { kind: "wheel", lines: -3 },
    { kind: "wheel", lines: 3 },
  ]);
});

Deno.test("tui keys: bracketed paste, even split across reads and markers cut in two", () => {
  assert.deepEqual(decode("\x1b[200~one\r\ntwo", "\rthree\x1b[20", "1~x"), [
    { kind: "paste", text: "one\ntwo\nthree" },
    { kind: "text", text: "x" },
  ]);
});

Deno.test("tui keys: several lines in one read are a paste; a typed line and Enter are not", () => {
  assert.deepEqual(decode("first\rsecond\r"), [{ kind: "paste", text: "first\nsecond\n" }]);
  assert.deepEqual(decode("hello\r"), [{ kind: "text", text: "hello" }, namedKey("enter")]);
});

Deno.test("tui keys: a lone Escape waits for flush; a sequence split across reads does not", () => {
  const decoder = new TuiKeyDecoder();
  assert.deepEqual(decoder.push(bytes("\x1b")), []);
  assert.equal(decoder.pending, true);
  assert.deepEqual(decoder.push(bytes("[B")), [namedKey("down")]);
  assert.deepEqual(decoder.push(bytes("\x1b")), []);
  assert.deepEqual(decoder.flush(), [namedKey("escape")]);
  assert.equal(decoder.pending, false);
});

Deno.test("tui keys: UTF-8 split across reads", () => {
  const decoder = new TuiKeyDecoder();
  const data = bytes("日");
  assert.deepEqual(decoder.push(data.subarray(0, 1)), []);
  assert.deepEqual(decoder.push(data.subarray(1)), [{ kind: "text", text: "日" }]);
});
