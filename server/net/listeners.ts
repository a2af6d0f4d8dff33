/**
 * Opens the server's stream listeners: plain TCP, TLS and a Unix socket,
 * each optional. Sessions are the same on all of them.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { caCertificateWarning, inspectTlsPair } from "./tls_certificate.ts";
import { UnixSocketListener } from "./unix_socket.ts";

/** The transports a server accepts connections on. */
export type ListenerKind = "tcp" | "tls" | "unix";

/** One open listener. */
export interface OpenListener {
  kind: ListenerKind;
  /** Iterate to accept connections. */
  listener: Deno.Listener;
  /** The address bound (for Unix sockets, the path as given). */
  addr: Deno.NetAddr | Deno.UnixAddr;
  /** Stops accepting; for a Unix socket, also removes its file. */
  close(): void;
}

/** What {@linkcode openListeners} opens. */
export interface ListenerOptions {
  /** Address of the TCP and TLS listeners. */
  host: string;
  /** Whether to accept plain TCP on `port`. */
  tcp: boolean;
  /** Plain TCP port; 0 picks a free one. */
  port: number;
  /** PEM certificate chain and private key; null: no TLS listener. */
  tls: { cert: string; key: string } | null;
  /** TLS port; 0 picks a free one. */
  tlsPort: number;
  /** Unix socket path; null: no Unix socket. */
  unixPath: string | null;
  /** The Unix socket file's mode. */
  unixMode: number;
}

/**
 * Opens every listener `options` asks for, TCP first, and closes those
 * already open if a later one fails. Throws a `TypeError` if none is asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openListeners } from "./listeners.ts";
 * const listeners = await openListeners({
 *   host: "127.0.0.1", tcp: true, port: 0, tls: null, tlsPort: 0, unixPath: null, unixMode: 0o660,
 * });
 * assert.deepEqual(listeners.map((open) => open.kind), ["tcp"]);
 * for (const open of listeners) open.close();
 * ```
 */
export async function openListeners(options: ListenerOptions): Promise<OpenListener[]> {
  if (!options.tcp && options.tls === null && options.unixPath === null) {
    throw new TypeError("Cannot listen: TCP is off and neither TLS nor a Unix socket is set");
  }
  const opened: OpenListener[] = [];
  try {
    if (options.tcp) {
      const listener = explained(
        `tcp ${options.host}:${options.port}`,
        () => Deno.listen({ hostname: options.host, port: options.port, transport: "tcp" }),
      );
      opened.push({
        kind: "tcp",
        listener,
        addr: listener.addr,
        close: () => closeQuietly(listener),
      });
    }
    if (options.tls !== null) {
      const { cert, key } = options.tls;
      const where = `tls ${options.host}:${options.tlsPort}`;
      // Before rustls: its "KeyMismatch" says less than this check does.
      const facts = explained(where, () => inspectTlsPair({ cert, key }));
      if (facts.ca) {
        // The subject is the operator's text: its braces are not placeholders.
        const warning = caCertificateWarning(facts.subject);
        getLogger(["chat", "server"]).warn(warning.replaceAll("{", "{{").replaceAll("}", "}}"));
      }
      // Deno's TLS (rustls) speaks TLS 1.2 and 1.3 only; older versions are refused.
      const listener = explained(
        where,
        () =>
          Deno.listenTls({
            hostname: options.host,
            port: options.tlsPort,
            transport: "tcp",
            cert,
            key,
          }),
      );
      opened.push({
        kind: "tls",
        listener,
        addr: listener.addr,
        close: () => closeQuietly(listener),
      });
    }
    if (options.unixPath !== null) {
      const path = options.unixPath;
      const socket = await explained(
        `unix:${path}`,
        () => UnixSocketListener.open(path, { mode: options.unixMode }),
      );
      opened.push({
        kind: "unix",
        listener: socket.listener,
        addr: { transport: "unix", path: options.unixPath },
        close: () => socket.close(),
      });
    }
    return opened;
  } catch (error) {
    for (const open of opened) open.close();
    throw error;
  }
}

/** Runs `open`, prefixing the message of what it throws with what was being opened. */
function explained<T>(what: string, open: () => T): T {
  const explain = (error: unknown): never => {
    // The message gains context; the class (AddrInUse, PermissionDenied...) stays.
    if (error instanceof Error) error.message = `Cannot listen on ${what}: ${error.message}`;
    throw error;
  };
  try {
    const result = open();
    return result instanceof Promise ? result.catch(explain) as T : result;
  } catch (error) {
    return explain(error);
  }
}

function closeQuietly(listener: Deno.Listener): void {
  try {
    listener.close();
  } catch {
    // Already closed.
  }
}
