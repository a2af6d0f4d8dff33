// deno-lint-ignore-file no-control-regex -- refusing control characters is this module's job
/**
 * What a new password must be. Messages never include the password.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";

/** Default shortest password, in characters. */
export const DEFAULT_MIN_PASSWORD_LENGTH = 8;
/** Longest password, in characters: bounds the work of hashing one. */
export const MAX_PASSWORD_LENGTH = 1024;

const CONTROL = /[\u0000-\u001F\u007F-\u009F]/u;

/**
 * Checks a new password: between `minLength` and
 * {@linkcode MAX_PASSWORD_LENGTH} characters (code points), and no control
 * characters (they cannot be typed reliably and hint at a pasting mistake).
 * Throws `ChatError("invalid_password")` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validatePassword } from "./password_policy.ts";
 * validatePassword("correct horse battery staple"); // fine
 * assert.throws(() => validatePassword("short"), {
 *   code: "invalid_password",
 *   message: "Password too short: use at least 8 characters",
 * });
 * ```
 */
export function validatePassword(
  password: unknown,
  options: { minLength?: number } = {},
): string {
  const minLength = options.minLength ?? DEFAULT_MIN_PASSWORD_LENGTH;
  if (typeof password !== "string") {
    throw new ChatError("invalid_password", "Invalid password: not a string");
  }
  // Cheap bound first so a huge string is refused without walking it.
  const size = password.length > MAX_PASSWORD_LENGTH * 2 ? Infinity : [...password].length;
  if (size < minLength) {
    throw new ChatError(
      "invalid_password",
      `Password too short: use at least ${minLength} characters`,
    );
  }
  if (size > MAX_PASSWORD_LENGTH) {
    throw new ChatError(
      "invalid_password",
      `Password too long: use at most ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
  if (CONTROL.test(password)) {
    throw new ChatError("invalid_password", "Invalid password: contains a control character");
  }
  return password;
}
