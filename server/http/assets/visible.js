// deno-lint-ignore-file no-control-regex -- matching control characters is this module's job
// What the web client shows in place of characters that hide or reorder
// text: controls as ^X, bidi controls, line separators and invisible
// (default-ignorable) characters as <U+XXXX>, as the terminal client does
// (sanitizeForTerminal in shared/validation.ts; a test keeps them equal).
// Newline and tab stay. Plain browser JavaScript, served as /assets/visible.js.

const HIDDEN =
  /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029\u180E\p{Default_Ignorable_Code_Point}]/gu;

/**
 * `text` with every hidden character made visible.
 * @param {string} text
 * @returns {string}
 */
export function visible(text) {
  return String(text).replace(HIDDEN, (char) => {
    if (char === "\n" || char === "\t") return char;
    if (char === "\uFE0E" || char === "\uFE0F") return char; // presentation selectors
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20) return "^" + String.fromCharCode(code + 0x40);
    if (code === 0x7f) return "^?";
    return "<U+" + code.toString(16).toUpperCase().padStart(4, "0") + ">";
  });
}
