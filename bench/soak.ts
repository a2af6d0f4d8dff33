/**
 * `deno task soak`: runs attacks an anonymous user could mount within the
 * server's default limits against a real `chat serve` subprocess, and
 * reports whether the server stayed up and served everyone else. Exits 1
 * when a scenario fails its bound.
 *
 * @module
 */
import { intFlag, parseFlags, USAGE_EXIT_CODE, UsageError } from "../shared/cli.ts";
import { HISTORY_SOAK } from "./soak_history.ts";
import type { SoakReport, SoakScenario } from "./soak_scenario.ts";
import { LOGINS_SCENARIO } from "./soak_logins.ts";
import { ROOMS_SCENARIO } from "./soak_rooms.ts";

/** Every scenario, in the order a full run takes them. */
export const SOAK_SCENARIOS: readonly SoakScenario[] = [
  HISTORY_SOAK,
  LOGINS_SCENARIO,
  ROOMS_SCENARIO,
];

const HELP = `Usage: deno task soak [-- OPTIONS]

Runs attacks within the server's default limits against a real chat serve.

Options:
  --scenario NAME   run only this scenario (repeatable); default: all
  --seconds N       how long each attack runs (default 30)
  --entry FILE      run this main.ts as the server instead of this checkout's
                    (an older checkout, for figures from before a fix)
  --json            print the reports as one JSON array
  --list            list the scenarios
  -h, --help        this help
`;

async function main(argv: string[]): Promise<number> {
  // `deno task soak -- --scenario history` passes the "--" through.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  const { values } = parseFlags(
    args,
    {
      scenario: { type: "string", multiple: true },
      seconds: { type: "string" },
      entry: { type: "string" },
      json: { type: "boolean" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    } as const,
  );
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.list) {
    for (const scenario of SOAK_SCENARIOS) console.log(`${scenario.name}: ${scenario.description}`);
    return 0;
  }
  const seconds =
    intFlag("--seconds", values.seconds as string | undefined, { min: 1, max: 3600 }) ??
      30;
  const wanted = (values.scenario as unknown as string[] | undefined) ?? [];
  for (const name of wanted) {
    if (!SOAK_SCENARIOS.some((scenario) => scenario.name === name)) {
      throw new UsageError(`unknown scenario ${name} (see --list)`);
    }
  }
  const chosen = wanted.length === 0
    ? SOAK_SCENARIOS
    : SOAK_SCENARIOS.filter((scenario) => wanted.includes(scenario.name));
  const reports: SoakReport[] = [];
  for (const scenario of chosen) {
    if (!values.json) console.log(`soak: ${scenario.name}: ${scenario.description}`);
    const entry = values.entry as string | undefined;
    const report = await scenario.run({ seconds, ...(entry === undefined ? {} : { entry }) });
    reports.push(report);
    if (!values.json) {
      console.log(`  ${report.passed ? "passed" : "FAILED"} (${report.bound})`);
      for (const [name, value] of Object.entries(report.figures)) {
        console.log(`  ${name.padEnd(28)} ${value}`);
      }
    }
  }
  if (values.json) console.log(JSON.stringify(reports, null, 2));
  return reports.every((report) => report.passed) ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`soak: ${error.message} (see 'deno task soak --help')`);
    Deno.exit(USAGE_EXIT_CODE);
  }
}
