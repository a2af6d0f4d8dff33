/**
 * What a soak scenario is: an attack an anonymous user could mount within
 * the server's default limits, run against a real `chat serve` subprocess,
 * with the figures that say whether the server stayed up and everyone else
 * was served.
 *
 * @module
 */

/** Settings every soak scenario takes. */
export interface SoakOptions {
  /** How long the attack runs, in seconds. */
  seconds: number;
  /** The server's main.ts to run instead of this checkout's (another version, to compare). */
  entry?: string;
}

/** What one scenario measured. */
export interface SoakReport {
  scenario: string;
  /** Whether the server survived and the bystander's figures are within bound. */
  passed: boolean;
  /** The figures, by name (units in the name: `rssPeakMiB`, `loginDelayMs`). */
  figures: Record<string, number | string | boolean>;
  /** What the bound is, in words, for the report. */
  bound: string;
}

/** One soak scenario. */
export interface SoakScenario {
  /** Its name on the command line (`--scenario NAME`). */
  readonly name: string;
  /** One line: the attack and the bound. */
  readonly description: string;
  run(options: SoakOptions): Promise<SoakReport>;
}
