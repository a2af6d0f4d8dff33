/**
 * Turns raw terminal input bytes into key presses: text, editing keys and
 * the arrow-key escape sequences, even when a read splits a sequence.
 *
 * @module
 */

/** A key press. */
export type Key =
  | { name: "text"; text: string }
  | {
    name:
      | "enter"
      | "backspace"
      | "delete"
      | "left"
      | "right"
      | "up"
      | "down"
      | "home"
      | "end"
      | "kill-line"
      | "kill-word"
      | "kill-to-end"
      | "interrupt"
      | "eof"
      | "redraw";
  };

type Named = Exclude<Key, { name: "text" }>["name"];

const CONTROL_KEYS: Record<number, Named> = {
  0x01: "home", // Ctrl+A
  0x02: "left", // Ctrl+B
  0x03: "interrupt", // Ctrl+C
  0x04: "eof", // Ctrl+D
  0x05: "end", // Ctrl+E
  0x06: "right", // Ctrl+F
  0x08: "backspace", // Ctrl+H
  0x0a: "enter",
  0x0b: "kill-to-end", // Ctrl+K
  0x0c: "redraw", // Ctrl+L
  0x0d: "enter",
  0x0e: "down", // Ctrl+N
  0x10: "up", // Ctrl+P
  0x15: "kill-line", // Ctrl+U
  0x17: "kill-word", // Ctrl+W
  0x7f: "backspace",
};

// Final byte of CSI / SS3 sequences, and `ESC [ n ~` codes.
const FINAL_KEYS: Record<string, Named> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};
const TILDE_KEYS: Record<string, Named> = {
  "1": "home",
  "3": "delete",
  "4": "end",
  "7": "home",
  "8": "end",
};

/**
 * A stateful decoder: feed it each chunk read from a raw-mode terminal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeyDecoder } from "./key_decoder.ts";
 * const decoder = new KeyDecoder();
 * const bytes = new TextEncoder().encode("hi\x1b[D\r");
 * assert.deepEqual(decoder.push(bytes).map((key) => key.name), ["text", "left", "enter"]);
 * ```
 */
export class KeyDecoder {
  #text = new TextDecoder();
  #pending = "";

  /** Decodes `chunk`; an escape sequence cut short waits for the next chunk. */
  push(chunk: Uint8Array): Key[] {
    const input = this.#pending + this.#text.decode(chunk, { stream: true });
    this.#pending = "";
    const keys: Key[] = [];
    let text = "";
    const flush = () => {
      if (text !== "") keys.push({ name: "text", text });
      text = "";
    };
    let index = 0;
    while (index < input.length) {
      const code = input.charCodeAt(index);
      if (code === 0x1b) {
        flush();
        // deno-lint-ignore no-control-regex
        const sequence = /^\x1b(?:\[([0-9;]*)([A-Za-z~])|O([A-Za-z]))/.exec(input.slice(index));
        if (sequence) {
          const [whole, params, final, ss3] = sequence;
          const name = final === "~"
            ? TILDE_KEYS[(params ?? "").split(";")[0]!]
            : FINAL_KEYS[final ?? ss3 ?? ""];
          if (name) keys.push({ name });
          index += whole.length;
          continue;
        }
        // A sequence cut by the read: keep it for the next chunk.
        // deno-lint-ignore no-control-regex
        if (/^\x1b(?:\[[0-9;]*|O)?$/.test(input.slice(index))) {
          this.#pending = input.slice(index);
          break;
        }
        index++; // A lone ESC (or Alt+key): drop the ESC.
        continue;
      }
      if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
        flush();
        const name = CONTROL_KEYS[code];
        if (name) keys.push({ name });
        // \r\n from a paste is one enter.
        if (code === 0x0d && input.charCodeAt(index + 1) === 0x0a) index++;
        index++;
        continue;
      }
      text += input[index];
      index++;
    }
    flush();
    return keys;
  }
}
