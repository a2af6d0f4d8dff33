import assert from "node:assert/strict";
import fc from "fast-check";
import { CASE_FOLDING_UNICODE_VERSION, caseFold } from "../shared/case_folding.ts";
import { CASE_FOLDING } from "../shared/case_folding_data.ts";
import {
  encodeFolding,
  parseCaseFolding,
  renderModule,
  UNICODE_VERSION,
} from "../shared/case_folding_generate.ts";
import { nameKey, validateNick } from "../shared/validation.ts";

Deno.test("caseFold is full case folding (C + F), not toLowerCase", () => {
  assert.equal(CASE_FOLDING_UNICODE_VERSION, "17.0.0");
  assert.equal(caseFold("straße"), "strasse");
  assert.equal(caseFold("STRASSE"), "strasse");
  assert.equal(caseFold("ẞ"), "ss"); // capital sharp s: F, not S's ß
  assert.equal(caseFold("İstanbul"), "i\u0307stanbul"); // F, not the Turkic T
  assert.equal(caseFold("I"), "i"); // not dotless ı
  assert.equal(caseFold("ς"), "σ"); // final sigma
  assert.equal(caseFold("ﬁ"), "fi");
  assert.equal(caseFold("ꭰ"), "Ꭰ"); // Cherokee small letters fold to capitals
  assert.equal(caseFold("Ꭰ"), "Ꭰ");
  assert.equal(caseFold("𐐀"), "𐐨"); // Deseret, beyond the BMP
  assert.equal(caseFold("ǅ"), "ǆ"); // titlecase digraph
  assert.equal(caseFold("ΐ"), "ι\u0308\u0301");
  assert.equal(caseFold("日本"), "日本");
  // What toLowerCase leaves apart.
  assert.notEqual("straße".toLowerCase(), "STRASSE".toLowerCase());
  assert.notEqual("ꭰ".toLowerCase(), "Ꭰ".toLowerCase().toUpperCase().toLowerCase().toUpperCase());
});

Deno.test("caseFold: the generated data has every C and F mapping of Unicode 17.0.0", () => {
  // CaseFolding-17.0.0.txt has 1,481 C and 104 F lines.
  const folded = new Set<number>();
  for (let point = 0; point <= 0x10ffff; point++) {
    if (point >= 0xd800 && point <= 0xdfff) continue;
    const char = String.fromCodePoint(point);
    if (caseFold(char) !== char) folded.add(point);
  }
  assert.equal(folded.size, 1585);
  assert.match(CASE_FOLDING, /^41~5A\+20;B5\+307;C0~D6\+20;/);
});

Deno.test("nameKey: NFKC, full case folding, NFKC", () => {
  assert.equal(nameKey("STRASSE"), nameKey("straße"));
  assert.equal(nameKey("ＳＴＲＡＳＳＥ"), "strasse"); // fullwidth
  assert.equal(nameKey("İstanbul"), "i\u0307stanbul");
  assert.equal(nameKey("İSTANBUL"), nameKey("İstanbul"));
  assert.notEqual(nameKey("Istanbul"), nameKey("İstanbul"));
  assert.notEqual(nameKey("ıstanbul"), nameKey("istanbul")); // no Turkic mappings
  assert.equal(nameKey("ΣΊΣΥΦΟΣ"), nameKey("σίσυφος"));
  assert.equal(nameKey("ᏣᎳᎩ"), nameKey("ꮳꮃꭹ"));
  assert.equal(nameKey("Ǆemal"), nameKey("ǆemal"));
  assert.equal(nameKey("Alice"), "alice");
  // Composed again after folding: Å (U+212B, angstrom) and Å are one.
  assert.equal(nameKey("\u212B"), "\u00e5");
});

Deno.test("nameKey is idempotent, and folds an old (toLowerCase) key to the name's new key", () => {
  const oldKey = (name: string) => name.normalize("NFKC").toLowerCase().normalize("NFKC");
  // Every code point alone.
  for (let point = 0; point <= 0x10ffff; point++) {
    if (point >= 0xd800 && point <= 0xdfff) continue;
    const char = String.fromCodePoint(point);
    const key = nameKey(char);
    if (nameKey(key) !== key || nameKey(oldKey(char)) !== key) {
      assert.fail(`U+${point.toString(16)}: key ${key}, again ${nameKey(key)}`);
    }
  }
  // Names the validator accepts, from letters that fold.
  const letters = fc.constantFrom(..."aßSsẞİIıΣσςǅǄǆĲĳﬁꭰᎠ𐐀𐐨ÅÅΐ日K_-1".split(""));
  const names = fc.array(letters, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(""))
    .filter((name) => {
      try {
        validateNick(name);
        return true;
      } catch {
        return false;
      }
    });
  fc.assert(
    fc.property(names, (name) => {
      const key = nameKey(name);
      assert.equal(nameKey(key), key);
      assert.equal(nameKey(oldKey(name)), key);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("case_folding_generate parses C and F lines and renders a module that reads back", async () => {
  const text = "# CaseFolding-17.0.0.txt\n0041; C; 0061; # A\n0042; C; 0062; # B\n" +
    "0049; T; 0131; # I, Turkic\n00DF; F; 0073 0073; # sharp s\n0100; C; 0101;\n0102; C; 0103;\n" +
    "1E9E; F; 0073 0073;\n1E9E; S; 00DF;\n13F8; C; 13F0;\n";
  const mappings = parseCaseFolding(text);
  assert.deepEqual(mappings.map(([point]) => point), [
    0x41,
    0x42,
    0xdf,
    0x100,
    0x102,
    0x13f8,
    0x1e9e,
  ]);
  assert.equal(encodeFolding(mappings), "41~42+20;DF=73 73;100~102/2+1;13F8-8;1E9E=73 73");
  assert.throws(() => parseCaseFolding("0041; X; 0061;\n"), SyntaxError);
  assert.throws(() => parseCaseFolding("0041; C; 0061;\n0041; F; 0061 0061;\n"), SyntaxError);
  const module = renderModule(mappings);
  assert.match(module, new RegExp(`Unicode ${UNICODE_VERSION.replaceAll(".", "\\.")}`));
  const data = await import("data:text/typescript;base64," + btoa(module));
  assert.equal(data.CASE_FOLDING, "41~42+20;DF=73 73;100~102/2+1;13F8-8;1E9E=73 73");
});
