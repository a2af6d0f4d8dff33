/**
 * The full-screen client's input: editing by grapheme, multi-line text,
 * history, Tab completion and where the cursor lands on screen.
 */
import assert from "node:assert/strict";
import { commandNames, cycleCompletion, startCompletion } from "../client/tui/completion.ts";
import { InputBuffer } from "../client/tui/input_buffer.ts";
import { inputRows } from "../client/tui/input_view.ts";
import { lineText } from "../client/tui/styled_line.ts";

Deno.test("tui input: editing moves by grapheme, never inside an emoji", () => {
  const input = new InputBuffer();
  input.insert("a👩‍💻b");
  input.moveBy(-1);
  input.backspace();
  assert.equal(input.text, "ab");
  input.insert("日");
  assert.equal(input.text, "a日b");
  assert.equal(input.cursor, 2);
});

Deno.test("tui input: Ctrl+W, Ctrl+U and Ctrl+K work on the cursor's line", () => {
  const input = new InputBuffer();
  input.insert("first line\nhello big world");
  input.killWordBack();
  assert.equal(input.text, "first line\nhello big ");
  input.moveBy(-4);
  input.killToLineEnd();
  assert.equal(input.text, "first line\nhello ");
  input.killToLineStart();
  assert.equal(input.text, "first line\n");
});

Deno.test("tui input: Up and Down move between lines of a multi-line text, then through history", () => {
  const input = new InputBuffer();
  input.insert("older");
  input.submit();
  input.insert("one");
  input.newline();
  input.insert("two");
  assert.equal(input.up(), true); // to line one
  assert.equal(input.text, "one\ntwo");
  assert.equal(input.cursor, 3);
  assert.equal(input.up(), true); // history: the draft is kept
  assert.equal(input.text, "older");
  assert.equal(input.down(), true);
  assert.equal(input.text, "one\ntwo");
  assert.equal(input.down(), false);
});

Deno.test("tui input: history keeps distinct non-blank entries", () => {
  const input = new InputBuffer({ historySize: 2 });
  for (const line of ["a", "a", "  ", "b", "c"]) {
    input.insert(line);
    input.submit();
  }
  input.historyBack();
  assert.equal(input.text, "c");
  input.historyBack();
  assert.equal(input.text, "b");
  assert.equal(input.historyBack(), false);
});

const sources = {
  commands: commandNames(["/query", "/close"]),
  nicks: ["zoe", "bob", "Bea", "bert"],
  rooms: ["general", "dev", "design"],
};

Deno.test("tui completion: commands at the start of the line", () => {
  const completion = startCompletion([..."/jo"], 3, sources);
  assert.deepEqual(completion?.candidates, ["/join ", "/join_group "]);
  assert.ok(commandNames().includes("/quit"));
  assert.ok(commandNames(["/query"]).includes("/query"));
});

Deno.test("tui completion: nicknames in the given order (recent speakers first), with ': ' at the start", () => {
  assert.deepEqual(startCompletion([..."b"], 1, sources)?.candidates, [
    "bob: ",
    "Bea: ",
    "bert: ",
  ]);
  assert.deepEqual(startCompletion([..."hi B"], 4, sources)?.candidates, [
    "bob ",
    "Bea ",
    "bert ",
  ]);
  // The argument of /msg is a nickname without the colon.
  assert.deepEqual(startCompletion([..."/msg z"], 6, sources)?.candidates, ["zoe "]);
});

Deno.test("tui completion: rooms after # and as the argument of /join", () => {
  assert.deepEqual(startCompletion([..."see #de"], 7, sources)?.candidates, [
    "#dev ",
    "#design ",
  ]);
  assert.deepEqual(startCompletion([..."/join g"], 7, sources)?.candidates, ["general "]);
  assert.equal(startCompletion([..."xyz"], 3, sources), undefined);
});

Deno.test("tui completion: cycling wraps both ways", () => {
  const completion = { start: 0, candidates: ["a ", "b ", "c "], index: 0 };
  assert.equal(cycleCompletion(completion, -1).index, 2);
  assert.equal(cycleCompletion(cycleCompletion(completion, 1), 1).index, 2);
});

Deno.test("tui input rows: prompt, line breaks, wrapping and the cursor after wide characters", () => {
  const clusters = [..."日本語abc\nxy"];
  const laid = inputRows({ clusters, cursor: 3, prompt: "[#a] ", width: 12 });
  assert.deepEqual(laid.rows.map(lineText), ["[#a] 日本語", "     abc", "↳    xy"]);
  // After three wide characters: prompt 5 + 6 columns; the row is full, so the cursor wraps.
  assert.deepEqual([laid.cursorRow, laid.cursorColumn], [1, 5]);
  const end = inputRows({ clusters, cursor: clusters.length, prompt: "[#a] ", width: 12 });
  assert.deepEqual([end.cursorRow, end.cursorColumn], [2, 7]);
  const mid = inputRows({ clusters, cursor: 2, prompt: "[#a] ", width: 12 });
  assert.deepEqual([mid.cursorRow, mid.cursorColumn], [0, 9]);
});
