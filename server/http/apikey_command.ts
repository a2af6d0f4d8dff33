/**
 * `chat apikey`: manages the REST API's keys (add, list, del) in a server's
 * data directory, or in its Redis with `--redis`. A new key is printed once,
 * alone on standard output, and only its hash is kept.
 *
 * @module
 */
import { parseFlags, UsageError } from "../../shared/cli.ts";
import { ChatError } from "../../shared/errors.ts";
import { sanitizeForTerminal } from "../../shared/validation.ts";
import { withCommandStore } from "../store/command_store.ts";
import { ApiKeyService } from "./api_key_service.ts";
import { DEFAULT_DATA_DIR } from "../accounts/user_command.ts";
import { DEFAULT_REDIS_PREFIX } from "../cluster/redis_keys.ts";

const FLAGS = {
  data: { type: "string" },
  create: { type: "boolean" },
  redis: { type: "string" },
  "redis-prefix": { type: "string" },
  admin: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text of `chat apikey`. */
export const APIKEY_HELP = `chat apikey: manage the keys of the HTTP API (chat serve --http)

Usage:
  chat apikey add NAME [--admin] [--data DIR]   make a key; prints it once
  chat apikey list [--data DIR]                 list keys: name, admin flag, created date
  chat apikey del NAME [--data DIR]             delete the key NAME (it stops working at once)

Options:
  --admin             the key may also broadcast, list sessions and kick
  --data DIR          the server's data directory (default ${DEFAULT_DATA_DIR})
  --create            make the directory and its database if missing (else an error)
  --redis URL         the server's Redis instead (chat serve --redis)
  --redis-prefix P    its key prefix (default ${DEFAULT_REDIS_PREFIX})
  -h, --help          print this help

NAME is a nickname: the key's bot posts under it. The key is printed alone on
standard output, once: only its SHA-256 is stored, so a lost key cannot be
shown again (delete it and make another). Requests send it as
'Authorization: Bearer KEY'; see docs/http_api.md.

Safe while 'chat serve' runs on the same directory or Redis: a new key works
at once and a deleted one stops working at once.

Examples:
  chat apikey add deploybot --create
  KEY=$(chat apikey add opsbot --admin --data /var/lib/chat)
  chat apikey list
  chat apikey del deploybot
`;

const SUBCOMMANDS = ["add", "list", "del"];

async function execute(keys: ApiKeyService, subcommand: string, args: string[], admin: boolean) {
  const one = (what: string) => {
    if (args.length !== 1) {
      throw new UsageError(`'chat apikey ${subcommand}' takes one ${what}, got ${args.length}`);
    }
    return args[0]!;
  };
  switch (subcommand) {
    case "add": {
      const { key, record } = await keys.create(one("NAME"), { admin });
      console.error(
        `Added API key ${sanitizeForTerminal(record.name)}${
          record.admin ? " (admin)" : ""
        }. Keep it now: it is shown only this once.`,
      );
      console.log(key);
      return;
    }
    case "list": {
      if (args.length > 0) throw new UsageError("'chat apikey list' takes no arguments");
      const records = await keys.list();
      if (records.length === 0) {
        console.log("No API keys.");
        return;
      }
      const names = records.map((record) => sanitizeForTerminal(record.name));
      const width = Math.max(4, ...names.map((name) => name.length));
      console.log(`${"NAME".padEnd(width)}  ADMIN  CREATED`);
      records.forEach((record, index) => {
        const created = new Date(record.createdAt).toISOString().slice(0, 10);
        console.log(
          `${names[index]!.padEnd(width)}  ${(record.admin ? "yes" : "no").padEnd(5)}  ${created}`,
        );
      });
      return;
    }
    case "del": {
      const name = one("NAME");
      if (!await keys.remove(name)) {
        throw new ChatError("no_such_user", `No API key named ${name}`);
      }
      console.log(`Deleted API key ${sanitizeForTerminal(name)}.`);
      return;
    }
  }
}

/**
 * Runs `chat apikey ARGS` and returns the exit code: 0 on success, 1 when
 * the operation fails. A bad command line throws {@linkcode UsageError}.
 *
 * @example
 * ```ts ignore
 * import { runApiKey } from "./apikey_command.ts";
 * Deno.exit(await runApiKey(["list", "--data", "./chat-data"]));
 * ```
 */
export async function runApiKey(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(APIKEY_HELP);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) {
    throw new UsageError(`'chat apikey' needs one of ${SUBCOMMANDS.join(", ")}`);
  }
  if (!SUBCOMMANDS.includes(subcommand)) {
    throw new UsageError(`unknown 'chat apikey' command "${subcommand}"`);
  }
  if (values.admin && subcommand !== "add") {
    throw new UsageError("--admin only applies to 'chat apikey add'");
  }
  return await withCommandStore("chat apikey", values, async (store) => {
    await execute(new ApiKeyService(store), subcommand, rest, values.admin === true);
  });
}
