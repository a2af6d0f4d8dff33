/**
 * `chat serve`: parses flags, starts a {@linkcode ChatServer}, and shuts it
 * down cleanly on SIGINT/SIGTERM.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { choiceFlag, intFlag, numberFlag, parseFlags, UsageError } from "../shared/cli.ts";
import { LOG_FORMATS, LOG_LEVELS, setupLogging } from "../shared/logging.ts";
import { VERSION } from "../shared/version.ts";
import { parseDuration } from "../shared/commands.ts";
import { nameKey, validateNick } from "../shared/validation.ts";
import { ChatServer } from "./chat_server.ts";
import { DEFAULT_SERVER_OPTIONS as D, type ServerOptions } from "./server_options.ts";

const FLAGS = {
  host: { type: "string" },
  port: { type: "string", short: "p" },
  "max-frame-bytes": { type: "string" },
  "max-line-bytes": { type: "string" },
  "max-body-length": { type: "string" },
  "max-queue-bytes": { type: "string" },
  "rate-burst": { type: "string" },
  "rate-per-second": { type: "string" },
  "flood-strikes": { type: "string" },
  "max-connections": { type: "string" },
  "max-connections-per-ip": { type: "string" },
  "handshake-timeout-ms": { type: "string" },
  "heartbeat-ms": { type: "string" },
  "text-prompt-delay-ms": { type: "string" },
  "shutdown-grace-ms": { type: "string" },
  "text-handshake-timeout-ms": { type: "string" },
  data: { type: "string" },
  memory: { type: "boolean" },
  sync: { type: "string" },
  auth: { type: "string" },
  sessions: { type: "string" },
  admin: { type: "string", multiple: true },
  "history-on-join": { type: "string" },
  "max-replay": { type: "string" },
  "retention-max-messages": { type: "string" },
  "retention-max-age": { type: "string" },
  "max-rooms": { type: "string" },
  "kdf-cost": { type: "string" },
  "max-concurrent-hashes": { type: "string" },
  "max-login-failures-per-account": { type: "string" },
  "max-login-failures-per-ip": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text of `chat serve`, with every limit and its default. */
export const SERVE_HELP = `chat serve: run a chat server

Usage: chat serve [--host H] [--port P] [options]

Network:
  --host H                      address to listen on (default ${D.host})
  -p, --port P                  TCP port, 0 picks a free one (default ${D.port})

Limits (all enforced; each refusal has an error code):
  --max-frame-bytes N           largest frame payload (default ${D.maxFrameBytes})
  --max-line-bytes N            longest plain-text line (default ${D.maxLineBytes})
  --max-body-length N           longest message, in characters (default ${D.maxBodyLength})
  --max-queue-bytes N           output queued per connection before it is
                                dropped as a slow consumer (default ${D.maxQueueBytes})
  --rate-burst N                requests allowed at once (default ${D.rateBurst})
  --rate-per-second R           sustained requests per second (default ${D.ratePerSecond})
  --flood-strikes N             rate-limited requests tolerated before the
                                connection is dropped (default ${D.floodStrikes})
  --max-connections N           connections in total (default ${D.maxConnections})
  --max-connections-per-ip N    connections per IP address (default ${D.maxConnectionsPerIp})
  --handshake-timeout-ms MS     time to send hello (default ${D.handshakeTimeoutMs})
  --heartbeat-ms MS             ping interval; silent peers dropped after 3 (default ${D.heartbeatMs})
  --text-prompt-delay-ms MS     silence before a new connection is prompted
                                as plain text (default ${D.textPromptDelayMs})
  --shutdown-grace-ms MS        time to flush output on shutdown (default ${D.shutdownGraceMs})
  --text-handshake-timeout-ms MS
                                time a plain-text user has to log in (default ${D.textHandshakeTimeoutMs})
  --max-rooms N                 rooms that may exist (default ${D.maxRooms})

Storage (SQLite file in the data directory):
  --data DIR                    data directory (default ./chat-data)
  --memory                      keep everything in memory instead (lost at exit)
  --sync normal|full            normal: commits survive the server being killed;
                                full: fsync each commit, survive power loss (default ${D.sync})
  --history-on-join N           messages sent on joining a room (default ${D.historyOnJoin})
  --max-replay N                missed messages replayed on reconnect before
                                the client pages (default ${D.maxReplay})
  --retention-max-messages N    keep at most N messages per room, 0 = all (default 0)
  --retention-max-age DURATION  delete messages older than this (30d, 12h), 0 = keep (default 0)

Accounts:
  --auth open|required          open: guests may use unregistered nicknames;
                                required: accounts only (default ${D.auth})
  --sessions multiple|refuse    a second login to an online account: share it,
                                or refuse it (default ${D.sessions})
  --admin NAME                  make NAME a server admin (repeatable; also 'chat user admin')
  --kdf-cost N                  scrypt cost, log2 N, for new password hashes (default ${D.kdfLogN})
  --max-concurrent-hashes N     password hashes computed at once (default ${D.maxConcurrentHashes})
  --max-login-failures-per-account N
                                failed logins per account per hour (default ${D.maxLoginFailuresPerAccount})
  --max-login-failures-per-ip N failed logins per address per hour (default ${D.maxLoginFailuresPerIp})

Logging:
  --log-level L                 ${LOG_LEVELS.join(", ")} (default info)
  --log-format F                ${LOG_FORMATS.join(", ")} (default text)

Examples:
  chat serve                              # 0.0.0.0:7007
  chat serve --host 127.0.0.1 --port 0    # a free port on loopback
  chat serve --rate-per-second 100 --max-connections-per-ip 1000
`;

const BIG = 2 ** 31 - 1;

/** Reads the server options from parsed flags. */
export function serverOptionsFromFlags(
  values: Record<string, string | boolean | string[] | undefined>,
): Partial<ServerOptions> {
  const s = (name: string) => values[name] as string | undefined;
  const options: Partial<ServerOptions> = {};
  const set = <K extends keyof ServerOptions>(key: K, value: ServerOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set("host", s("host"));
  set("port", intFlag("--port", s("port"), { min: 0, max: 65535 }));
  set(
    "maxFrameBytes",
    intFlag("--max-frame-bytes", s("max-frame-bytes"), { min: 256, max: 16 * 1024 * 1024 - 1 }),
  );
  set("maxLineBytes", intFlag("--max-line-bytes", s("max-line-bytes"), { min: 64, max: BIG }));
  set(
    "maxBodyLength",
    intFlag("--max-body-length", s("max-body-length"), { min: 1, max: 1_000_000 }),
  );
  set("maxQueueBytes", intFlag("--max-queue-bytes", s("max-queue-bytes"), { min: 1024, max: BIG }));
  set("rateBurst", intFlag("--rate-burst", s("rate-burst"), { min: 1, max: BIG }));
  set(
    "ratePerSecond",
    numberFlag("--rate-per-second", s("rate-per-second"), { min: 0.001, max: 1e9 }),
  );
  set("floodStrikes", intFlag("--flood-strikes", s("flood-strikes"), { min: 1, max: BIG }));
  set("maxConnections", intFlag("--max-connections", s("max-connections"), { min: 1, max: BIG }));
  set(
    "maxConnectionsPerIp",
    intFlag("--max-connections-per-ip", s("max-connections-per-ip"), { min: 1, max: BIG }),
  );
  set(
    "handshakeTimeoutMs",
    intFlag("--handshake-timeout-ms", s("handshake-timeout-ms"), { min: 10, max: BIG }),
  );
  set("heartbeatMs", intFlag("--heartbeat-ms", s("heartbeat-ms"), { min: 10, max: BIG }));
  set(
    "textPromptDelayMs",
    intFlag("--text-prompt-delay-ms", s("text-prompt-delay-ms"), { min: 0, max: 60_000 }),
  );
  set(
    "shutdownGraceMs",
    intFlag("--shutdown-grace-ms", s("shutdown-grace-ms"), { min: 0, max: BIG }),
  );
  set(
    "textHandshakeTimeoutMs",
    intFlag("--text-handshake-timeout-ms", s("text-handshake-timeout-ms"), { min: 10, max: BIG }),
  );
  set("maxRooms", intFlag("--max-rooms", s("max-rooms"), { min: 1, max: BIG }));
  if (values.memory && values.data !== undefined) {
    throw new UsageError("--memory and --data exclude each other");
  }
  set("dataDir", values.memory ? null : s("data") ?? "./chat-data");
  set("sync", choiceFlag("--sync", s("sync"), ["normal", "full"] as const));
  set("auth", choiceFlag("--auth", s("auth"), ["open", "required"] as const));
  set("sessions", choiceFlag("--sessions", s("sessions"), ["multiple", "refuse"] as const));
  const admins = values.admin as unknown as string[] | undefined;
  if (admins !== undefined) {
    options.admins = admins.map((name) => {
      try {
        return nameKey(validateNick(name));
      } catch (error) {
        throw new UsageError(`--admin: ${(error as Error).message}`);
      }
    });
  }
  set("historyOnJoin", intFlag("--history-on-join", s("history-on-join"), { min: 0, max: 10_000 }));
  set("maxReplay", intFlag("--max-replay", s("max-replay"), { min: 0, max: 500 }));
  set(
    "retentionMaxMessages",
    intFlag("--retention-max-messages", s("retention-max-messages"), { min: 0, max: BIG }),
  );
  const maxAge = s("retention-max-age");
  if (maxAge !== undefined) {
    try {
      options.retentionMaxAgeMs = maxAge.trim() === "0" ? 0 : parseDuration(maxAge);
    } catch {
      throw new UsageError(
        `--retention-max-age must be a duration like 30d or 12h, got "${maxAge}"`,
      );
    }
  }
  set("kdfLogN", intFlag("--kdf-cost", s("kdf-cost"), { min: 10, max: 22 }));
  set(
    "maxConcurrentHashes",
    intFlag("--max-concurrent-hashes", s("max-concurrent-hashes"), { min: 1, max: 64 }),
  );
  set(
    "maxLoginFailuresPerAccount",
    intFlag("--max-login-failures-per-account", s("max-login-failures-per-account"), {
      min: 1,
      max: BIG,
    }),
  );
  set(
    "maxLoginFailuresPerIp",
    intFlag("--max-login-failures-per-ip", s("max-login-failures-per-ip"), { min: 1, max: BIG }),
  );
  return options;
}

/** Runs `chat serve` with `args`; resolves to the exit code after shutdown. */
export async function runServe(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`);
  }
  const options = serverOptionsFromFlags(values);
  const level = choiceFlag("--log-level", values["log-level"], LOG_LEVELS) ?? "info";
  const format = choiceFlag("--log-format", values["log-format"], LOG_FORMATS) ?? "text";
  await setupLogging({ level, format });
  const logger = getLogger(["chat", "server"]);

  let server: ChatServer;
  try {
    server = await ChatServer.listen(options);
  } catch (error) {
    const where = `${options.host ?? D.host}:${options.port ?? D.port}`;
    console.error(
      `chat: cannot listen on ${where}: ${error instanceof Error ? error.message : error}`,
    );
    return 1;
  }
  // Signal handlers first: whoever saw the listening line may signal at once.
  const stop = () => {
    logger.info("Shutting down: no new connections, flushing clients");
    server.shutdown();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  if (level === "info" || level === "debug" || level === "trace") {
    logger.info(`chat ${VERSION} listening on ${host}:${port}`);
  } else {
    console.log(`chat ${VERSION} listening on ${host}:${port}`);
  }

  await new Promise<void>((resolve) =>
    server.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await server.shutdown();
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  logger.info("Stopped");
  return 0;
}
