/**
 * Raw terminal input for the full-screen client, decoded into keys with
 * modifiers, bracketed pastes and mouse-wheel steps. Understands the legacy
 * encodings plus the kitty (`CSI … u`) and xterm modifyOtherKeys
 * (`CSI 27;… ~`) forms, which are how Shift+Enter and Alt+Enter arrive.
 *
 * @module
 */

/** A key press, a paste, or a wheel step. */
export type TuiKey =
  /** Printable text typed (one or more characters). */
  | { kind: "text"; text: string }
  /** Text pasted at once; line breaks are `\n`. */
  | { kind: "paste"; text: string }
  /**
   * A named key ("enter", "tab", "backspace", "delete", "escape", "up",
   * "down", "left", "right", "home", "end", "pageup", "pagedown", "insert")
   * or a character pressed with Ctrl or Alt ("c", "1").
   */
  | { kind: "key"; name: string; ctrl: boolean; alt: boolean; shift: boolean }
  /** Mouse wheel: negative scrolls up (back in time). */
  | { kind: "wheel"; lines: number };

/** Modifiers of a key; absent means not pressed. */
export interface KeyModifiers {
  /** Ctrl held. */
  ctrl?: boolean;
  /** Alt (Meta) held. */
  alt?: boolean;
  /** Shift held. */
  shift?: boolean;
}

/**
 * Makes a named key, for key maps and tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { namedKey } from "./tui_key_decoder.ts";
 * assert.deepEqual(namedKey("n", { ctrl: true }), { kind: "key", name: "n", ctrl: true, alt: false, shift: false });
 * ```
 */
export function namedKey(name: string, modifiers: KeyModifiers = {}): TuiKey {
  return {
    kind: "key",
    name,
    ctrl: modifiers.ctrl ?? false,
    alt: modifiers.alt ?? false,
    shift: modifiers.shift ?? false,
  };
}

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";
const WHEEL_LINES = 3;

const LETTER_KEYS: Record<string, string> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "tab",
};
const TILDE_KEYS: Record<string, string> = {
  "1": "home",
  "2": "insert",
  "3": "delete",
  "4": "end",
  "5": "pageup",
  "6": "pagedown",
  "7": "home",
  "8": "end",
};
// Key codes of the kitty protocol and modifyOtherKeys that are not characters.
const CODE_KEYS: Record<number, string> = {
  8: "backspace",
  9: "tab",
  13: "enter",
  27: "escape",
  127: "backspace",
};

/** Modifiers from an xterm-style parameter: 1 + shift·1 + alt·2 + ctrl·4. */
function modifiersOf(param: string | undefined): Required<KeyModifiers> {
  const bits = Math.max(0, (Number.parseInt(param ?? "1", 10) || 1) - 1);
  return { shift: (bits & 1) !== 0, alt: (bits & 2) !== 0, ctrl: (bits & 4) !== 0 };
}

/** A key from a Unicode code point and modifiers (kitty and modifyOtherKeys forms). */
function fromCode(code: number, modifiers: Required<KeyModifiers>): TuiKey | undefined {
  const name = CODE_KEYS[code];
  if (name !== undefined) return namedKey(name, modifiers);
  if (code < 0x20 || code > 0x10ffff || (code >= 57344 && code <= 63743)) return undefined;
  const char = String.fromCodePoint(code);
  if (!modifiers.ctrl && !modifiers.alt) {
    return { kind: "text", text: modifiers.shift ? char.toUpperCase() : char };
  }
  return namedKey(char.toLowerCase(), modifiers);
}

/** A CSI sequence's key; undefined for sequences that mean nothing here. */
function fromCsi(params: string, final: string): TuiKey | undefined {
  if (params.startsWith("<")) {
    // SGR mouse report: button;x;y, M press / m release. 64/65 are wheel up/down.
    const button = Number.parseInt(params.slice(1).split(";")[0] ?? "", 10);
    if (final === "M" && (button & 64) !== 0 && (button & 3) < 2) {
      return { kind: "wheel", lines: (button & 1) === 0 ? -WHEEL_LINES : WHEEL_LINES };
    }
    return undefined;
  }
  if (/^[?>=]/.test(params)) return undefined; // Replies to queries, not keys.
  const fields = params.split(";");
  if (final === "u") {
    const code = Number.parseInt(fields[0]?.split(":")[0] ?? "", 10);
    const [mods, event] = (fields[1] ?? "1").split(":");
    if (event === "3") return undefined; // Release.
    return Number.isNaN(code) ? undefined : fromCode(code, modifiersOf(mods));
  }
  if (final === "~") {
    if (fields[0] === "27" && fields.length >= 3) {
      return fromCode(Number.parseInt(fields[2]!, 10), modifiersOf(fields[1]));
    }
    const name = TILDE_KEYS[fields[0] ?? ""];
    return name === undefined ? undefined : namedKey(name, modifiersOf(fields[1]));
  }
  const name = LETTER_KEYS[final];
  if (name === undefined) return undefined;
  if (final === "Z") return namedKey("tab", { shift: true });
  return namedKey(name, modifiersOf(fields[1]));
}

/** With Alt held: the same key, Alt set. */
function withAlt(key: TuiKey): TuiKey {
  if (key.kind === "key") return { ...key, alt: true };
  if (key.kind === "text" && [...key.text].length === 1) return namedKey(key.text, { alt: true });
  return key;
}

/**
 * A stateful decoder: feed it each chunk read from a raw-mode terminal.
 * An Escape at the end of a chunk may start a sequence, so it waits; call
 * {@linkcode TuiKeyDecoder.flush} when no more input comes shortly after.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TuiKeyDecoder } from "./tui_key_decoder.ts";
 * const decoder = new TuiKeyDecoder();
 * const keys = decoder.push(new TextEncoder().encode("hi\x1b[5~\x1b1"));
 * assert.deepEqual(keys.map((key) => key.kind === "key" ? key.name : key.kind), ["text", "pageup", "1"]);
 * ```
 */
export class TuiKeyDecoder {
  #text = new TextDecoder();
  #pending = "";
  /** Inside a bracketed paste: what was pasted so far. */
  #paste: string | undefined;

  /** Whether input is held back waiting for the rest of a sequence. */
  get pending(): boolean {
    return this.#pending !== "" || this.#paste !== undefined;
  }

  /** Decodes `chunk`; a sequence cut short waits for the next chunk. */
  push(chunk: Uint8Array): TuiKey[] {
    const input = this.#pending + this.#text.decode(chunk, { stream: true });
    this.#pending = "";
    const keys: TuiKey[] = [];
    let index = 0;
    while (index < input.length) {
      if (this.#paste !== undefined) {
        const end = input.indexOf(PASTE_END, index);
        if (end === -1) {
          // Keep a possible start of the end marker for the next chunk.
          const keep = this.#partialSuffix(input.slice(index), PASTE_END);
          this.#paste += input.slice(index, input.length - keep);
          this.#pending = input.slice(input.length - keep);
          return this.#merge(keys);
        }
        this.#paste += input.slice(index, end);
        keys.push({ kind: "paste", text: this.#paste.replace(/\r\n?/g, "\n") });
        this.#paste = undefined;
        index = end + PASTE_END.length;
        continue;
      }
      const code = input.charCodeAt(index);
      if (code === 0x1b) {
        const rest = input.slice(index);
        if (rest.startsWith(PASTE_START)) {
          this.#paste = "";
          index += PASTE_START.length;
          continue;
        }
        const decoded = this.#escape(rest);
        if (decoded === "incomplete") {
          this.#pending = rest;
          break;
        }
        if (decoded.key !== undefined) keys.push(decoded.key);
        index += decoded.length;
        continue;
      }
      const key = this.#single(input, index);
      if (key.key !== undefined) keys.push(key.key);
      index += key.length;
    }
    return this.#merge(keys);
  }

  /**
   * Gives up waiting: a lone Escape becomes the Escape key, a cut sequence
   * what it can be read as.
   */
  flush(): TuiKey[] {
    const pending = this.#pending;
    this.#pending = "";
    if (this.#paste !== undefined) {
      const text = this.#paste + pending;
      this.#paste = undefined;
      return [{ kind: "paste", text: text.replace(/\r\n?/g, "\n") }];
    }
    if (pending === "") return [];
    if (pending === "\x1b") return [namedKey("escape")];
    if (pending === "\x1b\x1b") return [namedKey("escape", { alt: true })];
    // "ESC [" or "ESC O" typed as Alt+[ / Alt+O.
    return [namedKey(pending.slice(1, 2).toLowerCase(), { alt: true })];
  }

  /** Decodes the sequence at the start of `rest` (which starts with ESC). */
  #escape(rest: string): { key: TuiKey | undefined; length: number } | "incomplete" {
    if (rest.length === 1) return "incomplete";
    const second = rest[1]!;
    if (second === "[") {
      // deno-lint-ignore no-control-regex
      const match = /^\x1b\[([<?>=]?[0-9;:]*)([\x20-\x2f]*)([\x40-\x7e])/.exec(rest);
      if (match === null) {
        // deno-lint-ignore no-control-regex
        return /^\x1b\[[<?>=]?[0-9;:]*[\x20-\x2f]*$/.test(rest)
          ? "incomplete"
          : { key: namedKey("[", { alt: true }), length: 2 };
      }
      return { key: fromCsi(match[1]!, match[3]!), length: match[0].length };
    }
    if (second === "O") {
      if (rest.length === 2) return "incomplete";
      const name = LETTER_KEYS[rest[2]!];
      return { key: name === undefined ? undefined : namedKey(name), length: 3 };
    }
    if (second === "\x1b") {
      // ESC ESC [ … : Alt with a key that is itself a sequence (some terminals' Alt+arrow).
      const inner = this.#escape(rest.slice(1));
      if (inner === "incomplete") return "incomplete";
      return {
        key: inner.key === undefined ? undefined : withAlt(inner.key),
        length: inner.length + 1,
      };
    }
    const single = this.#single(rest, 1);
    return {
      key: single.key === undefined ? undefined : withAlt(single.key),
      length: single.length + 1,
    };
  }

  /** The key for the character at `index` (not ESC). */
  #single(input: string, index: number): { key: TuiKey | undefined; length: number } {
    const code = input.codePointAt(index)!;
    const length = code > 0xffff ? 2 : 1;
    if (code === 0x0d) return { key: namedKey("enter"), length };
    if (code === 0x09) return { key: namedKey("tab"), length };
    if (code === 0x7f || code === 0x08) return { key: namedKey("backspace"), length };
    if (code === 0x00) return { key: namedKey("space", { ctrl: true }), length };
    if (code < 0x20) {
      return { key: namedKey(String.fromCharCode(code + 0x60), { ctrl: true }), length };
    }
    if (code >= 0x80 && code <= 0x9f) return { key: undefined, length };
    return { key: { kind: "text", text: String.fromCodePoint(code) }, length };
  }

  /** How many characters at the end of `text` could begin `marker`. */
  #partialSuffix(text: string, marker: string): number {
    for (let size = Math.min(marker.length - 1, text.length); size > 0; size--) {
      if (marker.startsWith(text.slice(text.length - size))) return size;
    }
    return 0;
  }

  /**
   * Joins runs of typed characters into one text key, and reads a run of
   * lines arriving in one chunk as a paste: a terminal without bracketed
   * paste delivers pasted lines that way, a person typing never does.
   */
  #merge(keys: TuiKey[]): TuiKey[] {
    const out: TuiKey[] = [];
    let run: TuiKey[] = [];
    const flushRun = () => {
      const texts = run.map((key) => key.kind === "text" ? key.text : "\n");
      const joined = texts.join("");
      const breakInside = /\n[^\n]/.test(joined);
      if (breakInside && run.some((key) => key.kind === "text")) {
        out.push({ kind: "paste", text: joined });
      } else {
        for (const key of run) {
          const last = out.at(-1);
          if (key.kind === "text" && last?.kind === "text") {
            out[out.length - 1] = { kind: "text", text: last.text + key.text };
          } else {
            out.push(key);
          }
        }
      }
      run = [];
    };
    for (const key of keys) {
      const isEnter = key.kind === "key" && key.name === "enter" && !key.alt && !key.ctrl &&
        !key.shift;
      const isCtrlJ = key.kind === "key" && key.name === "j" && key.ctrl && !key.alt;
      if (key.kind === "text" || isEnter || isCtrlJ) {
        run.push(key);
      } else {
        flushRun();
        out.push(key);
      }
    }
    flushRun();
    return out;
  }
}
