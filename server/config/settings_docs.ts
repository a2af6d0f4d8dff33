/**
 * Writes docs/configuration.md from the settings schema:
 * `deno task docs:config` regenerates it, and a test fails when it is stale.
 *
 * @module
 */
import { sentence } from "./config_file.ts";
import {
  envName,
  isSwitch,
  OTHER_CHAT_ENV,
  type Setting,
  SETTING_GROUPS,
  SETTING_KEYS,
  SETTINGS,
  showDefault,
  tomlKey,
} from "./settings.ts";

/**
 * The Markdown of docs/configuration.md (before `deno fmt` aligns its tables).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderConfigurationDoc } from "./settings_docs.ts";
 * assert.equal(renderConfigurationDoc().includes("`CHAT_MAX_QUEUE_BYTES`"), true);
 * ```
 */
export function renderConfigurationDoc(): string {
  const out = [
    "# Configuring chat serve",
    "",
    "<!-- Generated from server/config/settings.ts by `deno task docs:config`; edit that file, not this one. -->",
    "",
    "Every setting of `chat serve` has a command-line flag, a `CHAT_*` environment variable and a key in the TOML config file. Where a setting is given in several places, the first of these wins:",
    "",
    "1. the flag (`--max-queue-bytes 2097152`);",
    "2. the environment variable (`CHAT_MAX_QUEUE_BYTES=2097152`): `CHAT_` and the flag's name in upper snake case;",
    "3. the config file named by `--config FILE` or `CHAT_CONFIG` (`max_queue_bytes = 2097152`): the flag's name in snake case, at the top level of the file;",
    "4. the default.",
    "",
    'On/off settings have two flags (`--tcp` and `--no-tcp`); in the environment they take `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), in the file `true`/`false`. A path or name that may be unset takes `""` for unset. Relative paths are taken from the server\'s working directory. In one source, `memory` and `data` exclude each other; a `data` given in a source above a `memory = true` wins over it.',
    "",
    "Unknown keys, unknown `CHAT_*` variables and bad values stop the server at start with one line naming the flag, variable or `file: key`, the value and what is allowed, and exit code 2. The other `CHAT_*` variables it accepts belong to the config file path and the other subcommands: " +
    OTHER_CHAT_ENV.map((name) => `\`${name}\``).join(", ") + ".",
    "",
    "- `chat config init [FILE]` writes a config file with every setting described and commented out at its default (`chat.toml` by default; `-` for stdout; `--force` to overwrite).",
    "- `chat config check [--config FILE] [flags]` validates the file, the environment and the flags together (including reading the TLS files) and prints every effective setting with its source: `default`, `file PATH`, `env NAME` or `flag NAME`.",
    "- `chat serve --help` lists every flag with its default.",
  ];
  for (const [group, title] of Object.entries(SETTING_GROUPS)) {
    out.push("", `## ${title}`, "");
    out.push("| key | flag | environment | default | allowed | what it does |");
    out.push("| --- | --- | --- | --- | --- | --- |");
    for (const key of SETTING_KEYS) {
      const setting = SETTINGS[key] as Setting<unknown>;
      if (setting.group !== group) continue;
      const flags = isSwitch(setting)
        ? `\`--${setting.flag}\`, \`--no-${setting.flag}\``
        : `\`${setting.short === undefined ? "" : `-${setting.short}, `}--${setting.flag}\``;
      const cells = [
        `\`${tomlKey(setting)}\``,
        flags,
        `\`${envName(setting)}\``,
        setting.defaultText ?? `\`${showDefault(setting)}\``,
        setting.type.allowed,
        sentence(setting),
      ];
      out.push(`| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`);
    }
  }
  return out.join("\n") + "\n";
}

if (import.meta.main) {
  await Deno.stdout.write(new TextEncoder().encode(renderConfigurationDoc()));
}
