/**
 * `chat`: one program that is both the chat server (`chat serve`) and its
 * client (`chat join`).
 *
 * @module
 */
import { USAGE_EXIT_CODE, UsageError } from "./shared/cli.ts";
import { COMMIT, VERSION } from "./shared/version.ts";
import { runServe } from "./server/serve_command.ts";
import { runJoin } from "./client/join_command.ts";
import { runUser } from "./server/accounts/user_command.ts";
import { runApiKey } from "./server/http/apikey_command.ts";
import { runConfig } from "./server/config/config_command.ts";
import { runWebhook } from "./server/webhooks/webhook_command.ts";

const HELP = `chat ${VERSION}: a chat server and its client in one program

Usage:
  chat serve [--host H] [--port P] [options]   run a server (default 0.0.0.0:7007)
  chat join [HOST[:PORT] | tls://HOST[:PORT] | unix:PATH] [--name NICK] [--room ROOM] [--json]
                                               connect to a server (no address: the one found
                                               on the local network, else 127.0.0.1:7007)
  chat user add|passwd|del|list|import|admin|unlock ...
                                               manage registered accounts (see 'chat user --help')
  chat apikey add|list|del ...                 manage HTTP API keys (see 'chat apikey --help')
  chat webhook add|list|remove ...             manage outgoing webhooks (see 'chat webhook --help')
  chat config init [FILE] | check [--config FILE]
                                               write or check a server config file
  chat --version                               print version and commit
  chat --help                                  print this help

Run 'chat serve --help', 'chat join --help' or 'chat config --help' for a command's options.

Examples:
  chat serve --port 7007
  chat serve --config /etc/chat/chat.toml
  chat join chat.example.org --name alice --room general
  chat join tls://chat.example.org --name alice
  echo "hello" | chat join 127.0.0.1:7007 --name bot --room general
  nc 127.0.0.1 7007        # plain-text mode works too
`;

/** Runs the `chat` command line and returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serve":
        return await runServe(rest);
      case "join":
        return await runJoin(rest);
      case "user":
        return await runUser(rest);
      case "apikey":
        return await runApiKey(rest);
      case "webhook":
        return await runWebhook(rest);
      case "config":
        return await runConfig(rest);
      case "--version":
      case "-V":
      case "version":
        console.log(`chat ${VERSION} (${COMMIT})`);
        return 0;
      case undefined:
      case "--help":
      case "-h":
      case "help":
        console.log(HELP);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      const hint = ["serve", "join", "config", "user", "apikey", "webhook"].includes(command ?? "")
        ? `chat ${command} --help`
        : "chat --help";
      console.error(`chat: ${error.message} (see '${hint}')`);
      return USAGE_EXIT_CODE;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
