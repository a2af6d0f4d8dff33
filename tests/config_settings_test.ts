import assert from "node:assert/strict";
import { parse as parseToml } from "smol-toml";
import { ConfigError } from "../server/config/config_error.ts";
import { resolveSettings, toServerOptions } from "../server/config/load_settings.ts";
import {
  envName,
  isSwitch,
  OTHER_CHAT_ENV,
  type Setting,
  SETTING_KEYS,
  SETTINGS,
  tomlKey,
} from "../server/config/settings.ts";
import { renderSettingsHelp } from "../server/config/settings_help.ts";
import {
  durationType,
  fileModeType,
  intType,
  nickListType,
  numberType,
} from "../server/config/setting_types.ts";
import { SERVE_HELP } from "../server/serve_command.ts";
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from "../server/config/server_options.ts";

const all = SETTING_KEYS.map((key) => [key, SETTINGS[key] as Setting<unknown>] as const);

Deno.test("schema: flags, environment variables and file keys are unique and derived from the flag", () => {
  const flags = new Set<string>();
  const env = new Set<string>();
  const keys = new Set<string>();
  for (const [, setting] of all) {
    assert.match(setting.flag, /^[a-z][a-z0-9-]*$/);
    for (const name of isSwitch(setting) ? [setting.flag, `no-${setting.flag}`] : [setting.flag]) {
      assert.ok(!flags.has(name), `duplicate flag --${name}`);
      flags.add(name);
    }
    assert.equal(envName(setting), "CHAT_" + setting.flag.toUpperCase().replaceAll("-", "_"));
    assert.ok(!env.has(envName(setting)) && !OTHER_CHAT_ENV.includes(envName(setting)));
    env.add(envName(setting));
    assert.equal(tomlKey(setting), setting.flag.replaceAll("-", "_"));
    assert.ok(!keys.has(tomlKey(setting)));
    keys.add(tomlKey(setting));
  }
  assert.ok(!flags.has("config") && !flags.has("help"));
});

Deno.test("schema: every default is allowed by its own type, shown and read back the same", () => {
  for (const [key, setting] of all) {
    const { type } = setting;
    if (setting.default === null) {
      assert.equal(type.parse(""), null, key);
      continue;
    }
    // What config init writes, the file reader reads back.
    const { value } = parseToml(`value = ${type.toToml(setting.default)}`);
    assert.deepEqual(type.fromToml(value), setting.default, key);
    if (!Array.isArray(setting.default) && setting.defaultText === undefined) {
      assert.deepEqual(type.parse(type.show(setting.default)), setting.default, key);
    }
  }
});

Deno.test("schema: every option of the server has a setting (or is derived from one)", () => {
  const options = Object.keys(DEFAULT_SERVER_OPTIONS) as (keyof ServerOptions)[];
  const derived: (keyof ServerOptions)[] = ["dataDir", "tls"];
  for (const key of options) {
    if (derived.includes(key)) continue;
    assert.ok(key in SETTINGS, `ServerOptions.${key} has no entry in SETTINGS`);
  }
});

Deno.test("help lists every setting's flag, and the lines tests and people rely on", () => {
  const help = renderSettingsHelp();
  for (const [, setting] of all) {
    const shown = setting.default === true ? `--no-${setting.flag}` : `--${setting.flag}`;
    assert.ok(help.includes(`  ${setting.short ? `-${setting.short}, ` : ""}${shown}`), shown);
  }
  for (
    const line of [
      "  -p, --port P                  TCP port, 0 picks a free one (default 7007)",
      "  --max-frame-bytes N           largest frame payload (default 65536)",
      "  --no-tcp                      no plain TCP",
      "  --memory                      keep everything in memory instead (lost at exit)",
      "  --unix-mode MODE              file mode of the Unix socket (default 0660)",
      "  --text-handshake-timeout-ms MS\n                                time a plain-text user",
    ]
  ) assert.ok(help.includes(line), line);
  assert.ok(SERVE_HELP.includes("--config FILE"));
  for (const line of SERVE_HELP.split("\n")) assert.ok(line.length <= 92, line);
});

Deno.test("precedence: flag over environment over file over default, each with its source", () => {
  const { settings, sources } = resolveSettings({
    file: {
      path: "chat.toml",
      table: { port: 1000, max_queue_bytes: 4096, rate_burst: 5, auth: "required" },
    },
    env: { CHAT_PORT: "2000", CHAT_MAX_QUEUE_BYTES: "8192", HOME: "/root" },
    flags: { port: "3000" },
  });
  assert.equal(settings.port, 3000);
  assert.deepEqual(sources.port, { kind: "flag", name: "--port" });
  assert.equal(settings.maxQueueBytes, 8192);
  assert.deepEqual(sources.maxQueueBytes, { kind: "env", name: "CHAT_MAX_QUEUE_BYTES" });
  assert.equal(settings.rateBurst, 5);
  assert.deepEqual(sources.rateBurst, { kind: "file", path: "chat.toml", key: "rate_burst" });
  assert.equal(settings.auth, "required");
  assert.equal(settings.heartbeatMs, DEFAULT_SERVER_OPTIONS.heartbeatMs);
  assert.deepEqual(sources.heartbeatMs, { kind: "default" });
});

Deno.test("on/off settings: --X and --no-X, words in the environment, booleans in the file", () => {
  const resolve = (inputs: Parameters<typeof resolveSettings>[0]) =>
    resolveSettings(inputs).settings;
  assert.equal(resolve({ flags: { "no-discovery": true } }).discovery, false);
  assert.equal(
    resolve({ env: { CHAT_DISCOVERY: "off" }, flags: { discovery: true } }).discovery,
    true,
  );
  assert.equal(resolve({ env: { CHAT_DISCOVERY: "0" } }).discovery, false);
  assert.equal(resolve({ file: { path: "f", table: { memory: true } } }).memory, true);
  assert.throws(
    () => resolve({ flags: { tcp: true, "no-tcp": true } }),
    /--tcp and --no-tcp exclude each other/,
  );
  assert.throws(
    () => resolve({ env: { CHAT_MEMORY: "maybe" } }),
    /CHAT_MEMORY must be true or false, got "maybe"/,
  );
  assert.throws(
    () => resolve({ file: { path: "f.toml", table: { memory: "yes" } } }),
    /f\.toml: memory must be true or false, got "yes"/,
  );
});

Deno.test("memory and data: exclusive in one source; a data directory above memory wins", async () => {
  assert.throws(
    () => resolveSettings({ flags: { memory: true, data: "/d" } }),
    /--memory and --data exclude each other/,
  );
  assert.throws(
    () => resolveSettings({ env: { CHAT_MEMORY: "1", CHAT_DATA: "/d" } }),
    /CHAT_MEMORY and CHAT_DATA exclude each other/,
  );
  const above = resolveSettings({
    file: { path: "f", table: { memory: true } },
    flags: { data: "/srv/chat" },
  });
  assert.equal((await toServerOptions(above)).dataDir, "/srv/chat");
  const below = resolveSettings({
    file: { path: "f", table: { data: "/srv/chat" } },
    env: { CHAT_MEMORY: "true" },
  });
  assert.equal((await toServerOptions(below)).dataDir, null);
  assert.equal((await toServerOptions(resolveSettings({}))).dataDir, "./chat-data");
});

Deno.test("errors name the source, the value and what is allowed", () => {
  const cases: [Parameters<typeof resolveSettings>[0], RegExp][] = [
    [{ flags: { port: "99999" } }, /^--port must be between 0 and 65535, got 99999$/],
    [{ env: { CHAT_PORT: "http" } }, /^CHAT_PORT must be a whole number, got "http"$/],
    [
      { file: { path: "c.toml", table: { port: 7.5 } } },
      /^c\.toml: port must be a whole number, got 7\.5$/,
    ],
    [
      { file: { path: "c.toml", table: { port: "7007" } } },
      /^c\.toml: port must be a whole number, got "7007"$/,
    ],
    [{ flags: { "log-format": "xml" } }, /^--log-format must be one of text, json, got "xml"$/],
    [
      { file: { path: "c.toml", table: { sync: "fast" } } },
      /^c\.toml: sync must be one of normal, full, got "fast"$/,
    ],
    [
      { file: { path: "c.toml", table: { max_queue: 1 } } },
      /^c\.toml: unknown key "max_queue" \(did you mean max_queue_bytes\?\)$/,
    ],
    [
      { file: { path: "c.toml", table: { limits: { rate_burst: 1 } } } },
      /^c\.toml: unknown key "limits"$/,
    ],
    [
      { env: { CHAT_MAX_QUEUE_BYTE: "1" } },
      /^unknown environment variable CHAT_MAX_QUEUE_BYTE \(did you mean CHAT_MAX_QUEUE_BYTES\?\)$/,
    ],
    [
      { flags: { "retention-max-age": "soon" } },
      /^--retention-max-age must be a duration like 30d or 12h, got "soon"$/,
    ],
    [
      { file: { path: "c.toml", table: { unix_mode: 660 } } },
      /^c\.toml: unix_mode must be an octal file mode in quotes like "0660", got 660$/,
    ],
    [
      { flags: { "unix-mode": "0999" } },
      /^--unix-mode must be an octal file mode from 0000 to 0777, got "0999"$/,
    ],
    [
      { file: { path: "c.toml", table: { admin: "alice" } } },
      /^c\.toml: admin must be an array of nicknames like \["alice"\], got "alice"$/,
    ],
    [{ flags: { "tls-cert": "c.pem" } }, /^--tls-cert needs --tls-key too/],
    [{ env: { CHAT_TCP: "false" } }, /^nothing to listen on: CHAT_TCP turns TCP off/],
    [
      { flags: { "server-name": "a\u0007b" } },
      /^--server-name must be up to 64 characters without controls/,
    ],
  ];
  for (const [inputs, expected] of cases) {
    assert.throws(() => resolveSettings(inputs), (error: Error) => {
      assert.ok(error instanceof ConfigError, `${error}`);
      assert.match(error.message, expected);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("other programs' CHAT_ variables are left alone; the rest of the environment is ignored", () => {
  const { settings } = resolveSettings({
    env: { CHAT_KDF_LN: "10", CHAT_CONFIG: "x.toml", PATH: "/bin", CHATTY: "1" },
  });
  assert.equal(settings.kdfLogN, DEFAULT_SERVER_OPTIONS.kdfLogN);
});

Deno.test("value types: ranges, words and forms", () => {
  assert.throws(
    () => intType({ min: 1, max: 5 }).parse("1e3"),
    /must be a whole number, got "1e3"/,
  );
  assert.throws(() => intType({ min: 1, max: 5 }).fromToml(true), /got true/);
  assert.equal(numberType({ min: 0, max: 10 }).parse(" 2.5 "), 2.5);
  assert.equal(numberType({ min: 0, max: 10 }).toToml(3), "3.0");
  assert.equal(durationType().parse("0"), 0);
  assert.equal(durationType().parse("30d"), 30 * 86_400_000);
  assert.equal(durationType().fromToml("12h"), 12 * 3_600_000);
  assert.equal(durationType().show(90 * 60_000), "90m");
  assert.equal(fileModeType().parse("600"), 0o600);
  assert.equal(fileModeType().parse("0o640"), 0o640);
  assert.equal(fileModeType().show(0o60), "0060");
  assert.deepEqual(nickListType().parse(" Alice ,bob,, "), ["alice", "bob"]);
  assert.deepEqual(nickListType().fromToml(["Alice"]), ["alice"]);
  assert.throws(() => nickListType().parse("not a nick!"), /must be nicknames/);
  const { settings } = resolveSettings({ flags: { admin: ["alice", "Bob"] } });
  assert.deepEqual(settings.admins, ["alice", "bob"]);
  const redis = SETTINGS.redis.type;
  assert.equal(redis.show("redis://chat:s3cret@db:6379/0"), "redis://chat:***@db:6379/0");
  assert.equal(redis.show("redis://db:6379"), "redis://db:6379");
  assert.equal(redis.parse("redis://chat:s3cret@db:6379"), "redis://chat:s3cret@db:6379");
  assert.equal(redis.parse("rediss://[::1]:6380/15"), "rediss://[::1]:6380/15");
  assert.equal(redis.parse(""), null);
});

Deno.test("a Redis URL the client could not use is refused when read, its password hidden", () => {
  const cases: [string, RegExp][] = [
    [
      "127.0.0.1:6379",
      /^--redis must be a URL like redis:\/\/127\.0\.0\.1:6379, got "127\.0\.0\.1:6379"$/,
    ],
    [
      "http://db:6379",
      /^--redis must be a redis:\/\/ or rediss:\/\/ \(TLS\) URL .*got "http:\/\/db:6379"$/,
    ],
    ["redis://db:99999", /^--redis must be a URL like .*got "redis:\/\/db:99999"$/],
    ["redis://", /^--redis must name a host/],
    [
      "redis://u:s3cret@db:6379/chat",
      /may end only in a database number.*got "redis:\/\/u:\*\*\*@db:6379\/chat"$/,
    ],
    ["redis://db:6379/99999999999", /may end only in a database number/],
    ["redis://db:6379?db=2", /takes no \?query or #fragment/],
  ];
  for (const [url, expected] of cases) {
    assert.throws(() => resolveSettings({ flags: { redis: url } }), (error: Error) => {
      assert.ok(error instanceof ConfigError, `${error}`);
      assert.match(error.message, expected);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  }
});
