/**
 * The TOML config file of `chat serve`: reading it (through smol-toml) and
 * writing the commented default one that `chat config init` creates.
 *
 * @module
 */
import { parse, TomlError } from "smol-toml";
import { VERSION } from "../../shared/version.ts";
import { ConfigError } from "./config_error.ts";
import {
  envName,
  isSwitch,
  type Setting,
  SETTING_GROUPS,
  SETTING_KEYS,
  SETTINGS,
  tomlKey,
} from "./settings.ts";

/** The config file name `chat config init` writes by default. */
export const DEFAULT_CONFIG_FILE = "chat.toml";

/**
 * Reads and parses a config file; an unreadable file or bad TOML is a
 * {@linkcode ConfigError} with the path (and line and column).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfigFile } from "./config_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/chat.toml`, "port = 7100\n");
 * const table = await readConfigFile(`${dir}/chat.toml`);
 * assert.equal(table.port, 7100);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  return parseConfig(text, { path });
}

/**
 * Parses config file text; `path` only names it in errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config_file.ts";
 * assert.deepEqual(parseConfig("port = 9000", { path: "chat.toml" }), { port: 9000 });
 * ```
 */
export function parseConfig(text: string, options: { path: string }): Record<string, unknown> {
  try {
    return { ...parse(text) };
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(`${options.path}:${error.line}:${error.column}: ${reason}`);
    }
    throw error;
  }
}

/**
 * The commented default config file: every setting, described, with its
 * default commented out (`#port = 7007`), so removing the `#` of a line is
 * all it takes to change a setting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderDefaultConfig } from "./config_file.ts";
 * assert.equal(renderDefaultConfig().includes("#max_queue_bytes = "), true);
 * ```
 */
export function renderDefaultConfig(): string {
  const lines = [
    `# chat serve configuration (written by chat ${VERSION}: chat config init).`,
    "#",
    "# Every key is optional: a line left commented out keeps the default it shows.",
    "# Precedence: command-line flags > CHAT_* environment variables > this file > defaults.",
    "# Relative paths are taken from the server's working directory.",
    "# Check this file and see the effective settings: chat config check --config FILE",
  ];
  for (const [group, title] of Object.entries(SETTING_GROUPS)) {
    lines.push("", `# ---- ${title} ----`);
    for (const key of SETTING_KEYS) {
      const setting = SETTINGS[key] as Setting<unknown>;
      if (setting.group !== group) continue;
      lines.push("", ...wrapComment(sentence(setting)));
      const flags = isSwitch(setting)
        ? `--${setting.flag}, --no-${setting.flag}`
        : `--${setting.flag}`;
      lines.push(
        ...wrapComment(`Allowed: ${setting.type.allowed}. Flag ${flags}, env ${envName(setting)}.`),
      );
      lines.push(`#${tomlKey(setting)} = ${setting.type.toToml(setting.default)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The setting's help and details as sentences. */
export function sentence(setting: Setting<unknown>): string {
  const help = setting.help.charAt(0).toUpperCase() + setting.help.slice(1);
  const text = /[.!?]$/.test(help) ? help : `${help}.`;
  return setting.details === undefined ? text : `${text} ${setting.details}`;
}

function wrapComment(text: string, width = 80): string[] {
  const lines: string[] = [];
  let line = "#";
  for (const word of text.split(/\s+/)) {
    if (line.length + 1 + word.length > width && line !== "#") {
      lines.push(line);
      line = "#";
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}
