/**
 * Which characters may make a name, after Unicode Technical Standard #39:
 * only code points whose Identifier_Status is Allowed (section 3.1: no
 * invisible fillers such as U+3164, no historic or limited-use scripts), and
 * no mixing of scripts beyond the "Highly Restrictive" level of section 5.2
 * (one script, or Latin with Han and the Japanese kana, with Han and
 * Bopomofo, or with Han and Hangul; Common and Inherited go with any).
 * Script_Extensions come from the JavaScript engine's own Unicode tables.
 *
 * @module
 */
import { IDENTIFIER_ALLOWED } from "./tr39_data.ts";

let allowed: Uint32Array | undefined;

// Pairs [first, last] of Allowed ranges, sorted; parsed on first use.
function allowedRanges(): Uint32Array {
  if (allowed !== undefined) return allowed;
  const entries = IDENTIFIER_ALLOWED.split(";");
  allowed = new Uint32Array(entries.length * 2);
  entries.forEach((entry, index) => {
    const [first, last = first] = entry.split("-");
    allowed![index * 2] = parseInt(first!, 16);
    allowed![index * 2 + 1] = parseInt(last!, 16);
  });
  return allowed;
}

/**
 * Whether `codePoint` has Identifier_Status Allowed in UTS #39.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isIdentifierAllowed } from "./identifier_profile.ts";
 * assert.deepEqual([isIdentifierAllowed(0x61), isIdentifierAllowed(0x3164)], [true, false]);
 * ```
 */
export function isIdentifierAllowed(codePoint: number): boolean {
  const ranges = allowedRanges();
  let low = 0;
  let high = ranges.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (codePoint < ranges[middle * 2]!) high = middle - 1;
    else if (codePoint > ranges[middle * 2 + 1]!) low = middle + 1;
    else return true;
  }
  return false;
}

// The scripts of characters that can be Allowed (UAX #31, table 5, less
// Common and Inherited), and TR39's sets for writing systems of several.
const SCRIPTS = [
  "Latin",
  "Arabic",
  "Armenian",
  "Bengali",
  "Bopomofo",
  "Cyrillic",
  "Devanagari",
  "Ethiopic",
  "Georgian",
  "Greek",
  "Gujarati",
  "Gurmukhi",
  "Han",
  "Hangul",
  "Hebrew",
  "Hiragana",
  "Kannada",
  "Katakana",
  "Khmer",
  "Lao",
  "Malayalam",
  "Myanmar",
  "Oriya",
  "Sinhala",
  "Tamil",
  "Telugu",
  "Thaana",
  "Thai",
  "Tibetan",
] as const;
const SCRIPT_PATTERNS = SCRIPTS.map((name) => new RegExp(`\\p{Script_Extensions=${name}}`, "u"));
const ANY_SCRIPT = /[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]/u;
const JAPANESE = "Han+Hiragana+Katakana";
const KOREAN = "Han+Hangul";
const CHINESE = "Han+Bopomofo";

/** The augmented script set of one character (TR39 5.1); undefined for Common or Inherited: all. */
function scriptsOf(char: string): Set<string> | undefined {
  if (ANY_SCRIPT.test(char)) return undefined;
  const scripts = new Set<string>();
  SCRIPTS.forEach((name, index) => {
    if (SCRIPT_PATTERNS[index]!.test(char)) scripts.add(name);
  });
  if (scripts.has("Han") || scripts.has("Hiragana") || scripts.has("Katakana")) {
    scripts.add(JAPANESE);
  }
  if (scripts.has("Han") || scripts.has("Hangul")) scripts.add(KOREAN);
  if (scripts.has("Han") || scripts.has("Bopomofo")) scripts.add(CHINESE);
  return scripts;
}

/** The intersection of the augmented script sets; undefined when every character goes with any. */
function resolve(sets: Array<Set<string>>): Set<string> | undefined {
  let resolved: Set<string> | undefined;
  for (const set of sets) {
    resolved = resolved === undefined ? new Set(set) : resolved.intersection(set);
  }
  return resolved;
}

/**
 * The scripts `text` mixes beyond TR39's Highly Restrictive level, for an
 * error message (e.g. `["Cyrillic", "Latin"]`), or undefined when it stays
 * within it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mixedScripts } from "./identifier_profile.ts";
 * assert.deepEqual([mixedScripts("alice"), mixedScripts("東京tokyo")], [undefined, undefined]);
 * assert.deepEqual(mixedScripts("\u0430lice"), ["Cyrillic", "Latin"]);
 * ```
 */
export function mixedScripts(text: string): string[] | undefined {
  const sets: Array<Set<string>> = [];
  for (const char of text) {
    const scripts = scriptsOf(char);
    if (scripts !== undefined) sets.push(scripts);
  }
  const resolved = resolve(sets);
  if (resolved === undefined || resolved.size > 0) return undefined;
  // Latin may join Japanese, Chinese or Korean: resolve what is not Latin.
  const withoutLatin = resolve(sets.filter((set) => !set.has("Latin")));
  if (
    withoutLatin === undefined || withoutLatin.has(JAPANESE) || withoutLatin.has(KOREAN) ||
    withoutLatin.has(CHINESE)
  ) {
    return undefined;
  }
  const named = new Set<string>();
  for (const set of sets) {
    const first = SCRIPTS.find((name) => set.has(name));
    if (first !== undefined) named.add(first);
  }
  return [...named].sort();
}
