/**
 * Password hashing with scrypt, a memory-hard KDF, in a self-describing form
 * that records the parameters of each hash so they can be raised later:
 *
 * ```text
 * $scrypt$ln=17,r=8,p=1$<salt, base64>$<key, base64>
 * ```
 *
 * Hashing uses node:crypto's callback `scrypt`, which runs on a worker
 * thread, so the event loop keeps serving chat traffic meanwhile.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** The cost parameters of scrypt. */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/**
 * OWASP's recommended scrypt parameters: N=2^17, r=8, p=1 (128 MiB and about
 * a third of a second per hash on a current core).
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 17, r: 8, p: 1 });

/** Bytes of random salt per hash. */
export const SALT_BYTES = 16;
/** Bytes of derived key per hash. */
export const KEY_BYTES = 32;

// Bounds on what a stored hash may ask for, so a corrupt or hostile record
// cannot make a login allocate gigabytes or spin for minutes.
const MAX_LN = 24;
const MAX_R = 64;
const MAX_P = 16;
const MAX_MEMORY_BYTES = 2 * 1024 ** 3;

const ENCODED =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** A parsed {@linkcode hashPassword} result. */
export interface ParsedPasswordHash {
  params: ScryptParams;
  salt: Uint8Array;
  key: Uint8Array;
}

function memoryBytes(params: ScryptParams): number {
  return 128 * 2 ** params.ln * params.r * params.p;
}

function checkParams(params: ScryptParams): void {
  const { ln, r, p } = params;
  const ok = Number.isInteger(ln) && Number.isInteger(r) && Number.isInteger(p) &&
    ln >= 1 && ln <= MAX_LN && r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P &&
    memoryBytes(params) <= MAX_MEMORY_BYTES;
  if (!ok) {
    throw new RangeError(
      `Invalid scrypt parameters ln=${ln},r=${r},p=${p}: need 1 <= ln <= ${MAX_LN}, ` +
        `1 <= r <= ${MAX_R}, 1 <= p <= ${MAX_P} and at most ${MAX_MEMORY_BYTES} bytes`,
    );
  }
}

/** Base64 without padding, as in the PHC string format. */
function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

function fromBase64(text: string, what: string): Uint8Array {
  const bytes = Buffer.from(text, "base64");
  // Node's decoder skips junk silently; insist on the canonical encoding.
  if (toBase64(bytes) !== text) throw new SyntaxError(`Malformed password hash: bad ${what}`);
  return new Uint8Array(bytes);
}

function derive(password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  const N = 2 ** params.ln;
  // Node refuses anything above maxmem (default 32 MiB); scrypt needs
  // 128*N*r*p bytes plus a little bookkeeping.
  const maxmem = memoryBytes(params) + 1024 * 1024;
  // NFC so the same password typed on different systems hashes the same.
  const secret = Buffer.from(password.normalize("NFC"), "utf8");
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_BYTES, { N, r: params.r, p: params.p, maxmem }, (error, key) => {
      if (error) reject(error);
      else resolve(new Uint8Array(key));
    });
  });
}

/**
 * Parses an encoded hash, checking its syntax and parameter bounds.
 * Throws a `SyntaxError` or `RangeError` on a malformed one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPassword, parsePasswordHash } from "./password_hash.ts";
 * const encoded = await hashPassword("hunter22", { ln: 10, r: 8, p: 1 });
 * assert.deepEqual(parsePasswordHash(encoded).params, { ln: 10, r: 8, p: 1 });
 * ```
 */
export function parsePasswordHash(encoded: string): ParsedPasswordHash {
  const match = typeof encoded === "string" ? ENCODED.exec(encoded) : null;
  if (match === null) {
    throw new SyntaxError("Malformed password hash: not $scrypt$ln=,r=,p=$salt$key");
  }
  const [, ln, r, p, salt, key] = match;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  checkParams(params);
  const parsed = { params, salt: fromBase64(salt!, "salt"), key: fromBase64(key!, "key") };
  if (parsed.salt.length < 8) throw new SyntaxError("Malformed password hash: salt too short");
  if (parsed.key.length < 16) throw new SyntaxError("Malformed password hash: key too short");
  return parsed;
}

/**
 * Hashes `password` with a fresh random salt and returns the encoded form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPassword } from "./password_hash.ts";
 * const encoded = await hashPassword("hunter22", { ln: 10, r: 8, p: 1 });
 * assert.equal(encoded.startsWith("$scrypt$ln=10,r=8,p=1$"), true);
 * ```
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  checkParams(params);
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const key = await derive(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${toBase64(salt)}$${toBase64(key)}`;
}

/**
 * Whether `password` matches the encoded hash, compared in constant time.
 * Rejects with a `SyntaxError` or `RangeError` when `encoded` is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPassword, verifyPassword } from "./password_hash.ts";
 * const encoded = await hashPassword("hunter22", { ln: 10, r: 8, p: 1 });
 * assert.equal(await verifyPassword("hunter22", encoded), true);
 * assert.equal(await verifyPassword("hunter23", encoded), false);
 * ```
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const { params, salt, key } = parsePasswordHash(encoded);
  const derived = await derive(password, salt, params);
  // Keys are KEY_BYTES long; a stored key of another length never matches,
  // and timingSafeEqual needs equal lengths.
  return derived.length === key.length && timingSafeEqual(derived, key);
}

/**
 * Whether a stored hash is weaker than `params` (less memory, less work, or
 * a shorter salt or key) or unreadable, so it should be recomputed at the
 * next successful login.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPassword, needsRehash } from "./password_hash.ts";
 * const encoded = await hashPassword("hunter22", { ln: 10, r: 8, p: 1 });
 * assert.equal(needsRehash(encoded, { ln: 12, r: 8, p: 1 }), true);
 * assert.equal(needsRehash(encoded, { ln: 10, r: 8, p: 1 }), false);
 * ```
 */
export function needsRehash(
  encoded: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): boolean {
  let parsed: ParsedPasswordHash;
  try {
    parsed = parsePasswordHash(encoded);
  } catch {
    return true;
  }
  const stored = parsed.params;
  // Compare what an attacker pays (memory N*r and work N*r*p) rather than
  // each number, so an equivalent trade-off is not rehashed back and forth.
  const memory = (x: ScryptParams) => 2 ** x.ln * x.r;
  return memory(stored) < memory(params) ||
    memory(stored) * stored.p < memory(params) * params.p ||
    parsed.salt.length < SALT_BYTES || parsed.key.length < KEY_BYTES;
}
