/**
 * `deno task bench`: starts `chat serve` as a subprocess (a fresh one for
 * every run of every scenario), drives load at it from this process, reads
 * its CPU time and memory from /proc, and reports medians over runs.
 *
 * @module
 */
import { UsageError } from "../shared/cli.ts";
import type { Mode } from "./bench_client.ts";
import { type BenchOptions, HELP, parseBenchOptions, type Scenario } from "./bench_options.ts";
import { CpuProfiler, hotSpots, inclusiveHotSpots } from "./cpu_profiler.ts";
import { runIdle } from "./idle_scenario.ts";
import { runLatency } from "./latency_scenario.ts";
import type { PhaseHooks } from "./phase_hooks.ts";
import { machineInfo, waitForQuiet } from "./proc_stats.ts";
import { type BenchReport, formatReport, medianOf, type ScenarioReport } from "./report.ts";
import { serveFlags, ServerProcess, taskV8Flags } from "./server_process.ts";
import { runThroughput } from "./throughput_scenario.ts";

/** The parameters each scenario's figures depend on. */
function paramsOf(scenario: Scenario, mode: Mode, options: BenchOptions): Record<string, unknown> {
  switch (scenario) {
    case "throughput":
      return {
        mode,
        receivers: options.receivers,
        senders: options.senders,
        messages: options.messages,
        bytes: options.bytes,
        warmupMessages: options.warmupMessages,
        ackWindow: options.ackWindow,
        deliveryWindow: options.deliveryWindow,
        batch: options.batch,
        workers: options.workers,
      };
    case "latency":
      return {
        mode,
        rate: options.rate,
        receivers: options.latencyReceivers,
        senders: options.latencySenders,
        duration: options.duration,
        warmup: options.warmup,
        bytes: options.bytes,
        workers: options.latencyWorkers,
      };
    case "idle":
      return {
        mode,
        connections: options.idle,
        concurrency: options.idleConcurrency,
        settle: options.settle,
      };
  }
}

/** The target set for a scenario at its default parameters, if any. */
function targetOf(
  scenario: Scenario,
  params: Record<string, unknown>,
  median: Record<string, unknown>,
): ScenarioReport["target"] {
  const is = (key: string, value: unknown) => params[key] === value;
  switch (scenario) {
    case "throughput": {
      if (!is("receivers", 500) || !is("senders", 5) || !is("messages", 2000) || !is("bytes", 64)) {
        return undefined;
      }
      const rate = median.deliveriesPerSecond as number;
      return {
        figure: "deliveries/s",
        bound: "≥ 2,500,000 with 0 lost",
        met: rate >= 2_500_000 && median.lost === 0,
      };
    }
    case "latency": {
      if (!is("rate", 2000) || !is("receivers", 200)) return undefined;
      const p99 = (median.latencyMs as Record<string, number>).p99!;
      return { figure: "latency p99", bound: "< 10 ms", met: p99 < 10 };
    }
    case "idle":
      if (!is("connections", 10_000)) return undefined;
      return {
        figure: "RSS per connection",
        bound: "≤ 8 KiB",
        met: (median.rssPerConnectionKiB as number) <= 8,
      };
  }
}

async function commit(): Promise<string> {
  try {
    const cwd = new URL("..", import.meta.url).pathname;
    const git = (args: string[]) =>
      new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "null" }).output();
    const head = await git(["rev-parse", "--short", "HEAD"]);
    if (!head.success) return "unknown";
    const dirty = await git([
      "status",
      "--porcelain",
      "--untracked-files=no",
      "--",
      "server",
      "shared",
      "main.ts",
    ]);
    const changed = new TextDecoder().decode(dirty.stdout).trim() !== "";
    return new TextDecoder().decode(head.stdout).trim() +
      (changed ? " (server/shared modified)" : "");
  } catch {
    return "unknown";
  }
}

let current: ServerProcess | undefined;

type Profile = NonNullable<ScenarioReport["profiles"]>[number];

const ROOT = new URL("..", import.meta.url).href;

/** Hooks that profile the server over the timed phase into `options.profile`. */
function profiling(
  server: ServerProcess,
  options: BenchOptions,
  name: string,
  run: number,
  done: (profile: Profile) => void,
): PhaseHooks {
  const directory = options.profile;
  if (directory === undefined) return {};
  let profiler: CpuProfiler | undefined;
  return {
    started: async () => {
      if (server.inspectorUrl === undefined) throw new Error("The server printed no inspector URL");
      profiler = await CpuProfiler.connect(server.inspectorUrl);
      await profiler.start();
    },
    stopped: async () => {
      if (profiler === undefined) return;
      const profile = await profiler.stop();
      profiler.close();
      await Deno.mkdir(directory, { recursive: true });
      const file = `${directory}/${name}-${run}.cpuprofile`;
      await Deno.writeTextFile(file, JSON.stringify(profile));
      done({
        run,
        file,
        self: hotSpots(profile, 20, ROOT),
        inclusive: inclusiveHotSpots(profile, 60, ROOT).filter((spot) =>
          !spot.where.startsWith("(")
        ).slice(0, 20),
      });
    },
  };
}

async function runOne(
  scenario: Scenario,
  mode: Mode,
  options: BenchOptions,
  run: number,
  onProfile: (profile: Profile) => void,
): Promise<Record<string, unknown>> {
  const denoFlags = options.profile === undefined
    ? options.denoFlags
    : [...options.denoFlags, "--inspect=127.0.0.1:0"];
  const server = current = await ServerProcess.start({
    extraFlags: options.serverFlags,
    denoFlags,
    taskV8Flags: !options.bareV8,
  });
  const hooks = profiling(server, options, `${scenario}-${mode}`, run, onProfile);
  try {
    switch (scenario) {
      case "throughput":
        return {
          ...await runThroughput(server, {
            mode,
            receivers: options.receivers,
            senders: options.senders,
            messages: options.messages,
            bytes: options.bytes,
            warmup: options.warmupMessages,
            ackWindow: options.ackWindow,
            deliveryWindow: options.deliveryWindow,
            batch: options.batch,
            workers: options.workers,
            maxSamples: options.maxSamples,
            stallMs: options.stallMs,
          }, hooks),
        };
      case "latency":
        return {
          ...await runLatency(server, {
            mode,
            receivers: options.latencyReceivers,
            senders: options.latencySenders,
            rate: options.rate,
            duration: options.duration,
            warmup: options.warmup,
            bytes: options.bytes,
            workers: options.latencyWorkers,
            maxSamples: options.maxSamples,
            drainMs: options.stallMs,
          }, hooks),
        };
      case "idle":
        return {
          ...await runIdle(server, {
            connections: options.idle,
            concurrency: options.idleConcurrency,
            settle: options.settle,
            warmup: Math.min(100, options.idle),
          }),
        };
    }
  } finally {
    await server.stop();
    current = undefined;
  }
}

function describe(scenario: Scenario, mode: Mode, result: Record<string, unknown>): string {
  if (result.error !== undefined) return `FAILED: ${result.error}`;
  if (result.disturbed === true) {
    return `${
      describe(scenario, mode, { ...result, disturbed: false })
    } (disturbed by other processes)`;
  }
  const latency = result.latencyMs as Record<string, number> | undefined;
  switch (scenario) {
    case "throughput":
      return `${
        Math.round(result.deliveriesPerSecond as number).toLocaleString("en-US")
      } deliveries/s, ` +
        `lost ${result.lost}, p99 ${latency!.p99!.toFixed(1)} ms`;
    case "latency":
      return `p50 ${latency!.p50!.toFixed(2)} ms, p99 ${
        latency!.p99!.toFixed(2)
      } ms, lost ${result.lost}`;
    case "idle":
      return `${(result.rssPerConnectionKiB as number).toFixed(2)} KiB per connection (${mode})`;
  }
}

async function main(argv: string[]): Promise<number> {
  // `deno task bench -- --quick` passes the "--" through.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  let options: BenchOptions | undefined;
  try {
    options = parseBenchOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message} (see 'deno task bench -- --help')`);
    return 2;
  }
  if (options === undefined) {
    console.log(HELP);
    return 0;
  }
  const stop = () => {
    console.error("bench: interrupted, stopping the server");
    (current?.stop(500) ?? Promise.resolve()).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);

  const plan: Array<[Scenario, Mode]> = [];
  for (const scenario of options.scenarios) {
    // Idle memory is measured with framed connections only.
    const modes: Mode[] = scenario === "idle" ? ["framed"] : options.modes;
    for (const mode of modes) plan.push([scenario, mode]);
  }
  const runs = new Map<string, Array<Record<string, unknown>>>();
  const profiles = new Map<string, Profile[]>();
  for (let run = 1; run <= options.runs; run++) {
    for (const [scenario, mode] of plan) {
      const key = `${scenario}/${mode}`;
      let result: Record<string, unknown>;
      for (let attempt = 0;; attempt++) {
        // Other processes competing for the CPUs would be measured too.
        const quiet = options.quietWait > 0
          ? await waitForQuiet(options.quietCores, options.quietWait)
          : { busyCores: NaN, waitedSeconds: 0 };
        if (quiet.busyCores > options.quietCores) {
          console.error(
            `bench: the machine is busy (${
              quiet.busyCores.toFixed(2)
            } cores used by others); running anyway`,
          );
        }
        try {
          result = await runOne(scenario, mode, options, run, (profile) => {
            if (!profiles.has(key)) profiles.set(key, []);
            profiles.get(key)!.push(profile);
          });
        } catch (error) {
          result = { error: error instanceof Error ? error.message : String(error) };
        }
        result.machineBusyCores = quiet.busyCores;
        // A few clock ticks over a short phase are noise, not a disturbance.
        const others = result.otherCores as number | undefined;
        const otherSeconds = result.otherCpuSeconds as number | undefined;
        if (others === undefined || others <= options.quietCores || otherSeconds! < 0.05) break;
        result.disturbed = true;
        if (attempt >= options.retries) break;
        console.error(
          `bench: run ${run}/${options.runs} ${scenario} ${mode} disturbed: other processes used ` +
            `${others.toFixed(2)} cores; repeating it`,
        );
      }
      if (!runs.has(key)) runs.set(key, []);
      runs.get(key)!.push(result);
      console.error(
        `bench: run ${run}/${options.runs} ${scenario} ${mode}: ${
          describe(scenario, mode, result)
        }`,
      );
    }
  }

  const results: ScenarioReport[] = plan.map(([scenario, mode]) => {
    const all = runs.get(`${scenario}/${mode}`) ?? [];
    const params = paramsOf(scenario, mode, options);
    const median = medianOf(all.filter((run) => run.error === undefined));
    const report: ScenarioReport = { scenario, mode, params, runs: all, median };
    const profiled = profiles.get(`${scenario}/${mode}`);
    if (profiled) report.profiles = profiled;
    const target = all.some((run) => run.error === undefined)
      ? targetOf(scenario, params, median)
      : undefined;
    if (target) report.target = target;
    return report;
  });
  const report: BenchReport = {
    bench: "chat",
    date: new Date().toISOString(),
    command: ["deno task bench", ...(args.length ? ["--", ...args] : [])].join(" "),
    commit: await commit(),
    machine: await machineInfo(),
    deno: Deno.version,
    serverFlags: options.serverFlags.some((flag) => /^--(data|memory)(=|$)/.test(flag))
      ? serveFlags(options.serverFlags)
      : [...serveFlags(options.serverFlags), "--data", "<fresh temporary directory>"],
    serverDenoFlags: [
      "-A",
      ...(options.bareV8 ? [] : await taskV8Flags()),
      ...options.denoFlags,
      ...(options.profile === undefined ? [] : ["--inspect=127.0.0.1:0"]),
    ],
    runs: options.runs,
    results,
  };
  console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  const failed = results.some((result) => result.runs.some((run) => run.error !== undefined));
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

export { main };
