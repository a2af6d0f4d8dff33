/**
 * Display widths, styled lines and wrapping for the full-screen client:
 * wide characters and emoji take two columns, nothing splits a grapheme,
 * and every span is sanitized.
 */
import assert from "node:assert/strict";
import {
  alignRight,
  fitLine,
  lineText,
  lineWidth,
  span,
  truncate,
  wrapLine,
} from "../client/tui/styled_line.ts";
import { fitWidth, graphemes, textWidth } from "../client/tui/text_width.ts";

Deno.test("tui text: widths of ASCII, CJK, emoji, combining marks and ZWJ sequences", () => {
  assert.equal(textWidth("abc"), 3);
  assert.equal(textWidth("日本語"), 6);
  assert.equal(textWidth("😀"), 2);
  assert.equal(textWidth("e\u0301"), 1);
  assert.equal(textWidth("👩‍💻"), 2);
  assert.deepEqual(graphemes("a👩‍💻e\u0301"), ["a", "👩‍💻", "e\u0301"]);
});

Deno.test("tui text: fitting never splits a wide character", () => {
  assert.deepEqual(fitWidth("日本語", 5), { text: "日本", width: 4 });
  assert.equal(lineText(fitLine([span("日本語")], 5)), "日本 ");
  assert.equal(lineWidth(fitLine([span("a😀b", "1"), span("c")], 3)), 3);
  assert.equal(lineWidth(fitLine([span("ab")], 6)), 6);
});

Deno.test("tui text: spans sanitize control, bidi and zero-width characters; tabs become spaces", () => {
  const line = span("\x1b[2J\u202e\u200b\x9b1m\tx");
  assert.equal(line.text, "^[[2J<U+202E><U+200B><U+009B>1m  x");
  // deno-lint-ignore no-control-regex -- looking for control characters is the point
  assert.doesNotMatch(line.text, /[\x00-\x1f\x7f-\x9f\u202e\u200b]/);
});

Deno.test("tui text: alignment and truncation by display width", () => {
  assert.equal(alignRight("bob", 5), "  bob");
  assert.equal(textWidth(alignRight("日本語日本語", 5)), 5);
  assert.equal(alignRight("日本語日本語", 5), "日本…");
  assert.equal(truncate("general-chat", 8), "general…");
  assert.equal(truncate("short", 8), "short");
});

Deno.test("tui text: wrapping breaks at spaces, indents continuations, keeps styles", () => {
  const rows = wrapLine([span("hello ", "1"), span("big wide world")], { width: 10, indent: 2 });
  assert.deepEqual(rows.map(lineText), ["hello big ", "  wide ", "  world"]);
  assert.equal(rows[0]![0]!.sgr, "1");
  for (const row of rows) assert.ok(lineWidth(row) <= 10);
});

Deno.test("tui text: wrapping wide characters and long words stays within the width", () => {
  const rows = wrapLine([span("日本語のテキスト😀😀😀 supercalifragilistic")], { width: 7 });
  for (const row of rows) assert.ok(lineWidth(row) <= 7, lineText(row));
  assert.equal(
    rows.map(lineText).join("").replace(/ /g, ""),
    "日本語のテキスト😀😀😀supercalifragilistic",
  );
});
