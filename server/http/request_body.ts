/**
 * Reading request bodies within a byte cap, so a client cannot make the
 * server buffer more than `--http-max-body-bytes` for one request.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { HttpError } from "./http_error.ts";
import { concatBytes } from "../../shared/bytes.ts";
import { invalidUtf8Error, invalidUtf8Offset, loneSurrogate } from "../../shared/utf8.ts";

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    "payload_too_large",
    413,
    `Request body exceeds limit ${maxBytes} bytes`,
  );
}

/**
 * The body's bytes, refusing (413) a declared or actual size over
 * `maxBytes` without reading past it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBody } from "./request_body.ts";
 * const request = new Request("http://x/", { method: "POST", body: "hello" });
 * assert.equal((await readBody(request, { maxBytes: 1024 })).length, 5);
 * ```
 */
export async function readBody(
  request: Request,
  options: { maxBytes: number },
): Promise<Uint8Array> {
  const { maxBytes } = options;
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } finally {
    // Stop reading a body that is too large; the connection may be reused or closed.
    reader.cancel().catch(() => {});
  }
  return concatBytes(chunks, size);
}

/**
 * The body as a JSON object: `application/json` (415 otherwise), within
 * `maxBytes` (413), UTF-8 with no lone surrogate in any string (400
 * `invalid_utf8` otherwise), an object (400 `bad_request` otherwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJsonObject } from "./request_body.ts";
 * const request = new Request("http://x/", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: '{"body":"hi"}',
 * });
 * assert.deepEqual(await readJsonObject(request, { maxBytes: 1024 }), { body: "hi" });
 * ```
 */
export async function readJsonObject(
  request: Request,
  options: { maxBytes: number },
): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpError(
      "unsupported_media_type",
      415,
      `Send the body as application/json, not ${type === "" ? "nothing" : type}`,
    );
  }
  const bytes = await readBody(request, options);
  const bad = invalidUtf8Offset(bytes);
  if (bad !== -1) throw invalidUtf8Error("The request body", bytes, bad);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ChatError("bad_request", "The request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ChatError("bad_request", "The request body must be a JSON object");
  }
  checkWellFormed(value);
  return value as Record<string, unknown>;
}

/**
 * Throws `invalid_utf8` when a string of `value` (a key or a value, at any
 * depth) holds a lone surrogate: valid JSON (`"\ud800"`), but no Unicode
 * text, and UTF-8 cannot carry it on to anyone.
 */
function checkWellFormed(value: unknown): void {
  // Iterative: JSON.parse already bounds the depth, but a stack costs nothing.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === "string") {
      const surrogate = loneSurrogate(item);
      if (surrogate !== undefined) {
        throw new ChatError(
          "invalid_utf8",
          `The request body holds a string with the lone surrogate ${surrogate}, which is not Unicode text`,
        );
      }
    } else if (item !== null && typeof item === "object") {
      for (const [key, child] of Object.entries(item)) stack.push(key, child);
    }
  }
}
