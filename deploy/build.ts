/**
 * `deno task compile`: builds the standalone `chat` executable for five
 * targets into dist/, with the commit stamped in (`chat --version`), and
 * writes dist/SHA256SUMS (`sha256sum -c SHA256SUMS` checks them).
 *
 * The commit is stamped by rewriting shared/build_info.ts for the duration
 * of the build and restoring it afterwards, so the binaries carry it and
 * the work tree does not change.
 *
 * Usage: deno run --allow-run --allow-read --allow-write --allow-env deploy/build.ts
 *          [--target TARGET]... [--out-dir DIR] [--commit SHA] [--dry-run]
 *
 * @module
 */
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };

/** V8 flags for the server process, the same in `deno task serve`, the Dockerfile and the bench. */
export const SERVER_V8_FLAGS = "--max-semi-space-size=8";

/** The targets `deno compile` builds for a release. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The permissions baked into the binaries: what `chat serve`, `join`, `user` and `config` use. */
export const PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

const ROOT = new URL("..", import.meta.url);
const BUILD_INFO = new URL("shared/build_info.ts", ROOT);

/**
 * The executable's file name for `target`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outputName } from "./build.ts";
 * assert.equal(outputName("x86_64-pc-windows-msvc", "0.1.0"), "chat-0.1.0-x86_64-pc-windows-msvc.exe");
 * ```
 */
export function outputName(target: string, version: string): string {
  return `chat-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The `deno compile` arguments for one target.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileArgs } from "./build.ts";
 * const args = compileArgs("aarch64-apple-darwin", { outDir: "dist", version: "0.1.0" });
 * assert.deepEqual(args.slice(-5), [
 *   "--target",
 *   "aarch64-apple-darwin",
 *   "--output",
 *   "dist/chat-0.1.0-aarch64-apple-darwin",
 *   "main.ts",
 * ]);
 * ```
 */
export function compileArgs(
  target: string,
  options: { outDir: string; version: string },
): string[] {
  return [
    "compile",
    ...PERMISSIONS,
    // deno.json asks for it too; explicit here so the binary cannot miss UDP discovery.
    "--unstable-net",
    // Baked into the binary: a smaller young generation keeps idle connections cheap
    // (docs/performance.md).
    `--v8-flags=${SERVER_V8_FLAGS}`,
    "--target",
    target,
    "--output",
    `${options.outDir}/${outputName(target, options.version)}`,
    "main.ts",
  ];
}

/**
 * The text of shared/build_info.ts for a build of `commit`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderBuildInfo } from "./build.ts";
 * assert.equal(renderBuildInfo("0123456789ab").includes('"0123456789ab"'), true);
 * ```
 */
export function renderBuildInfo(commit: string): string {
  if (!/^[0-9a-zA-Z._-]{1,64}$/.test(commit)) {
    throw new RangeError(`Cannot stamp commit "${commit}": expected a short hash or tag`);
  }
  return `/**
 * Facts about this build, written by deploy/build.ts for a release build.
 *
 * @module
 */

/** The commit the build came from, or "dev" when run from source. */
export const BUILD_COMMIT: string = ${JSON.stringify(commit)};
`;
}

/**
 * A `sha256sum`-style line for a file: the hex digest, two spaces, the name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checksumLine } from "./build.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/chat-0.1.0-x86_64-unknown-linux-gnu`, "hi");
 * assert.equal(
 *   await checksumLine(`${dir}/chat-0.1.0-x86_64-unknown-linux-gnu`),
 *   "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4  chat-0.1.0-x86_64-unknown-linux-gnu",
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checksumLine(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex}  ${path.slice(path.lastIndexOf("/") + 1)}`;
}

async function git(args: string[]): Promise<string> {
  const { code, stdout } = await new Deno.Command("git", { args, cwd: ROOT, stderr: "null" })
    .output();
  if (code !== 0) throw new Error(`git ${args.join(" ")} failed`);
  return new TextDecoder().decode(stdout).trim();
}

async function currentCommit(): Promise<string> {
  try {
    const commit = (await git(["rev-parse", "HEAD"])).slice(0, 12);
    const dirty = (await git(["status", "--porcelain", "--untracked-files=no"])) !== "";
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return "unknown";
  }
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", multiple: true },
      "out-dir": { type: "string" },
      commit: { type: "string" },
      "dry-run": { type: "boolean" },
    },
    strict: true,
  });
  const targets = values.target ?? [...TARGETS];
  for (const target of targets) {
    if (!(TARGETS as readonly string[]).includes(target)) {
      console.error(`build: unknown target ${target}; one of ${TARGETS.join(", ")}`);
      return 2;
    }
  }
  const outDir = values["out-dir"] ?? "dist";
  const version = denoJson.version;
  const commit = values.commit ?? await currentCommit();
  const stamp = renderBuildInfo(commit);
  console.log(`chat ${version} (${commit}): ${targets.length} target(s) into ${outDir}/`);
  if (values["dry-run"]) {
    for (const target of targets) {
      console.log(`deno ${compileArgs(target, { outDir, version }).join(" ")}`);
    }
    return 0;
  }
  await Deno.mkdir(new URL(`${outDir}/`, ROOT), { recursive: true });
  const original = await Deno.readTextFile(BUILD_INFO);
  const built: string[] = [];
  try {
    await Deno.writeTextFile(BUILD_INFO, stamp);
    for (const target of targets) {
      const { code } = await new Deno.Command(Deno.execPath(), {
        args: compileArgs(target, { outDir, version }),
        cwd: ROOT,
      }).spawn().status;
      if (code !== 0) {
        console.error(`build: deno compile for ${target} failed (exit ${code})`);
        return 1;
      }
      built.push(`${new URL(outDir, ROOT).pathname}/${outputName(target, version)}`);
    }
  } finally {
    await Deno.writeTextFile(BUILD_INFO, original);
  }
  const sums = await Promise.all(built.map(checksumLine));
  await Deno.writeTextFile(new URL(`${outDir}/SHA256SUMS`, ROOT), sums.join("\n") + "\n");
  console.log(sums.join("\n"));
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
