import assert from "node:assert/strict";
import fc from "fast-check";
import { ChatError } from "../shared/errors.ts";
import {
  DEFAULT_MAX_BODY_LENGTH,
  MAX_NICK_LENGTH,
  MAX_ROOM_LENGTH,
  MAX_TOPIC_LENGTH,
  nameKey,
  sanitizeForTerminal,
  validateBody,
  validateNick,
  validateRoom,
  validateTopic,
} from "../shared/validation.ts";

/** Asserts `fn` throws a ChatError with `code` and exactly `message` (or matching it). */
function assertRejects(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ChatError, `expected ChatError, got ${error}`);
    assert.equal(error.code, code);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

// U+20731, a CJK ideograph of Extension B: a letter outside the BMP that NFKC keeps and
// UTS #39 allows in identifiers (Deseret, used before, is now refused as Restricted).
const ASTRAL_LETTER = "\u{20731}";

// ---------------------------------------------------------------- nicknames

Deno.test("validateNick accepts ordinary nicknames unchanged", () => {
  for (const nick of ["alice", "Bob", "_x", "a1", "nick_-[]\\`^{}|", "Ørjan", "名前", "Δέλτα"]) {
    assert.equal(validateNick(nick), nick);
  }
});

Deno.test("validateNick normalizes to NFKC", () => {
  assert.equal(validateNick("ａｌｉｃｅ"), "alice"); // fullwidth
  assert.equal(validateNick("ｂｏｂ１２"), "bob12");
  assert.equal(validateNick("ﬁsh"), "fish"); // ligature
  assert.equal(validateNick("e\u0301"), "é"); // combining accent composes
});

Deno.test("validateNick bounds the length in code points after NFKC", () => {
  assert.equal(MAX_NICK_LENGTH, 32);
  assert.equal(validateNick("a".repeat(32)), "a".repeat(32));
  assertRejects(
    () => validateNick("a".repeat(33)),
    "invalid_name",
    "Invalid nickname: 33 characters exceeds limit 32",
  );
  // 32 astral letters are 64 UTF-16 units but 32 characters.
  assert.equal(validateNick(ASTRAL_LETTER.repeat(32)), ASTRAL_LETTER.repeat(32));
  assertRejects(() => validateNick(ASTRAL_LETTER.repeat(33)), "invalid_name", /33 characters/);
  // The limit applies after NFKC: the ligature "ﬃ" is one character that becomes three.
  assert.equal(validateNick("a".repeat(29) + "ﬃ"), "a".repeat(29) + "ffi");
  assertRejects(() => validateNick("a".repeat(30) + "ﬃ"), "invalid_name", /33 characters/);
  assertRejects(() => validateNick(""), "invalid_name", "Invalid nickname: empty");
});

Deno.test("validateNick refuses characters outside the allowed set", () => {
  for (
    const nick of ["1abc", "-abc", "[x", "a b", "a.b", "a@b", "a#b", "a/b", "a:b", "a!b", "😀"]
  ) {
    assertRejects(() => validateNick(nick), "invalid_name", /^Invalid nickname ".*": use letters/);
  }
  assertRejects(() => validateNick(42), "invalid_name", "Invalid nickname: not a string");
  assertRejects(() => validateNick(undefined), "invalid_name", "Invalid nickname: not a string");
});

Deno.test("validateNick names control, bidi and zero-width characters", () => {
  assertRejects(
    () => validateNick("a\u0007b"),
    "invalid_name",
    "Invalid nickname: contains a control character U+0007",
  );
  assertRejects(
    () => validateNick("bob\u001b[31m"),
    "invalid_name",
    "Invalid nickname: contains a control character U+001B",
  );
  assertRejects(
    () => validateNick("a\u0085b"),
    "invalid_name",
    "Invalid nickname: contains a control character U+0085",
  );
  assertRejects(
    () => validateNick("evil\u202Egnp"),
    "invalid_name",
    "Invalid nickname: contains a bidi control U+202E",
  );
  assertRejects(
    () => validateNick("a\u2066b"),
    "invalid_name",
    "Invalid nickname: contains a bidi control U+2066",
  );
  assertRejects(
    () => validateNick("ali\u200Bce"),
    "invalid_name",
    "Invalid nickname: contains a zero-width character U+200B",
  );
  assertRejects(
    () => validateNick("\uFEFFalice"),
    "invalid_name",
    "Invalid nickname: contains a zero-width character U+FEFF",
  );
});

Deno.test("validateNick output is stable: validating it again changes nothing (property)", () => {
  fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (input) => {
    let nick: string;
    try {
      nick = validateNick(input);
    } catch (error) {
      assert.ok(error instanceof ChatError && error.code === "invalid_name");
      return;
    }
    assert.equal(validateNick(nick), nick);
    assert.equal(nick, nick.normalize("NFKC"));
  }));
});

// ---------------------------------------------------------------- nameKey

Deno.test("nameKey is case- and width-insensitive", () => {
  assert.equal(nameKey("Alice"), nameKey("alice"));
  assert.equal(nameKey("ＡＬＩＣＥ"), nameKey("alice"));
  assert.equal(nameKey("ÉLODIE"), nameKey("élodie"));
  assert.equal(nameKey("General"), "general");
  assert.notEqual(nameKey("alice"), nameKey("alicf"));
  assert.notEqual(nameKey("alice"), nameKey("alice_"));
});

// ---------------------------------------------------------------- rooms

Deno.test("validateRoom drops one leading # and normalizes", () => {
  assert.equal(validateRoom("#general"), "general");
  assert.equal(validateRoom("general"), "general");
  assert.equal(validateRoom("#General"), "General");
  assert.equal(validateRoom("＃ｒｏｏｍ"), "room"); // fullwidth # as well
  assert.equal(validateRoom("１２３"), "123");
  assert.equal(validateRoom("a.b-c_d"), "a.b-c_d");
  assert.equal(validateRoom("_x"), "_x");
  assert.equal(validateRoom("2024"), "2024");
});

Deno.test("validateRoom refuses bad room names", () => {
  assertRejects(() => validateRoom("#"), "invalid_room", "Invalid room name: empty");
  assertRejects(() => validateRoom(""), "invalid_room", "Invalid room name: empty");
  assertRejects(() => validateRoom("##x"), "invalid_room", /^Invalid room name "#x": use letters/);
  for (const room of [".x", "-x", "a b", "a/b", "a,b", "a:b", "😀"]) {
    assertRejects(() => validateRoom(room), "invalid_room", /^Invalid room name ".*": use letters/);
  }
  assertRejects(() => validateRoom(null), "invalid_room", "Invalid room name: not a string");
  assertRejects(
    () => validateRoom("a\u202Eb"),
    "invalid_room",
    "Invalid room name: contains a bidi control U+202E",
  );
  assertRejects(
    () => validateRoom("a\u200Db"),
    "invalid_room",
    "Invalid room name: contains a zero-width character U+200D",
  );
  assertRejects(
    () => validateRoom("a\nb"),
    "invalid_room",
    "Invalid room name: contains a control character U+000A",
  );
});

Deno.test("validateRoom bounds the length without the #", () => {
  assert.equal(MAX_ROOM_LENGTH, 64);
  assert.equal(validateRoom("#" + "r".repeat(64)), "r".repeat(64));
  assertRejects(
    () => validateRoom("r".repeat(65)),
    "invalid_room",
    "Invalid room name: 65 characters exceeds limit 64",
  );
});

// ---------------------------------------------------------------- bodies

Deno.test("validateBody accepts text with newlines and tabs, unchanged", () => {
  assert.equal(validateBody("hello"), "hello");
  assert.equal(validateBody("a\tb\nc"), "a\tb\nc");
  assert.equal(validateBody("  padded  "), "  padded  ");
  assert.equal(validateBody("emoji 😀 and \u202E bidi"), "emoji 😀 and \u202E bidi");
});

Deno.test("validateBody refuses empty and non-string bodies", () => {
  assertRejects(() => validateBody(""), "invalid_body", "Invalid message: empty");
  assertRejects(() => validateBody(" \n\t "), "invalid_body", "Invalid message: empty");
  assertRejects(() => validateBody(7), "invalid_body", "Invalid message: not a string");
});

Deno.test("validateBody caps the length in code points", () => {
  assert.equal(DEFAULT_MAX_BODY_LENGTH, 4000);
  assert.equal(validateBody("x".repeat(4000)).length, 4000);
  assertRejects(
    () => validateBody("x".repeat(4001)),
    "invalid_body",
    "Invalid message: 4001 characters exceeds limit 4000",
  );
  // Astral characters count once: 5 emoji are 10 UTF-16 units.
  assert.equal(validateBody("😀".repeat(5), { maxLength: 5 }), "😀".repeat(5));
  assertRejects(
    () => validateBody("😀".repeat(6), { maxLength: 5 }),
    "invalid_body",
    "Invalid message: 6 characters exceeds limit 5",
  );
  assertRejects(
    () => validateBody("x".repeat(100_000), { maxLength: 5 }),
    "invalid_body",
    /100000 characters exceeds limit 5/,
  );
});

Deno.test("validateBody refuses C0 and C1 controls except newline and tab", () => {
  for (
    const [char, name] of [
      ["\u0000", "U+0000"],
      ["\u0007", "U+0007"],
      ["\u001b", "U+001B"],
      ["\r", "U+000D"],
      ["\u000B", "U+000B"],
      ["\u007F", "U+007F"],
      ["\u0085", "U+0085"],
      ["\u009B", "U+009B"],
    ]
  ) {
    assertRejects(
      () => validateBody(`a${char}b`),
      "invalid_body",
      `Invalid message: contains control character ${name}`,
    );
  }
});

// ---------------------------------------------------------------- topics

Deno.test("validateTopic accepts one line, trims it, and allows empty", () => {
  assert.equal(validateTopic("Release day"), "Release day");
  assert.equal(validateTopic("  spaced  "), "spaced");
  assert.equal(validateTopic(""), "");
  assert.equal(MAX_TOPIC_LENGTH, 390);
  assert.equal(validateTopic("t".repeat(390)), "t".repeat(390));
});

Deno.test("validateTopic refuses long topics, controls and non-strings", () => {
  assertRejects(
    () => validateTopic("t".repeat(391)),
    "invalid_body",
    "Invalid topic: 391 characters exceeds limit 390",
  );
  assertRejects(
    () => validateTopic("a\nb"),
    "invalid_body",
    "Invalid topic: contains control character U+000A",
  );
  assertRejects(
    () => validateTopic("a\tb"),
    "invalid_body",
    "Invalid topic: contains control character U+0009",
  );
  assertRejects(() => validateTopic(["x"]), "invalid_body", "Invalid topic: not a string");
});

// ---------------------------------------------------------------- terminal output

Deno.test("sanitizeForTerminal makes escapes and controls visible", () => {
  assert.equal(sanitizeForTerminal("\x1b[2Jhi"), "^[[2Jhi");
  assert.equal(sanitizeForTerminal("a\u0000b\u0007c"), "a^@b^Gc");
  assert.equal(sanitizeForTerminal("del\u007F"), "del^?");
  assert.equal(sanitizeForTerminal("c1\u009B31m"), "c1<U+009B>31m");
  assert.equal(sanitizeForTerminal("gnp.\u202Eexe"), "gnp.<U+202E>exe");
  assert.equal(sanitizeForTerminal("a\u2067b\u2069"), "a<U+2067>b<U+2069>");
  assert.equal(sanitizeForTerminal("zero\u200Bwidth\uFEFF"), "zero<U+200B>width<U+FEFF>");
  assert.equal(sanitizeForTerminal("héllo 日本 😀"), "héllo 日本 😀");
});

Deno.test("sanitizeForTerminal keeps newline and tab only with keepNewlines", () => {
  assert.equal(sanitizeForTerminal("a\nb\tc"), "a^Jb^Ic");
  assert.equal(sanitizeForTerminal("a\nb\tc", { keepNewlines: true }), "a\nb\tc");
  // Carriage return could overwrite the line: never kept.
  assert.equal(sanitizeForTerminal("a\r\nb", { keepNewlines: true }), "a^M\nb");
});

Deno.test("sanitizeForTerminal output has no control, bidi or zero-width characters (property)", () => {
  const unsafe =
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/u;
  const hostile = fc.constantFrom("\x1b", "\u202E", "\u200B", "\u0085", "\r", "\n", "\u2066", "\0");
  const text = fc.array(fc.oneof(fc.string({ unit: "binary", maxLength: 5 }), hostile), {
    maxLength: 20,
  })
    .map((parts) => parts.join(""));
  fc.assert(fc.property(text, (input) => {
    assert.doesNotMatch(sanitizeForTerminal(input), unsafe);
  }));
});
