/**
 * The input line of interactive mode as pure state: the text, the cursor,
 * history, and how to draw it. No terminal I/O here, so it is testable.
 *
 * @module
 */
import type { Key } from "./key_decoder.ts";

/** What a key press did. */
export type EditResult =
  | { kind: "submit"; line: string }
  | { kind: "quit" }
  | { kind: "changed" }
  | { kind: "redraw" }
  | { kind: "none" };

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** Most lines kept in history. Default 500. */
  historySize?: number;
}

/**
 * A single-line editor with history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineEditor } from "./line_editor.ts";
 * const editor = new LineEditor();
 * editor.handle({ name: "text", text: "hi" });
 * assert.deepEqual(editor.handle({ name: "enter" }), { kind: "submit", line: "hi" });
 * ```
 */
export class LineEditor {
  // Code points, so the cursor never splits a surrogate pair.
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #draft: string[] = [];
  #historySize: number;

  /** Makes an editor with an empty line and history. */
  constructor(options: LineEditorOptions = {}) {
    this.#historySize = options.historySize ?? 500;
  }

  /** The text being typed. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor position, in code points from the start. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Applies one key press. */
  handle(key: Key): EditResult {
    switch (key.name) {
      case "text": {
        const chars = [...key.text];
        this.#chars.splice(this.#cursor, 0, ...chars);
        this.#cursor += chars.length;
        return { kind: "changed" };
      }
      case "enter": {
        const line = this.text;
        this.#chars = [];
        this.#cursor = 0;
        if (line.trim() !== "" && this.#history.at(-1) !== line) {
          this.#history.push(line);
          if (this.#history.length > this.#historySize) this.#history.shift();
        }
        this.#historyIndex = this.#history.length;
        this.#draft = [];
        return { kind: "submit", line };
      }
      case "backspace":
        if (this.#cursor === 0) return { kind: "none" };
        this.#chars.splice(--this.#cursor, 1);
        return { kind: "changed" };
      case "delete":
        if (this.#cursor === this.#chars.length) return { kind: "none" };
        this.#chars.splice(this.#cursor, 1);
        return { kind: "changed" };
      case "left":
        return this.#move(this.#cursor - 1);
      case "right":
        return this.#move(this.#cursor + 1);
      case "home":
        return this.#move(0);
      case "end":
        return this.#move(this.#chars.length);
      case "kill-line":
        this.#chars.splice(0, this.#cursor);
        this.#cursor = 0;
        return { kind: "changed" };
      case "kill-to-end":
        this.#chars.splice(this.#cursor);
        return { kind: "changed" };
      case "kill-word": {
        let start = this.#cursor;
        while (start > 0 && /\s/.test(this.#chars[start - 1]!)) start--;
        while (start > 0 && !/\s/.test(this.#chars[start - 1]!)) start--;
        if (start === this.#cursor) return { kind: "none" };
        this.#chars.splice(start, this.#cursor - start);
        this.#cursor = start;
        return { kind: "changed" };
      }
      case "up":
        return this.#recall(this.#historyIndex - 1);
      case "down":
        return this.#recall(this.#historyIndex + 1);
      case "interrupt":
        return { kind: "quit" };
      case "eof":
        return { kind: "quit" };
      case "redraw":
        return { kind: "redraw" };
    }
  }

  /**
   * The escape sequence that redraws the input line: clears it, writes
   * `prompt` and the part of the text that fits in `columns` around the
   * cursor (scrolling sideways), and puts the cursor in place. `prompt`
   * is counted by its visible width, `promptWidth`.
   */
  render(prompt: string, options: { promptWidth: number; columns: number }): string {
    const room = Math.max(options.columns - options.promptWidth - 1, 8);
    // Scroll so the cursor stays visible, a third of the room from the edge.
    let start = 0;
    if (this.#cursor > room) start = this.#cursor - room + Math.floor(room / 3);
    start = Math.max(0, Math.min(start, this.#cursor));
    const visible = this.#chars.slice(start, start + room).join("");
    const column = options.promptWidth + this.#cursor - start;
    return `\r\x1b[2K${prompt}${visible}\r${column > 0 ? `\x1b[${column}C` : ""}`;
  }

  #move(position: number): EditResult {
    const next = Math.max(0, Math.min(position, this.#chars.length));
    if (next === this.#cursor) return { kind: "none" };
    this.#cursor = next;
    return { kind: "changed" };
  }

  #recall(index: number): EditResult {
    if (index < 0 || index > this.#history.length) return { kind: "none" };
    // Keep what was being typed so Down past the newest entry brings it back.
    if (this.#historyIndex === this.#history.length) this.#draft = this.#chars;
    this.#historyIndex = index;
    this.#chars = index === this.#history.length ? [...this.#draft] : [...this.#history[index]!];
    this.#cursor = this.#chars.length;
    return { kind: "changed" };
  }
}
