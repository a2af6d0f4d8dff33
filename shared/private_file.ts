/**
 * Files only their owner may read: the database, its lock and the logs
 * hold accounts, messages and addresses.
 *
 * @module
 */

/**
 * Creates `path` empty with mode 0600 unless it exists (an existing file
 * keeps its mode). Returns whether it was created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPrivateFile } from "./private_file.ts";
 * const dir = Deno.makeTempDirSync();
 * assert.equal(createPrivateFile(`${dir}/chat.log`), true);
 * assert.equal(createPrivateFile(`${dir}/chat.log`), false);
 * assert.equal((Deno.statSync(`${dir}/chat.log`).mode! & 0o777).toString(8), "600");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function createPrivateFile(path: string): boolean {
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o600 }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}
