/**
 * Reading request bodies within a byte cap, so a client cannot make the
 * server buffer more than `--http-max-body-bytes` for one request.
 *
 * @module
 */
import { ChatError } from "../../shared/errors.ts";
import { HttpError } from "./http_error.ts";
import { concatBytes } from "../../shared/bytes.ts";

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
 * import { readBody } from "./request_body.ts";
 * const request = new Request("http://x/", { method: "POST", body: "hello" });
 * console.log((await readBody(request, { maxBytes: 1024 })).length); // 5
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
 * `maxBytes` (413), an object (400 `bad_request` otherwise).
 *
 * @example
 * ```ts
 * import { readJsonObject } from "./request_body.ts";
 * const request = new Request("http://x/", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: '{"body":"hi"}',
 * });
 * console.log(await readJsonObject(request, { maxBytes: 1024 })); // { body: "hi" }
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
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ChatError("bad_request", "The request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ChatError("bad_request", "The request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}
