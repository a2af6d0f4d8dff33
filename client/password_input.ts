/**
 * Where `chat join` gets a password from without it ever showing: the
 * `CHAT_PASSWORD` environment variable, the first line of a file, or the
 * terminal with echo off. Standard input is not one of them in piped mode:
 * it carries the commands.
 *
 * @module
 */

/** The environment variable `chat join` reads a password from. */
export const PASSWORD_ENV = "CHAT_PASSWORD";

/** A password that could not be read; the message never holds the password. */
export class PasswordInputError extends Error {
  /** Makes the error; `message` says what went wrong and where, never the password. */
  constructor(message: string) {
    super(message);
    this.name = "PasswordInputError";
  }
}

/**
 * The password in {@linkcode PASSWORD_ENV}, or undefined when it is unset,
 * empty, or the environment cannot be read.
 *
 * @example
 * ```ts ignore
 * import { passwordFromEnv } from "./password_input.ts";
 * const password = passwordFromEnv();
 * ```
 */
export function passwordFromEnv(): string | undefined {
  try {
    const value = Deno.env.get(PASSWORD_ENV);
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined; // no --allow-env
  }
}

/**
 * The first line of the file at `path`, without its line ending. Throws
 * {@linkcode PasswordInputError} when the file cannot be read or that line
 * is empty.
 *
 * @example
 * ```ts ignore
 * import { readPasswordFile } from "./password_input.ts";
 * const password = await readPasswordFile("/run/secrets/chat");
 * ```
 */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new PasswordInputError(`cannot read the password file ${path}: ${reason}`);
  }
  const line = text.split("\n", 1)[0]!.replace(/\r$/, "");
  if (line === "") {
    throw new PasswordInputError(`the password file ${path} has an empty first line`);
  }
  return line;
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
}

/** Drops the last UTF-8 character from `bytes` (for backspace). */
function dropLastChar(bytes: number[]): void {
  while (bytes.length > 0 && (bytes[bytes.length - 1]! & 0xc0) === 0x80) bytes.pop();
  bytes.pop();
}

/**
 * Asks for a password on the terminal with echo off: `label` goes to
 * stderr, the answer is read from stdin (which must be a terminal).
 * Resolves to undefined when the user gives up (Ctrl+C, Ctrl+D on an empty
 * line, end of input) or enters nothing.
 *
 * @example
 * ```ts ignore
 * import { promptPassword } from "./password_input.ts";
 * const password = await promptPassword("Password for alice: ");
 * ```
 */
export async function promptPassword(label: string): Promise<string | undefined> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
  // Raw before the label shows, so keys typed right away are never echoed.
  Deno.stdin.setRaw(true);
  try {
    writeStderr(label);
    while (true) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) return undefined;
      for (const byte of buffer.subarray(0, count)) {
        if (byte === 0x0d || byte === 0x0a) {
          return bytes.length === 0 ? undefined : new TextDecoder().decode(new Uint8Array(bytes));
        }
        // Raw mode turns off the terminal's own handling of these keys.
        if (byte === 0x03) return undefined; // Ctrl+C
        if (byte === 0x04 && bytes.length === 0) return undefined; // Ctrl+D
        if (byte === 0x7f || byte === 0x08) dropLastChar(bytes);
        else if (byte === 0x15) bytes.length = 0; // Ctrl+U
        else if (byte >= 0x20 || byte === 0x09) bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    writeStderr("\n");
  }
}
