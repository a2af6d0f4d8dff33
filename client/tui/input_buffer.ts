/**
 * The text being typed in the full-screen client, as pure state: grapheme
 * clusters (so the cursor never splits an emoji), line breaks for
 * multi-line messages, the usual editing commands and a history.
 *
 * @module
 */
import { graphemes } from "./text_width.ts";

/** Options for {@linkcode InputBuffer}. */
export interface InputBufferOptions {
  /** Most entries kept in history. Default 500. */
  historySize?: number;
}

const isSpace = (cluster: string | undefined) => cluster !== undefined && /^\s$/u.test(cluster);

/**
 * An editable, possibly multi-line input with history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InputBuffer } from "./input_buffer.ts";
 * const input = new InputBuffer();
 * input.insert("hello");
 * input.newline();
 * input.insert("world");
 * assert.equal(input.submit(), "hello\nworld");
 * input.historyBack();
 * assert.equal(input.text, "hello\nworld");
 * ```
 */
export class InputBuffer {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #draft: string[] = [];
  #historySize: number;

  /** Makes an empty input with an empty history. */
  constructor(options: InputBufferOptions = {}) {
    this.#historySize = options.historySize ?? 500;
  }

  /** The text, line breaks as `\n`. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor, in grapheme clusters from the start. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The text as grapheme clusters. */
  get clusters(): readonly string[] {
    return this.#chars;
  }

  /** Inserts `text` at the cursor. */
  insert(text: string): void {
    const clusters = graphemes(text.replace(/\r\n?/g, "\n"));
    this.#chars.splice(this.#cursor, 0, ...clusters);
    this.#cursor += clusters.length;
  }

  /** Inserts a line break (a multi-line message). */
  newline(): void {
    this.insert("\n");
  }

  /** Replaces everything. */
  setText(text: string): void {
    this.#chars = graphemes(text);
    this.#cursor = this.#chars.length;
  }

  /**
   * Replaces clusters `start` to `end` with `text` and puts the cursor after
   * it (for completion).
   */
  replace(start: number, end: number, text: string): void {
    const clusters = graphemes(text);
    this.#chars.splice(start, end - start, ...clusters);
    this.#cursor = start + clusters.length;
  }

  /** Deletes the cluster before the cursor; false when there is none. */
  backspace(): boolean {
    if (this.#cursor === 0) return false;
    this.#chars.splice(--this.#cursor, 1);
    return true;
  }

  /** Deletes the cluster under the cursor; false when there is none. */
  delete(): boolean {
    if (this.#cursor === this.#chars.length) return false;
    this.#chars.splice(this.#cursor, 1);
    return true;
  }

  /** Moves the cursor to `position` (clamped). */
  moveTo(position: number): void {
    this.#cursor = Math.max(0, Math.min(position, this.#chars.length));
  }

  /** Moves the cursor by `delta` clusters. */
  moveBy(delta: number): void {
    this.moveTo(this.#cursor + delta);
  }

  /** Start of the word before the cursor. */
  wordStart(): number {
    let start = this.#cursor;
    while (start > 0 && isSpace(this.#chars[start - 1])) start--;
    while (start > 0 && !isSpace(this.#chars[start - 1])) start--;
    return start;
  }

  /** End of the word after the cursor. */
  wordEnd(): number {
    let end = this.#cursor;
    while (end < this.#chars.length && isSpace(this.#chars[end])) end++;
    while (end < this.#chars.length && !isSpace(this.#chars[end])) end++;
    return end;
  }

  /** Start of the cursor's line. */
  lineStart(): number {
    let start = this.#cursor;
    while (start > 0 && this.#chars[start - 1] !== "\n") start--;
    return start;
  }

  /** End of the cursor's line. */
  lineEnd(): number {
    let end = this.#cursor;
    while (end < this.#chars.length && this.#chars[end] !== "\n") end++;
    return end;
  }

  /** Deletes the word before the cursor (Ctrl+W). */
  killWordBack(): void {
    const start = this.wordStart();
    this.#chars.splice(start, this.#cursor - start);
    this.#cursor = start;
  }

  /** Deletes from the start of the line to the cursor (Ctrl+U). */
  killToLineStart(): void {
    const start = this.lineStart();
    this.#chars.splice(start, this.#cursor - start);
    this.#cursor = start;
  }

  /** Deletes from the cursor to the end of the line (Ctrl+K). */
  killToLineEnd(): void {
    this.#chars.splice(this.#cursor, this.lineEnd() - this.#cursor);
  }

  /**
   * Up: to the line above in a multi-line text, or else the previous
   * history entry. False when there is nowhere to go.
   */
  up(): boolean {
    const start = this.lineStart();
    if (start > 0) {
      const column = this.#cursor - start;
      const above = this.#lineStartOf(start - 1);
      this.#cursor = Math.min(above + column, start - 1);
      return true;
    }
    return this.historyBack();
  }

  /** Down: to the line below, or else the next history entry. */
  down(): boolean {
    const end = this.lineEnd();
    if (end < this.#chars.length) {
      const column = this.#cursor - this.lineStart();
      const below = end + 1;
      let belowEnd = below;
      while (belowEnd < this.#chars.length && this.#chars[belowEnd] !== "\n") belowEnd++;
      this.#cursor = Math.min(below + column, belowEnd);
      return true;
    }
    return this.historyForward();
  }

  /** Recalls the previous history entry; false at the oldest. */
  historyBack(): boolean {
    return this.#recall(this.#historyIndex - 1);
  }

  /** Recalls the next history entry (or what was being typed); false at the newest. */
  historyForward(): boolean {
    return this.#recall(this.#historyIndex + 1);
  }

  /**
   * Takes the text and clears the input. It is added to history unless
   * `remember` is false (a line holding a password).
   */
  submit(options: { remember?: boolean } = {}): string {
    const text = this.text;
    this.#chars = [];
    this.#cursor = 0;
    const remember = options.remember ?? true;
    if (remember && text.trim() !== "" && this.#history.at(-1) !== text) {
      this.#history.push(text);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    this.#historyIndex = this.#history.length;
    this.#draft = [];
    return text;
  }

  #lineStartOf(position: number): number {
    let start = position;
    while (start > 0 && this.#chars[start - 1] !== "\n") start--;
    return start;
  }

  #recall(index: number): boolean {
    if (index < 0 || index > this.#history.length) return false;
    // Keep what was being typed: Down past the newest entry brings it back.
    if (this.#historyIndex === this.#history.length) this.#draft = this.#chars;
    this.#historyIndex = index;
    this.#chars = index === this.#history.length
      ? [...this.#draft]
      : graphemes(this.#history[index]!);
    this.#cursor = this.#chars.length;
    return true;
  }
}
