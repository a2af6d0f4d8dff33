/**
 * The peak resident memory of a server subprocess over a phase, sampled a
 * few times a second (soaks report it beside their bound).
 *
 * @module
 */
import { sleep } from "./clock.ts";

/** What can be sampled: a server process. */
export interface RssSource {
  rssKiB(): Promise<number>;
}

/**
 * Samples until {@linkcode PeakRss.stop}.
 *
 * @example
 * ```ts ignore
 * import { PeakRss } from "./peak_rss.ts";
 * const rss = await PeakRss.start(server);
 * // ... the attack ...
 * const peakKiB = await rss.stop(); // the largest resident set seen, in KiB
 * ```
 */
export class PeakRss {
  #peakKiB = 0;
  #stopped = false;
  #sampling: Promise<void>;

  private constructor(source: RssSource, peakKiB: number, everyMs: number) {
    this.#peakKiB = peakKiB;
    this.#sampling = (async () => {
      while (!this.#stopped) {
        // A process that has just died reads as 0: the peak before stands.
        this.#peakKiB = Math.max(this.#peakKiB, await source.rssKiB().catch(() => 0));
        await sleep(everyMs);
      }
    })();
  }

  /** Starts sampling `source` every `everyMs` (default 250 ms). */
  static async start(source: RssSource, options: { everyMs?: number } = {}): Promise<PeakRss> {
    return new PeakRss(source, await source.rssKiB(), options.everyMs ?? 250);
  }

  /** Stops sampling; resolves to the peak seen, in KiB. */
  async stop(): Promise<number> {
    this.#stopped = true;
    await this.#sampling;
    return this.#peakKiB;
  }
}
