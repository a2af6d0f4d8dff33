/**
 * The options part of `chat serve --help`, written from the settings schema.
 *
 * @module
 */
import {
  isSwitch,
  type Setting,
  SETTING_GROUPS,
  SETTING_KEYS,
  SETTINGS,
  showDefault,
  shownFlag,
} from "./settings.ts";

const COLUMN = 32;
const WIDTH = 90;

/**
 * One help entry: the flag padded to a column, then its description
 * wrapped below it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { helpLine } from "./settings_help.ts";
 * assert.equal(helpLine("--port P", "TCP port"), "  --port P                      TCP port");
 * ```
 */
export function helpLine(flag: string, description: string): string {
  const left = `  ${flag}`;
  const lines: string[] = [];
  let line = left.length < COLUMN ? left.padEnd(COLUMN) : `${left}\n${" ".repeat(COLUMN)}`;
  let empty = true;
  // "(default X)" stays on one line.
  for (const word of description.split(/ (?![^(]*\))/)) {
    const lastLine = line.slice(line.lastIndexOf("\n") + 1);
    if (!empty && lastLine.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = " ".repeat(COLUMN);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}

/**
 * Every setting's flag with what it does and its default, by section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderSettingsHelp } from "./settings_help.ts";
 * assert.equal(renderSettingsHelp().includes("--max-queue-bytes N"), true);
 * ```
 */
export function renderSettingsHelp(): string {
  const sections: string[] = [];
  for (const [group, title] of Object.entries(SETTING_GROUPS)) {
    const lines = [`${title}:`];
    for (const key of SETTING_KEYS) {
      const setting = SETTINGS[key] as Setting<unknown>;
      if (setting.group === group) lines.push(helpLine(flagText(setting), describe(setting)));
    }
    sections.push(lines.join("\n"));
  }
  return sections.join("\n\n");
}

function flagText(setting: Setting<unknown>): string {
  const short = setting.short === undefined ? "" : `-${setting.short}, `;
  const arg = setting.arg === undefined ? "" : ` ${setting.arg}`;
  return `${short}${shownFlag(setting)}${arg}`;
}

function describe(setting: Setting<unknown>): string {
  if (isSwitch(setting)) return setting.flagHelp ?? setting.help;
  if (setting.defaultText !== undefined) return `${setting.help} (default: ${setting.defaultText})`;
  const none = setting.default === null ||
    (Array.isArray(setting.default) && setting.default.length === 0);
  if (none) return setting.help;
  return `${setting.help} (default ${showDefault(setting)})`;
}
