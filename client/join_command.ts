/**
 * `chat join`: parses flags, connects, and runs interactive mode on a
 * terminal or piped mode otherwise.
 *
 * @module
 */
import { choiceFlag, parseFlags, UsageError } from "../shared/cli.ts";
import { ChatError } from "../shared/errors.ts";
import { LOG_FORMATS, LOG_LEVELS, setupLogging } from "../shared/logging.ts";
import { sanitizeForTerminal, validateNick, validateRoom } from "../shared/validation.ts";
import {
  type Address,
  DEFAULT_HOST,
  DEFAULT_PORT,
  formatAddress,
  parseAddress,
} from "./address.ts";
import { ChatClient } from "./chat_client.ts";
import { describeError } from "./format.ts";
import { detectColorDepth, runInteractive } from "./interactive_mode.ts";
import { runPiped } from "./piped_mode.ts";

const FLAGS = {
  name: { type: "string", short: "n" },
  room: { type: "string", short: "r" },
  json: { type: "boolean" },
  plain: { type: "boolean" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text of `chat join`. */
export const JOIN_HELP = `chat join: connect to a chat server

Usage: chat join [HOST[:PORT]] [--name NICK] [--room ROOM] [--json] [options]

  HOST[:PORT]          server to join (default ${DEFAULT_HOST}:${DEFAULT_PORT});
                       IPv6 in brackets: [::1]:${DEFAULT_PORT}
  -n, --name NICK      nickname; asked for on a terminal, else taken from $USER
  -r, --room ROOM      room to join first (and send plain lines to)
  --json               one JSON object per output line (implies line mode)
  --plain              on a terminal, the simple line mode instead of full screen
  --log-level L        ${LOG_LEVELS.join(", ")} (default warning); logs go to stderr
  --log-format F       ${LOG_FORMATS.join(", ")} (default text)
  -h, --help           print this help

On a terminal, chat join is interactive: type messages, or /help for the
commands (/join /leave /msg /me /rooms /who /users /topic /nick /quit).
With stdin not a terminal (or --json), each input line is a message to the
current room or a slash command, and each event is printed as one line; it
exits when the input ends and every reply has arrived: 0, or 1 if anything
failed. The connection is re-established automatically if it drops.

Examples:
  chat join --name alice --room general
  chat join chat.example.org:7007 -n alice -r general
  chat join [::1]:7007 --name alice
  echo "hello" | chat join 127.0.0.1:7007 --name bot --room general
  printf '/join ops\\n/who\\n' | chat join --name bot --json
`;

function envUser(): string | undefined {
  try {
    return Deno.env.get("USER") ?? Deno.env.get("USERNAME");
  } catch {
    return undefined;
  }
}

function checkNick(nick: string): string {
  try {
    return validateNick(nick);
  } catch (error) {
    throw new UsageError(error instanceof ChatError ? error.message : String(error));
  }
}

/** Asks on the terminal until a valid nickname is typed; undefined on end of input. */
function askNick(): string | undefined {
  const suggestion = envUser();
  while (true) {
    const answer = prompt("Nickname:", suggestion);
    if (answer === null) return undefined;
    try {
      return validateNick(answer.trim());
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
    }
  }
}

function connectFailure(error: unknown, address: Address, nick: string): string {
  const where = formatAddress(address);
  if (error instanceof ChatError) {
    return `the server at ${where} refused ${sanitizeForTerminal(nick)}: ${describeError(error)}`;
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `cannot connect to ${where}: connection refused`;
  }
  return `cannot connect to ${where}: ${describeError(error)}`;
}

/**
 * Runs `chat join` with `args` (after the word `join`) and returns the exit
 * code: 0, 1 on failure, or throws {@linkcode UsageError} for a bad command
 * line.
 *
 * @example
 * ```ts ignore
 * import { runJoin } from "./join_command.ts";
 * Deno.exit(await runJoin(["127.0.0.1:7007", "--name", "alice", "--room", "general"]));
 * ```
 */
export async function runJoin(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(JOIN_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const address = parseAddress(positionals[0]);
  const level = choiceFlag("--log-level", values["log-level"], LOG_LEVELS) ?? "warning";
  const format = choiceFlag("--log-format", values["log-format"], LOG_FORMATS) ?? "text";
  let room: string | undefined;
  if (values.room !== undefined) {
    try {
      room = validateRoom(values.room);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal() && !values.json;

  let nick = values.name === undefined ? undefined : checkNick(values.name);
  if (nick === undefined) {
    if (interactive) {
      nick = askNick();
      if (nick === undefined) return 1;
    } else {
      const user = envUser();
      if (user === undefined) {
        throw new UsageError(
          "--name is required when stdin is not a terminal and $USER is not set",
        );
      }
      try {
        nick = validateNick(user);
      } catch {
        throw new UsageError(`$USER "${user}" is not a valid nickname: pass --name`);
      }
    }
  }

  await setupLogging({ level, format, stderr: true });
  let client: ChatClient;
  try {
    client = await ChatClient.connect({ hostname: address.hostname, port: address.port, nick });
  } catch (error) {
    console.error(`chat: ${connectFailure(error, address, nick)}`);
    return 1;
  }
  if (interactive && !values.plain) {
    // Loaded here only: piped mode and --plain never load React and Ink.
    const { runTui } = await import("./tui/tui_mode.ts");
    return await runTui(client, {
      address: formatAddress(address),
      color: detectColorDepth(),
      logging: { level, format, stderr: true },
      ...(room === undefined ? {} : { room }),
    });
  }
  if (interactive) {
    return await runInteractive(client, {
      address: formatAddress(address),
      color: detectColorDepth(),
      ...(room === undefined ? {} : { room }),
    });
  }
  return await runPiped(client, {
    input: Deno.stdin.readable,
    json: values.json ?? false,
    ...(room === undefined ? {} : { room }),
  });
}
