/**
 * `chat config init [FILE]` writes the commented default config file;
 * `chat config check [--config FILE] [serve flags]` validates the settings
 * and prints each effective value with where it came from.
 *
 * @module
 */
import { parseFlags, UsageError } from "../../shared/cli.ts";
import { DEFAULT_CONFIG_FILE, renderDefaultConfig } from "./config_file.ts";
import {
  describeSource,
  loadSettings,
  readEnvironment,
  type ResolvedSettings,
  settingFlags,
  toServerOptions,
} from "./load_settings.ts";
import { caCertificateWarning, inspectTlsPair } from "../net/tls_certificate.ts";
import { type Setting, SETTING_KEYS, SETTINGS, tomlKey } from "./settings.ts";

/** The help text of `chat config`. */
export const CONFIG_HELP = `chat config: write and check chat serve's config file

Usage:
  chat config init [FILE] [--force]    write a commented default file (default ${DEFAULT_CONFIG_FILE};
                                       - for stdout); --force overwrites an existing one
  chat config check [--config FILE] [serve flags]
                                       validate the settings (file, CHAT_* environment,
                                       flags) and print each one with its source

Precedence: flags > CHAT_* environment variables > config file > defaults.
Every setting is listed in 'chat serve --help' and docs/configuration.md.

Examples:
  chat config init /etc/chat/chat.toml
  chat config check --config /etc/chat/chat.toml
  CHAT_PORT=7100 chat config check --config chat.toml --no-discovery
`;

/** Runs `chat config ARGS`; resolves to the exit code. */
export async function runConfig(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case "init":
      return await init(rest);
    case "check":
      return await check(rest);
    case undefined:
    case "--help":
    case "-h":
    case "help":
      console.log(CONFIG_HELP);
      return 0;
    default:
      throw new UsageError(`unknown config subcommand "${subcommand}"`);
  }
}

async function init(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CONFIG_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const path = positionals[0] ?? DEFAULT_CONFIG_FILE;
  const text = renderDefaultConfig();
  if (path === "-") {
    await Deno.stdout.write(new TextEncoder().encode(text));
    return 0;
  }
  try {
    // createNew makes the "does it exist" check and the write one step.
    await Deno.writeTextFile(path, text, values.force ? {} : { createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      console.error(`chat: ${path} already exists; not overwriting it without --force`);
    } else {
      console.error(`chat: cannot write ${path}: ${(error as Error).message}`);
    }
    return 1;
  }
  console.log(`Wrote ${path}: every setting with its default, commented out.`);
  return 0;
}

async function check(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...settingFlags(),
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CONFIG_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const resolved = await loadSettings({ flags: values, env: readEnvironment() });
  // Reading the TLS files is part of the check: a missing key fails here, not at start.
  const options = await toServerOptions(resolved);
  if (options.tls !== null) {
    // Valid, but chat serve warns at start: so does the check.
    const facts = inspectTlsPair(options.tls);
    if (facts.ca) console.error(`chat: warning: ${caCertificateWarning(facts.subject)}`);
  }
  const where = resolved.configPath === null ? "no config file" : `file ${resolved.configPath}`;
  console.log(`Settings are valid (${where}).\n`);
  console.log(renderEffectiveSettings(resolved));
  return 0;
}

/**
 * A table of every setting's config key, effective value and source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderEffectiveSettings } from "./config_command.ts";
 * import { resolveSettings } from "./load_settings.ts";
 * const table = renderEffectiveSettings(resolveSettings({ env: { CHAT_PORT: "9000" } }));
 * assert.match(table, /^port +9000 +env CHAT_PORT$/m);
 * ```
 */
export function renderEffectiveSettings(resolved: ResolvedSettings): string {
  const rows = [["key", "value", "source"]];
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key] as Setting<unknown>;
    rows.push([
      tomlKey(setting),
      setting.type.show(resolved.settings[key]),
      describeSource(resolved.sources[key]),
    ]);
  }
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map(([key, value, source]) =>
      `${key!.padEnd(widths[0]!)}  ${value!.padEnd(widths[1]!)}  ${source}`.trimEnd()
    )
    .join("\n");
}
