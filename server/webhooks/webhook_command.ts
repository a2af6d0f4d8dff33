/**
 * `chat webhook`: manages outgoing webhooks (add, list, remove) in a
 * server's data directory, or in its Redis with `--redis`. A new
 * webhook's id and secret are printed once; a running server picks the
 * change up within `--webhook-reload-ms` (2 s by default).
 *
 * @module
 */
import { parseFlags, UsageError } from "../../shared/cli.ts";
import { ChatError } from "../../shared/errors.ts";
import { sanitizeForTerminal } from "../../shared/validation.ts";
import { withCommandStore } from "../store/command_store.ts";
import { DEFAULT_DATA_DIR } from "../accounts/user_command.ts";
import { DEFAULT_REDIS_PREFIX } from "../cluster/redis_keys.ts";
import {
  DEFAULT_WEBHOOK_EVENTS,
  parseWebhookEvents,
  parseWebhookRooms,
  WEBHOOK_EVENTS,
  WebhookService,
} from "./webhook_service.ts";

const FLAGS = {
  rooms: { type: "string" },
  events: { type: "string" },
  name: { type: "string" },
  data: { type: "string" },
  create: { type: "boolean" },
  redis: { type: "string" },
  "redis-prefix": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The bot name of a webhook added without `--name`. */
export const DEFAULT_WEBHOOK_NAME = "webhook";

/** The help text of `chat webhook`. */
export const WEBHOOK_HELP = `chat webhook: manage outgoing webhooks (see docs/webhooks.md)

Usage:
  chat webhook add URL --rooms R1,R2 [--events E1,E2] [--name BOT]
                                       add one; prints its id and secret once
  chat webhook list                    list webhooks: id, name, rooms, events, URL
  chat webhook remove ID               remove a webhook (deliveries stop within seconds)

Options:
  --rooms LIST        rooms whose events it hears, comma-separated (required for add)
  --events LIST       which events: ${WEBHOOK_EVENTS.join(", ")} (default ${
  DEFAULT_WEBHOOK_EVENTS.join(",")
})
  --name BOT          the nickname its replies are posted as (default ${DEFAULT_WEBHOOK_NAME})
  --data DIR          the server's data directory (default ${DEFAULT_DATA_DIR})
  --create            make the directory and its database if missing (else an error)
  --redis URL         the server's Redis instead (chat serve --redis)
  --redis-prefix P    its key prefix (default ${DEFAULT_REDIS_PREFIX})
  -h, --help          print this help

Each event is POSTed as JSON to URL, signed with the webhook's secret in
X-Chat-Signature (HMAC-SHA256). The secret is printed once, on the second
line of standard output after the id; it is stored with the webhook (it
signs every delivery), so keep the data directory or Redis private.
Loopback and private addresses are allowed: only an operator adds webhooks.

Safe while 'chat serve' runs on the same directory or Redis: running servers
read the webhooks again every --webhook-reload-ms (2 s by default).

Examples:
  chat webhook add https://bots.example.org/chat --rooms general,ops --name opsbot
  chat webhook add http://127.0.0.1:9000/ --rooms general --events message,join,leave
  chat webhook list
  chat webhook remove 3f9c2a7b1d5e8f60
`;

const SUBCOMMANDS = ["add", "list", "remove"];

interface AddFlags {
  rooms?: string | undefined;
  events?: string | undefined;
  name?: string | undefined;
}

async function execute(
  webhooks: WebhookService,
  subcommand: string,
  options: { args: string[]; flags: AddFlags },
): Promise<void> {
  const { args, flags } = options;
  const one = (what: string) => {
    if (args.length !== 1) {
      throw new UsageError(`'chat webhook ${subcommand}' takes one ${what}, got ${args.length}`);
    }
    return args[0]!;
  };
  switch (subcommand) {
    case "add": {
      const url = one("URL");
      if (flags.rooms === undefined) throw new UsageError("'chat webhook add' needs --rooms");
      const { record } = await webhooks.create(url, {
        rooms: parseWebhookRooms(flags.rooms),
        name: flags.name ?? DEFAULT_WEBHOOK_NAME,
        events: flags.events === undefined
          ? DEFAULT_WEBHOOK_EVENTS
          : parseWebhookEvents(flags.events),
      });
      console.error(
        `Added webhook ${record.id} (${record.events.join(",")} in ${
          record.rooms.map((room) => `#${room}`).join(",")
        }, as ${record.name}). Its secret follows: keep it now, it is shown only this once.`,
      );
      console.log(record.id);
      console.log(record.secret);
      return;
    }
    case "list": {
      if (args.length > 0) throw new UsageError("'chat webhook list' takes no arguments");
      const records = await webhooks.list();
      if (records.length === 0) {
        console.log("No webhooks.");
        return;
      }
      const rows = records.map((record) => [
        record.id,
        sanitizeForTerminal(record.name),
        record.rooms.map((room) => `#${sanitizeForTerminal(room)}`).join(","),
        record.events.join(","),
        sanitizeForTerminal(record.url),
      ]);
      const header = ["ID", "NAME", "ROOMS", "EVENTS", "URL"];
      const widths = header.map((title, column) =>
        Math.max(title.length, ...rows.map((row) => row[column]!.length))
      );
      const line = (cells: string[]) =>
        cells.map((cell, column) =>
          column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)
        )
          .join("  ");
      console.log(line(header));
      for (const row of rows) console.log(line(row));
      return;
    }
    case "remove": {
      const id = one("ID");
      if (!await webhooks.remove(id)) {
        throw new ChatError("bad_request", `No webhook ${id} (chat webhook list shows them)`);
      }
      console.log(`Removed webhook ${sanitizeForTerminal(id)}.`);
      return;
    }
  }
}

/**
 * Runs `chat webhook ARGS` and returns the exit code: 0 on success, 1 when
 * the operation fails. A bad command line throws {@linkcode UsageError}.
 *
 * @example
 * ```ts ignore
 * import { runWebhook } from "./webhook_command.ts";
 * Deno.exit(await runWebhook(["list", "--data", "./chat-data"]));
 * ```
 */
export async function runWebhook(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(WEBHOOK_HELP);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) {
    throw new UsageError(`'chat webhook' needs one of ${SUBCOMMANDS.join(", ")}`);
  }
  if (!SUBCOMMANDS.includes(subcommand)) {
    throw new UsageError(`unknown 'chat webhook' command "${subcommand}"`);
  }
  for (const flag of ["rooms", "events", "name"] as const) {
    if (values[flag] !== undefined && subcommand !== "add") {
      throw new UsageError(`--${flag} only applies to 'chat webhook add'`);
    }
  }
  return await withCommandStore("chat webhook", values, async (store) => {
    await execute(new WebhookService(store), subcommand, { args: rest, flags: values });
  });
}
