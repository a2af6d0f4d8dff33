/**
 * Every option of a {@linkcode ChatServer}, with its library default. The
 * settings of `chat serve` (flags, CHAT_* variables, config file keys) are
 * described once, in server/config/settings.ts, which maps onto these.
 *
 * @module
 */
import { DISCOVERY_PORT } from "../../shared/discovery.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../../shared/frame.ts";
import { DEFAULT_MAX_QUEUE_BYTES } from "../../shared/outbound_queue.ts";
import { DEFAULT_MAX_BODY_LENGTH } from "../../shared/validation.ts";
import { DEFAULT_MSG_ID_WINDOW_MS, DEFAULT_MSG_IDS_PER_USER } from "../store/store.ts";

/** Settings of a {@linkcode ChatServer}; all limits are enforced. */
export interface ServerOptions {
  /** Address to listen on (TCP, TLS and discovery). */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Whether to accept plain TCP on `port`; off, the server needs TLS or a Unix socket. */
  tcp: boolean;
  /** PEM certificate chain and private key for a TLS listener; null: no TLS. */
  tls: { cert: string; key: string } | null;
  /** TLS port; 0 picks a free one. */
  tlsPort: number;
  /** Path of a Unix socket to accept connections on; null: none. */
  unixPath: string | null;
  /** File mode of the Unix socket. */
  unixMode: number;
  /** Whether to answer LAN discovery probes on UDP `discoveryPort`. */
  discovery: boolean;
  /** UDP port for discovery probes; 0 picks a free one. */
  discoveryPort: number;
  /** Name announced to discovery probes; null: the host name. */
  serverName: string | null;
  /** Largest frame payload accepted, in bytes. */
  maxFrameBytes: number;
  /** Longest line accepted in plain-text mode, in bytes. */
  maxLineBytes: number;
  /** Longest message body, in code points. */
  maxBodyLength: number;
  /** Most bytes queued to one connection before it is dropped as a slow consumer. */
  maxQueueBytes: number;
  /** Requests a connection may make at once before the rate applies. */
  rateBurst: number;
  /** Requests per second a connection may sustain. */
  ratePerSecond: number;
  /** Rate-limited requests tolerated (refilled one per second) before the connection is dropped. */
  floodStrikes: number;
  /** Most connections in total. */
  maxConnections: number;
  /** Most connections from one IP address. */
  maxConnectionsPerIp: number;
  /** Most connections from one IP address that have not logged in yet (silent, or still logging in). */
  maxHandshakesPerIp: number;
  /**
   * Time a new connection has to complete `hello`, in ms from when it was
   * accepted; a connection that sends nothing in this time is closed
   * whatever its mode.
   */
  handshakeTimeoutMs: number;
  /** Silence after which a framed peer is pinged, in ms; dropped after 3 intervals. */
  heartbeatMs: number;
  /**
   * Silence after which a new connection is sent the plain-text greeting
   * and prompt, in ms; its first byte still decides its mode.
   */
  textPromptDelayMs: number;
  /** Time a plain-text connection (a person typing) has to log in, in ms from when it was accepted. */
  textHandshakeTimeoutMs: number;
  /**
   * Time a connection being closed (shutdown, end of input, flood) has to
   * answer its requests in flight and flush its output, in ms.
   */
  shutdownGraceMs: number;
  /**
   * Time between the start of a shutdown and the listeners closing, in ms,
   * during which `/readyz` answers 503 so a load balancer stops sending new
   * clients first (0: none).
   */
  drainMs: number;
  /** A connection that was written less than this many ms ago waits out the rest before the next write. */
  writeCoalesceMs: number;
  /**
   * Coalescing applies only while at least this many frames go out per
   * window, all connections together (0: always); below three quarters of it,
   * writes go out at the end of each turn.
   */
  writeCoalesceFromFrames: number;
  /** Directory of the SQLite store; null keeps everything in memory. */
  dataDir: string | null;
  /** `normal`: commits survive the process being killed; `full`: also power loss (fsync each commit). */
  sync: "normal" | "full";
  /**
   * URL of a Redis (or Valkey) shared by several instances (`redis://host:port[/db]`);
   * it then holds everything `dataDir` would. null: this instance is alone.
   */
  redis: string | null;
  /** Prefix of every Redis key and channel, so several chats can share one Redis. */
  redisPrefix: string;
  /** Most time a Redis command may take before the request fails with `storage`, in ms. */
  redisCommandTimeoutMs: number;
  /** Most Redis commands (and messages waiting to be sent) at once; more fail with `storage`. */
  redisMaxPending: number;
  /** How long an instance that stopped beating stays present (its users online), in ms. */
  redisPresenceTtlMs: number;
  /** `open`: guests may pick any free unregistered nickname; `required`: accounts only. */
  auth: "open" | "required";
  /** A second login to an online account: `multiple` sessions share it, `refuse` turns it away. */
  sessions: "multiple" | "refuse";
  /** Name keys of server admins, besides accounts flagged admin. */
  admins: string[];
  /** Messages sent with the reply to a join. */
  historyOnJoin: number;
  /** Most missed messages replayed on a resuming join (the rest is paged). */
  maxReplay: number;
  /**
   * How long a `clientMsgId` of `say` or `dm` is remembered, so that a retry
   * under it is not posted again, in ms (0: ids are ignored).
   */
  msgIdWindowMs: number;
  /** How many of a sender's latest `clientMsgId`s are remembered (0: ids are ignored). */
  msgIdsPerUser: number;
  /** History reads (pages, join catch-ups, stored DMs) the server runs at once. */
  maxHistoryReads: number;
  /** History reads waiting for the server; more are refused with `server_busy`. */
  maxHistoryWaiting: number;
  /**
   * History requests one connection (or API key) may have waiting behind the
   * one it runs (they run one at a time, in order); more are `rate_limited`.
   */
  maxHistoryWaitingPerConnection: number;
  /** Longest search text, in code points (docs/protocol.md section 24). */
  maxSearchLength: number;
  /** Most terms (words separated by whitespace) in one search. */
  maxSearchTerms: number;
  /** Searches the server runs at once. */
  maxSearchConcurrency: number;
  /** Searches waiting for the server; more are refused with `server_busy`. */
  maxSearchWaiting: number;
  /** Rate-limit tokens one search takes (at most the burst). */
  searchCost: number;
  /** With `--redis`: the latest messages of each room a search reads (Redis has no index). */
  redisSearchScan: number;
  /** Keep at most this many messages per room (0: no limit). */
  retentionMaxMessages: number;
  /** Delete messages older than this, in ms (0: no limit). */
  retentionMaxAgeMs: number;
  /** How often retention runs, in ms. */
  retentionIntervalMs: number;
  /** Most rooms that may exist. */
  maxRooms: number;
  /** Most rooms one user may be in at once (its sessions on one instance together). */
  maxRoomsPerUser: number;
  /** Most rooms one account may own (guests own rooms only while connected). */
  maxRoomsPerAccount: number;
  /** Longest away message, in code points (at most MAX_AWAY_LENGTH, 1,000). */
  maxAwayLength: number;
  /** Away changes (away, back) one user may make per minute on one instance; more are `rate_limited`. */
  awayChangesPerMinute: number;
  /** Least time between two typing relays of one user to one conversation, in ms. */
  typingIntervalMs: number;
  /** Most distinct emoji one room message may carry as reactions (docs/protocol.md section 21). */
  maxReactionsPerMessage: number;
  /** How long a room no account owns is kept once empty (with its history), in ms; 0: not at all. */
  guestRoomTtlMs: number;
  /** Rooms one client address (IPv6: a /64) may create per hour. */
  maxRoomCreationsPerIp: number;
  /** Accounts one client address (IPv6: a /64) may register per hour (`chat user` is not counted). */
  maxRegistrationsPerIp: number;
  /** scrypt cost (log2 N) for new password hashes; weaker ones are upgraded at login. */
  kdfLogN: number;
  /** Password hashes computed at once; more wait, so logins cannot starve chat traffic. */
  maxConcurrentHashes: number;
  /** Failed logins per account per hour before it is throttled. */
  maxLoginFailuresPerAccount: number;
  /** Failed logins per address per hour before it is throttled. */
  maxLoginFailuresPerIp: number;
  /** Password hashes waiting for a slot, all addresses together; more are refused. */
  maxQueuedHashes: number;
  /** Password checks pending (running or waiting) per address; more are refused at once. */
  maxPasswordChecksPerIp: number;
  /** Failed logins per hour for an account from an address it logged in from before, past its limit. */
  maxLoginFailuresPerKnownAddress: number;
  /** Addresses remembered per account (successful logins), whose tries outlast a lock. */
  knownLoginAddresses: number;
  /** How long an address stays known after its last login, in ms (0: no limit). */
  knownLoginAddressMaxAgeMs: number;
  /**
   * `HOST:PORT` of the HTTP listener (health, metrics, REST API, WebSocket,
   * web client and dashboard); null: no HTTP.
   */
  http: string | null;
  /** Origins allowed to call the REST API from a browser (CORS); `*` allows any. */
  httpCorsOrigins: string[];
  /** Largest HTTP request body accepted, in bytes. */
  httpMaxBodyBytes: number;
  /**
   * CIDR ranges of reverse proxies whose `X-Forwarded-For` names the client
   * of an HTTP request or WebSocket (its address for the per-address caps
   * and in logs); from anywhere else the header is ignored.
   */
  trustedProxies: string[];
  // Outgoing webhooks (docs/webhooks.md).
  /** How often running servers read the webhook list again, in ms (0: only at start). */
  webhookReloadMs: number;
  /** How long one delivery attempt may take, in ms. */
  webhookTimeoutMs: number;
  /** Events waiting per webhook; a full queue drops its oldest. */
  webhookQueueSize: number;
  /** Attempts per event, the first included. */
  webhookMaxAttempts: number;
  /** Backoff after the first failed attempt (doubling, with jitter), in ms. */
  webhookRetryBaseMs: number;
  /** Longest backoff between attempts, in ms. */
  webhookRetryMaxMs: number;
  /** Failed attempts in a row that open a webhook's circuit breaker. */
  webhookBreakerFailures: number;
  /** How long an open breaker waits before a trial attempt, in ms. */
  webhookBreakerCooldownMs: number;
  /** Most bytes of a webhook's response body read (a reply); longer ones are ignored. */
  webhookMaxResponseBytes: number;
  // Files (docs/protocol.md section 23).
  /** Largest file one upload may carry, in bytes. */
  maxUploadBytes: number;
  /** Bytes one user (account, guest nickname or API key) may upload per quota window. */
  uploadQuotaBytes: number;
  /** The window of the upload quota, in ms. */
  uploadQuotaWindowMs: number;
  /** Uploads in progress on one connection at once. */
  maxUploadsPerConnection: number;
  /** Bytes of uploads in progress on the server, all connections together (sizes announced). */
  maxUploadingBytes: number;
  /** Bytes of one user's uploads in progress, all their connections (sizes announced). */
  maxUploadingBytesPerUser: number;
  /** An upload that receives nothing for this long is dropped, in ms. */
  uploadTimeoutMs: number;
  /** Whether guests may upload files (they may download what they can read). */
  guestUploads: boolean;
  /** With no data directory (`--memory`): most bytes of files kept in memory. */
  maxMemoryFileBytes: number;
}

/** The defaults of every option (the library keeps data in memory and answers no discovery probes; `chat serve` defaults `dataDir` to ./chat-data and turns discovery on). */
export const DEFAULT_SERVER_OPTIONS: Readonly<ServerOptions> = Object.freeze({
  host: "0.0.0.0",
  port: 7007,
  tcp: true,
  tls: null,
  tlsPort: 7443,
  unixPath: null,
  unixMode: 0o660,
  // A library user opts in to UDP; `chat serve` turns it on by default.
  discovery: false,
  discoveryPort: DISCOVERY_PORT,
  serverName: null,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxLineBytes: 16 * 1024,
  maxBodyLength: DEFAULT_MAX_BODY_LENGTH,
  maxQueueBytes: DEFAULT_MAX_QUEUE_BYTES,
  rateBurst: 20,
  ratePerSecond: 10,
  floodStrikes: 50,
  maxConnections: 10_000,
  maxConnectionsPerIp: 100,
  maxHandshakesPerIp: 10,
  handshakeTimeoutMs: 10_000,
  heartbeatMs: 30_000,
  textPromptDelayMs: 500,
  textHandshakeTimeoutMs: 120_000,
  shutdownGraceMs: 5_000,
  drainMs: 0,
  writeCoalesceMs: 2,
  writeCoalesceFromFrames: 128,
  dataDir: null,
  sync: "normal",
  redis: null,
  redisPrefix: "chat:",
  redisCommandTimeoutMs: 2_000,
  redisMaxPending: 10_000,
  redisPresenceTtlMs: 10_000,
  auth: "open",
  sessions: "multiple",
  admins: [],
  historyOnJoin: 50,
  maxReplay: 500,
  msgIdWindowMs: DEFAULT_MSG_ID_WINDOW_MS,
  msgIdsPerUser: DEFAULT_MSG_IDS_PER_USER,
  maxHistoryReads: 4,
  maxHistoryWaiting: 256,
  maxHistoryWaitingPerConnection: 4,
  maxSearchLength: 200,
  maxSearchTerms: 8,
  maxSearchConcurrency: 2,
  maxSearchWaiting: 16,
  searchCost: 5,
  redisSearchScan: 1000,
  retentionMaxMessages: 0,
  retentionMaxAgeMs: 0,
  retentionIntervalMs: 60_000,
  maxRooms: 10_000,
  // InspIRCd's default maxchans is 20; Ergo lets an account register 15 channels.
  maxRoomsPerUser: 20,
  maxRoomsPerAccount: 15,
  maxAwayLength: 200,
  awayChangesPerMinute: 6,
  typingIntervalMs: 3000,
  maxReactionsPerMessage: 20,
  guestRoomTtlMs: 60 * 60_000,
  maxRoomCreationsPerIp: 20,
  maxRegistrationsPerIp: 10,
  kdfLogN: 17,
  maxConcurrentHashes: 2,
  maxLoginFailuresPerAccount: 100,
  maxLoginFailuresPerIp: 300,
  maxQueuedHashes: 64,
  maxPasswordChecksPerIp: 4,
  maxLoginFailuresPerKnownAddress: 20,
  knownLoginAddresses: 10,
  knownLoginAddressMaxAgeMs: 30 * 24 * 60 * 60 * 1000,
  http: null,
  httpCorsOrigins: [],
  httpMaxBodyBytes: 64 * 1024,
  trustedProxies: [],
  webhookReloadMs: 2_000,
  webhookTimeoutMs: 5_000,
  webhookQueueSize: 1_000,
  webhookMaxAttempts: 5,
  webhookRetryBaseMs: 500,
  webhookRetryMaxMs: 30_000,
  webhookBreakerFailures: 5,
  webhookBreakerCooldownMs: 30_000,
  webhookMaxResponseBytes: 64 * 1024,
  maxUploadBytes: 10 * 1024 * 1024,
  uploadQuotaBytes: 100 * 1024 * 1024,
  uploadQuotaWindowMs: 24 * 3_600_000,
  maxUploadsPerConnection: 2,
  maxUploadingBytes: 64 * 1024 * 1024,
  maxUploadingBytesPerUser: 20 * 1024 * 1024,
  uploadTimeoutMs: 60_000,
  guestUploads: false,
  maxMemoryFileBytes: 256 * 1024 * 1024,
});
