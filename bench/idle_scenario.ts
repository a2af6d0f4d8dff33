/**
 * Scenario "idle": the server's resident memory per idle connection. N
 * framed connections each complete hello (distinct nicknames) and then say
 * nothing; VmRSS before and after, divided by N.
 *
 * @module
 */
import { encodeFrame, FRAME_HEADER_BYTES } from "../shared/frame.ts";
import { PROTOCOL_VERSION } from "../shared/protocol.ts";
import { writeAll } from "../shared/transport.ts";
import { VERSION } from "../shared/version.ts";
import { nowMs, sleep } from "./clock.ts";
import { classifyFrame, FrameKind } from "./frame_scanner.ts";
import type { ServerProcess } from "./server_process.ts";

/** Parameters of one idle run. */
export interface IdleParams {
  /** Idle connections to open. */
  connections: number;
  /** Connections opened at once. */
  concurrency: number;
  /** Wait after the last hello before reading memory again, in seconds. */
  settle: number;
  /** Connections opened and closed before the first reading, so one-off code and heap growth are not counted. */
  warmup: number;
}

/** What one idle run measured. */
export interface IdleResult {
  rssBeforeKiB: number;
  rssAfterKiB: number;
  /** (after − before) / connections, in KiB. */
  rssPerConnectionKiB: number;
  /** Connections still open when memory was read. */
  openAtMeasurement: number;
  /** Time to open every connection and log it in, in seconds. */
  connectSeconds: number;
}

/** Runs the scenario once against `server`. */
export async function runIdle(server: ServerProcess, params: IdleParams): Promise<IdleResult> {
  const conns: Deno.TcpConn[] = [];
  let closedEarly = 0;
  try {
    if (params.warmup > 0) {
      const warm: Deno.TcpConn[] = [];
      await openIdle(server.port, "w", params.warmup, params.concurrency, warm);
      for (const conn of warm) conn.close();
      await sleep(500);
    }
    await sleep(1000);
    const rssBeforeKiB = await server.rssKiB();
    const started = nowMs();
    await openIdle(server.port, "i", params.connections, params.concurrency, conns);
    const connectSeconds = (nowMs() - started) / 1000;
    // Watch for the server closing any of them while we wait.
    const watchers = conns.map((conn) =>
      conn.read(new Uint8Array(64)).then((count) => {
        if (count === null) closedEarly++;
      }, () => closedEarly++)
    );
    await sleep(params.settle * 1000);
    const rssAfterKiB = await server.rssKiB();
    const openAtMeasurement = conns.length - closedEarly;
    for (const conn of conns) closeQuietly(conn);
    conns.length = 0;
    await Promise.allSettled(watchers);
    return {
      rssBeforeKiB,
      rssAfterKiB,
      rssPerConnectionKiB: (rssAfterKiB - rssBeforeKiB) / params.connections,
      openAtMeasurement,
      connectSeconds,
    };
  } finally {
    for (const conn of conns) closeQuietly(conn);
  }
}

/** Opens `count` connections named `<prefix><i>` that complete hello, into `into`. */
async function openIdle(
  port: number,
  prefix: string,
  count: number,
  concurrency: number,
  into: Deno.TcpConn[],
): Promise<void> {
  let next = 0;
  const opener = async () => {
    const buffer = new Uint8Array(4096);
    while (next < count) {
      const nick = `${prefix}${next++}`;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      into.push(conn);
      await writeAll(
        conn,
        encodeFrame({
          type: "hello",
          protocol: PROTOCOL_VERSION,
          client: "chat-bench",
          clientVersion: VERSION,
          nick,
        }),
      );
      await readWelcome(conn, buffer, nick);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, opener));
}

/** Reads the server's first frame and checks it is a welcome. */
async function readWelcome(conn: Deno.TcpConn, buffer: Uint8Array, nick: string): Promise<void> {
  let length = 0;
  while (true) {
    const count = await conn.read(buffer.subarray(length));
    if (count === null) throw new Error(`${nick}: connection closed before welcome`);
    length += count;
    if (length < FRAME_HEADER_BYTES + 8) continue;
    const size = new DataView(buffer.buffer).getUint32(0);
    if (length < FRAME_HEADER_BYTES + Math.min(size, 8)) continue;
    const kind = classifyFrame(buffer, FRAME_HEADER_BYTES);
    if (kind === FrameKind.Error || kind === FrameKind.Bye) {
      throw new Error(`${nick}: hello refused`);
    }
    if (length >= FRAME_HEADER_BYTES + size || length === buffer.length) return;
  }
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
