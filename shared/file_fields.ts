/**
 * The fields of file sharing (docs/protocol.md, section 23) that the wire
 * checks: a file's name as shown and saved, its media type, its id, and a
 * content hash.
 *
 * @module
 */
import { ChatError } from "./errors.ts";

/** Longest file name, in code points. */
export const MAX_FILE_NAME_LENGTH = 255;

/** The media type of a file that named none. */
export const DEFAULT_FILE_TYPE = "application/octet-stream";

/** A media type as the server keeps it: `type/subtype`, lower case, no parameters. */
export const FILE_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/;

/** Ids of files and of uploads in progress: base64url, as the server makes them. */
export const FILE_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** A SHA-256 in lower-case hex. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

// Control characters, bidi controls and separators that would turn a name
// into a path or hide part of it.
const BAD_NAME_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}/\\]/u;

/**
 * A file name normalized (NFC, trimmed): 1 to {@linkcode MAX_FILE_NAME_LENGTH}
 * code points, no control or format characters, no `/` or `\`, not `.` or
 * `..`; throws `bad_request` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateFileName } from "./file_fields.ts";
 * assert.equal(validateFileName(" report.pdf "), "report.pdf");
 * assert.throws(() => validateFileName("../etc/passwd"), { code: "bad_request" });
 * ```
 */
export function validateFileName(value: string): string {
  const name = value.normalize("NFC").trim();
  const length = [...name].length;
  if (length === 0 || length > MAX_FILE_NAME_LENGTH) {
    throw new ChatError(
      "bad_request",
      `A file name must be 1 to ${MAX_FILE_NAME_LENGTH} characters, got ${length}`,
    );
  }
  if (BAD_NAME_CHARACTER.test(name) || name === "." || name === "..") {
    throw new ChatError(
      "bad_request",
      `Invalid file name ${
        JSON.stringify(name.slice(0, 64))
      }: no slashes, control or format characters`,
    );
  }
  return name;
}

/**
 * A media type lower-cased and stripped of parameters (`text/plain;
 * charset=utf-8` is `text/plain`); throws `bad_request` when it is not
 * `type/subtype`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateFileType } from "./file_fields.ts";
 * assert.equal(validateFileType("Text/Plain; charset=utf-8"), "text/plain");
 * ```
 */
export function validateFileType(value: string): string {
  const type = value.split(";", 1)[0]!.trim().toLowerCase();
  if (!FILE_TYPE.test(type)) {
    throw new ChatError(
      "bad_request",
      `Invalid media type ${JSON.stringify(value.slice(0, 64))}: expected type/subtype`,
    );
  }
  return type;
}

/**
 * A size for people: bytes below 1 kB, then kB, MB, GB (powers of 1,000, one decimal).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFileSize } from "./file_fields.ts";
 * assert.equal(formatFileSize(1_234_567), "1.2 MB");
 * assert.equal(formatFileSize(999), "999 B");
 * ```
 */
export function formatFileSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * How a file message reads as text: `[file] report.pdf (1.2 MB, application/pdf) id ID`
 * (not sanitized: the caller makes it safe for its terminal).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeFile } from "./file_fields.ts";
 * const file = { id: "abc", name: "r.pdf", size: 1_200_000, type: "application/pdf" };
 * assert.equal(describeFile(file), "[file] r.pdf (1.2 MB, application/pdf) id abc");
 * ```
 */
export function describeFile(
  file: { id: string; name: string; size: number; type: string },
): string {
  return `[file] ${file.name} (${formatFileSize(file.size)}, ${file.type}) id ${file.id}`;
}
