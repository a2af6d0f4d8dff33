/**
 * The full-screen client's frames: every row exactly as wide as the
 * terminal whatever the characters, panes giving way on narrow terminals,
 * resizing, and the Ink components printing the rows they are given.
 */
import assert from "node:assert/strict";
import { renderToString } from "ink";
import { createElement } from "react";
import { TuiScreen } from "../client/tui/tui_app.tsx";
import { lineWidth } from "../client/tui/styled_line.ts";
import { textWidth } from "../client/tui/text_width.ts";
import { computeLayout } from "../client/tui/tui_layout.ts";
import { TuiModel } from "../client/tui/tui_model.ts";
import { buildView, screenText, type TuiView } from "../client/tui/tui_view.ts";

const T0 = Date.UTC(2024, 4, 6, 9, 30);

function busyModel(columns: number, rows: number): TuiModel {
  const model = new TuiModel({
    nick: "alice",
    server: "127.0.0.1:7007",
    columns,
    rows,
    color: 256,
    utc: true,
    now: () => T0,
  });
  model.applyEvent({ type: "join", room: "日本語", nick: "alice", ts: T0 });
  model.applyEvent({
    type: "reply",
    request: { type: "join", room: "日本語" },
    result: {
      room: "日本語",
      topic: "話題 😀",
      members: ["alice", "太郎", "👩‍💻dev"],
      lastId: 0,
      history: [],
    },
    ts: T0,
  });
  const bodies = [
    "こんにちは世界、これは長いメッセージです。".repeat(3),
    "emoji 😀😀😀 ok",
    "plain",
  ];
  bodies.forEach((body, index) => {
    model.applyEvent({
      type: "message",
      room: "日本語",
      from: index === 0 ? "太郎" : "bob",
      body,
      id: index + 1,
      ts: T0,
    });
  });
  model.handleKey({ kind: "text", text: "入力中 😀" });
  return model;
}

function assertExactWidths(view: TuiView): void {
  const { layout } = view;
  assert.equal(lineWidth(view.title), layout.columns);
  assert.equal(lineWidth(view.status), layout.columns);
  for (const row of view.input) assert.equal(lineWidth(row), layout.columns);
  assert.equal(view.main.length, layout.bodyHeight);
  for (const row of view.main) assert.equal(lineWidth(row), layout.mainWidth);
  for (const row of view.left) assert.equal(lineWidth(row), layout.leftWidth);
  for (const row of view.right) assert.equal(lineWidth(row), layout.rightWidth);
  const screen = screenText(view);
  assert.equal(screen.length, layout.rows);
  for (const row of screen) assert.equal(textWidth(row), layout.columns, row);
}

Deno.test("tui view: every row is exactly the terminal's width, with CJK and emoji", () => {
  for (const [columns, rows] of [[120, 40], [80, 24], [61, 12], [40, 10], [20, 6]] as const) {
    assertExactWidths(buildView(busyModel(columns, rows)));
  }
});

Deno.test("tui view: the nickname column lines up whatever the nickname's width", () => {
  const screen = screenText(buildView(busyModel(120, 40)));
  const bars = screen.filter((row) => / (太郎|bob) │ /.test(row)).map((row) =>
    textWidth(row.slice(0, row.search(/ │ (こ|emoji|plain)/)))
  );
  assert.equal(bars.length, 3);
  assert.equal(new Set(bars).size, 1, String(bars));
});

Deno.test("tui view: the cursor sits after the typed text, counting wide characters", () => {
  const view = buildView(busyModel(120, 40));
  // "[#日本語] " is 10 columns; "入力中 😀" 9 more.
  assert.deepEqual(view.cursor, { x: 19, y: 39 });
});

Deno.test("tui view: side panes give way on narrow terminals", () => {
  assert.deepEqual(
    [120, 90, 60, 40].map((columns) => {
      const layout = computeLayout({ columns, rows: 24, inputRows: 1 });
      return [layout.leftWidth, layout.rightWidth];
    }),
    [[18, 18], [18, 14], [14, 0], [0, 0]],
  );
  assert.equal(computeLayout({ columns: 80, rows: 3, inputRows: 4 }).bodyHeight, 0);
});

Deno.test("tui view: resizing lays everything out again", () => {
  const model = busyModel(120, 40);
  model.resize(50, 15);
  const view = buildView(model);
  assert.equal(view.layout.columns, 50);
  assert.equal(view.layout.rows, 15);
  assertExactWidths(view);
  assert.match(screenText(view).join("\n"), /plain/);
});

Deno.test("tui view: the Ink screen prints the view's rows and borders", () => {
  const model = new TuiModel({
    nick: "alice",
    server: "127.0.0.1:7007",
    columns: 100,
    rows: 12,
    utc: true,
    now: () => T0,
  });
  model.start();
  model.handleKey({ kind: "text", text: "typed 日本" });
  const view = buildView(model);
  const output = renderToString(createElement(TuiScreen, { view, dim: false }), { columns: 100 });
  const printed = output.split("\n").map((row) => row.trimEnd());
  assert.deepEqual(printed, screenText(view).map((row) => row.trimEnd()));
});
