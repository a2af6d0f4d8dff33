import assert from "node:assert/strict";
import {
  checksumLine,
  compileArgs,
  outputName,
  PERMISSIONS,
  renderBuildInfo,
  SERVER_V8_FLAGS,
  TARGETS,
} from "../deploy/build.ts";
import denoJson from "../deno.json" with { type: "json" };

const ROOT = new URL("..", import.meta.url).pathname;

async function run(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("deno install -g --root DIR makes a chat command that runs from anywhere", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-install-" });
  try {
    // The command docs/operations.md gives, with --root for the test.
    const install = await run(Deno.execPath(), [
      "install",
      "-g",
      "--root",
      root,
      "-n",
      "chat",
      ...PERMISSIONS,
      "--config",
      "deno.json",
      "main.ts",
    ]);
    assert.equal(install.code, 0, install.stderr);
    const version = await run(`${root}/bin/chat`, ["--version"], { cwd: root });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), `chat ${denoJson.version} (dev)`);
    const init = await run(`${root}/bin/chat`, ["config", "init", "-"], { cwd: root });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /^#discovery = true$/m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task compile --dry-run: five targets, permissions and unstable net, versioned names in dist/", async () => {
  const { code, stdout, stderr } = await run(Deno.execPath(), ["task", "compile", "--dry-run"]);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.match(lines[0]!, new RegExp(`^chat ${denoJson.version} \\([0-9a-z-]+\\): 5 target`));
  const commands = lines.slice(1);
  assert.equal(commands.length, TARGETS.length);
  for (const [i, target] of TARGETS.entries()) {
    const expected = `deno ${
      compileArgs(target, { outDir: "dist", version: denoJson.version }).join(" ")
    }`;
    assert.equal(commands[i], expected);
    for (
      const flag of [
        ...PERMISSIONS,
        "--unstable-net",
        `--v8-flags=${SERVER_V8_FLAGS}`,
        `--target ${target}`,
      ]
    ) {
      assert.ok(commands[i]!.includes(flag), `${target}: ${flag}`);
    }
    assert.ok(commands[i]!.includes(`--output dist/${outputName(target, denoJson.version)} `));
  }
  assert.equal(outputName(TARGETS[4], "1.2.3"), "chat-1.2.3-x86_64-pc-windows-msvc.exe");
});

Deno.test("the stamped build info is a module exporting the commit; checksums match sha256sum", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-build-" });
  try {
    await Deno.writeTextFile(`${dir}/build_info.ts`, renderBuildInfo("0123456789ab"));
    const module = await import(`file://${dir}/build_info.ts`);
    assert.equal(module.BUILD_COMMIT, "0123456789ab");
    assert.throws(() => renderBuildInfo('x"; evil()'), RangeError);

    await Deno.writeTextFile(`${dir}/chat-test`, "not really a binary\n");
    const ours = await checksumLine(`${dir}/chat-test`);
    const theirs = await run("sha256sum", ["chat-test"], { cwd: dir });
    assert.equal(ours, theirs.stdout.trim());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
