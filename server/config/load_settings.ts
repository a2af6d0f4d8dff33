/**
 * Resolves the settings of `chat serve` from their four sources: flags
 * override `CHAT_*` environment variables, which override the config file,
 * which overrides the defaults. Every value is checked against its
 * {@linkcode SETTINGS} entry; an unknown name or a bad value is a
 * {@linkcode ConfigError} saying where it came from and what is allowed.
 *
 * @module
 */
import type { ServerOptions } from "./server_options.ts";
import { inspectTlsPair, TlsPairError } from "../net/tls_certificate.ts";
import { readConfigFile } from "./config_file.ts";
import { ConfigError } from "./config_error.ts";
import {
  envName,
  isSwitch,
  OTHER_CHAT_ENV,
  type ServeSettings,
  type Setting,
  SETTING_KEYS,
  SETTINGS,
  tomlKey,
} from "./settings.ts";

/** Where a setting's value came from. */
export type SettingSource =
  | { kind: "default" }
  | { kind: "file"; path: string; key: string }
  | { kind: "env"; name: string }
  | { kind: "flag"; name: string };

/** The resolved settings and the source of each. */
export interface ResolvedSettings {
  settings: ServeSettings;
  sources: { [K in keyof ServeSettings]: SettingSource };
}

/** Parsed flag values by flag name, as `parseArgs` returns them. */
export type FlagValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** The sources {@linkcode resolveSettings} reads, lowest precedence first. */
export interface SettingInputs {
  /** The config file's path and parsed table. */
  file?: { path: string; table: Readonly<Record<string, unknown>> };
  /** Environment variables; only names starting with `CHAT_` are read. */
  env?: Readonly<Record<string, string>>;
  /** Flag values parsed with {@linkcode settingFlags}. */
  flags?: FlagValues;
}

/**
 * Loads the settings of `chat serve`: the config file named by the
 * `--config` flag or else `CHAT_CONFIG` (if any), then `env`, then `flags`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadSettings } from "./load_settings.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/chat.toml`, "port = 7100\nmax_rooms = 5\n");
 * const env = { CHAT_PORT: "7200" };
 * const { settings } = await loadSettings({ flags: { config: `${dir}/chat.toml` }, env });
 * // The environment wins over the file.
 * assert.deepEqual([settings.port, settings.maxRooms], [7200, 5]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadSettings(
  inputs: { flags: FlagValues; env: Readonly<Record<string, string>> },
): Promise<ResolvedSettings & { configPath: string | null }> {
  const named = inputs.flags.config ?? inputs.env.CHAT_CONFIG;
  if (typeof named !== "string" && named !== undefined) {
    throw new ConfigError("--config needs a file path");
  }
  const configPath = named === undefined || named === "" ? null : named;
  const file = configPath === null
    ? undefined
    : { path: configPath, table: await readConfigFile(configPath) };
  const resolved = resolveSettings({
    ...(file === undefined ? {} : { file }),
    env: inputs.env,
    flags: inputs.flags,
  });
  return { ...resolved, configPath };
}

/**
 * The environment: all of it when `--allow-env` allows, else every
 * variable a setting reads that is allowed one by one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEnvironment } from "./load_settings.ts";
 * Deno.env.set("CHAT_PORT", "7300");
 * assert.equal(readEnvironment().CHAT_PORT, "7300");
 * Deno.env.delete("CHAT_PORT");
 * ```
 */
export function readEnvironment(): Record<string, string> {
  try {
    return Deno.env.toObject();
  } catch {
    const env: Record<string, string> = {};
    for (const name of [...SETTING_KEYS.map((key) => envName(SETTINGS[key])), ...OTHER_CHAT_ENV]) {
      try {
        const value = Deno.env.get(name);
        if (value !== undefined) env[name] = value;
      } catch {
        // Not allowed: as if unset.
      }
    }
    return env;
  }
}

/**
 * Resolves every setting from `inputs` over the defaults. Throws a
 * {@linkcode ConfigError} naming the first unknown key or bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSettings } from "./load_settings.ts";
 * const { settings, sources } = resolveSettings({
 *   env: { CHAT_PORT: "9000" },
 *   flags: { "max-queue-bytes": "2048" },
 * });
 * assert.deepEqual([settings.port, sources.port], [9000, { kind: "env", name: "CHAT_PORT" }]);
 * ```
 */
export function resolveSettings(inputs: SettingInputs): ResolvedSettings {
  const settings = {} as Record<keyof ServeSettings, unknown>;
  const sources = {} as Record<keyof ServeSettings, SettingSource>;
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key] as Setting<unknown>;
    settings[key] = Array.isArray(setting.default) ? [...setting.default] : setting.default;
    sources[key] = { kind: "default" };
  }
  const layers: Layer[] = [];
  if (inputs.file !== undefined) layers.push(fileLayer(inputs.file.path, inputs.file.table));
  if (inputs.env !== undefined) layers.push(envLayer(inputs.env));
  if (inputs.flags !== undefined) layers.push(flagLayer(inputs.flags));
  for (const layer of layers) {
    const memory = layer.get("memory");
    const data = layer.get("dataDir");
    if (memory?.value === true && data !== undefined) {
      throw new ConfigError(`${memory.name} and ${data.name} exclude each other`);
    }
    // A data directory set above a memory setting below it wins over it.
    if (data !== undefined && memory === undefined && settings.memory === true) {
      layer.set("memory", { value: false, name: data.name, source: data.source });
    }
    for (const [key, entry] of layer) {
      settings[key] = entry.value;
      sources[key] = entry.source;
    }
  }
  const resolved = { settings: settings as ServeSettings, sources } as ResolvedSettings;
  checkCombinations(resolved);
  return resolved;
}

/**
 * The `parseArgs` options for every setting's flags (`--X` and `--no-X`
 * for on/off settings).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settingFlags } from "./load_settings.ts";
 * assert.deepEqual(settingFlags()["no-tcp"], { type: "boolean" });
 * ```
 */
export function settingFlags(): Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
> {
  const flags: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> =
    {};
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key] as Setting<unknown>;
    if (isSwitch(setting)) {
      flags[setting.flag] = { type: "boolean" };
      flags[`no-${setting.flag}`] = { type: "boolean" };
    } else {
      flags[setting.flag] = {
        type: "string",
        ...(setting.short === undefined ? {} : { short: setting.short }),
        ...(setting.repeatable ? { multiple: true } : {}),
      };
    }
  }
  return flags;
}

/**
 * Reads the server options the settings describe; the TLS certificate and
 * key files are read here, so a missing one is a {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveSettings, toServerOptions } from "./load_settings.ts";
 * const options = await toServerOptions(resolveSettings({ flags: { memory: true } }));
 * assert.equal(options.dataDir, null);
 * ```
 */
export async function toServerOptions(resolved: ResolvedSettings): Promise<ServerOptions> {
  const {
    dataDir,
    memory,
    tlsCert,
    tlsKey,
    logLevel: _level,
    logFormat: _format,
    logFile: _file,
    logMaxBytes: _maxBytes,
    logMaxFiles: _maxFiles,
    ...rest
  } = resolved.settings;
  let tls: ServerOptions["tls"] = null;
  if (tlsCert !== null && tlsKey !== null) {
    tls = {
      cert: await readPem(resolved, "tlsCert", "CERTIFICATE"),
      key: await readPem(resolved, "tlsKey", "PRIVATE KEY"),
    };
    checkTlsPair(resolved, tls);
  }
  return { ...rest, dataDir: memory ? null : dataDir, tls };
}

/**
 * How a source is named in messages: `--port`, `CHAT_PORT`, `chat.toml: port`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSource } from "./load_settings.ts";
 * assert.equal(describeSource({ kind: "env", name: "CHAT_PORT" }), "env CHAT_PORT");
 * ```
 */
export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case "default":
      return "default";
    case "file":
      return `file ${source.path}`;
    case "env":
      return `env ${source.name}`;
    case "flag":
      return `flag ${source.name}`;
  }
}

interface Entry {
  value: unknown;
  /** How the value's origin is named in errors. */
  name: string;
  source: SettingSource;
}

type Layer = Map<keyof ServeSettings, Entry>;

function fileLayer(path: string, table: Readonly<Record<string, unknown>>): Layer {
  const byKey = new Map(SETTING_KEYS.map((key) => [tomlKey(SETTINGS[key]), key]));
  const layer: Layer = new Map();
  for (const [name, raw] of Object.entries(table)) {
    const key = byKey.get(name);
    if (key === undefined) {
      throw new ConfigError(`${path}: unknown key "${name}"${suggest(name, [...byKey.keys()])}`);
    }
    const where = `${path}: ${name}`;
    const value = read(where, () => SETTINGS[key].type.fromToml(raw));
    layer.set(key, { value, name: where, source: { kind: "file", path, key: name } });
  }
  return layer;
}

function envLayer(env: Readonly<Record<string, string>>): Layer {
  const byName = new Map(SETTING_KEYS.map((key) => [envName(SETTINGS[key]), key]));
  const layer: Layer = new Map();
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith("CHAT_") || OTHER_CHAT_ENV.includes(name)) continue;
    const key = byName.get(name);
    if (key === undefined) {
      throw new ConfigError(
        `unknown environment variable ${name}${suggest(name, [...byName.keys()])}`,
      );
    }
    const value = read(name, () => SETTINGS[key].type.parse(text));
    layer.set(key, { value, name, source: { kind: "env", name } });
  }
  return layer;
}

function flagLayer(flags: FlagValues): Layer {
  const layer: Layer = new Map();
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key] as Setting<unknown>;
    if (isSwitch(setting)) {
      const on = flags[setting.flag] === true;
      const off = flags[`no-${setting.flag}`] === true;
      if (on && off) {
        throw new ConfigError(`--${setting.flag} and --no-${setting.flag} exclude each other`);
      }
      if (on || off) {
        const name = on ? `--${setting.flag}` : `--no-${setting.flag}`;
        layer.set(key, { value: on, name, source: { kind: "flag", name } });
      }
      continue;
    }
    const raw = flags[setting.flag];
    if (raw === undefined || typeof raw === "boolean") continue;
    const name = `--${setting.flag}`;
    // Repeated flags add up: their values join as one list.
    const text = Array.isArray(raw) ? raw.join(",") : raw;
    const value = read(name, () => setting.type.parse(text));
    layer.set(key, { value, name, source: { kind: "flag", name } });
  }
  return layer;
}

function read<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new ConfigError(`${name} ${error.message}`);
    }
    throw error;
  }
}

/** How the origin of a setting's value is named in errors: `--no-tcp`, `CHAT_PORT`, `chat.toml: port`. */
function originName({ sources }: ResolvedSettings, key: keyof ServeSettings): string {
  const source = sources[key];
  switch (source.kind) {
    case "default":
      return `--${SETTINGS[key].flag}`;
    case "flag":
    case "env":
      return source.name;
    case "file":
      return `${source.path}: ${source.key}`;
  }
}

function checkCombinations(resolved: ResolvedSettings): void {
  const { settings } = resolved;
  const name = (key: keyof ServeSettings) => originName(resolved, key);
  if ((settings.tlsCert === null) !== (settings.tlsKey === null)) {
    const [set, unset] = settings.tlsCert !== null ? ["tlsCert", "tlsKey"] as const : [
      "tlsKey",
      "tlsCert",
    ] as const;
    throw new ConfigError(
      `${name(set)} needs ${name(unset)} too: TLS takes a certificate and its key`,
    );
  }
  if (!settings.tcp && settings.tlsCert === null && settings.unixPath === null) {
    throw new ConfigError(
      `nothing to listen on: ${name("tcp")} turns TCP off and neither TLS ` +
        `(--tls-cert, --tls-key) nor a Unix socket (--unix) is set`,
    );
  }
}

async function readPem(
  resolved: ResolvedSettings,
  key: "tlsCert" | "tlsKey",
  label: string,
): Promise<string> {
  const path = resolved.settings[key]!;
  const where = originName(resolved, key);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`${where}: cannot read ${path}: ${(error as Error).message}`);
  }
  if (!text.includes(`-----BEGIN `) || !text.includes(label)) {
    throw new ConfigError(`${where}: ${path} holds no PEM ${label.toLowerCase()}`);
  }
  return text;
}

/** Refuses a certificate or key that cannot be read, or a key that is not the certificate's. */
function checkTlsPair(resolved: ResolvedSettings, pair: { cert: string; key: string }): void {
  try {
    inspectTlsPair(pair);
  } catch (error) {
    if (!(error instanceof TlsPairError)) throw error;
    const [cert, key] = [resolved.settings.tlsCert!, resolved.settings.tlsKey!];
    const detail = error.cause instanceof Error ? error.cause.message : String(error.cause);
    switch (error.part) {
      case "certificate":
        throw new ConfigError(
          `${originName(resolved, "tlsCert")}: ${cert} holds no readable certificate (${detail})`,
        );
      case "key":
        throw new ConfigError(
          `${originName(resolved, "tlsKey")}: ${key} holds no readable private key (${detail})`,
        );
      case "mismatch":
        throw new ConfigError(
          `${originName(resolved, "tlsKey")}: ${key} is not the private key of the certificate ` +
            `in ${cert}: give the key the certificate was made with`,
        );
    }
  }
}

/** ` (did you mean "x"?)` for the closest known name, if one is close. */
function suggest(name: string, known: string[]): string {
  const lower = name.toLowerCase();
  // A cut-short name ("max_queue") is most likely the one it starts.
  const extended = known.find((candidate) => candidate.toLowerCase().startsWith(lower));
  if (extended !== undefined) return ` (did you mean ${extended}?)`;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const close = bestDistance <= Math.max(2, Math.floor(name.length / 4));
  return close && best !== undefined ? ` (did you mean ${best}?)` : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
