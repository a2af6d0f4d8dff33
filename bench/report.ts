/**
 * The bench's output: every figure with the parameters that produced it,
 * as readable tables or one JSON object; medians over runs.
 *
 * @module
 */
import type { HotSpot } from "./cpu_profiler.ts";
import { median } from "./stats.ts";

/** The results of one scenario in one mode over every run. */
export interface ScenarioReport {
  scenario: string;
  mode: string;
  /** Every parameter the figures depend on. */
  params: Record<string, unknown>;
  /** One result per run (an `error` string for a run that failed). */
  runs: Array<Record<string, unknown>>;
  /** The median of every numeric figure over the runs that succeeded. */
  median: Record<string, unknown>;
  /** Server CPU profiles of the timed phases, when profiling. */
  profiles?: Array<{ run: number; file: string; self: HotSpot[]; inclusive: HotSpot[] }>;
  /** The target for these parameters, if one is set, and whether the median meets it. */
  target?: { figure: string; bound: string; met: boolean };
}

/** The whole report. */
export interface BenchReport {
  bench: "chat";
  date: string;
  command: string;
  commit: string;
  machine: { cpu: string; nproc: number; kernel: string; memoryMiB: number };
  deno: typeof Deno.version;
  /** `chat serve` flags used (the raised limits plus any extras). */
  serverFlags: readonly string[];
  /** Flags of the server's `deno run`. */
  serverDenoFlags: readonly string[];
  runs: number;
  results: ScenarioReport[];
}

/** Medians of every numeric leaf of `results`, keeping their shape. */
export function medianOf(results: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const first = results[0];
  if (first === undefined) return out;
  for (const [key, value] of Object.entries(first)) {
    if (typeof value === "number") {
      out[key] = median(results.map((result) => result[key] as number));
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      out[key] = medianOf(results.map((result) => result[key] as Record<string, unknown>));
    }
  }
  return out;
}

/** One line of a table: a label and how to read the figure from a result. */
interface Row {
  label: string;
  pick: (result: Record<string, unknown>) => unknown;
  format: (value: number) => string;
}

const int = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : String(value);
const fixed = (digits: number) => (value: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : String(value);
const ms = fixed(2);
const at = (...path: string[]) => (result: Record<string, unknown>) =>
  path.reduce<unknown>(
    (value, key) => (value as Record<string, unknown> | undefined)?.[key],
    result,
  );

const ROWS: Record<string, Row[]> = {
  throughput: [
    { label: "deliveries/s", pick: at("deliveriesPerSecond"), format: int },
    { label: "lost deliveries", pick: at("lost"), format: int },
    { label: "latency p50 (ms)", pick: at("latencyMs", "p50"), format: ms },
    { label: "latency p99 (ms)", pick: at("latencyMs", "p99"), format: ms },
    { label: "latency p99.9 (ms)", pick: at("latencyMs", "p999"), format: ms },
    { label: "latency max (ms)", pick: at("latencyMs", "max"), format: ms },
    { label: "server CPU µs/delivery", pick: at("serverCpuMicrosPerDelivery"), format: fixed(3) },
    { label: "server CPU s", pick: at("serverCpuSeconds"), format: fixed(2) },
    { label: "generator CPU s", pick: at("generatorCpuSeconds"), format: fixed(2) },
    { label: "kernel irq/softirq (cores)", pick: at("kernelIrqCores"), format: fixed(2) },
    { label: "other processes (cores)", pick: at("otherCores"), format: fixed(2) },
    { label: "timed seconds", pick: at("seconds"), format: fixed(3) },
    { label: "messages per receiver read", pick: at("deliveriesPerRead"), format: fixed(1) },
    { label: "receivers dropped", pick: at("receiversDropped"), format: int },
    { label: "errors", pick: at("errors"), format: int },
  ],
  latency: [
    { label: "latency p50 (ms)", pick: at("latencyMs", "p50"), format: ms },
    { label: "latency p99 (ms)", pick: at("latencyMs", "p99"), format: ms },
    { label: "latency p99.9 (ms)", pick: at("latencyMs", "p999"), format: ms },
    { label: "latency max (ms)", pick: at("latencyMs", "max"), format: ms },
    { label: "lost deliveries", pick: at("lost"), format: int },
    { label: "achieved msg/s", pick: at("achievedRate"), format: fixed(1) },
    { label: "deliveries/s", pick: at("deliveriesPerSecond"), format: int },
    { label: "send lag p50 (ms)", pick: at("sendLagMs", "p50"), format: ms },
    { label: "send lag p99 (ms)", pick: at("sendLagMs", "p99"), format: ms },
    { label: "server CPU µs/delivery", pick: at("serverCpuMicrosPerDelivery"), format: fixed(3) },
    { label: "server CPU cores", pick: at("serverCpuCores"), format: fixed(2) },
    { label: "generator CPU s", pick: at("generatorCpuSeconds"), format: fixed(2) },
    { label: "kernel irq/softirq (cores)", pick: at("kernelIrqCores"), format: fixed(2) },
    { label: "other processes (cores)", pick: at("otherCores"), format: fixed(2) },
    { label: "messages per receiver read", pick: at("deliveriesPerRead"), format: fixed(2) },
    { label: "receivers dropped", pick: at("receiversDropped"), format: int },
    { label: "errors", pick: at("errors"), format: int },
  ],
  idle: [
    { label: "RSS per connection (KiB)", pick: at("rssPerConnectionKiB"), format: fixed(2) },
    {
      label: "RSS before (MiB)",
      pick: at("rssBeforeKiB"),
      format: (value) => (value / 1024).toFixed(1),
    },
    {
      label: "RSS after (MiB)",
      pick: at("rssAfterKiB"),
      format: (value) => (value / 1024).toFixed(1),
    },
    { label: "open at measurement", pick: at("openAtMeasurement"), format: int },
    { label: "connect seconds", pick: at("connectSeconds"), format: fixed(2) },
  ],
};

// Every scenario: how busy the machine was just before the run (other processes).
const COMMON_ROWS: Row[] = [
  { label: "machine busy before (cores)", pick: at("machineBusyCores"), format: fixed(2) },
];

/** The report as readable text. */
export function formatReport(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(
    `chat bench — ${report.date} — commit ${report.commit}`,
    `machine: ${report.machine.cpu}, ${report.machine.nproc} CPUs, ${report.machine.memoryMiB} MiB, Linux ${report.machine.kernel}`,
    `deno ${report.deno.deno} (V8 ${report.deno.v8}); generator and server on the same machine`,
    `server: deno run ${(report.serverDenoFlags ?? ["-A"]).join(" ")} main.ts serve ${
      report.serverFlags.join(" ")
    }`,
    `command: ${report.command}`,
    "",
  );
  for (const result of report.results) {
    const params = Object.entries(result.params)
      .filter(([key]) => key !== "mode")
      .map(([key, value]) => `${key}=${value}`)
      .join(" ");
    lines.push(`${result.scenario} · ${result.mode} · ${params}`);
    const ok = result.runs.filter((run) => run.error === undefined);
    const failed = result.runs.length - ok.length;
    const header = ["figure", `median of ${ok.length}`, "min", "max"];
    const table: string[][] = [];
    for (const row of [...(ROWS[result.scenario] ?? []), ...COMMON_ROWS]) {
      const values = ok.map((run) => Number(row.pick(run))).filter((value) => !Number.isNaN(value));
      const value = Number(row.pick(result.median));
      table.push([
        row.label,
        Number.isNaN(value) ? "-" : row.format(value),
        values.length ? row.format(Math.min(...values)) : "-",
        values.length ? row.format(Math.max(...values)) : "-",
      ]);
    }
    const widths = header.map((cell, i) =>
      Math.max(cell.length, ...table.map((row) => row[i]!.length))
    );
    const render = (row: string[]) =>
      "  " +
      row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join(
        "  ",
      );
    lines.push(render(header), ...table.map(render));
    if (result.target) {
      lines.push(
        `  target: ${result.target.figure} ${result.target.bound} — ${
          result.target.met ? "met" : "NOT met"
        }`,
      );
    }
    for (const run of result.runs) {
      if (run.error !== undefined) lines.push(`  run failed: ${run.error}`);
    }
    if (failed > 0) lines.push(`  ${failed} of ${result.runs.length} runs failed`);
    const disturbed = result.runs.filter((run) => run.disturbed === true).length;
    if (disturbed > 0) {
      lines.push(
        `  ${disturbed} of ${result.runs.length} runs disturbed by other processes even after retries`,
      );
    }
    const profile = result.profiles?.at(-1);
    if (profile) {
      const spot = (hot: HotSpot) =>
        `    ${hot.selfPercent.toFixed(1).padStart(5)}% self ${
          hot.totalPercent.toFixed(1).padStart(5)
        }% total  ${hot.where}`;
      lines.push(`  server profile of run ${profile.run} (${profile.file}), by self time:`);
      lines.push(...profile.self.map(spot));
      lines.push("  by total time (functions, not native time):");
      lines.push(...profile.inclusive.map(spot));
    }
    lines.push("");
  }
  return lines.join("\n");
}
