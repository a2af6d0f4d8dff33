import assert from "node:assert/strict";
import { type Key, KeyDecoder } from "../client/key_decoder.ts";
import { LineEditor } from "../client/line_editor.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const names = (keys: Key[]) =>
  keys.map((key) => key.name === "text" ? `text:${key.text}` : key.name);

function type(editor: LineEditor, ...keys: Array<Key | string>): void {
  for (const key of keys) {
    editor.handle(typeof key === "string" ? { name: "text", text: key } : key);
  }
}

Deno.test("KeyDecoder reads text, control keys and escape sequences", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(
    names(
      decoder.push(
        bytes(
          "ab\x7f\x1b[D\x1b[C\x1b[A\x1b[B\x1b[H\x1b[F\x1b[3~\x1bOD\x01\x05\x15\x17\x0b\x03\x04\r",
        ),
      ),
    ),
    [
      "text:ab",
      "backspace",
      "left",
      "right",
      "up",
      "down",
      "home",
      "end",
      "delete",
      "left",
      "home",
      "end",
      "kill-line",
      "kill-word",
      "kill-to-end",
      "interrupt",
      "eof",
      "enter",
    ],
  );
});

Deno.test("KeyDecoder joins sequences and UTF-8 split across reads", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(names(decoder.push(bytes("x\x1b"))), ["text:x"]);
  assert.deepEqual(names(decoder.push(bytes("["))), []);
  assert.deepEqual(names(decoder.push(bytes("D"))), ["left"]);
  const euro = bytes("€");
  assert.deepEqual(names(decoder.push(euro.subarray(0, 1))), []);
  assert.deepEqual(names(decoder.push(euro.subarray(1))), ["text:€"]);
});

Deno.test("KeyDecoder drops unknown sequences and stray control characters", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(names(decoder.push(bytes("\x1b[15~a\x1bxb\x07\x1b[1;5Dc"))), [
    "text:a",
    "text:xb",
    "left",
    "text:c",
  ]);
  // A pasted CRLF is one enter.
  assert.deepEqual(names(decoder.push(bytes("l1\r\nl2\n"))), [
    "text:l1",
    "enter",
    "text:l2",
    "enter",
  ]);
});

Deno.test("LineEditor inserts at the cursor and submits the line", () => {
  const editor = new LineEditor();
  type(editor, "helo", { name: "left" }, "l");
  assert.equal(editor.text, "hello");
  assert.equal(editor.cursor, 4);
  type(editor, { name: "end" }, " 👋");
  assert.deepEqual(editor.handle({ name: "enter" }), { kind: "submit", line: "hello 👋" });
  assert.equal(editor.text, "");
  assert.equal(editor.cursor, 0);
});

Deno.test("LineEditor backspace and delete work on code points", () => {
  const editor = new LineEditor();
  type(editor, "a👋b", { name: "left" }, { name: "backspace" });
  assert.equal(editor.text, "ab");
  type(editor, { name: "home" }, { name: "delete" });
  assert.equal(editor.text, "b");
  assert.deepEqual(editor.handle({ name: "backspace" }), { kind: "none" });
});

Deno.test("LineEditor Ctrl+U, Ctrl+W and Ctrl+K delete as in a shell", () => {
  const editor = new LineEditor();
  type(editor, "/msg bob hello there", { name: "kill-word" });
  assert.equal(editor.text, "/msg bob hello ");
  type(editor, { name: "kill-word" });
  assert.equal(editor.text, "/msg bob ");
  type(editor, { name: "left" }, { name: "left" }, { name: "kill-to-end" });
  assert.equal(editor.text, "/msg bo");
  type(editor, { name: "kill-line" });
  assert.equal(editor.text, "");
});

Deno.test("LineEditor history: Up and Down recall lines and keep the draft", () => {
  const editor = new LineEditor({ historySize: 2 });
  for (const line of ["one", "two", "two", "three"]) {
    type(editor, line);
    editor.handle({ name: "enter" });
  }
  type(editor, "draft");
  type(editor, { name: "up" });
  assert.equal(editor.text, "three");
  type(editor, { name: "up" });
  assert.equal(editor.text, "two");
  // History is bounded: "one" fell out.
  assert.deepEqual(editor.handle({ name: "up" }), { kind: "none" });
  type(editor, { name: "down" }, { name: "down" });
  assert.equal(editor.text, "draft");
});

Deno.test("LineEditor Ctrl+C and Ctrl+D quit", () => {
  const editor = new LineEditor();
  assert.deepEqual(editor.handle({ name: "interrupt" }), { kind: "quit" });
  assert.deepEqual(editor.handle({ name: "eof" }), { kind: "quit" });
});

Deno.test("LineEditor.render clears the line, draws prompt and text, and places the cursor", () => {
  const editor = new LineEditor();
  type(editor, "hello", { name: "left" }, { name: "left" });
  assert.equal(editor.render("> ", { promptWidth: 2, columns: 80 }), "\r\x1b[2K> hello\r\x1b[5C");
});

Deno.test("LineEditor.render scrolls sideways to keep the cursor on screen", () => {
  const editor = new LineEditor();
  type(editor, "x".repeat(100));
  const drawn = editor.render("> ", { promptWidth: 2, columns: 40 });
  const visible = drawn.slice("\r\x1b[2K> ".length, drawn.lastIndexOf("\r"));
  assert.ok(visible.length <= 37, `drew ${visible.length} characters in 40 columns`);
  const column = Number(drawn.slice(drawn.lastIndexOf("[") + 1, -1));
  assert.ok(column < 40, `cursor at column ${column}`);
});
