/**
 * Desktop notifications through the terminal: OSC 777 (`notify`, urxvt,
 * foot, VTE terminals, Ghostty) or OSC 9 (iTerm2, WezTerm, kitty, Windows
 * Terminal), wrapped for tmux's passthrough when running inside it.
 * Terminals that know neither ignore the sequence.
 *
 * @module
 */
import { sanitizeForTerminal } from "../../shared/validation.ts";

/** Which notification escape sequence a terminal understands. */
export type NotificationProtocol = "osc777" | "osc9";

/**
 * Picks the protocol from the environment (`TERM_PROGRAM`, `TERM`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notificationProtocol } from "./notification.ts";
 * assert.equal(notificationProtocol({ TERM_PROGRAM: "iTerm.app" }), "osc9");
 * assert.equal(notificationProtocol({ TERM: "foot" }), "osc777");
 * ```
 */
export function notificationProtocol(
  env: Readonly<Record<string, string | undefined>>,
): NotificationProtocol {
  const program = env.TERM_PROGRAM ?? "";
  const term = env.TERM ?? "";
  if (/^(iTerm\.app|WezTerm)$/.test(program) || term.includes("kitty") || env.WT_SESSION) {
    return "osc9";
  }
  return "osc777";
}

/** One line of text safe inside an OSC string: no controls, no `;` where it separates fields. */
function field(text: string, max: number, separator: boolean): string {
  const flat = sanitizeForTerminal(text.replace(/\s+/g, " ").trim());
  const safe = separator ? flat.replace(/;/g, ",") : flat;
  const chars = [...safe];
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : safe;
}

/**
 * The escape sequence that asks the terminal for a desktop notification.
 * Title and body are sanitized and flattened to one line; inside tmux
 * (`tmux: true`) the sequence is wrapped in a DCS passthrough.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notificationSequence } from "./notification.ts";
 * const sequence = notificationSequence({ title: "bob", body: "hi; alice" }, { protocol: "osc777" });
 * assert.equal(sequence, "\u001b]777;notify;bob;hi, alice\u0007");
 * ```
 */
export function notificationSequence(
  message: { title: string; body: string },
  options: { protocol: NotificationProtocol; tmux?: boolean },
): string {
  const sequence = options.protocol === "osc9"
    ? `\x1b]9;${field(`${message.title}: ${message.body}`, 200, false)}\x07`
    : `\x1b]777;notify;${field(message.title, 80, true)};${field(message.body, 200, true)}\x07`;
  if (!options.tmux) return sequence;
  // tmux passes a DCS "tmux;" string through (when allow-passthrough is on), ESCs doubled.
  return `\x1bPtmux;${sequence.replaceAll("\x1b", "\x1b\x1b")}\x1b\\`;
}
