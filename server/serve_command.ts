/**
 * `chat serve`: reads the settings (flags over `CHAT_*` variables over the
 * config file over defaults), starts a {@linkcode ChatServer}, and shuts it
 * down cleanly on SIGINT/SIGTERM.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { parseFlags, UsageError } from "../shared/cli.ts";
import { reopenLogFile, setupLogging, shutdownLogging } from "../shared/logging.ts";
import { VERSION } from "../shared/version.ts";
import { ChatServer } from "./chat_server.ts";
import {
  loadSettings,
  readEnvironment,
  type ResolvedSettings,
  settingFlags,
  toServerOptions,
} from "./config/load_settings.ts";
import { helpLine, renderSettingsHelp } from "./config/settings_help.ts";
import { RECENT_LOGS } from "./http/log_ring.ts";

/** The flags of `chat serve`: one or two per setting, plus --config and --help. */
export const SERVE_FLAGS = {
  ...settingFlags(),
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text of `chat serve`, with every setting and its default. */
export const SERVE_HELP = `chat serve: run a chat server

Usage: chat serve [--config FILE] [--host H] [--port P] [options]

Configuration:
${helpLine("--config FILE", "read settings from this TOML file (also CHAT_CONFIG)")}

Every setting below is also a CHAT_* environment variable (--max-queue-bytes is
CHAT_MAX_QUEUE_BYTES) and a config file key (max_queue_bytes). Flags override
the environment, which overrides the file, which overrides the defaults. On/off
flags have both forms (--tcp, --no-tcp). 'chat config init' writes a commented
file; 'chat config check' shows the effective settings and where they came from.

${renderSettingsHelp()}

Examples:
  chat serve                              # 0.0.0.0:7007
  chat serve --host 127.0.0.1 --port 0    # a free port on loopback
  chat serve --rate-per-second 100 --max-connections-per-ip 1000
  chat serve --tls-cert cert.pem --tls-key key.pem --no-tcp   # TLS only, port 7443
  chat serve --unix /run/chat/chat.sock   # TCP and a Unix socket
  chat serve --http 127.0.0.1:8080        # also health, metrics, REST API, web client
  CHAT_PORT=7100 chat serve --config /etc/chat/chat.toml
`;

/** Runs `chat serve` with `args`; resolves to the exit code after shutdown. */
export async function runServe(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, SERVE_FLAGS);
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`);
  }
  const resolved = await loadSettings({ flags: values, env: readEnvironment() });
  const options = await toServerOptions(resolved);
  const { settings } = resolved;
  await setupLogging({
    level: settings.logLevel,
    format: settings.logFormat,
    // The dashboard's recent lines; only kept when someone can look at them.
    ...(settings.http === null ? {} : { extraSinks: [RECENT_LOGS.sink] }),
    ...(settings.logFile === null ? {} : {
      file: {
        path: settings.logFile,
        maxBytes: settings.logMaxBytes,
        maxFiles: settings.logMaxFiles,
      },
    }),
  });
  try {
    return await serve(resolved, options);
  } finally {
    await shutdownLogging();
  }
}

async function serve(
  { settings }: ResolvedSettings,
  options: Awaited<ReturnType<typeof toServerOptions>>,
): Promise<number> {
  const logger = getLogger(["chat", "server"]);
  // A line as it is, braces included (not a template).
  const literal = (line: string) => line.replaceAll("{", "{{").replaceAll("}", "}}");
  let server: ChatServer;
  try {
    server = await ChatServer.listen(options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`chat: ${message.charAt(0).toLowerCase()}${message.slice(1)}`);
    // The log file says why the server did not start, too.
    if (settings.logFile !== null) logger.error(literal(message));
    return 1;
  }
  // Signal handlers first: whoever saw the listening line may signal at once.
  let signalled = false;
  const stop = () => {
    // A second signal ends a drain at once.
    if (signalled) return void server.shutdown({ drainMs: 0 });
    signalled = true;
    if (options.drainMs > 0) {
      logger.info("Draining for {ms} ms: /readyz answers 503, clients are still served", {
        ms: options.drainMs,
      });
    }
    server.shutdown();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  // SIGHUP: logrotate renamed the log file; write to a new one (never exit).
  const reopen = () => {
    if (reopenLogFile()) logger.info("Reopened the log file (SIGHUP)");
    else logger.info("SIGHUP ignored: logging to the console, no log file to reopen");
  };
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", reopen);
  // Whoever started the server waits for these lines on stdout: through the
  // logger when it writes there at info level, else printed plainly; and a
  // log file gets them too.
  const toStdout = settings.logFile !== null ||
    !["trace", "debug", "info"].includes(settings.logLevel);
  const announce = (line: string) => {
    if (toStdout) console.log(line);
    logger.info(literal(line));
  };
  for (const { kind, addr } of server.listeners) {
    if ("hostname" in addr) {
      const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
      announce(
        `chat ${VERSION} listening on ${host}:${addr.port}${kind === "tls" ? " (TLS)" : ""}`,
      );
    } else {
      announce(`chat ${VERSION} listening on unix:${addr.path}`);
    }
  }
  const http = server.httpAddr;
  if (http !== null) {
    const host = http.hostname.includes(":") ? `[${http.hostname}]` : http.hostname;
    announce(`chat ${VERSION} serving HTTP on ${host}:${http.port}`);
  }
  const discovery = server.discoveryAddr;
  if (discovery !== null) {
    logger.info("Answering LAN discovery probes on udp {address}", {
      address: `${discovery.hostname}:${discovery.port}`,
    });
  }

  await new Promise<void>((resolve) =>
    server.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  logger.info("Shutting down: no new connections, flushing clients");
  await server.shutdown();
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", reopen);
  logger.info("Stopped");
  return 0;
}
