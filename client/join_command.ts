/**
 * `chat join`: parses flags, connects, and runs interactive mode on a
 * terminal or piped mode otherwise.
 *
 * @module
 */
import { choiceFlag, intFlag, parseFlags, UsageError } from "../shared/cli.ts";
import { parseDuration } from "../shared/commands.ts";
import { DISCOVERY_PORT } from "../shared/discovery.ts";
import { ChatError } from "../shared/errors.ts";
import { LOG_FORMATS, LOG_LEVELS, setupLogging } from "../shared/logging.ts";
import { sanitizeForTerminal, validateNick, validateRoom } from "../shared/validation.ts";
import {
  type Address,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_TLS_PORT,
  formatAddress,
  parseAddress,
} from "./address.ts";
import { ChatClient } from "./chat_client.ts";
import { CA_SERVER_CERTIFICATE, describeError, isCaServerCertificate } from "./format.ts";
import { detectColorDepth, runInteractive } from "./interactive_mode.ts";
import {
  PASSWORD_ENV,
  passwordFromEnv,
  PasswordInputError,
  promptPassword,
  readPasswordFile,
} from "./password_input.ts";
import { DEFAULT_RECONNECT_TIMEOUT_MS, runPiped } from "./piped_mode.ts";
import { DISCOVERY_BROADCAST } from "./server_discovery.ts";
import { pickServer } from "./server_picker.ts";

const FLAGS = {
  name: { type: "string", short: "n" },
  room: { type: "string", short: "r" },
  json: { type: "boolean" },
  plain: { type: "boolean" },
  ca: { type: "string" },
  discover: { type: "boolean" },
  "discovery-port": { type: "string" },
  "discovery-address": { type: "string" },
  "password-file": { type: "string" },
  login: { type: "boolean" },
  "reconnect-timeout": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Times a password is asked for on the terminal before a wrong one is final. */
const MAX_PASSWORD_PROMPTS = 3;

/** The help text of `chat join`. */
export const JOIN_HELP = `chat join: connect to a chat server

Usage: chat join [SERVER] [--name NICK] [--room ROOM] [--json] [options]

  SERVER               HOST[:PORT] (port ${DEFAULT_PORT}; IPv6 in brackets: [::1]:${DEFAULT_PORT}),
                       tls://HOST[:PORT] (port ${DEFAULT_TLS_PORT}) or unix:PATH; without
                       it, the servers on the local network are looked for
  -n, --name NICK      nickname; asked for on a terminal, else taken from $USER
  -r, --room ROOM      room to join first (and send plain lines to)
  --json               one JSON object per output line (implies line mode)
  --plain              on a terminal, the simple line mode instead of full screen
  --ca FILE            for tls://: trust the CA certificate(s) in FILE (PEM)
                       instead of the system's roots (a private CA, or a
                       self-signed server certificate)
  --discover           list the servers on the local network and ask which to
                       join, even if only one answers; without a terminal,
                       print the list and exit
  --discovery-port P   UDP port(s) to probe, comma-separated (default ${DISCOVERY_PORT})
  --discovery-address A
                       where probes go (default ${DISCOVERY_BROADCAST}; a subnet's
                       broadcast address, or one host)
  --password-file FILE log in with the password on the first line of FILE
  --login              ask for the password (without echo) before connecting;
                       needs a terminal
  --reconnect-timeout DURATION
                       piped: once the input has ended, give up (exit 1) when
                       the server has been unreachable this long (30s, 2m;
                       a bare number is minutes; 0: wait for ever); default 30s
  --log-level L        ${LOG_LEVELS.join(", ")} (default warning); logs go to stderr
  --log-format F       ${LOG_FORMATS.join(", ")} (default text)
  -h, --help           print this help

Finding a server: with no SERVER, chat join broadcasts a LAN discovery
probe and waits about a second. If one server answers, it joins it; if
several do, it lists them and asks which (without a terminal: it lists
them on stderr and exits 2, so name one); if none does, it says so and
tries ${DEFAULT_HOST}:${DEFAULT_PORT}. A server found is joined over plain TCP, or TLS
when that is all it offers.

TLS: tls://HOST checks the server's certificate against the system's
roots (or --ca FILE) and HOST; a certificate that does not check out
stops chat join with exit code 1.

On a terminal, chat join is interactive: type messages, or /help for the
commands (/join /leave /msg /me /rooms /who /users /topic /nick /history
/dmhistory /register /kick /ban /mute /invite /quit ...).
With stdin not a terminal (or --json), each input line is a message to the
current room or a slash command, and each event is printed as one line; it
exits when the input ends and every reply has arrived: 0, or 1 if anything
failed. The connection is re-established automatically if it drops, and
each room is rejoined with the messages missed meanwhile; once the input
has ended, a server unreachable for --reconnect-timeout (30 s) makes it
give up and exit 1 instead of waiting for ever.

A registered nickname needs its password. It is taken from --password-file,
else from $${PASSWORD_ENV}, else asked for on the terminal (without echo)
when the server says it is needed or --login is given. Standard input is
never read for it: in piped mode it carries the commands. The password is
never printed or logged. A wrong password exits 1 (on a terminal it is
asked for again, up to ${MAX_PASSWORD_PROMPTS} times in all). /register PASSWORD
registers the current nickname (the rest of the line is the password; in
the line mode on a terminal, /register alone asks for it without echo).

History: joining a room shows its recent messages, dated and marked
"(history)" ("history": true in JSON); /history [before ID | after ID]
pages through a room, /dmhistory NICK [before ID | after ID] through
direct messages (accounts only). Direct messages sent while you were
offline arrive at login, followed by a count of unread ones.

Examples:
  chat join --name alice --room general
  chat join chat.example.org:7007 -n alice -r general
  chat join [::1]:7007 --name alice
  chat join tls://chat.example.org --name alice
  chat join tls://10.0.0.5:7443 --ca private-ca.pem --name alice
  chat join unix:/run/chat/chat.sock --name alice
  chat join --discover
  echo "hello" | chat join 127.0.0.1:7007 --name bot --room general
  printf '/join ops\\n/who\\n' | chat join --name bot --json
  CHAT_PASSWORD="$BOT_PASSWORD" chat join --name bot --room general < commands.txt
  chat join --name bot --password-file ~/.config/chat/password --json
  chat join --name alice --login
`;

/** `--reconnect-timeout` in ms (a duration like `30s`; `0` never gives up). */
function readReconnectTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RECONNECT_TIMEOUT_MS;
  if (text.trim() === "0") return 0;
  try {
    return parseDuration(text);
  } catch {
    throw new UsageError(`--reconnect-timeout must be a duration like 30s or 2m, got "${text}"`);
  }
}

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

function connectFailure(
  error: unknown,
  address: Address,
  nick: string,
  passwordSource: string | undefined,
  caFile: string | undefined,
): string {
  const where = formatAddress(address);
  if (error instanceof ChatError) {
    const refused = `the server at ${where} refused ${sanitizeForTerminal(nick)}: ${
      describeError(error)
    }`;
    if (error.code === "auth_failed" && passwordSource !== undefined) {
      return `${refused}; the password came from ${passwordSource}`;
    }
    if (error.code === "auth_required") {
      return `${refused}; give it in $${PASSWORD_ENV} or a file named by --password-file, ` +
        "or use --login on a terminal";
    }
    return refused;
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `cannot connect to ${where}: connection refused`;
  }
  if (error instanceof Deno.errors.NotFound && address.transport === "unix") {
    return `cannot connect to ${where}: no such socket`;
  }
  // Trusting it would not help: the server must change its certificate.
  if (isCaServerCertificate(error)) return `cannot connect to ${where}: ${CA_SERVER_CERTIFICATE}`;
  const message = describeError(error);
  // rustls words it "invalid peer certificate: UnknownIssuer" and the like.
  if (address.transport === "tls" && /certificate/i.test(message)) {
    const hint = caFile === undefined
      ? "if a private CA signed it, or it signed itself, pass --ca FILE"
      : `it does not check out against --ca ${caFile} and the name ${address.hostname}`;
    return `cannot connect to ${where}: the server's TLS certificate is not trusted ` +
      `(${message}); ${hint}`;
  }
  return `cannot connect to ${where}: ${message}`;
}

/** The PEM certificates in the `--ca` file; a usable message when there are none. */
async function readCaFile(path: string): Promise<string[] | string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : describeError(error);
    return `cannot read --ca ${path}: ${reason}`;
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (pems === null) return `--ca ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  return pems.map((pem) => pem + "\n");
}

function discoveryPorts(text: string | undefined): number[] {
  if (text === undefined) return [DISCOVERY_PORT];
  return text.split(",").map((part) =>
    intFlag("--discovery-port", part.trim(), { min: 1, max: 65535 })!
  );
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
  const named = positionals[0] === undefined || positionals[0] === ""
    ? undefined
    : parseAddress(positionals[0]);
  if (named !== undefined && values.discover) {
    throw new UsageError("--discover looks for a server: name none with it");
  }
  if (named !== undefined && named.transport !== "tls" && values.ca !== undefined) {
    throw new UsageError("--ca is for tls:// servers");
  }
  const discovery = {
    ports: discoveryPorts(values["discovery-port"]),
    address: values["discovery-address"] ?? DISCOVERY_BROADCAST,
  };
  const level = choiceFlag("--log-level", values["log-level"], LOG_LEVELS) ?? "warning";
  const format = choiceFlag("--log-format", values["log-format"], LOG_FORMATS) ?? "text";
  let room: string | undefined;
  const reconnectTimeoutMs = readReconnectTimeout(values["reconnect-timeout"]);
  if (values.room !== undefined) {
    try {
      room = validateRoom(values.room);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal() && !values.json;
  const canAsk = Deno.stdin.isTerminal();
  if (values.login && !canAsk && values["password-file"] === undefined && !passwordFromEnv()) {
    throw new UsageError(
      `--login asks on a terminal; without one, set $${PASSWORD_ENV} or pass --password-file`,
    );
  }

  // Without a terminal the nickname comes from $USER, checked now so that a
  // usage error never waits for the LAN search; on one it is asked for after.
  let nick = values.name === undefined ? undefined : checkNick(values.name);
  // --discover without a terminal only lists: no nickname needed.
  const listOnly = values.discover === true && !interactive;
  if (nick === undefined && !interactive && !listOnly) {
    const user = envUser();
    if (user === undefined) {
      throw new UsageError("--name is required when stdin is not a terminal and $USER is not set");
    }
    try {
      nick = validateNick(user);
    } catch {
      throw new UsageError(`$USER "${user}" is not a valid nickname: pass --name`);
    }
  }

  let caCerts: string[] | undefined;
  if (values.ca !== undefined) {
    const read = await readCaFile(values.ca);
    if (typeof read === "string") {
      console.error(`chat: ${sanitizeForTerminal(read)}`);
      return 1;
    }
    caCerts = read;
  }

  await setupLogging({ level, format, stderr: true });
  let address: Address;
  if (named !== undefined) {
    address = named;
  } else {
    const outcome = await pickServer({
      discovery,
      list: values.discover ?? false,
      ask: interactive,
      json: values.json ?? false,
    });
    if (outcome.kind === "exit") return outcome.code;
    address = outcome.address;
  }

  if (nick === undefined) {
    // Only on a terminal: elsewhere the nickname was settled above.
    nick = askNick();
    if (nick === undefined) return 1;
  }

  let password: string | undefined;
  let passwordSource: string | undefined;
  const passwordFile = values["password-file"];
  try {
    if (passwordFile !== undefined) {
      password = await readPasswordFile(passwordFile);
      passwordSource = `--password-file ${passwordFile}`;
    } else if ((password = passwordFromEnv()) !== undefined) {
      passwordSource = `$${PASSWORD_ENV}`;
    }
  } catch (error) {
    if (!(error instanceof PasswordInputError)) throw error;
    console.error(`chat: ${sanitizeForTerminal(error.message)}`);
    return 1;
  }
  // Counted whether --login asked first or the server's auth_required did.
  let prompts = 0;
  if (values.login && password === undefined) {
    password = await promptPassword(`Password for ${sanitizeForTerminal(nick)}: `);
    if (password === undefined) return 1;
    passwordSource = "the terminal";
    prompts++;
  }

  let client: ChatClient;
  // On a terminal, a missing or mistyped password is asked for (again); elsewhere it is fatal.
  for (;;) {
    try {
      client = await ChatClient.connect({
        ...(address.transport === "unix"
          ? { transport: "unix", path: address.path }
          : { transport: address.transport, hostname: address.hostname, port: address.port }),
        ...(caCerts === undefined ? {} : { caCerts }),
        nick,
        ...(password === undefined ? {} : { password }),
      });
      break;
    } catch (error) {
      const code = error instanceof ChatError ? error.code : undefined;
      const askAgain = canAsk && prompts < MAX_PASSWORD_PROMPTS &&
        ((code === "auth_required" && password === undefined) ||
          (code === "auth_failed" && passwordSource === "the terminal"));
      if (!askAgain) {
        console.error(`chat: ${connectFailure(error, address, nick, passwordSource, values.ca)}`);
        return 1;
      }
      console.error(`chat: ${describeError(error)}`);
      password = await promptPassword(`Password for ${sanitizeForTerminal(nick)}: `);
      if (password === undefined) return 1;
      passwordSource = "the terminal";
      prompts++;
    }
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
    reconnectTimeoutMs,
    ...(room === undefined ? {} : { room }),
  });
}
