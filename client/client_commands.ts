/**
 * Slash commands only this client knows, tried before the shared ones of
 * `shared/commands.ts`: `/dmhistory`, and `/register`, whose password is
 * the rest of the line (spaces included) or, where it can be, asked for
 * without echo.
 *
 * @module
 */
import { type Command, type CommandContext, parseCommand } from "../shared/commands.ts";
import { ChatError } from "../shared/errors.ts";

/** What one typed line asks this client for. */
export type ClientCommand =
  | Command
  /** `/register` alone: ask for the password without echo, then register. */
  | { kind: "register_prompt" }
  /** `/upload PATH [ROOM|NICK]`: `to` is `#room`, `@nick`, a bare name, or absent (the current room). */
  | { kind: "upload"; path: string; to?: string }
  /** `/download ID [PATH] [--force]`. */
  | { kind: "download"; file: string; path?: string; overwrite: boolean };

/** Options for {@linkcode parseClientCommand}. */
export interface ClientCommandOptions {
  /** Whether a password can be asked for without echo (a terminal). Default false. */
  secretPrompt?: boolean;
}

/** Help lines for the commands of {@linkcode parseClientCommand}, in `COMMAND_HELP`'s form. */
export const CLIENT_COMMAND_HELP: ReadonlyArray<readonly [string, string]> = [
  ["/dmhistory NICK", "direct messages with NICK (/dmhistory NICK before ID, after ID)"],
  ["/upload PATH [ROOM|NICK]", "share a file in the current room, #ROOM, or with NICK"],
  ["/download ID [PATH] [--force]", "save a shared file (--force: over an existing one)"],
];

/**
 * The words of `text`: split at spaces, a word in double quotes may hold
 * spaces (`"my report.pdf"`); `\"` is a quote inside one.
 */
function words(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    out.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2]!);
  }
  return out;
}

/** Help for `/register` where it asks for the password itself. */
export const REGISTER_PROMPT_HELP: readonly [string, string] = [
  "/register",
  "register your nickname; asks for the password without showing it",
];

function usage(text: string): ChatError {
  return new ChatError("bad_request", `Usage: ${text}`);
}

/**
 * Parses one typed line: the client's own commands first, then
 * `parseCommand`'s. Throws a {@linkcode ChatError} for a bad line, as
 * `parseCommand` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientCommand } from "./client_commands.ts";
 * assert.deepEqual(parseClientCommand("/dmhistory bob before 40", {}), { kind: "request", request: { type: "dm_history", with: "bob", before: 40 } });
 * ```
 */
export function parseClientCommand(
  line: string,
  context: CommandContext,
  options: ClientCommandOptions = {},
): ClientCommand {
  const match = /^\/(\S+)(.*)$/s.exec(line);
  if (match === null || line.startsWith("//")) return parseCommand(line, context);
  const name = match[1]!.toLowerCase();
  const args = match[2]!.trim().split(/\s+/).filter((word) => word !== "");
  if (name === "dmhistory") {
    const [peer, direction, value] = args;
    if (peer === undefined) throw usage("/dmhistory NICK [before ID | after ID]");
    if (direction === undefined) {
      return { kind: "request", request: { type: "dm_history", with: peer } };
    }
    const id = Number(value);
    if (
      (direction !== "before" && direction !== "after") || value === undefined ||
      !Number.isSafeInteger(id) || id < 0 || args.length > 3
    ) {
      throw usage("/dmhistory NICK [before ID | after ID]");
    }
    return {
      kind: "request",
      request: direction === "before"
        ? { type: "dm_history", with: peer, before: id }
        : { type: "dm_history", with: peer, after: id },
    };
  }
  // Files (docs/protocol.md section 23).
  if (name === "upload") {
    const [path, to, extra] = words(match[2]!);
    if (path === undefined || extra !== undefined) {
      throw usage('/upload PATH [ROOM|NICK] (quote a path with spaces: "my file.pdf")');
    }
    return to === undefined ? { kind: "upload", path } : { kind: "upload", path, to };
  }
  if (name === "download") {
    const all = words(match[2]!);
    const overwrite = all.some((word) => word === "--force" || word === "-f");
    const [file, path, extra] = all.filter((word) => word !== "--force" && word !== "-f");
    if (file === undefined || extra !== undefined) throw usage("/download ID [PATH] [--force]");
    return path === undefined
      ? { kind: "download", file, overwrite }
      : { kind: "download", file, path, overwrite };
  }
  if (name === "register") {
    // All of it: a passphrase cut at its first space would be a different password.
    const password = match[2]!.trim();
    if (password !== "") return { kind: "request", request: { type: "register", password } };
    if (options.secretPrompt) return { kind: "register_prompt" };
  }
  return parseCommand(line, context);
}
