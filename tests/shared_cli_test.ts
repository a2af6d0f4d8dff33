import assert from "node:assert/strict";
import {
  choiceFlag,
  intFlag,
  numberFlag,
  parseFlags,
  USAGE_EXIT_CODE,
  UsageError,
} from "../shared/cli.ts";

const OPTIONS = {
  port: { type: "string", short: "p" },
  host: { type: "string" },
  json: { type: "boolean" },
} as const;

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected UsageError, got ${error}`);
    assert.equal(error.name, "UsageError");
    return error.message;
  }
  assert.fail("expected a UsageError, nothing was thrown");
}

Deno.test("parseFlags returns values and positionals", () => {
  const { values, positionals } = parseFlags(
    ["chat.example.org:7007", "--port", "7007", "-p", "8", "--json", "--host=h"],
    OPTIONS,
  );
  // node's parseArgs returns a null-prototype object; compare its entries.
  assert.deepEqual({ ...values }, { port: "8", json: true, host: "h" });
  assert.deepEqual(positionals, ["chat.example.org:7007"]);
  assert.deepEqual({ ...parseFlags([], OPTIONS).values }, {});
});

Deno.test("parseFlags: an unknown flag is a UsageError naming it", () => {
  assert.equal(usageMessage(() => parseFlags(["--bogus"], OPTIONS)), "unknown flag --bogus");
  assert.equal(usageMessage(() => parseFlags(["-z"], OPTIONS)), "unknown flag -z");
  assert.equal(
    usageMessage(() => parseFlags(["x", "--no-such=1"], OPTIONS)),
    "unknown flag --no-such",
  );
  // Everything after -- is positional.
  assert.deepEqual(parseFlags(["--", "--bogus"], OPTIONS).positionals, ["--bogus"]);
});

Deno.test("parseFlags: a missing value names the flag alone", () => {
  assert.equal(usageMessage(() => parseFlags(["--host"], OPTIONS)), "flag --host needs a value");
  assert.equal(usageMessage(() => parseFlags(["--port"], OPTIONS)), "flag --port needs a value");
  assert.equal(usageMessage(() => parseFlags(["-p"], OPTIONS)), "flag --port needs a value");
});

Deno.test("parseFlags: a value given to a boolean flag is refused", () => {
  assert.equal(
    usageMessage(() => parseFlags(["--json=yes"], OPTIONS)),
    "flag --json takes no value",
  );
});

Deno.test("UsageError is an Error; the usage exit code is 2", () => {
  const error = new UsageError("bad");
  assert.ok(error instanceof Error);
  assert.equal(error.message, "bad");
  assert.equal(USAGE_EXIT_CODE, 2);
});

Deno.test("intFlag reads whole numbers within range", () => {
  const range = { min: 0, max: 65535 };
  assert.equal(intFlag("--port", undefined, range), undefined);
  assert.equal(intFlag("--port", "7007", range), 7007);
  assert.equal(intFlag("--port", "0", range), 0);
  assert.equal(intFlag("--port", "65535", range), 65535);
  assert.equal(intFlag("--delta", "-5", { min: -10, max: 10 }), -5);
});

Deno.test("intFlag refuses non-integers and out-of-range values", () => {
  const range = { min: 1, max: 65535 };
  for (const value of ["abc", "1.5", "", "1e3", "0x10", "7007abc", "99999999999999999999"]) {
    assert.equal(
      usageMessage(() => intFlag("--port", value, range)),
      `--port must be a whole number, got "${value}"`,
    );
  }
  assert.equal(
    usageMessage(() => intFlag("--port", "70000", range)),
    "--port must be between 1 and 65535, got 70000",
  );
  assert.equal(
    usageMessage(() => intFlag("--port", "0", range)),
    "--port must be between 1 and 65535, got 0",
  );
});

Deno.test("numberFlag reads decimals within range", () => {
  const range = { min: 0, max: 1e6 };
  assert.equal(numberFlag("--rate", undefined, range), undefined);
  assert.equal(numberFlag("--rate", "2.5", range), 2.5);
  assert.equal(numberFlag("--rate", "0", range), 0);
  assert.equal(numberFlag("--rate", "1000000", range), 1e6);
});

Deno.test("numberFlag refuses non-numbers and out-of-range values", () => {
  const range = { min: 0, max: 100 };
  for (const value of ["", "  ", "abc", "Infinity", "NaN", "1,5"]) {
    assert.equal(
      usageMessage(() => numberFlag("--rate", value, range)),
      `--rate must be a number, got "${value}"`,
    );
  }
  assert.equal(
    usageMessage(() => numberFlag("--rate", "-0.5", range)),
    "--rate must be between 0 and 100, got -0.5",
  );
  assert.equal(
    usageMessage(() => numberFlag("--rate", "100.1", range)),
    "--rate must be between 0 and 100, got 100.1",
  );
});

Deno.test("choiceFlag accepts only the listed choices", () => {
  const formats = ["text", "json"] as const;
  assert.equal(choiceFlag("--log-format", undefined, formats), undefined);
  assert.equal(choiceFlag("--log-format", "json", formats), "json");
  assert.equal(
    usageMessage(() => choiceFlag("--log-format", "xml", formats)),
    '--log-format must be one of text, json, got "xml"',
  );
  // Exact match: no case folding.
  assert.equal(
    usageMessage(() => choiceFlag("--log-format", "JSON", formats)),
    '--log-format must be one of text, json, got "JSON"',
  );
});
