import assert from "node:assert/strict";
import fc from "fast-check";
import { ChatError } from "../shared/errors.ts";
import { skeleton, TR39_UNICODE_VERSION } from "../shared/confusables.ts";
import { isIdentifierAllowed, mixedScripts } from "../shared/identifier_profile.ts";
import {
  lookalikeKey,
  nameKey,
  sanitizeForTerminal,
  validateNick,
  validateRoom,
} from "../shared/validation.ts";
import { visible } from "../server/http/assets/visible.js";
import {
  parseAllowedRanges,
  parseConfusables,
  renderModule,
  UNICODE_VERSION,
} from "../shared/tr39_generate.ts";

function refused(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof ChatError);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("skeleton follows UTS #39: prototypes after NFD, ignorables dropped", () => {
  assert.equal(TR39_UNICODE_VERSION, "17.0.0");
  assert.equal(skeleton("\u0430lice"), "alice"); // Cyrillic а
  assert.equal(skeleton("\u0410LICE"), "ALlCE"); // Cyrillic А; I looks like l
  assert.equal(skeleton("paypa1"), "paypal");
  assert.equal(skeleton("m"), "rn");
  assert.equal(skeleton("\u0441\u043e\u0441\u043e"), "coco"); // all Cyrillic
  assert.equal(skeleton("a\u00adb\u200bc"), "abc"); // soft hyphen, zero-width space
  assert.equal(skeleton("\u00e9"), skeleton("e\u0301")); // composed or not
});

Deno.test("lookalikeKey: confusable names share it, different ones do not", () => {
  const same: Array<[string, string]> = [
    ["alice", "\u0430lice"],
    ["ALICE", "\u0410LICE"], // not "alice": an I looks like l, an i does not
    ["Ian", "lan"],
    ["jim", "jirn"],
    ["bob", "b0b"],
    ["paypal", "PAYPA1"],
    ["coco", "\u0441\u043e\u0441\u043e"],
    ["general", "g\u0435neral"],
    ["ｂｏｂ", "bob"], // fullwidth: NFKC
  ];
  for (const [a, b] of same) assert.equal(lookalikeKey(a), lookalikeKey(b), `${a} ~ ${b}`);
  const different: Array<[string, string]> = [
    ["alice", "alicia"],
    ["ian", "lan"],
    ["bob", "rob"],
    ["日本", "日木"],
  ];
  for (const [a, b] of different) {
    assert.notEqual(lookalikeKey(a), lookalikeKey(b), `${a} vs ${b}`);
  }
});

Deno.test("lookalikeKey: Cyrillic and Greek homoglyphs of Latin letters change nothing (property)", () => {
  const homoglyphs: Record<string, string> = {
    a: "\u0430",
    c: "\u0441",
    e: "\u0435",
    o: "\u043e",
    p: "\u0440",
    x: "\u0445",
    y: "\u0443",
    A: "\u0391",
    B: "\u0392",
    E: "\u0395",
    H: "\u0397",
    K: "\u039a",
    M: "\u039c",
    O: "\u039f",
    T: "\u03a4",
  };
  const letter = fc.constantFrom(..."acdeopxyABEHKMOTln");
  fc.assert(fc.property(fc.array(letter, { minLength: 1, maxLength: 12 }), (chars) => {
    const name = chars.join("");
    const disguised = chars.map((char) => homoglyphs[char] ?? char).join("");
    assert.equal(lookalikeKey(disguised), lookalikeKey(name));
    // Folded already: the key is its own name key.
    assert.equal(nameKey(lookalikeKey(name)), lookalikeKey(name));
  }));
});

Deno.test("isIdentifierAllowed: letters of living scripts yes; fillers and invisibles no", () => {
  for (const char of "azAZ09_é日本語カタカナひらがな한국어ελληνικάкириллица") {
    assert.ok(isIdentifierAllowed(char.codePointAt(0)!), char);
  }
  for (const point of [0x3164, 0x115f, 0x1160, 0xffa0, 0x200b, 0x00ad, 0x034f, 0x13a0, 0x10400]) {
    assert.equal(isIdentifierAllowed(point), false, point.toString(16));
  }
});

Deno.test("mixedScripts allows one script and TR39's highly restrictive mixes only", () => {
  for (
    const name of [
      "alice",
      "Ελένη",
      "Алиса",
      "東京tokyo",
      "とうきょうTokyo東京",
      "ｶﾀｶﾅ",
      "한국어abc漢字",
      "ㄅㄆ中文abc",
      "alice_2",
      "日本語한국어", // Han and Hangul: Korean
    ]
  ) {
    assert.equal(mixedScripts(name.normalize("NFKC")), undefined, name);
  }
  assert.deepEqual(mixedScripts("\u0430lice"), ["Cyrillic", "Latin"]);
  assert.deepEqual(mixedScripts("Ελένηabc"), ["Greek", "Latin"]);
  assert.deepEqual(mixedScripts("ひらがな한국어"), ["Hangul", "Hiragana"]);
  assert.deepEqual(mixedScripts("abcㄅ한"), ["Bopomofo", "Hangul", "Latin"]);
});

Deno.test("validateNick refuses fillers, restricted letters and mixed scripts, with what and where", () => {
  for (const filler of ["\u3164", "\u115f", "\u1160", "\uffa0", "a\u3164b", "\u3164\u3164"]) {
    refused(() => validateNick(filler), "invalid_name", /invisible character U\+(3164|115F|1160)/);
  }
  refused(() => validateNick("\u13a0lice"), "invalid_name", /U\+13A0 is not allowed in names/);
  refused(() => validateNick("\u0430lice"), "invalid_name", /mixes the scripts Cyrillic and Latin/);
  assert.equal(validateNick("Алиса"), "Алиса");
  assert.equal(validateNick("東京tokyo"), "東京tokyo");
  assert.equal(validateNick("bot[1]^`{x}|\\y-_"), "bot[1]^`{x}|\\y-_");
  refused(() => validateRoom("g\u0435neral"), "invalid_room", /mixes the scripts/);
  refused(() => validateRoom("\u3164"), "invalid_room", /invisible character/);
  assert.equal(validateRoom("#общий"), "общий");
});

Deno.test("sanitizeForTerminal escapes invisible format characters; emoji keep their selectors", () => {
  const hidden: Array<[string, string]> = [
    ["\u00ad", "<U+00AD>"],
    ["\u034f", "<U+034F>"],
    ["\u2061", "<U+2061>"],
    ["\u2064", "<U+2064>"],
    ["\u2028", "<U+2028>"],
    ["\u2029", "<U+2029>"],
    ["\u{e0041}", "<U+E0041>"],
    ["\u{e007f}", "<U+E007F>"],
    ["\u3164", "<U+3164>"],
    ["\u115f", "<U+115F>"],
    ["\u17b4", "<U+17B4>"],
    ["\u{1d173}", "<U+1D173>"],
  ];
  for (const [char, shown] of hidden) {
    assert.equal(sanitizeForTerminal(`a${char}b`), `a${shown}b`);
  }
  // As before: the ZWJ is shown (the emoji parts stay), and selectors are kept.
  assert.equal(sanitizeForTerminal("👩\u200d💻"), "👩<U+200D>💻");
  assert.equal(sanitizeForTerminal("❤\ufe0f ☺\ufe0e"), "❤\ufe0f ☺\ufe0e");
  assert.equal(
    sanitizeForTerminal("line\nnext\u2028", { keepNewlines: true }),
    "line\nnext<U+2028>",
  );
});

Deno.test("the web client's visible() matches sanitizeForTerminal with newlines kept (property)", () => {
  const interesting = fc.constantFrom(
    "\u0000",
    "\u001b",
    "\n",
    "\t",
    "\u007f",
    "\u0085",
    "\u00ad",
    "\u200d",
    "\u202e",
    "\u2028",
    "\u3164",
    "\ufe0f",
    "\u{e0041}",
    "a",
    "👩",
  );
  const text = fc.array(fc.oneof(interesting, fc.string({ unit: "binary", maxLength: 3 })), {
    maxLength: 20,
  }).map((parts) => parts.join(""));
  fc.assert(fc.property(text, (value) => {
    assert.equal(visible(value), sanitizeForTerminal(value, { keepNewlines: true }));
  }));
});

Deno.test("tr39_generate parses the UTS #39 files and renders a module that reads back", async () => {
  const confusables = parseConfusables(
    "# confusables.txt\n\n0430 ;\t0061 ;\tMA\t# ( а → a ) CYRILLIC SMALL LETTER A\n" +
      "006D ;\t0072 006E ;\tMA\t# ( m → rn )\n",
  );
  assert.deepEqual(confusables, [[0x430, [0x61]], [0x6d, [0x72, 0x6e]]]);
  const allowed = parseAllowedRanges(
    "# @missing: 0000..10FFFF; Restricted\n0061..007A ; Allowed # a..z\n0030 ; Allowed\n" +
      "0031..0039 ; Allowed\n",
  );
  assert.deepEqual(allowed, [[0x30, 0x39], [0x61, 0x7a]]);
  assert.throws(() => parseAllowedRanges("0041 ; Restricted\n"), SyntaxError);
  const module = renderModule(confusables, allowed);
  assert.match(module, new RegExp(`Unicode ${UNICODE_VERSION.replaceAll(".", "\\.")}`));
  const url = "data:text/typescript;base64," + btoa(module);
  const data = await import(url);
  assert.equal(data.CONFUSABLE_PROTOTYPES, "430>61;6D>72 6E");
  assert.equal(data.IDENTIFIER_ALLOWED, "30-39;61-7A");
});
