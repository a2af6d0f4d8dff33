/**
 * Samples the server's JavaScript CPU profile through its V8 inspector
 * (`deno run --inspect=127.0.0.1:0`), over the Chrome DevTools Protocol,
 * and summarizes where the time went by function. The raw profile opens in
 * Chrome DevTools (Performance tab) or any `.cpuprofile` viewer.
 *
 * @module
 */
import { InspectorSession } from "./inspector_session.ts";

/** A V8 CPU profile, as `Profiler.stop` returns it. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Time spent in one function. */
export interface HotSpot {
  /** `file:line function`, the file relative to the project where possible. */
  where: string;
  /** Time in the function itself, in ms and as a share of busy (non-idle) time. */
  selfMs: number;
  selfPercent: number;
  /** Time with the function anywhere on the stack, as a share of busy time. */
  totalPercent: number;
}

/** A CPU profiling session with one inspector target. */
export class CpuProfiler {
  readonly #session: InspectorSession;

  private constructor(session: InspectorSession) {
    this.#session = session;
  }

  /** Connects to the inspector WebSocket `url` (`ws://127.0.0.1:…/…`). */
  static async connect(url: string): Promise<CpuProfiler> {
    const session = await InspectorSession.connect(url);
    await session.call("Profiler.enable");
    return new CpuProfiler(session);
  }

  /** Starts sampling every `intervalMicros` µs. */
  async start(intervalMicros = 250): Promise<void> {
    await this.#session.call("Profiler.setSamplingInterval", { interval: intervalMicros });
    await this.#session.call("Profiler.start");
  }

  /** Stops sampling and returns the profile. */
  async stop(): Promise<CpuProfile> {
    const result = await this.#session.call("Profiler.stop") as { profile: CpuProfile };
    return result.profile;
  }

  /** Closes the session. */
  close(): void {
    this.#session.close();
  }
}

/**
 * Every function's self and inclusive time. Only `(idle)` samples are left
 * out: `(program)` is native time outside JavaScript (the event loop,
 * polling I/O, system calls made by async ops) and counts as busy.
 * `root` is stripped from file URLs so they read as project paths.
 */
export function profileTable(profile: CpuProfile, root = ""): HotSpot[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const labels = new Map<number, string>();
  const label = (id: number) => {
    let text = labels.get(id);
    if (text !== undefined) return text;
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || "(anonymous)";
    const file = frame.url.startsWith(root) && root !== ""
      ? frame.url.slice(root.length)
      : frame.url.replace(/^.*\/node_modules\/(?:\.deno\/)?/, "npm:");
    text = frame.url ? `${file}:${frame.lineNumber + 1} ${name}` : name;
    labels.set(id, text);
    return text;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time since the previous sample.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const own = label(id);
    if (own === "(idle)") continue;
    busy += delta;
    self.set(own, (self.get(own) ?? 0) + delta);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(at);
      if (name === "(root)" || seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + delta);
    }
  }
  return [...total.keys()].map((where) => ({
    where,
    selfMs: (self.get(where) ?? 0) / 1000,
    selfPercent: (100 * (self.get(where) ?? 0)) / Math.max(1, busy),
    totalPercent: (100 * total.get(where)!) / Math.max(1, busy),
  }));
}

/** The `top` functions by self time. */
export function hotSpots(profile: CpuProfile, top = 25, root = ""): HotSpot[] {
  return profileTable(profile, root).sort((a, b) => b.selfPercent - a.selfPercent).slice(0, top);
}

/** The `top` functions by inclusive time. */
export function inclusiveHotSpots(profile: CpuProfile, top = 25, root = ""): HotSpot[] {
  return profileTable(profile, root).sort((a, b) => b.totalPercent - a.totalPercent).slice(0, top);
}
