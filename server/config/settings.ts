/**
 * Every setting of `chat serve`, described once. Each entry names its flag;
 * the environment variable (`CHAT_` + the flag in upper snake case) and the
 * config file key (the flag in snake case) follow from it, and so do the
 * help text, `chat config init`, `chat config check` and
 * docs/configuration.md. Adding a setting is adding its field to
 * `ServerOptions` (with a default) and one entry here; the compiler insists
 * on the entry, through {@linkcode ServeSettings}.
 *
 * @module
 */
import { LOG_FORMATS, LOG_LEVELS, type LoggingOptions } from "../../shared/logging.ts";
import { parseHttpAddress } from "../http/http_address.ts";
import { MAX_SEARCH_TEXT } from "../../shared/protocol.ts";
import { DEFAULT_SERVER_OPTIONS as D, type ServerOptions } from "./server_options.ts";
import {
  boolType,
  choiceType,
  cidrListType,
  durationType,
  fileModeType,
  intType,
  nickListType,
  numberType,
  optionalTextType,
  originListType,
  redisUrlType,
  type SettingType,
  textType,
} from "./setting_types.ts";

/**
 * The values of every `chat serve` setting: the server's options (their
 * meaning is documented there), except that TLS takes two paths instead of
 * loaded PEM text and storage a directory plus `memory`, and logging.
 */
export type ServeSettings = Omit<ServerOptions, "tls" | "dataDir"> & {
  tlsCert: string | null;
  tlsKey: string | null;
  dataDir: string;
  memory: boolean;
  logLevel: LoggingOptions["level"];
  logFormat: LoggingOptions["format"];
  logFile: string | null;
  logMaxBytes: number;
  logMaxFiles: number;
};

/** The sections settings are listed under, in order. */
export const SETTING_GROUPS = {
  network: "Network",
  limits: "Limits (all enforced; each refusal has an error code)",
  storage: "Storage (SQLite file in the data directory)",
  accounts: "Accounts",
  logging: "Logging",
  http: "HTTP: health, metrics, REST API, WebSocket, web client (off without --http)",
  webhooks: "Outgoing webhooks (chat webhook add; see docs/webhooks.md)",
  files: "Files: uploads and downloads (docs/protocol.md section 23)",
} as const;

/** A section of {@linkcode SETTING_GROUPS}. */
export type SettingGroup = keyof typeof SETTING_GROUPS;

/** The description of one setting. */
export interface Setting<T> {
  /** Section it is listed under. */
  readonly group: SettingGroup;
  /** Flag name without dashes; the env variable and TOML key derive from it. */
  readonly flag: string;
  /** One-letter flag alias. */
  readonly short?: string;
  /** Placeholder for the value in help (absent for on/off settings). */
  readonly arg?: string;
  /** What the setting does, in a few words (help text, docs, config file comments). */
  readonly help: string;
  /**
   * For on/off settings: help for the flag that `chat serve --help` shows,
   * the one that changes the default (`--no-tcp` for a setting that is on).
   */
  readonly flagHelp?: string;
  /** Longer explanation for docs/configuration.md and the config file. */
  readonly details?: string;
  /** Values allowed and how they are read. */
  readonly type: SettingType<T>;
  readonly default: T;
  /** How the default is shown when the value alone would mislead. */
  readonly defaultText?: string;
  /** The flag may be given several times; the values add up. */
  readonly repeatable?: boolean;
}

/** The whole schema: one entry per key of {@linkcode ServeSettings}. */
export type SettingsSchema = { readonly [K in keyof ServeSettings]: Setting<ServeSettings[K]> };

const BIG = 2 ** 31 - 1;
const ms = (min: number) => intType({ min, max: BIG });
const count = (min: number) => intType({ min, max: BIG });
const port = intType({ min: 0, max: 65535 });
const path = (none: string) => optionalTextType({ allowed: "a file path", none });

/** Every setting of `chat serve`, in help order. */
export const SETTINGS: SettingsSchema = {
  host: {
    group: "network",
    flag: "host",
    arg: "H",
    help: "address to listen on",
    details: "TCP, TLS and discovery listen on this address; 127.0.0.1 keeps the server local.",
    type: textType({ allowed: "an IP address or host name" }),
    default: D.host,
  },
  port: {
    group: "network",
    flag: "port",
    short: "p",
    arg: "P",
    help: "TCP port, 0 picks a free one",
    type: port,
    default: D.port,
  },
  tcp: {
    group: "network",
    flag: "tcp",
    help: "accept plain TCP on the port",
    flagHelp: "no plain TCP: only TLS and/or the Unix socket",
    type: boolType(),
    default: D.tcp,
  },
  tlsCert: {
    group: "network",
    flag: "tls-cert",
    arg: "FILE",
    help: "TLS certificate chain (PEM); with --tls-key, turns TLS on",
    details: "TLS 1.2 and 1.3 only: Deno's TLS (rustls) implements no older version.",
    type: path("no TLS"),
    default: null,
  },
  tlsKey: {
    group: "network",
    flag: "tls-key",
    arg: "FILE",
    help: "TLS private key (PEM) of the certificate",
    type: path("no TLS"),
    default: null,
  },
  tlsPort: {
    group: "network",
    flag: "tls-port",
    arg: "P",
    help: "TLS port, 0 picks a free one",
    type: port,
    default: D.tlsPort,
  },
  unixPath: {
    group: "network",
    flag: "unix",
    arg: "PATH",
    help: "also accept connections on this Unix socket",
    details:
      "A stale socket file (no server answering) is replaced at start; a live one makes the " +
      "server refuse to start. The file is removed at shutdown. Its peers share one " +
      "per-address connection cap, under the name `unix`.",
    type: path("none"),
    default: D.unixPath,
  },
  unixMode: {
    group: "network",
    flag: "unix-mode",
    arg: "MODE",
    help: "file mode of the Unix socket",
    details: "Connecting needs write permission: 0660 lets the owner and the group in.",
    type: fileModeType(),
    default: D.unixMode,
  },
  discovery: {
    group: "network",
    flag: "discovery",
    help: "answer LAN discovery probes on UDP",
    flagHelp: "do not answer LAN discovery probes",
    details: "Answers carry the server name, version and TCP/TLS ports; see docs/operations.md.",
    type: boolType(),
    default: true,
  },
  discoveryPort: {
    group: "network",
    flag: "discovery-port",
    arg: "P",
    help: "UDP port for discovery probes",
    type: port,
    default: D.discoveryPort,
  },
  serverName: {
    group: "network",
    flag: "server-name",
    arg: "NAME",
    help: "name announced to discovery probes",
    type: optionalTextType({
      allowed: "up to 64 characters, no control characters",
      none: "the host name",
      check: (text) => {
        // deno-lint-ignore no-control-regex
        if (/[\u0000-\u001f\u007f-\u009f]/.test(text) || [...text].length > 64) {
          throw new RangeError(`must be up to 64 characters without controls, got "${text}"`);
        }
      },
    }),
    default: D.serverName,
    defaultText: "the host name",
  },
  maxFrameBytes: {
    group: "limits",
    flag: "max-frame-bytes",
    arg: "N",
    help: "largest frame payload",
    type: intType({ min: 256, max: 16 * 1024 * 1024 - 1 }),
    default: D.maxFrameBytes,
  },
  maxLineBytes: {
    group: "limits",
    flag: "max-line-bytes",
    arg: "N",
    help: "longest plain-text line",
    type: intType({ min: 64, max: BIG }),
    default: D.maxLineBytes,
  },
  maxBodyLength: {
    group: "limits",
    flag: "max-body-length",
    arg: "N",
    help: "longest message, in characters",
    type: intType({ min: 1, max: 1_000_000 }),
    default: D.maxBodyLength,
  },
  maxQueueBytes: {
    group: "limits",
    flag: "max-queue-bytes",
    arg: "N",
    help: "output queued per connection before it is dropped as a slow consumer",
    type: intType({ min: 1024, max: BIG }),
    default: D.maxQueueBytes,
  },
  rateBurst: {
    group: "limits",
    flag: "rate-burst",
    arg: "N",
    help: "requests allowed at once",
    type: count(1),
    default: D.rateBurst,
  },
  ratePerSecond: {
    group: "limits",
    flag: "rate-per-second",
    arg: "R",
    help: "sustained requests per second",
    type: numberType({ min: 0.001, max: 1e9 }),
    default: D.ratePerSecond,
  },
  floodStrikes: {
    group: "limits",
    flag: "flood-strikes",
    arg: "N",
    help: "rate-limited requests tolerated before the connection is dropped",
    type: count(1),
    default: D.floodStrikes,
  },
  maxHistoryReads: {
    group: "limits",
    flag: "max-history-reads",
    arg: "N",
    help: "history reads (pages, join catch-ups, stored DMs) the server runs at once",
    details: "Each read is cut to one frame's worth of bytes in the store, so this bounds the " +
      "memory history takes: about N times --max-frame-bytes. See docs/operations.md.",
    type: count(1),
    default: D.maxHistoryReads,
  },
  maxHistoryWaiting: {
    group: "limits",
    flag: "max-history-waiting",
    arg: "N",
    help: "history reads waiting for the server; more are refused with server_busy",
    type: count(0),
    default: D.maxHistoryWaiting,
  },
  maxHistoryWaitingPerConnection: {
    group: "limits",
    flag: "max-history-waiting-per-connection",
    arg: "N",
    help: "history requests one connection or API key may have waiting; more are rate_limited",
    details: "A connection's history requests run one at a time, in order, each once the " +
      "replies before it are out and its output queue has room for a page.",
    type: count(0),
    default: D.maxHistoryWaitingPerConnection,
  },
  // Search (docs/protocol.md section 24).
  maxSearchLength: {
    group: "limits",
    flag: "max-search-length",
    arg: "N",
    help: "longest search text, in code points; longer is bad_request",
    // The wire caps a search's text at MAX_SEARCH_TEXT UTF-16 code units.
    type: intType({ min: 1, max: MAX_SEARCH_TEXT }),
    default: D.maxSearchLength,
  },
  maxSearchTerms: {
    group: "limits",
    flag: "max-search-terms",
    arg: "N",
    help: "most words (terms separated by whitespace) in one search; more is bad_request",
    type: count(1),
    default: D.maxSearchTerms,
  },
  maxSearchConcurrency: {
    group: "limits",
    flag: "max-search-concurrency",
    arg: "N",
    help: "searches the server runs at once",
    details: "Each search reads at most one page (one frame's worth of bytes) from the store; a " +
      "connection's searches run one at a time, in order, like its history requests.",
    type: count(1),
    default: D.maxSearchConcurrency,
  },
  maxSearchWaiting: {
    group: "limits",
    flag: "max-search-waiting",
    arg: "N",
    help: "searches waiting for the server; more are refused with server_busy",
    type: count(0),
    default: D.maxSearchWaiting,
  },
  searchCost: {
    group: "limits",
    flag: "search-cost",
    arg: "N",
    help: "rate-limit tokens one search takes (at most --rate-burst)",
    type: intType({ min: 1, max: 1000 }),
    default: D.searchCost,
  },
  redisSearchScan: {
    group: "limits",
    flag: "redis-search-scan",
    arg: "N",
    help: "with --redis: the latest messages of each room a search reads; older are not searched",
    details: "Redis keeps no search index: a search reads up to N of each room it covers, newest " +
      "first, and matches them on the server. Direct messages are not searched with --redis.",
    type: count(1),
    default: D.redisSearchScan,
  },
  maxConnections: {
    group: "limits",
    flag: "max-connections",
    arg: "N",
    help: "connections in total",
    details: "With `--redis`, counted across all instances (see docs/scaling.md).",
    type: count(1),
    default: D.maxConnections,
  },
  maxConnectionsPerIp: {
    group: "limits",
    flag: "max-connections-per-ip",
    arg: "N",
    help: "connections per IP address",
    details: "With `--redis`, counted across all instances (see docs/scaling.md).",
    type: count(1),
    default: D.maxConnectionsPerIp,
  },
  maxHandshakesPerIp: {
    group: "limits",
    flag: "max-handshakes-per-ip",
    arg: "N",
    help: "connections per IP address not logged in yet",
    details: "Cluster-wide with `--redis`.",
    type: count(1),
    default: D.maxHandshakesPerIp,
  },
  handshakeTimeoutMs: {
    group: "limits",
    flag: "handshake-timeout-ms",
    arg: "MS",
    help: "time from connect to a complete hello",
    type: ms(10),
    default: D.handshakeTimeoutMs,
  },
  heartbeatMs: {
    group: "limits",
    flag: "heartbeat-ms",
    arg: "MS",
    help: "ping interval; silent peers dropped after 3",
    type: ms(10),
    default: D.heartbeatMs,
  },
  textPromptDelayMs: {
    group: "limits",
    flag: "text-prompt-delay-ms",
    arg: "MS",
    help: "silence before the plain-text greeting",
    type: intType({ min: 0, max: 60_000 }),
    default: D.textPromptDelayMs,
  },
  shutdownGraceMs: {
    group: "limits",
    flag: "shutdown-grace-ms",
    arg: "MS",
    help: "time a closing connection has to answer requests in flight and flush",
    type: ms(0),
    default: D.shutdownGraceMs,
  },
  drainMs: {
    group: "limits",
    flag: "drain-ms",
    arg: "MS",
    help: "on SIGTERM, /readyz answers 503 this long before listeners close (see operations.md)",
    type: ms(0),
    default: D.drainMs,
  },
  writeCoalesceMs: {
    group: "limits",
    flag: "write-coalesce-ms",
    arg: "MS",
    help: "a busy connection is written at most once per MS, in bigger writes (0: every turn)",
    type: ms(0),
    default: D.writeCoalesceMs,
  },
  writeCoalesceFromFrames: {
    group: "limits",
    flag: "write-coalesce-from",
    arg: "N",
    help:
      "coalesce writes only while N or more frames go out per window, all connections together (0: always)",
    type: count(0),
    default: D.writeCoalesceFromFrames,
  },
  textHandshakeTimeoutMs: {
    group: "limits",
    flag: "text-handshake-timeout-ms",
    arg: "MS",
    help: "time a plain-text user has to log in",
    type: ms(10),
    default: D.textHandshakeTimeoutMs,
  },
  maxRooms: {
    group: "limits",
    flag: "max-rooms",
    arg: "N",
    help: "rooms that may exist",
    type: count(1),
    default: D.maxRooms,
  },
  maxRoomsPerUser: {
    group: "limits",
    flag: "max-rooms-per-user",
    arg: "N",
    help: "rooms one user may be in at once",
    details: "A join beyond it is refused with too_many_rooms. A user's sessions count together.",
    type: count(1),
    default: D.maxRoomsPerUser,
  },
  maxReactionsPerMessage: {
    group: "limits",
    flag: "max-reactions-per-message",
    arg: "N",
    help: "distinct emoji one message may carry as reactions",
    details: "A react with one more distinct emoji is refused with too_many_reactions; " +
      "reacting with an emoji the message already has is not limited by it " +
      "(docs/protocol.md section 21).",
    type: count(1),
    default: D.maxReactionsPerMessage,
  },
  maxRoomsPerAccount: {
    group: "limits",
    flag: "max-rooms-per-account",
    arg: "N",
    help: "rooms one account may own",
    details: "Creating a room makes its creator the owner; an account that owns this many " +
      "rooms is refused (forbidden) when it tries to create another. Guests own rooms only " +
      "while connected, so they are not counted.",
    type: count(1),
    default: D.maxRoomsPerAccount,
  },
  maxAwayLength: {
    group: "limits",
    flag: "max-away-length",
    arg: "N",
    help: "longest away message, in code points",
    details: "A longer one is refused with invalid_body (docs/protocol.md, section 22). At most " +
      "1000, what the wire carries.",
    type: intType({ min: 1, max: 1000 }),
    default: D.maxAwayLength,
  },
  awayChangesPerMinute: {
    group: "limits",
    flag: "away-changes-per-minute",
    arg: "N",
    help: "away and back changes one user may make per minute",
    details: "A token bucket of N, refilled at N a minute, per user (its sessions together, on " +
      "each instance); a change beyond it is refused with rate_limited and retryAfterMs, so that " +
      "toggling away cannot flood the rooms one is in. Setting the state one already has costs " +
      "nothing and tells nobody.",
    type: count(1),
    default: D.awayChangesPerMinute,
  },
  typingIntervalMs: {
    group: "limits",
    flag: "typing-interval-ms",
    arg: "MS",
    help: "least time between two typing relays of one user to one conversation",
    details: "Typing requests that come sooner are acked with throttled: true and relayed to " +
      "nobody (a done after a relayed active or paused is still relayed once, so that an " +
      "indicator does not linger). Per user and conversation, on each instance.",
    type: ms(0),
    default: D.typingIntervalMs,
  },
  guestRoomTtlMs: {
    group: "limits",
    flag: "guest-room-ttl",
    arg: "DURATION",
    help: "a room no account owns is deleted, with its history, once empty this long",
    details: "Rooms made by guests (and rooms whose guest owner has left) are kept while " +
      "anyone is in them and for this long after the last member leaves; then the room, its " +
      "history and its grants are deleted. 0 deletes them as soon as they are empty. Rooms " +
      "owned by an account are kept.",
    type: durationType(),
    default: D.guestRoomTtlMs,
  },
  maxRoomCreationsPerIp: {
    group: "limits",
    flag: "max-room-creations-per-ip",
    arg: "N",
    help: "rooms one client address may create per hour",
    details: "Counted per address (IPv6: per /64) over a sliding hour, across instances with " +
      "--redis; one more is refused with rate_limited and the time to wait. API keys' bots are " +
      "not counted.",
    type: count(1),
    default: D.maxRoomCreationsPerIp,
  },
  maxRegistrationsPerIp: {
    group: "limits",
    flag: "max-registrations-per-ip",
    arg: "N",
    help: "accounts one client address may register per hour",
    details: "Counts /register from sessions per address (IPv6: per /64) over a sliding hour, " +
      "across instances with --redis; one more is refused with rate_limited. Accounts made " +
      "with chat user are not counted.",
    type: count(1),
    default: D.maxRegistrationsPerIp,
  },
  dataDir: {
    group: "storage",
    flag: "data",
    arg: "DIR",
    help: "data directory",
    type: textType({ allowed: "a directory path" }),
    default: "./chat-data",
  },
  memory: {
    group: "storage",
    flag: "memory",
    help: "keep everything in memory instead of the data directory (lost at exit)",
    flagHelp: "keep everything in memory instead (lost at exit)",
    type: boolType(),
    default: false,
  },
  sync: {
    group: "storage",
    flag: "sync",
    arg: "normal|full",
    help: "normal: commits survive the server being killed; full: fsync each commit, " +
      "survive power loss",
    type: choiceType(["normal", "full"] as const),
    default: D.sync,
  },
  redis: {
    group: "storage",
    flag: "redis",
    arg: "URL",
    help: "share one chat among several instances through this Redis (redis://host:port)",
    details: "Every instance started with the same URL (and prefix) serves the same chat: " +
      "rooms, history, accounts and who is online live in Redis, and the data directory is " +
      "not used. Run Redis with appendonly yes; see docs/scaling.md.",
    type: redisUrlType(),
    default: D.redis,
    defaultText: "none",
  },
  redisPrefix: {
    group: "storage",
    flag: "redis-prefix",
    arg: "P",
    help: "prefix of every Redis key and channel (several chats can share one Redis)",
    type: textType({ allowed: "a key prefix" }),
    default: D.redisPrefix,
  },
  redisCommandTimeoutMs: {
    group: "storage",
    flag: "redis-command-timeout-ms",
    arg: "MS",
    help: "a Redis command slower than this fails the request with a storage error",
    type: ms(10),
    default: D.redisCommandTimeoutMs,
  },
  redisMaxPending: {
    group: "storage",
    flag: "redis-max-pending",
    arg: "N",
    help: "Redis commands waiting at once; more fail at once with a storage error",
    type: count(1),
    default: D.redisMaxPending,
  },
  redisPresenceTtlMs: {
    group: "storage",
    flag: "redis-presence-ttl-ms",
    arg: "MS",
    help: "an instance silent this long is gone: its users go offline",
    type: ms(1000),
    default: D.redisPresenceTtlMs,
  },
  historyOnJoin: {
    group: "storage",
    flag: "history-on-join",
    arg: "N",
    help: "messages sent on joining a room",
    type: intType({ min: 0, max: 10_000 }),
    default: D.historyOnJoin,
  },
  maxReplay: {
    group: "storage",
    flag: "max-replay",
    arg: "N",
    help: "missed messages replayed on reconnect before the client pages",
    // One history page at most: a larger replay would not fit the reply.
    type: intType({ min: 0, max: 500 }),
    default: D.maxReplay,
  },
  msgIdWindowMs: {
    group: "storage",
    flag: "msg-id-window",
    arg: "DURATION",
    help: "how long a say/dm clientMsgId guards against a repost (1h), 0 = ignore them",
    type: durationType(),
    default: D.msgIdWindowMs,
  },
  msgIdsPerUser: {
    group: "storage",
    flag: "msg-ids-per-user",
    arg: "N",
    help: "latest clientMsgIds remembered per sender, 0 = ignore them",
    type: intType({ min: 0, max: 1_000_000 }),
    default: D.msgIdsPerUser,
  },
  retentionMaxMessages: {
    group: "storage",
    flag: "retention-max-messages",
    arg: "N",
    help: "keep at most N messages per room, 0 = all",
    type: intType({ min: 0, max: BIG }),
    default: D.retentionMaxMessages,
  },
  retentionMaxAgeMs: {
    group: "storage",
    flag: "retention-max-age",
    arg: "DURATION",
    help: "delete messages older than this (30d, 12h), 0 = keep",
    type: durationType(),
    default: D.retentionMaxAgeMs,
  },
  retentionIntervalMs: {
    group: "storage",
    flag: "retention-interval-ms",
    arg: "MS",
    help: "how often retention runs",
    type: intType({ min: 100, max: BIG }),
    default: D.retentionIntervalMs,
  },
  auth: {
    group: "accounts",
    flag: "auth",
    arg: "open|required",
    help: "open: guests may use unregistered nicknames; required: accounts only",
    type: choiceType(["open", "required"] as const),
    default: D.auth,
  },
  sessions: {
    group: "accounts",
    flag: "sessions",
    arg: "multiple|refuse",
    help: "a second login to an online account: share it, or refuse it",
    type: choiceType(["multiple", "refuse"] as const),
    default: D.sessions,
  },
  admins: {
    group: "accounts",
    flag: "admin",
    arg: "NAME",
    help: "make NAME a server admin (repeatable; also 'chat user admin')",
    type: nickListType(),
    default: [...D.admins],
    repeatable: true,
  },
  kdfLogN: {
    group: "accounts",
    flag: "kdf-cost",
    arg: "N",
    help: "scrypt cost, log2 N, for new password hashes",
    type: intType({ min: 10, max: 22 }),
    default: D.kdfLogN,
  },
  maxConcurrentHashes: {
    group: "accounts",
    flag: "max-concurrent-hashes",
    arg: "N",
    help: "password hashes computed at once",
    type: intType({ min: 1, max: 64 }),
    default: D.maxConcurrentHashes,
  },
  maxLoginFailuresPerAccount: {
    group: "accounts",
    flag: "max-login-failures-per-account",
    arg: "N",
    help: "failed logins per account per hour",
    type: count(1),
    default: D.maxLoginFailuresPerAccount,
  },
  maxLoginFailuresPerIp: {
    group: "accounts",
    flag: "max-login-failures-per-ip",
    arg: "N",
    help: "failed logins per address per hour",
    type: count(1),
    default: D.maxLoginFailuresPerIp,
  },
  maxLoginFailuresPerKnownAddress: {
    group: "accounts",
    flag: "max-login-failures-per-known-address",
    arg: "N",
    help: "failed logins per hour for an account from an address it logged in from before",
    details: "Past --max-login-failures-per-account an account is refused from new addresses " +
      "only: the addresses it logged in from before keep this many tries each, so an attacker " +
      "cannot lock its owner out.",
    type: count(1),
    default: D.maxLoginFailuresPerKnownAddress,
  },
  knownLoginAddresses: {
    group: "accounts",
    flag: "known-login-addresses",
    arg: "N",
    help: "addresses remembered per account (its latest successful logins)",
    details: "IPv6 addresses count per /64. Kept in the store, so a restart keeps them.",
    type: intType({ min: 1, max: 1000 }),
    default: D.knownLoginAddresses,
  },
  knownLoginAddressMaxAgeMs: {
    group: "accounts",
    flag: "known-login-address-max-age",
    arg: "DURATION",
    help: "how long an address stays known after its last login (30d, 12h), 0 = no limit",
    type: durationType(),
    default: D.knownLoginAddressMaxAgeMs,
  },
  maxQueuedHashes: {
    group: "accounts",
    flag: "max-queued-hashes",
    arg: "N",
    help: "password hashes waiting for a slot, all addresses together",
    details: "Beyond this a login is refused at once with rate_limited and retryAfterMs.",
    type: intType({ min: 0, max: 100_000 }),
    default: D.maxQueuedHashes,
  },
  maxPasswordChecksPerIp: {
    group: "accounts",
    flag: "max-password-checks-per-ip",
    arg: "N",
    help: "password checks pending (running or waiting) per address",
    details: "IPv6 addresses count per /64. Beyond this a login from that address is refused " +
      "at once with rate_limited and retryAfterMs. Addresses take turns for the hash slots, and " +
      "one address holds at most all but one of them, so its backlog does not delay another's " +
      "login.",
    type: intType({ min: 1, max: 1000 }),
    default: D.maxPasswordChecksPerIp,
  },
  logLevel: {
    group: "logging",
    flag: "log-level",
    arg: "L",
    help: LOG_LEVELS.join(", "),
    details: "Passwords, tokens and message bodies are never logged at info level.",
    type: choiceType(LOG_LEVELS),
    default: "info",
  },
  logFormat: {
    group: "logging",
    flag: "log-format",
    arg: "F",
    help: `${LOG_FORMATS.join(", ")}; json writes one JSON object per line`,
    type: choiceType(LOG_FORMATS),
    default: "text",
  },
  logFile: {
    group: "logging",
    flag: "log-file",
    arg: "FILE",
    help: "write logs to FILE, rotated by size, instead of stdout",
    details: "Records are buffered and written (and synced) at most once a second, " +
      "not one by one; a crash can lose the last second of logs.",
    type: path("stdout"),
    default: null,
  },
  logMaxBytes: {
    group: "logging",
    flag: "log-max-bytes",
    arg: "N",
    help: "size at which the log file is rotated",
    type: intType({ min: 4096, max: BIG }),
    default: 10 * 1024 * 1024,
  },
  logMaxFiles: {
    group: "logging",
    flag: "log-max-files",
    arg: "N",
    help: "rotated log files kept (FILE.1 is the newest)",
    type: intType({ min: 1, max: 100 }),
    default: 5,
  },
  http: {
    group: "http",
    flag: "http",
    arg: "HOST:PORT",
    help: "serve HTTP here: /healthz, /readyz, /metrics, /api/v1, /ws, / and /admin",
    details: "Off by default. One listener carries the health checks, Prometheus metrics, the " +
      "REST API (API keys from `chat apikey add`), the WebSocket endpoint for browsers, the " +
      "web client and the admin dashboard; see docs/http_api.md. Plain HTTP: put a TLS " +
      "proxy in front of it for anything but a trusted network. Port 0 picks a free one.",
    type: optionalTextType({
      allowed: "HOST:PORT, like 127.0.0.1:8080 or [::1]:8080",
      none: "no HTTP",
      check: (text) => void parseHttpAddress(text),
    }),
    default: D.http,
    defaultText: "off",
  },
  httpCorsOrigins: {
    group: "http",
    flag: "http-cors-origin",
    arg: "ORIGIN",
    help: "let web pages from ORIGIN call the REST API (repeatable; * for any)",
    details: "CORS is closed by default: no other site's page may call /api/v1 from a " +
      "browser. The dashboard and its login never answer cross-origin requests.",
    type: originListType(),
    default: [...D.httpCorsOrigins],
    repeatable: true,
  },
  httpMaxBodyBytes: {
    group: "http",
    flag: "http-max-body-bytes",
    arg: "N",
    help: "largest HTTP request body; larger ones get 413",
    type: intType({ min: 1024, max: 16 * 1024 * 1024 }),
    default: D.httpMaxBodyBytes,
  },
  trustedProxies: {
    group: "http",
    flag: "trusted-proxy",
    arg: "CIDR",
    help: "from these addresses, X-Forwarded-For names the client (repeatable)",
    details: "For HTTP requests and WebSockets arriving from a reverse proxy in CIDR, the " +
      "client's address (for the per-address caps and in logs) is the rightmost " +
      "X-Forwarded-For entry that is not a trusted proxy; from any other address the header " +
      "is ignored. See docs/operations.md.",
    type: cidrListType(),
    default: [...D.trustedProxies],
    repeatable: true,
  },
  webhookReloadMs: {
    group: "webhooks",
    flag: "webhook-reload-ms",
    arg: "MS",
    help: "how often the webhook list is read again (chat webhook add/remove), 0 = at start only",
    details: "A running server reads the webhooks from its data directory or Redis at start and " +
      "again at this interval, so webhooks added or removed meanwhile take effect without a " +
      "restart. Each read is one small query.",
    type: ms(0),
    default: D.webhookReloadMs,
  },
  webhookTimeoutMs: {
    group: "webhooks",
    flag: "webhook-timeout-ms",
    arg: "MS",
    help: "how long one delivery attempt may take, response body included",
    type: ms(100),
    default: D.webhookTimeoutMs,
  },
  webhookQueueSize: {
    group: "webhooks",
    flag: "webhook-queue",
    arg: "N",
    help: "events waiting per webhook; when full the oldest waiting one is dropped",
    details: "Events go to each webhook one at a time, in order. While a receiver is slow or " +
      "down they wait here; past this many the oldest waiting event is dropped, counted in " +
      "chat_webhook_dropped_total and logged (a warning a minute at most).",
    type: intType({ min: 1, max: 1_000_000 }),
    default: D.webhookQueueSize,
  },
  webhookMaxAttempts: {
    group: "webhooks",
    flag: "webhook-max-attempts",
    arg: "N",
    help: "attempts per event (network errors, timeouts, 5xx and 429 are retried)",
    type: intType({ min: 1, max: 100 }),
    default: D.webhookMaxAttempts,
  },
  webhookRetryBaseMs: {
    group: "webhooks",
    flag: "webhook-retry-base-ms",
    arg: "MS",
    help: "backoff after a failed attempt; doubles each retry, with jitter",
    details: "Retry n waits between half and all of min(webhook-retry-max-ms, this × 2^(n-1)); " +
      "a 429 or 503 with Retry-After waits at least that long (up to webhook-retry-max-ms).",
    type: ms(1),
    default: D.webhookRetryBaseMs,
  },
  webhookRetryMaxMs: {
    group: "webhooks",
    flag: "webhook-retry-max-ms",
    arg: "MS",
    help: "longest backoff between two attempts",
    type: ms(1),
    default: D.webhookRetryMaxMs,
  },
  webhookBreakerFailures: {
    group: "webhooks",
    flag: "webhook-breaker-failures",
    arg: "N",
    help: "failed attempts in a row that open a webhook's circuit breaker",
    details: "An open breaker sends nothing for webhook-breaker-cooldown-ms (events keep " +
      "queueing), then lets one attempt through: success closes it, failure opens it again. " +
      "Logged as a warning; chat_webhook_breaker_state shows it.",
    type: intType({ min: 1, max: 10_000 }),
    default: D.webhookBreakerFailures,
  },
  webhookBreakerCooldownMs: {
    group: "webhooks",
    flag: "webhook-breaker-cooldown-ms",
    arg: "MS",
    help: "how long an open breaker waits before a trial attempt",
    type: ms(1),
    default: D.webhookBreakerCooldownMs,
  },
  webhookMaxResponseBytes: {
    group: "webhooks",
    flag: "webhook-max-response-bytes",
    arg: "N",
    help: "most bytes of a webhook's response read; a longer reply is ignored",
    type: intType({ min: 1024, max: 16 * 1024 * 1024 }),
    default: D.webhookMaxResponseBytes,
  },
  // Files (docs/protocol.md section 23).
  maxUploadBytes: {
    group: "files",
    flag: "max-upload-bytes",
    arg: "N",
    help: "largest file one upload may carry (file_too_large beyond)",
    details: "Also the largest body of POST /api/v1/rooms/{room}/files. Files cross the " +
      "connection in chunks that fit the frame cap, so this may be far above --max-frame-bytes.",
    type: intType({ min: 1, max: 2 ** 40 }),
    default: D.maxUploadBytes,
  },
  uploadQuotaBytes: {
    group: "files",
    flag: "upload-quota-bytes",
    arg: "N",
    help: "bytes one user may upload per --upload-quota-window (quota_exceeded beyond)",
    details: "Counted per account, per guest nickname or per API key: the files uploaded in " +
      "the window that are still kept, plus the uploads in progress.",
    type: intType({ min: 0, max: 2 ** 50 }),
    default: D.uploadQuotaBytes,
  },
  uploadQuotaWindowMs: {
    group: "files",
    flag: "upload-quota-window",
    arg: "DURATION",
    help: "the window of --upload-quota-bytes",
    type: durationType(),
    default: D.uploadQuotaWindowMs,
  },
  maxUploadsPerConnection: {
    group: "files",
    flag: "max-uploads-per-connection",
    arg: "N",
    help: "uploads in progress on one connection at once (rate_limited beyond)",
    type: count(1),
    default: D.maxUploadsPerConnection,
  },
  maxUploadingBytes: {
    group: "files",
    flag: "max-uploading-bytes",
    arg: "N",
    help: "bytes of uploads in progress on the server, all connections (server_busy beyond)",
    details: "Each upload counts its announced size from upload_begin until it ends, fails or " +
      "times out. With --redis or --memory the bytes in progress wait in memory, so this " +
      "bounds that memory.",
    type: intType({ min: 1, max: 2 ** 50 }),
    default: D.maxUploadingBytes,
  },
  maxUploadingBytesPerUser: {
    group: "files",
    flag: "max-uploading-bytes-per-user",
    arg: "N",
    help: "bytes of one user's uploads in progress, all connections (rate_limited beyond)",
    details: "Counted per account, guest nickname or API key, like the quota. Keeps one user " +
      "from holding all of --max-uploading-bytes with uploads fed a chunk now and then. Keep it " +
      "at least --max-upload-bytes, or no file of the largest size can be sent.",
    type: intType({ min: 1, max: 2 ** 50 }),
    default: D.maxUploadingBytesPerUser,
  },
  uploadTimeoutMs: {
    group: "files",
    flag: "upload-timeout",
    arg: "DURATION",
    help: "an upload that receives nothing this long is dropped",
    type: durationType(),
    default: D.uploadTimeoutMs,
  },
  guestUploads: {
    group: "files",
    flag: "guest-uploads",
    help: "guests may upload files",
    flagHelp: "let guests upload files (default: accounts and API keys only)",
    details: "A guest can come back under a new nickname, and with it a new quota; so by " +
      "default only accounts (and API keys) upload. Guests always download what they may read.",
    type: boolType(),
    default: D.guestUploads,
  },
  maxMemoryFileBytes: {
    group: "files",
    flag: "max-memory-file-bytes",
    arg: "N",
    help: "with --memory: bytes of files kept in memory (quota_exceeded beyond)",
    type: intType({ min: 0, max: 2 ** 50 }),
    default: D.maxMemoryFileBytes,
  },
};

/** The keys of {@linkcode SETTINGS}, in order. */
export const SETTING_KEYS: readonly (keyof ServeSettings)[] = Object.keys(SETTINGS) as never;

/**
 * The environment variable of a setting: `CHAT_` and the flag in upper snake case.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { envName, SETTINGS } from "./settings.ts";
 * assert.equal(envName(SETTINGS.maxQueueBytes), "CHAT_MAX_QUEUE_BYTES");
 * ```
 */
export function envName(setting: Setting<unknown>): string {
  return `CHAT_${setting.flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * The config file key of a setting: the flag in snake case.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SETTINGS, tomlKey } from "./settings.ts";
 * assert.equal(tomlKey(SETTINGS.maxQueueBytes), "max_queue_bytes");
 * ```
 */
export function tomlKey(setting: Setting<unknown>): string {
  return setting.flag.replaceAll("-", "_");
}

/**
 * The flag `chat serve --help` shows for a setting: for an on/off setting,
 * the one that changes the default (`--no-tcp`, `--memory`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shownFlag, SETTINGS } from "./settings.ts";
 * assert.deepEqual([shownFlag(SETTINGS.tcp), shownFlag(SETTINGS.port)], ["--no-tcp", "--port"]);
 * ```
 */
export function shownFlag(setting: Setting<unknown>): string {
  return setting.default === true ? `--no-${setting.flag}` : `--${setting.flag}`;
}

/**
 * Whether a setting is on/off (a pair of flags `--X` and `--no-X`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSwitch, SETTINGS } from "./settings.ts";
 * assert.deepEqual([isSwitch(SETTINGS.memory), isSwitch(SETTINGS.port)], [true, false]);
 * ```
 */
export function isSwitch(setting: Setting<unknown>): boolean {
  return typeof setting.default === "boolean";
}

/**
 * How a setting's default is shown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showDefault, SETTINGS } from "./settings.ts";
 * assert.equal(showDefault(SETTINGS.unixMode), "0660");
 * ```
 */
export function showDefault<T>(setting: Setting<T>): string {
  return setting.defaultText ?? setting.type.show(setting.default);
}

/**
 * Environment variables starting with `CHAT_` that are not settings but
 * belong to other parts of `chat`; `chat serve` ignores them instead of
 * refusing them as unknown.
 */
export const OTHER_CHAT_ENV: readonly string[] = [
  "CHAT_CONFIG", // the config file of chat serve and chat config check
  "CHAT_KDF_LN", // chat user's scrypt cost
  "CHAT_PASSWORD", // chat join's password
];
