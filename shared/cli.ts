/**
 * Command-line helpers shared by the subcommands: `node:util` parseArgs with
 * one-line errors, and typed readers for flag values.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A bad command line: printed as one line with a usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The exit code for a bad command line. */
export const USAGE_EXIT_CODE = 2;

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` strictly against `options`; an unknown flag or a missing
 * value becomes a {@linkcode UsageError} naming the flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./cli.ts";
 * const { values } = parseFlags(["--port", "0"], { port: { type: "string" } });
 * assert.equal(values.port, "0");
 * ```
 */
export function parseFlags<O extends Options>(
  args: string[],
  options: O,
): {
  values: { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string };
  positionals: string[];
} {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    return parsed as never;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // node's messages are long and mention its own API; keep the flag name.
    // A missing value reads "Option '-p, --port <value>' argument missing": take "--port".
    const flag = /'(?:-\w, )?(-[^'\s]*)/.exec(message)?.[1] ?? /(--?[\w-]+)/.exec(message)?.[1];
    if (message.includes("Unknown option")) throw new UsageError(`unknown flag ${flag}`);
    if (message.includes("argument missing")) throw new UsageError(`flag ${flag} needs a value`);
    if (message.includes("does not take an argument")) {
      throw new UsageError(`flag ${flag} takes no value`);
    }
    throw new UsageError(message.split("\n")[0]!);
  }
}

/**
 * Reads an integer flag value within `[min, max]`; undefined stays undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intFlag } from "./cli.ts";
 * assert.equal(intFlag("--port", "7007", { min: 0, max: 65535 }), 7007);
 * ```
 */
export function intFlag(
  flag: string,
  value: string | undefined,
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) {
    throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  }
  if (number < range.min || number > range.max) {
    throw new UsageError(`${flag} must be between ${range.min} and ${range.max}, got ${number}`);
  }
  return number;
}

/**
 * Reads a non-negative decimal flag value (rates, seconds).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numberFlag } from "./cli.ts";
 * assert.equal(numberFlag("--rate", "2.5", { min: 0, max: 1e6 }), 2.5);
 * ```
 */
export function numberFlag(
  flag: string,
  value: string | undefined,
  range: { min: number; max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) {
    throw new UsageError(`${flag} must be a number, got "${value}"`);
  }
  if (number < range.min || number > range.max) {
    throw new UsageError(`${flag} must be between ${range.min} and ${range.max}, got ${number}`);
  }
  return number;
}

/**
 * Reads a flag that must be one of `choices`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choiceFlag } from "./cli.ts";
 * assert.equal(choiceFlag("--log-format", "json", ["text", "json"] as const), "json");
 * ```
 */
export function choiceFlag<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}
