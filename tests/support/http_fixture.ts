/**
 * An in-process chat server with its HTTP listener on loopback, API keys
 * made in its store, and a WebSocket peer speaking the framed protocol
 * (one binary message per frame), for the HTTP tests.
 *
 * @module
 */
import { ChatServer } from "../../server/chat_server.ts";
import { ApiKeyService } from "../../server/http/api_key_service.ts";
import type { ServerOptions } from "../../server/config/server_options.ts";
import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { PROTOCOL_VERSION } from "../../shared/protocol.ts";
import { ConformanceCheck } from "./conformance.ts";
import type { Frame } from "./peer.ts";

/** A server with HTTP, and what tests need to call it. */
export interface HttpFixture extends AsyncDisposable {
  server: ChatServer;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** A plain key (bot `deploybot`) and an admin key (bot `opsbot`). */
  key: string;
  adminKey: string;
  /** fetch `path` with the plain key (or `options.key`), JSON in and out. */
  api(
    method: string,
    path: string,
    options?: { key?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; json: Frame }>;
}

/** Starts a server on free loopback ports with `http` on and two API keys. */
export async function startHttp(options: Partial<ServerOptions> = {}): Promise<HttpFixture> {
  const server = await ChatServer.listen({
    host: "127.0.0.1",
    port: 0,
    http: "127.0.0.1:0",
    textPromptDelayMs: 100,
    ...options,
  });
  const keys = new ApiKeyService(server.store);
  const key = (await keys.create("deploybot")).key;
  const adminKey = (await keys.create("opsbot", { admin: true })).key;
  const base = `http://127.0.0.1:${server.httpAddr!.port}`;
  return {
    server,
    base,
    key,
    adminKey,
    async api(method, path, call = {}) {
      const headers: Record<string, string> = { ...call.headers };
      const bearer = call.key === undefined ? key : call.key;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      let body: string | undefined;
      if (call.body !== undefined) {
        headers["content-type"] ??= "application/json";
        body = typeof call.body === "string" ? call.body : JSON.stringify(call.body);
      }
      const response = await fetch(base + path, { method, headers, body: body ?? null });
      const text = await response.text();
      let json: Frame = {};
      try {
        json = text === "" ? {} : JSON.parse(text);
      } catch {
        json = { text };
      }
      return { status: response.status, headers: response.headers, json };
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/**
 * A framed-protocol peer over a real WebSocket to `/ws`; like the TCP
 * `Peer`, it checks every frame received against docs/protocol.schema.json.
 */
export class WsPeer implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  /** The schema check of what the server sends. */
  readonly conformance = new ConformanceCheck();
  /** Resolves with the close event's code once the socket has closed. */
  readonly closed: Promise<number>;
  #taken = new Set<Frame>();
  #nextId = 1;
  #waiters: Array<() => void> = [];
  #ended = false;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return;
      // Each message must be exactly one frame: a fresh decoder yields exactly one value.
      const values = [...new FrameDecoder({ maxFrameBytes: 1 << 24 }).push(
        new Uint8Array(event.data),
      )];
      if (values.length !== 1) throw new Error(`a message held ${values.length} frames`);
      this.conformance.received(values[0]);
      this.frames.push(values[0] as Frame);
      this.#wake();
    });
    this.closed = new Promise((resolve) =>
      socket.addEventListener("close", (event) => {
        this.#ended = true;
        this.#wake();
        resolve(event.code);
      })
    );
  }

  /** Opens `ws://...` (with extra request `headers`) and waits until it is open. */
  static async open(
    url: string,
    options: { headers?: Record<string, string> } = {},
  ): Promise<WsPeer> {
    const peer = new WsPeer(new WebSocket(url, { headers: options.headers ?? {} }));
    await new Promise<void>((resolve, reject) => {
      peer.socket.addEventListener("open", () => resolve(), { once: true });
      peer.socket.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), {
        once: true,
      });
    });
    return peer;
  }

  /** Opens the socket and completes hello as `nick`. */
  static async join(
    url: string,
    nick: string,
    options: { headers?: Record<string, string> } = {},
  ): Promise<WsPeer> {
    const peer = await WsPeer.open(url, options);
    peer.send({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      client: "test",
      clientVersion: "0",
      nick,
    });
    const reply = await peer.next((f) => f.type === "welcome" || f.type === "error");
    if (reply.type !== "welcome") throw new Error(`hello refused: ${reply.code}`);
    return peer;
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  send(frame: Record<string, unknown>): void {
    this.conformance.sent(frame);
    this.socket.send(encodeFrame(frame));
  }

  /** Sends a request with a fresh id; resolves to its ack or error. */
  request(body: Record<string, unknown>): Promise<Frame> {
    const id = this.#nextId++;
    this.send({ ...body, id });
    return this.next((f) => (f.type === "ack" || f.type === "error") && f.id === id);
  }

  /** The oldest frame not yet taken that matches; rejects after `timeoutMs` or once closed. */
  async next(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      this.conformance.assertConforms();
      const found = this.frames.find((frame) => !this.#taken.has(frame) && match(frame));
      if (found !== undefined) {
        this.#taken.add(found);
        return found;
      }
      if (this.#ended) throw new Error("socket closed before a matching frame");
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no matching frame within ${timeoutMs} ms: ${JSON.stringify(this.frames)}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close();
    await this.closed;
    this.conformance.assertConforms();
  }
}

/** `ws://` URL of the fixture's `/ws`. */
export function wsUrl(fixture: HttpFixture): string {
  return fixture.base.replace("http://", "ws://") + "/ws";
}
