/**
 * Signatures of webhook deliveries: `X-Chat-Signature: t=TS,v1=HEX`, where
 * TS is the delivery's time in Unix seconds and HEX the lower-case hex
 * HMAC-SHA256, keyed with the webhook's secret, of `TS.BODY` (the body's
 * exact bytes). Signing the time lets a receiver refuse old replays.
 *
 * @module
 */

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "X-Chat-Signature";

/** How old a signature {@linkcode verifySignature} accepts by default, in seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const encoder = new TextEncoder();

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  return [...mac].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The signature header's value for `body` sent at `seconds` (Unix time).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signPayload, verifySignature } from "./webhook_signature.ts";
 * const header = await signPayload("whsec_test", { seconds: 1700000000, body: "{}" });
 * assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
 * assert.equal(
 *   await verifySignature("whsec_test", { header, body: "{}", nowSeconds: 1700000010 }),
 *   true,
 * );
 * ```
 */
export async function signPayload(
  secret: string,
  payload: { seconds: number; body: string },
): Promise<string> {
  return `t=${payload.seconds},v1=${await hmacHex(secret, `${payload.seconds}.${payload.body}`)}`;
}

/**
 * Whether `header` signs `body` with `secret`, at most `toleranceSeconds`
 * from `nowSeconds` (a receiver's check; the server uses it in tests).
 * Compares in constant time.
 */
export async function verifySignature(
  secret: string,
  check: { header: string | null; body: string; nowSeconds: number; toleranceSeconds?: number },
): Promise<boolean> {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(check.header ?? "");
  if (match === null) return false;
  const seconds = Number(match[1]);
  const tolerance = check.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(check.nowSeconds - seconds) > tolerance) return false;
  const expected = await hmacHex(secret, `${seconds}.${check.body}`);
  let difference = 0;
  for (let i = 0; i < expected.length; i++) {
    difference |= expected.charCodeAt(i) ^ match[2]!.charCodeAt(i);
  }
  return difference === 0;
}
