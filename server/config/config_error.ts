/**
 * The error for a bad setting.
 *
 * @module
 */
import { UsageError } from "../../shared/cli.ts";

/**
 * A bad setting in a flag, an environment variable or the config file:
 * printed as one line naming where it came from, exit code 2 (it is a
 * {@linkcode UsageError}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "../../shared/cli.ts";
 * import { ConfigError } from "./config_error.ts";
 * const error = new ConfigError("CHAT_PORT must be between 0 and 65535, got 99999");
 * assert.ok(error instanceof UsageError);
 * assert.equal(error.message, "CHAT_PORT must be between 0 and 65535, got 99999");
 * ```
 */
export class ConfigError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
