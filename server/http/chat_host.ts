/**
 * What the HTTP side may see and do of the chat server that runs it.
 *
 * @module
 */
import type { FileService } from "../files/file_service.ts";
import type { AccountService } from "../accounts/account_service.ts";
import type { Broker } from "../chat/broker.ts";
import type { ServerOptions } from "../config/server_options.ts";
import type { Session } from "../session/session.ts";
import type { Store } from "../store/store.ts";

/** A session and the transport it came over. */
export interface SessionEntry {
  session: Session;
  /** `tcp`, `tls`, `unix` or `ws`. */
  transport: string;
}

/** The server as the HTTP side sees it. */
export interface ChatHost {
  readonly broker: Broker;
  readonly accounts: AccountService;
  readonly store: Store;
  readonly options: ServerOptions;
  /** File sharing (docs/protocol.md section 23); GET /files/ID and uploads need it. */
  readonly files?: FileService;
  /** Aborted when the server begins shutting down. */
  readonly signal: AbortSignal;
  /** Whether a shutdown is draining: listeners still open, `/readyz` answering 503. */
  readonly draining: boolean;
  /** Every session, connected or closing. */
  sessions(): Iterable<SessionEntry>;
  /**
   * Serves a WebSocket as a framed session from `ip`, within the connection
   * caps; resolves once it is admitted or refused (the caps may be the
   * cluster's, asked of Redis).
   */
  acceptWebSocket(socket: WebSocket, ip: string): Promise<void>;
}

/** A session as the API and the dashboard list it. */
export interface SessionInfo {
  id: string;
  /** Empty before login. */
  nick: string;
  transport: string;
  ip: string;
  account: boolean;
  admin: boolean;
  rooms: string[];
  /** When the connection was accepted, ms since the epoch. */
  connectedAt: number;
  queuedBytes: number;
}

/**
 * The listing of a session.
 *
 * @example
 * ```ts ignore
 * import { describeSession } from "./chat_host.ts";
 * const listing = [...host.sessions()].map(describeSession); // what /admin shows
 * ```
 */
export function describeSession({ session, transport }: SessionEntry): SessionInfo {
  return {
    id: session.id,
    nick: session.loggedIn ? session.nick : "",
    transport,
    ip: session.ip,
    account: session.account !== undefined,
    admin: session.admin,
    rooms: [...session.rooms].map((room) => room.name).sort(),
    connectedAt: Math.round(Date.now() - (performance.now() - session.acceptedAt)),
    queuedBytes: session.queuedBytes,
  };
}
