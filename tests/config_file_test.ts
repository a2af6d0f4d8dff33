import assert from "node:assert/strict";
import { parseConfig, renderDefaultConfig } from "../server/config/config_file.ts";
import { resolveSettings } from "../server/config/load_settings.ts";
import { SETTING_KEYS, SETTINGS, tomlKey } from "../server/config/settings.ts";
import { renderConfigurationDoc } from "../server/config/settings_docs.ts";

Deno.test("the default config file parses to nothing set, and uncommented to every default", () => {
  const text = renderDefaultConfig();
  assert.deepEqual(parseConfig(text, { path: "chat.toml" }), {});
  const uncommented = text.replace(/^#([a-z_]+ = )/gm, "$1");
  const table = parseConfig(uncommented, { path: "chat.toml" });
  assert.deepEqual(Object.keys(table), SETTING_KEYS.map((key) => tomlKey(SETTINGS[key])));
  const { settings, sources } = resolveSettings({ file: { path: "chat.toml", table } });
  const defaults = resolveSettings({}).settings;
  assert.deepEqual(settings, defaults);
  assert.ok(Object.values(sources).every((source) => source.kind === "file"));
  for (const line of text.split("\n")) assert.ok(line.length <= 90, line);
});

Deno.test("bad TOML is one line with the file, line and column", () => {
  assert.throws(
    () => parseConfig('port = 7007\nhost = "unterminated\n', { path: "/etc/chat/chat.toml" }),
    (error: Error) => {
      assert.match(error.message, /^\/etc\/chat\/chat\.toml:2:\d+: /);
      assert.ok(!error.message.includes("\n"), error.message);
      return true;
    },
  );
  assert.throws(() => parseConfig("port = 1\nport = 2\n", { path: "c.toml" }), /c\.toml:2:/);
});

Deno.test("docs/configuration.md is generated from the schema and up to date", async () => {
  const formatter = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = formatter.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderConfigurationDoc()));
  await writer.close();
  const expected = new TextDecoder().decode((await formatter.output()).stdout);
  const actual = await Deno.readTextFile(new URL("../docs/configuration.md", import.meta.url));
  assert.ok(
    actual === expected,
    "docs/configuration.md is stale: run `deno task docs:config`",
  );
  for (const key of SETTING_KEYS) {
    assert.ok(actual.includes(`\`${tomlKey(SETTINGS[key])}\``), key);
  }
});
