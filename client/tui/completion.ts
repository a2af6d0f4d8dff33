/**
 * Tab completion of the word before the cursor: slash commands at the start
 * of the line, `#rooms`, and nicknames (recent speakers first), with the
 * argument of a command completed as what that command expects.
 *
 * @module
 */
import { COMMAND_HELP } from "../../shared/commands.ts";

/** What completion can offer. */
export interface CompletionSources {
  /** Slash commands, with the slash: "/join". */
  commands: readonly string[];
  /** Nicknames in order of preference: recent speakers first. */
  nicks: readonly string[];
  /** Room names, without `#`. */
  rooms: readonly string[];
}

/** A completion in progress: Tab again moves to the next candidate. */
export interface Completion {
  /** Where the completed word starts, in grapheme clusters. */
  start: number;
  /** Replacements for the word, suffix included ("bob: ", "#dev "). */
  candidates: readonly string[];
  /** The candidate in place now. */
  index: number;
}

// Commands whose first argument is a room, and those whose first argument is a nickname.
const ROOM_COMMANDS = new Set([
  "/join",
  "/j",
  "/create_group",
  "/join_group",
  "/leave",
  "/part",
  "/leave_group",
  "/who",
  "/names",
  "/switch",
  "/go",
  "/group_msg",
]);
const NICK_COMMANDS = new Set([
  "/msg",
  "/query",
  "/dm",
  "/kick",
  "/ban",
  "/unban",
  "/op",
  "/deop",
  "/mute",
  "/unmute",
  "/invite",
]);

/**
 * Every slash command: those of `/help` plus the client's own `extra`,
 * sorted, without duplicates.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commandNames } from "./completion.ts";
 * assert.equal(commandNames(["/query"]).includes("/join"), true);
 * ```
 */
export function commandNames(extra: readonly string[] = []): string[] {
  const names = new Set<string>(extra);
  for (const [usage] of COMMAND_HELP) {
    for (const match of usage.matchAll(/\/[a-z_]+/g)) names.add(match[0]);
  }
  for (const alias of ["/msg", "/query", "/part", "/names", "/list", "/exit", "/switch"]) {
    names.add(alias);
  }
  return [...names].sort();
}

function fold(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

function matching(options: readonly string[], prefix: string): string[] {
  const key = fold(prefix);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const option of options) {
    const folded = fold(option);
    if (!folded.startsWith(key) || seen.has(folded)) continue;
    seen.add(folded);
    out.push(option);
  }
  return out;
}

/**
 * Starts completing the word that ends at `cursor` in `clusters` (the
 * input's grapheme clusters); undefined when nothing matches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startCompletion } from "./completion.ts";
 * const sources = { commands: ["/join"], nicks: ["bob", "bea"], rooms: ["dev"] };
 * assert.deepEqual(startCompletion([..."b"], 1, sources)?.candidates, ["bob: ", "bea: "]);
 * assert.deepEqual(startCompletion([..."/join d"], 7, sources)?.candidates, ["dev "]);
 * ```
 */
export function startCompletion(
  clusters: readonly string[],
  cursor: number,
  sources: CompletionSources,
): Completion | undefined {
  let start = cursor;
  while (start > 0 && !/^\s$/u.test(clusters[start - 1]!)) start--;
  const word = clusters.slice(start, cursor).join("");
  const before = clusters.slice(0, start).join("");
  let candidates: string[];
  if (start === 0 && word.startsWith("/")) {
    candidates = matching(sources.commands, word).map((name) => name + " ");
  } else if (word.startsWith("#")) {
    candidates = matching(sources.rooms, word.slice(1)).map((room) => `#${room} `);
  } else {
    // The argument of a command: what kind of name does it take?
    const [command, ...args] = before.trimStart().split(/\s+/);
    const firstArgument = before.startsWith("/") && args.filter((arg) => arg !== "").length === 0;
    const commandName = fold(command ?? "");
    if (firstArgument && ROOM_COMMANDS.has(commandName)) {
      candidates = matching(sources.rooms, word).map((room) => room + " ");
    } else {
      const suffix = start === 0 ? ": " : " ";
      const commandTakesNick = firstArgument && NICK_COMMANDS.has(commandName);
      candidates = matching(sources.nicks, word).map((nick) =>
        nick + (commandTakesNick ? " " : suffix)
      );
    }
  }
  return candidates.length === 0 ? undefined : { start, candidates, index: 0 };
}

/**
 * The next (or with `step` −1 the previous) candidate, wrapping around.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cycleCompletion } from "./completion.ts";
 * const next = cycleCompletion({ start: 0, candidates: ["a ", "b "], index: 1 }, 1);
 * assert.equal(next.index, 0);
 * ```
 */
export function cycleCompletion(completion: Completion, step: 1 | -1): Completion {
  const count = completion.candidates.length;
  return { ...completion, index: (completion.index + step + count) % count };
}
