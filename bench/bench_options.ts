/**
 * The flags of `deno task bench`, their defaults, and the `--quick` preset.
 *
 * @module
 */
import { choiceFlag, intFlag, numberFlag, parseFlags, UsageError } from "../shared/cli.ts";
import { type Mode, MODES } from "./bench_client.ts";

/** Scenarios the bench can run. */
export const SCENARIOS = ["throughput", "latency", "idle"] as const;
/** One scenario. */
export type Scenario = typeof SCENARIOS[number];

/** Every setting of a bench run. */
export interface BenchOptions {
  scenarios: Scenario[];
  modes: Mode[];
  runs: number;
  json: boolean;
  quick: boolean;
  // throughput
  receivers: number;
  senders: number;
  messages: number;
  bytes: number;
  warmupMessages: number;
  ackWindow: number;
  deliveryWindow: number;
  batch: number;
  // latency
  rate: number;
  latencyReceivers: number;
  latencySenders: number;
  duration: number;
  warmup: number;
  // idle
  idle: number;
  idleConcurrency: number;
  settle: number;
  // generator and server
  workers: number;
  latencyWorkers: number;
  maxSamples: number;
  stallMs: number;
  serverFlags: string[];
  denoFlags: string[];
  /** Before each run, wait until the machine uses at most this many cores… */
  quietCores: number;
  /** …for at most this many seconds (0: do not wait). */
  quietWait: number;
  /** Runs repeated when other processes used more than `quietCores` during the timed phase. */
  retries: number;
  /** Run the server without the `--v8-flags` of `deno task serve`. */
  bareV8: boolean;
  /** Directory for server CPU profiles of each timed phase; none when undefined. */
  profile: string | undefined;
}

/** Defaults of the full suite. */
export const DEFAULTS: Readonly<BenchOptions> = Object.freeze({
  scenarios: [...SCENARIOS],
  modes: [...MODES],
  runs: 3,
  json: false,
  quick: false,
  receivers: 500,
  senders: 5,
  messages: 2000,
  bytes: 64,
  warmupMessages: 500,
  ackWindow: 500,
  deliveryWindow: 2000,
  batch: 100,
  rate: 2000,
  latencyReceivers: 200,
  latencySenders: 5,
  duration: 10,
  warmup: 1,
  idle: 10_000,
  idleConcurrency: 64,
  settle: 2,
  workers: 1,
  latencyWorkers: 0,
  maxSamples: 200_000,
  stallMs: 10_000,
  serverFlags: [],
  denoFlags: [],
  profile: undefined,
  bareV8: false,
  quietCores: 0.1,
  quietWait: 60,
  retries: 2,
});

/** What `--quick` changes: a smoke run of every scenario in seconds. */
export const QUICK: Partial<BenchOptions> = {
  runs: 1,
  receivers: 50,
  senders: 2,
  messages: 200,
  warmupMessages: 50,
  rate: 500,
  latencyReceivers: 20,
  latencySenders: 2,
  duration: 2,
  warmup: 0.5,
  idle: 500,
  settle: 1,
  quietWait: 5,
};

const FLAGS = {
  scenario: { type: "string" },
  mode: { type: "string" },
  runs: { type: "string" },
  json: { type: "boolean" },
  quick: { type: "boolean" },
  receivers: { type: "string" },
  senders: { type: "string" },
  messages: { type: "string" },
  bytes: { type: "string" },
  "warmup-messages": { type: "string" },
  "ack-window": { type: "string" },
  "delivery-window": { type: "string" },
  batch: { type: "string" },
  rate: { type: "string" },
  "latency-receivers": { type: "string" },
  "latency-senders": { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  idle: { type: "string" },
  "idle-concurrency": { type: "string" },
  settle: { type: "string" },
  workers: { type: "string" },
  "latency-workers": { type: "string" },
  "max-samples": { type: "string" },
  "stall-ms": { type: "string" },
  "server-flag": { type: "string", multiple: true },
  "deno-flag": { type: "string", multiple: true },
  profile: { type: "string" },
  "bare-v8": { type: "boolean" },
  "quiet-cores": { type: "string" },
  "quiet-wait": { type: "string" },
  retries: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text. */
export const HELP = `deno task bench: load-test chat serve (started as a subprocess on 127.0.0.1)

Usage: deno task bench [-- options]

Suite:
  --scenario S            throughput, latency, idle or all (default all)
  --mode M                framed, text or all (default all; idle is always framed)
  --runs K                runs of each scenario, medians reported (default ${DEFAULTS.runs})
  --quick                 smoke preset: small loads, 1 run (flags given still win)
  --json                  print one JSON object instead of tables

Throughput (closed loop):
  --receivers N           receivers in the room (default ${DEFAULTS.receivers})
  --senders S             senders (default ${DEFAULTS.senders})
  --messages M            messages per sender, timed (default ${DEFAULTS.messages})
  --bytes B               message body bytes, both scenarios (default ${DEFAULTS.bytes})
  --warmup-messages W     messages per sender sent untimed first (default ${DEFAULTS.warmupMessages})
  --ack-window K          unanswered requests per sender before it waits (default ${DEFAULTS.ackWindow})
  --delivery-window D     messages in flight end to end, per receiver on average,
                          before senders wait; 0 = unbounded (default ${DEFAULTS.deliveryWindow})
  --batch N               messages per write (default ${DEFAULTS.batch})

Latency (open loop):
  --rate R                messages per second, all senders together (default ${DEFAULTS.rate})
  --latency-receivers N   receivers in the room (default ${DEFAULTS.latencyReceivers})
  --latency-senders S     senders sharing the rate (default ${DEFAULTS.latencySenders})
  --duration D            measured seconds (default ${DEFAULTS.duration})
  --warmup W              seconds at the same rate before, not measured (default ${DEFAULTS.warmup})

Idle memory:
  --idle N                idle connections (default ${DEFAULTS.idle})
  --idle-concurrency C    connections opened at once (default ${DEFAULTS.idleConcurrency})
  --settle S              seconds to wait before reading memory (default ${DEFAULTS.settle})

Generator and server:
  --workers W             Workers for throughput receivers, 0 = main thread (default ${DEFAULTS.workers})
  --latency-workers W     Workers for latency receivers, 0 = main thread (default ${DEFAULTS.latencyWorkers})
  --max-samples N         latency samples kept per run (default ${DEFAULTS.maxSamples})
  --stall-ms MS           give up a run after this long without a delivery (default ${DEFAULTS.stallMs})
  --server-flag F         extra flag for chat serve, repeatable (e.g. --server-flag=--max-queue-bytes=4194304)
  --bare-v8               run the server without the --v8-flags that deno task serve uses
                          (by default the bench passes them, to measure the server as it is run)
  --deno-flag F           extra flag for the server's deno run, repeatable (e.g. --deno-flag=--v8-flags=--max-old-space-size=512)
  --quiet-cores C         before each run, wait until other processes use at most C cores
                          (sampled over 1 s; default ${DEFAULTS.quietCores}) …
  --quiet-wait S          … for at most S seconds, then run anyway (default ${DEFAULTS.quietWait}; 0 = never wait)
  --retries N             repeat a run disturbed by other processes (more than --quiet-cores
                          during its timed phase) up to N times (default ${DEFAULTS.retries})
  --profile DIR           profile the server's JavaScript over each timed phase (through
                          --inspect=127.0.0.1:0); writes DIR/<scenario>-<mode>-<run>.cpuprofile
                          and prints the hot spots. Profiling slows the server: its figures
                          are not comparable with unprofiled runs.

Examples:
  deno task bench
  deno task bench -- --quick
  deno task bench -- --scenario throughput --mode framed --runs 5 --json
  deno task bench -- --scenario latency --mode framed --runs 1 --profile /tmp/chat-profiles
`;

/** Parses the bench's command line; throws {@linkcode UsageError}. Returns undefined after --help. */
export function parseBenchOptions(args: string[]): BenchOptions | undefined {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (values.help) return undefined;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const options: BenchOptions = {
    ...DEFAULTS,
    scenarios: [...DEFAULTS.scenarios],
    modes: [...DEFAULTS.modes],
  };
  if (values.quick) Object.assign(options, QUICK, { quick: true });
  const v = values as Record<string, string | boolean | string[] | undefined>;
  const str = (name: string) => v[name] as string | undefined;
  const int = (name: string, min: number, max: number) =>
    intFlag(`--${name}`, str(name), { min, max });
  const num = (name: string, min: number, max: number) =>
    numberFlag(`--${name}`, str(name), { min, max });
  const set = <K extends keyof BenchOptions>(key: K, value: BenchOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  const scenario = choiceFlag("--scenario", str("scenario"), [...SCENARIOS, "all"] as const);
  if (scenario !== undefined) options.scenarios = scenario === "all" ? [...SCENARIOS] : [scenario];
  const mode = choiceFlag("--mode", str("mode"), [...MODES, "all"] as const);
  if (mode !== undefined) options.modes = mode === "all" ? [...MODES] : [mode];
  set("json", values.json);
  set("runs", int("runs", 1, 100));
  set("receivers", int("receivers", 1, 15_000));
  set("senders", int("senders", 1, 1000));
  set("messages", int("messages", 1, 10_000_000));
  set("bytes", int("bytes", 1, 4000));
  set("warmupMessages", int("warmup-messages", 0, 10_000_000));
  set("ackWindow", int("ack-window", 1, 1_000_000));
  set("deliveryWindow", int("delivery-window", 0, 10_000_000));
  set("batch", int("batch", 1, 100_000));
  set("rate", num("rate", 1, 1_000_000));
  set("latencyReceivers", int("latency-receivers", 1, 15_000));
  set("latencySenders", int("latency-senders", 1, 1000));
  set("duration", num("duration", 0.1, 3600));
  set("warmup", num("warmup", 0, 3600));
  set("idle", int("idle", 1, 18_000));
  set("idleConcurrency", int("idle-concurrency", 1, 1000));
  set("settle", num("settle", 0, 600));
  set("workers", int("workers", 0, 64));
  set("latencyWorkers", int("latency-workers", 0, 64));
  set("maxSamples", int("max-samples", 1000, 100_000_000));
  set("stallMs", int("stall-ms", 100, 600_000));
  set("serverFlags", v["server-flag"] as string[] | undefined);
  set("denoFlags", v["deno-flag"] as string[] | undefined);
  set("profile", str("profile"));
  set("bareV8", values["bare-v8"] as boolean | undefined);
  set("quietCores", num("quiet-cores", 0, 1024));
  set("quietWait", num("quiet-wait", 0, 3600));
  set("retries", int("retries", 0, 10));
  return options;
}
