/**
 * What a failed commit or Redis call means to the client: a `storage`
 * error, with a retry hint when the store is only busy.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { StoreBusyError } from "../store/group_commit.ts";

/**
 * `error` as the {@linkcode ChatError} a request fails with: coded errors
 * pass through; a busy store asks to retry shortly; anything else says
 * nothing was sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storageError } from "./storage_error.ts";
 * const error = storageError(new Error("disk full"));
 * assert.equal(error.code, "storage");
 * ```
 */
export function storageError(error: unknown): ChatError {
  if (error instanceof ChatError) return error;
  if (error instanceof StoreBusyError) {
    return new ChatError("storage", `${error.message}; try again shortly`, {
      retryAfterMs: 100,
      cause: error,
    });
  }
  return new ChatError("storage", "Could not save: the store failed; nothing was sent", {
    cause: error,
  });
}

/** `promise`, its rejection turned into a {@linkcode storageError}. */
export async function orStorageError<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw storageError(error);
  }
}
