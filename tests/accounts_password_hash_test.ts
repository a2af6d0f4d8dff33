import assert from "node:assert/strict";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  KEY_BYTES,
  needsRehash,
  parsePasswordHash,
  SALT_BYTES,
  type ScryptParams,
  verifyPassword,
} from "../server/accounts/password_hash.ts";

// Tiny cost so the suite stays fast; the format and logic are the same.
const FAST: ScryptParams = { ln: 10, r: 8, p: 1 };

Deno.test("defaults are OWASP's scrypt parameters", () => {
  assert.deepEqual({ ...DEFAULT_SCRYPT_PARAMS }, { ln: 17, r: 8, p: 1 });
  assert.equal(SALT_BYTES, 16);
  assert.equal(KEY_BYTES, 32);
});

Deno.test("a hash verifies its password and no other", async () => {
  const encoded = await hashPassword("correct horse battery staple", FAST);
  assert.equal(await verifyPassword("correct horse battery staple", encoded), true);
  assert.equal(await verifyPassword("correct horse battery stapl", encoded), false);
  assert.equal(await verifyPassword("Correct horse battery staple", encoded), false);
  assert.equal(await verifyPassword("", encoded), false);
});

Deno.test("unicode passwords verify whichever normalization they are typed in", async () => {
  const encoded = await hashPassword("caf\u00e9 ünïcödé 🔑", FAST);
  assert.equal(await verifyPassword("cafe\u0301 ünïcödé 🔑", encoded), true);
  assert.equal(await verifyPassword("cafe ünïcödé 🔑", encoded), false);
});

Deno.test("the encoded form records algorithm, parameters, 16-byte salt and 32-byte key", async () => {
  const encoded = await hashPassword("hunter22", { ln: 11, r: 4, p: 2 });
  assert.match(encoded, /^\$scrypt\$ln=11,r=4,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const parsed = parsePasswordHash(encoded);
  assert.deepEqual(parsed.params, { ln: 11, r: 4, p: 2 });
  assert.equal(parsed.salt.length, 16);
  assert.equal(parsed.key.length, 32);
  // Verification uses the stored parameters, not any current default.
  assert.equal(await verifyPassword("hunter22", encoded), true);
});

Deno.test("the same password hashes differently each time (random salt)", async () => {
  const a = await hashPassword("same password", FAST);
  const b = await hashPassword("same password", FAST);
  assert.notEqual(a, b);
  assert.notDeepEqual(parsePasswordHash(a).salt, parsePasswordHash(b).salt);
  assert.equal(await verifyPassword("same password", a), true);
  assert.equal(await verifyPassword("same password", b), true);
});

Deno.test("verifies the RFC 7914 scrypt test vector (N=16384, r=8, p=1)", async () => {
  // RFC 7914 section 12: scrypt("pleaseletmein", "SodiumChloride"); the first
  // 32 bytes of its 64-byte output are the 32-byte key (PBKDF2 blocks are independent).
  const hex = "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2";
  const key = Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
  const salt = new TextEncoder().encode("SodiumChloride");
  const encoded = `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(key)}`;
  assert.equal(await verifyPassword("pleaseletmein", encoded), true);
  assert.equal(await verifyPassword("pleaseletmeout", encoded), false);
});

Deno.test("malformed hashes are rejected, not treated as a match", async () => {
  const good = await hashPassword("hunter22", FAST);
  const [, , params, salt, key] = good.split("$");
  const bad = [
    "",
    "hunter22",
    "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
    `$scrypt$${params}$${salt}`,
    `$scrypt$${params}$${salt}$${key}$extra`,
    `$scrypt$ln=10,r=8$${salt}$${key}`,
    `$scrypt$ln=0,r=8,p=1$${salt}$${key}`,
    `$scrypt$ln=99,r=8,p=1$${salt}$${key}`,
    `$scrypt$ln=24,r=64,p=16$${salt}$${key}`, // far too much memory
    `$scrypt$ln=10,r=0,p=1$${salt}$${key}`,
    `$scrypt$${params}$${salt}=$${key}`, // padding is not canonical
    `$scrypt$${params}$${salt}$${key}==`,
    `$scrypt$${params}$${salt}$${key!.slice(0, 11)}`, // key too short
    `$scrypt$${params}$AAAA$${key}`, // salt too short
    `$scrypt$${params}$${salt}$${key!.slice(0, -1)}!`,
    `$SCRYPT$${params}$${salt}$${key}`,
    ` ${good}`,
    `${good}\n`,
  ];
  for (const encoded of bad) {
    assert.throws(
      () => parsePasswordHash(encoded),
      /Malformed password hash|Invalid scrypt/,
      encoded,
    );
    await assert.rejects(verifyPassword("hunter22", encoded), /Malformed|Invalid scrypt/, encoded);
    assert.equal(needsRehash(encoded, FAST), true, encoded);
  }
});

Deno.test("bad parameters are refused when hashing", async () => {
  for (const params of [{ ln: 0, r: 8, p: 1 }, { ln: 10, r: 1.5, p: 1 }, { ln: 10, r: 8, p: 0 }]) {
    await assert.rejects(hashPassword("hunter22", params), RangeError);
  }
});

Deno.test("needsRehash: true only when the stored hash is weaker than the current parameters", async () => {
  const ln10 = await hashPassword("hunter22", FAST);
  assert.equal(needsRehash(ln10, FAST), false);
  assert.equal(needsRehash(ln10, { ln: 12, r: 8, p: 1 }), true); // more memory and work
  assert.equal(needsRehash(ln10, { ln: 10, r: 16, p: 1 }), true); // more memory
  assert.equal(needsRehash(ln10, { ln: 10, r: 8, p: 2 }), true); // more work
  assert.equal(needsRehash(ln10, { ln: 9, r: 8, p: 1 }), false); // stored is stronger
  // An equivalent trade-off (same memory and work) is left alone.
  assert.equal(needsRehash(ln10, { ln: 11, r: 4, p: 1 }), false);
  assert.equal(needsRehash(ln10), true); // against the defaults
});

Deno.test("scrypt runs off the main thread: timers fire while a hash is computed", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await hashPassword("hunter22", { ln: 15, r: 8, p: 1 });
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, "the event loop was blocked during hashing");
});
