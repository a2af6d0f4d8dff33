/**
 * Answers LAN discovery probes on UDP (see shared/discovery.ts and
 * docs/operations.md). Malformed packets are dropped silently; replies are
 * rate-limited per source address and in total, so the responder cannot be
 * turned into a traffic source.
 *
 * Needs the `net` unstable feature (`Deno.listenDatagram`): deno.json sets
 * it for `deno run`, `deno test` and `deno compile`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { decodeProbe, type DiscoveryAnswer, encodeAnswer } from "../../shared/discovery.ts";
import { TokenBucket } from "../limits/token_bucket.ts";

/** Options for {@linkcode DiscoveryResponder.open}. */
export interface DiscoveryResponderOptions {
  /** Address to bind; probes broadcast on the LAN only reach a wildcard address (0.0.0.0). */
  hostname: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  /** Replies one source may get at once. */
  burstPerSource?: number;
  /** Replies per second one source may sustain. */
  ratePerSource?: number;
  /** Replies per second to everyone together. */
  ratePerSecond?: number;
  /** Most sources remembered for rate limiting; the least recent are forgotten. */
  maxSources?: number;
}

/**
 * A UDP socket answering discovery probes with a fixed answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DiscoveryResponder } from "./discovery_responder.ts";
 * const responder = DiscoveryResponder.open(
 *   { name: "box", version: "0.1.0", protocol: "1.0", tcp: 7007, tls: null },
 *   { hostname: "127.0.0.1", port: 0 }, // a server listens on 0.0.0.0:7007
 * );
 * assert.ok(responder.addr.port > 0);
 * await responder.close();
 * ```
 */
export class DiscoveryResponder {
  readonly #socket: Deno.DatagramConn;
  readonly #answer: DiscoveryAnswer;
  readonly #sources = new Map<string, TokenBucket>();
  readonly #global: TokenBucket;
  readonly #burst: number;
  readonly #rate: number;
  readonly #maxSources: number;
  readonly #loop: Promise<void>;
  #closed = false;
  #answered = 0;
  #dropped = 0;

  private constructor(
    socket: Deno.DatagramConn,
    answer: DiscoveryAnswer,
    options: DiscoveryResponderOptions,
  ) {
    this.#socket = socket;
    this.#answer = answer;
    this.#burst = options.burstPerSource ?? 4;
    this.#rate = options.ratePerSource ?? 1;
    this.#maxSources = options.maxSources ?? 1024;
    const total = options.ratePerSecond ?? 100;
    this.#global = new TokenBucket({ burst: total, ratePerSecond: total });
    this.#loop = this.#run();
  }

  /**
   * Binds the socket (sharing the port with other servers on this host, so
   * each of them hears broadcast probes) and starts answering with `answer`.
   */
  static open(answer: DiscoveryAnswer, options: DiscoveryResponderOptions): DiscoveryResponder {
    if (typeof Deno.listenDatagram !== "function") {
      throw new TypeError(
        "Cannot answer discovery probes: UDP needs Deno's unstable 'net' feature " +
          "(run with --unstable-net, or turn discovery off)",
      );
    }
    // Fail now rather than at the first probe if the answer cannot be encoded.
    encodeAnswer(answer, { nonce: 0 });
    const socket = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
      reuseAddress: true,
    });
    return new DiscoveryResponder(socket, answer, options);
  }

  /** The address bound. */
  get addr(): Deno.NetAddr {
    return this.#socket.addr as Deno.NetAddr;
  }

  /** Replies sent and probes dropped (malformed or over a rate) so far. */
  get stats(): { answered: number; dropped: number } {
    return { answered: this.#answered, dropped: this.#dropped };
  }

  /** Stops answering and closes the socket. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#socket.close();
      } catch {
        // Already closed.
      }
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const logger = getLogger(["chat", "server", "discovery"]);
    while (!this.#closed) {
      let packet: Uint8Array;
      let from: Deno.Addr;
      try {
        // A buffer one byte over the largest probe we care about is enough to
        // see a probe's header; longer datagrams are cut, which is harmless.
        [packet, from] = await this.#socket.receive(new Uint8Array(2048));
      } catch (error) {
        if (this.#closed) return;
        // ICMP errors from earlier replies surface here on some systems; keep going.
        logger.debug("Discovery receive failed: {error}", { error });
        continue;
      }
      const probe = decodeProbe(packet);
      if (probe === null || from.transport !== "udp" || !this.#allow(from.hostname)) {
        this.#dropped++;
        continue;
      }
      try {
        await this.#socket.send(encodeAnswer(this.#answer, { nonce: probe.nonce }), from);
        this.#answered++;
      } catch (error) {
        if (this.#closed) return;
        logger.debug("Discovery reply to {host} failed: {error}", { host: from.hostname, error });
      }
    }
  }

  #allow(source: string): boolean {
    const now = performance.now();
    let bucket = this.#sources.get(source);
    if (bucket === undefined) {
      bucket = new TokenBucket({ burst: this.#burst, ratePerSecond: this.#rate });
      if (this.#sources.size >= this.#maxSources) {
        // Maps iterate in insertion order: the first key is the least recent.
        this.#sources.delete(this.#sources.keys().next().value!);
      }
    } else {
      this.#sources.delete(source);
    }
    this.#sources.set(source, bucket);
    return bucket.take(now) === 0 && this.#global.take(now) === 0;
  }
}
