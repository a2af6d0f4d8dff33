/**
 * The kinds of value a setting can hold, each able to read itself from a
 * flag or environment variable (text) and from a config file (TOML value),
 * and to say what it allows. Errors are `TypeError` (wrong kind of value)
 * or `RangeError` (out of range) with a message like `must be between 0 and
 * 65535, got 99999`, to which the caller prefixes where the value came from.
 *
 * @module
 */
import { parseDuration } from "../../shared/commands.ts";
import { nameKey, validateNick } from "../../shared/validation.ts";
import { parseCidr } from "../http/trusted_proxies.ts";

/** How one kind of setting value is read, shown and written. */
export interface SettingType<T> {
  /** What is allowed, for documentation: "a whole number from 0 to 65535". */
  readonly allowed: string;
  /** Reads a flag or environment variable value. */
  parse(text: string): T;
  /** Reads a value from the config file. */
  fromToml(value: unknown): T;
  /** Shows a value to people (help defaults, `chat config check`). */
  show(value: T): string;
  /** Writes a value as a TOML literal (`chat config init`). */
  toToml(value: T): string;
}

/**
 * A whole number within `[min, max]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intType } from "./setting_types.ts";
 * assert.equal(intType({ min: 0, max: 65535 }).parse("7007"), 7007);
 * ```
 */
export function intType(range: { min: number; max: number }): SettingType<number> {
  const check = (number: number, shown: string): number => {
    if (!Number.isSafeInteger(number)) throw new TypeError(`must be a whole number, got ${shown}`);
    if (number < range.min || number > range.max) {
      throw new RangeError(`must be between ${range.min} and ${range.max}, got ${number}`);
    }
    return number;
  };
  return {
    allowed: `a whole number from ${range.min} to ${range.max}`,
    parse: (text) => {
      if (!/^-?\d+$/.test(text.trim())) {
        throw new TypeError(`must be a whole number, got "${text}"`);
      }
      return check(Number(text), `"${text}"`);
    },
    fromToml: (value) => {
      if (typeof value !== "number") {
        throw new TypeError(`must be a whole number, got ${toml(value)}`);
      }
      return check(value, toml(value));
    },
    show: String,
    toToml: String,
  };
}

/**
 * A decimal number within `[min, max]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numberType } from "./setting_types.ts";
 * assert.equal(numberType({ min: 0.001, max: 1e9 }).parse("2.5"), 2.5);
 * ```
 */
export function numberType(range: { min: number; max: number }): SettingType<number> {
  const check = (number: number): number => {
    if (number < range.min || number > range.max) {
      throw new RangeError(`must be between ${range.min} and ${range.max}, got ${number}`);
    }
    return number;
  };
  return {
    allowed: `a number from ${range.min} to ${range.max}`,
    parse: (text) => {
      const number = Number(text);
      if (text.trim() === "" || !Number.isFinite(number)) {
        throw new TypeError(`must be a number, got "${text}"`);
      }
      return check(number);
    },
    fromToml: (value) => {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new TypeError(`must be a number, got ${toml(value)}`);
      }
      return check(value);
    },
    show: String,
    toToml: (value) => Number.isInteger(value) ? `${value}.0` : String(value),
  };
}

/**
 * One of a fixed set of words.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choiceType } from "./setting_types.ts";
 * assert.equal(choiceType(["text", "json"] as const).parse("json"), "json");
 * ```
 */
export function choiceType<T extends string>(choices: readonly T[]): SettingType<T> {
  const check = (value: unknown): T => {
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
      const got = typeof value === "string" ? `"${value}"` : toml(value);
      throw new RangeError(`must be one of ${choices.join(", ")}, got ${got}`);
    }
    return value as T;
  };
  return {
    allowed: `one of ${choices.map((c) => `"${c}"`).join(", ")}`,
    parse: check,
    fromToml: check,
    show: (value) => value,
    toToml: (value) => JSON.stringify(value),
  };
}

/** Words accepted for true and false in flags' and environment variables' text. */
const TRUE_WORDS = ["true", "1", "yes", "on"];
const FALSE_WORDS = ["false", "0", "no", "off"];

/**
 * On or off: `true`/`false` in the config file; also 1/0, yes/no, on/off
 * in environment variables.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boolType } from "./setting_types.ts";
 * assert.equal(boolType().parse("off"), false);
 * ```
 */
export function boolType(): SettingType<boolean> {
  return {
    allowed: "true or false",
    parse: (text) => {
      const word = text.trim().toLowerCase();
      if (TRUE_WORDS.includes(word)) return true;
      if (FALSE_WORDS.includes(word)) return false;
      throw new TypeError(`must be true or false, got "${text}"`);
    },
    fromToml: (value) => {
      if (typeof value !== "boolean") {
        throw new TypeError(`must be true or false, got ${toml(value)}`);
      }
      return value;
    },
    show: String,
    toToml: String,
  };
}

/**
 * A piece of text, or null when empty. `check` may refuse text with a
 * message; `none` is how null is shown (e.g. "none", "the host name").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionalTextType } from "./setting_types.ts";
 * const path = optionalTextType({ allowed: "a file path", none: "none" });
 * assert.deepEqual([path.parse(""), path.parse("/etc/chat/cert.pem")], [null, "/etc/chat/cert.pem"]);
 * ```
 */
export function optionalTextType(options: {
  allowed: string;
  none: string;
  check?: (text: string) => void;
  /** Hide a URL's password when shown (`redis://user:***@host`). */
  hidePassword?: boolean;
}): SettingType<string | null> {
  const read = (text: string): string | null => {
    if (text === "") return null;
    options.check?.(text);
    return text;
  };
  return {
    allowed: `${options.allowed}, or "" for ${options.none}`,
    parse: read,
    fromToml: (value) => {
      if (typeof value !== "string") throw new TypeError(`must be a string, got ${toml(value)}`);
      return read(value);
    },
    show: (value) => {
      if (value === null) return `(${options.none})`;
      return options.hidePassword ? hidePassword(value) : value;
    },
    toToml: (value) => JSON.stringify(value ?? ""),
  };
}

/**
 * A non-empty piece of text (a path with a default, a host name).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { textType } from "./setting_types.ts";
 * assert.equal(textType({ allowed: "a directory" }).parse("./chat-data"), "./chat-data");
 * ```
 */
export function textType(options: { allowed: string }): SettingType<string> {
  const read = (text: string): string => {
    if (text.trim() === "") throw new TypeError("must not be empty");
    return text;
  };
  return {
    allowed: options.allowed,
    parse: read,
    fromToml: (value) => {
      if (typeof value !== "string") throw new TypeError(`must be a string, got ${toml(value)}`);
      return read(value);
    },
    show: (value) => value,
    toToml: (value) => JSON.stringify(value),
  };
}

/**
 * A duration: `0` for none, or a number with a unit s, m, h or d (30d,
 * 12h), in milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { durationType } from "./setting_types.ts";
 * assert.equal(durationType().parse("12h"), 43200000);
 * ```
 */
export function durationType(): SettingType<number> {
  const read = (text: string): number => {
    if (text.trim() === "0") return 0;
    try {
      return parseDuration(text);
    } catch {
      throw new RangeError(`must be a duration like 30d or 12h, got "${text}"`);
    }
  };
  return {
    allowed: `0 (none) or a duration from 1s to 366d, like "30d" or "12h"`,
    parse: read,
    fromToml: (value) => {
      if (value === 0) return 0;
      if (typeof value !== "string") {
        throw new TypeError(`must be a duration in quotes like "30d", got ${toml(value)}`);
      }
      return read(value);
    },
    show: showDuration,
    toToml: (value) => value === 0 ? "0" : JSON.stringify(showDuration(value)),
  };
}

/**
 * A Unix file mode in octal, like "0660".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileModeType } from "./setting_types.ts";
 * assert.equal(fileModeType().parse("0660") === 0o660, true);
 * ```
 */
export function fileModeType(): SettingType<number> {
  const read = (text: string): number => {
    const match = /^(?:0o?)?([0-7]{1,3})$/i.exec(text.trim());
    if (!match) throw new RangeError(`must be an octal file mode from 0000 to 0777, got "${text}"`);
    return parseInt(match[1]!, 8);
  };
  return {
    allowed: `an octal file mode in quotes, like "0660"`,
    parse: read,
    fromToml: (value) => {
      // A bare TOML number like 660 would be decimal: refuse rather than guess.
      if (typeof value !== "string") {
        throw new TypeError(`must be an octal file mode in quotes like "0660", got ${toml(value)}`);
      }
      return read(value);
    },
    show: (value) => `0${value.toString(8).padStart(3, "0")}`,
    toToml: (value) => `"0${value.toString(8).padStart(3, "0")}"`,
  };
}

/**
 * A list of nicknames, stored as their name keys: a TOML array of strings,
 * or comma-separated text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nickListType } from "./setting_types.ts";
 * assert.deepEqual(nickListType().parse("Alice, bob"), ["alice", "bob"]);
 * ```
 */
export function nickListType(): SettingType<string[]> {
  const key = (name: string): string => {
    try {
      return nameKey(validateNick(name));
    } catch (error) {
      throw new RangeError(`must be nicknames: ${(error as Error).message}`);
    }
  };
  return {
    allowed: "a list of nicknames",
    parse: (text) => text.split(",").map((name) => name.trim()).filter((n) => n !== "").map(key),
    fromToml: (value) => {
      if (!Array.isArray(value) || value.some((name) => typeof name !== "string")) {
        throw new TypeError(`must be an array of nicknames like ["alice"], got ${toml(value)}`);
      }
      return value.map(key);
    },
    show: (value) => value.length === 0 ? "(none)" : value.join(", "),
    toToml: (value) => `[${value.map((name) => JSON.stringify(name)).join(", ")}]`,
  };
}

/**
 * A list of web origins (`https://chat.example.org`, `http://localhost:8080`)
 * or `*` for any: a TOML array of strings, or comma-separated text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { originListType } from "./setting_types.ts";
 * assert.deepEqual(originListType().parse("https://a.example, http://localhost:8080"), ["https://a.example", "http://localhost:8080"]);
 * ```
 */
export function originListType(): SettingType<string[]> {
  const origin = (text: string): string => {
    if (text === "*") return text;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RangeError(`must be origins like https://chat.example.org, got "${text}"`);
    }
    // An origin is scheme, host and port only: a path or a slash would never match.
    if (!/^https?:$/.test(url.protocol) || url.origin !== text) {
      throw new RangeError(
        `must be origins like https://chat.example.org (scheme, host, port; no path), got "${text}"`,
      );
    }
    return text;
  };
  return {
    allowed: 'a list of origins like "https://chat.example.org", or "*" for any',
    parse: (text) => text.split(",").map((item) => item.trim()).filter((o) => o !== "").map(origin),
    fromToml: (value) => {
      if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
        throw new TypeError(
          `must be an array of origins like ["https://a.example"], got ${toml(value)}`,
        );
      }
      return value.map(origin);
    },
    show: (value) => value.length === 0 ? "(none)" : value.join(", "),
    toToml: (value) => `[${value.map((item) => JSON.stringify(item)).join(", ")}]`,
  };
}

/**
 * A list of IP addresses and CIDR ranges (`10.0.0.0/8`, `::1`), kept in
 * canonical form with their prefix: a TOML array of strings, or
 * comma-separated text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cidrListType } from "./setting_types.ts";
 * assert.deepEqual(cidrListType().parse("10.0.0.0/8, ::1"), ["10.0.0.0/8", "::1/128"]);
 * ```
 */
export function cidrListType(): SettingType<string[]> {
  return {
    allowed: 'a list of addresses or CIDR ranges like "10.0.0.0/8"',
    parse: (text) =>
      text.split(",").map((item) => item.trim()).filter((c) => c !== "").map(parseCidr),
    fromToml: (value) => {
      if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
        throw new TypeError(
          `must be an array of CIDR ranges like ["10.0.0.0/8"], got ${toml(value)}`,
        );
      }
      return value.map(parseCidr);
    },
    show: (value) => value.length === 0 ? "(none)" : value.join(", "),
    toToml: (value) => `[${value.map((item) => JSON.stringify(item)).join(", ")}]`,
  };
}

/**
 * A Redis URL as the Redis client reads it, `redis://[user:password@]host[:port][/db]`
 * (`rediss://` for TLS), or null when empty. Checked when the settings are
 * read, so a bad URL stops the start like any bad value instead of failing
 * only when the server connects; the password never appears in messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redisUrlType } from "./setting_types.ts";
 * const redis = redisUrlType();
 * assert.equal(redis.parse("redis://127.0.0.1:6379/2"), "redis://127.0.0.1:6379/2");
 * assert.equal(redis.show("redis://chat:secret@db:6379"), "redis://chat:***@db:6379");
 * ```
 */
export function redisUrlType(): SettingType<string | null> {
  const check = (text: string): void => {
    const got = `got "${hidePassword(text)}"`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RangeError(`must be a URL like redis://127.0.0.1:6379, ${got}`);
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      throw new RangeError(
        `must be a redis:// or rediss:// (TLS) URL like redis://127.0.0.1:6379, ${got}`,
      );
    }
    if (url.hostname === "") {
      throw new RangeError(`must name a host, like redis://127.0.0.1:6379, ${got}`);
    }
    const database = url.pathname.slice(1);
    if (database !== "" && (!/^\d{1,10}$/.test(database) || Number(database) > 2 ** 31 - 1)) {
      throw new RangeError(
        `may end only in a database number, like redis://127.0.0.1:6379/0, ${got}`,
      );
    }
    // The client ignores both: a "?db=2" or "#x" would be silently lost.
    if (url.search !== "" || url.hash !== "") {
      throw new RangeError(`takes no ?query or #fragment (the Redis client ignores them), ${got}`);
    }
  };
  return optionalTextType({
    allowed: "a redis[s]:// URL",
    none: "none: this instance is alone",
    check,
    // `chat config check` prints settings: a password in the URL stays out of it.
    hidePassword: true,
  });
}

/** `text` with the password of a URL in it replaced by `***`. */
function hidePassword(text: string): string {
  return text.replace(/(\/\/[^:@/]*:)[^@/]*@/, "$1***@");
}

function showDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/** A config file value as TOML would write it, for error messages. */
function toml(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return "a table";
  return JSON.stringify(value) ?? String(value);
}
