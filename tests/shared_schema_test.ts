/**
 * The schema combinators (shared/schema.ts): what they accept, how they
 * report the first failure, and the JSON Schema they write, checked by Ajv
 * against the same values.
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { ChatError } from "../shared/errors.ts";
import {
  anyMap,
  array,
  boolean,
  checkValue,
  custom,
  integer,
  literal,
  nullable,
  number,
  object,
  oneOfStrings,
  optional,
  type Schema,
  string,
  toJsonSchema,
  union,
} from "../shared/schema.ts";

function failure(schema: Schema<unknown>, value: unknown): ChatError {
  try {
    checkValue(schema, value, { subject: "thing" });
  } catch (error) {
    assert.ok(error instanceof ChatError, String(error));
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(value)}`);
}

const THING = object({
  type: literal("thing"),
  name: string({ maxLength: 4 }),
  count: optional(integer({ min: 1 })),
  ratio: optional(number({ min: 0 })),
  flag: optional(boolean(), { nilIsAbsent: true }),
  tags: optional(array(string(), { maxItems: 2 })),
  key: optional(nullable(string())),
  kind: optional(oneOfStrings(["a", "b"])),
  extra: optional(anyMap()),
});

Deno.test("object: keeps the known fields, drops the others, leaves out absent ones", () => {
  assert.deepEqual(checkValue(THING, { type: "thing", name: "ab", other: 1 }, { subject: "t" }), {
    type: "thing",
    name: "ab",
  });
  const full = {
    type: "thing",
    name: "abcd",
    count: 2,
    ratio: 0.5,
    flag: false,
    tags: ["x", "y"],
    key: null,
    kind: "b",
    extra: { any: [1] },
  };
  assert.deepEqual(checkValue(THING, full, { subject: "t" }), full);
  // nil is absent only where the field says so.
  assert.deepEqual(checkValue(THING, { type: "thing", name: "a", flag: null }, { subject: "t" }), {
    type: "thing",
    name: "a",
  });
  assert.equal(failure(THING, { type: "thing", name: "a", count: null }).code, "bad_request");
});

Deno.test("checkValue: the first failure in field order, with its path", () => {
  assert.equal(
    failure(THING, { type: "thing", name: 5, count: 0 }).message,
    'Invalid thing: "name" must be a string',
  );
  assert.equal(
    failure(THING, { type: "thing", name: "abcde" }).message,
    'Invalid thing: "name" longer than 4',
  );
  assert.equal(
    failure(THING, { type: "thing", name: "a", count: 1.5 }).message,
    'Invalid thing: "count" must be an integer >= 1',
  );
  assert.equal(
    failure(THING, { type: "thing", name: "a", tags: ["x", 3] }).message,
    'Invalid thing: "tags[1]" must be a string',
  );
  assert.equal(
    failure(THING, { type: "thing", name: "a", tags: ["x", "y", "z"] }).message,
    'Invalid thing: "tags" must have at most 2 entries',
  );
  assert.equal(
    failure(THING, { type: "thing", name: "a", kind: "c" }).message,
    'Invalid thing: "kind" must be one of a, b',
  );
  assert.equal(failure(THING, [1]).message, "Invalid thing: must be a map");
  const nested = object({ inner: object({ ts: integer({ min: 0 }) }) });
  assert.throws(
    () =>
      checkValue(nested, { inner: { ts: "x" } }, {
        subject: "frame",
        code: "bad_frame",
        typeNames: true,
      }),
    { code: "bad_frame", message: 'Invalid frame: "inner.ts" must be a number' },
  );
});

Deno.test("then and custom: a validator's own ChatError passes through untouched", () => {
  const upper = string({ maxLength: 8 }).then((value) => {
    if (value !== value.toUpperCase()) throw new ChatError("invalid_name", "Not shouting");
    return value;
  });
  const schema = object({ a: upper, b: custom((value) => Number(value), { type: "string" }) });
  assert.equal(failure(schema, { a: "quiet" }).code, "invalid_name");
  // The cap comes first, with the generic code.
  assert.equal(failure(schema, { a: "x".repeat(9) }).code, "bad_request");
  assert.deepEqual(checkValue(schema, { a: "OK", b: "7" }, { subject: "t" }), { a: "OK", b: 7 });
});

Deno.test("object refine: fields checked together, after each alone", () => {
  const schema = object({ a: optional(integer()), b: optional(integer()) }, {
    refine: (value) => {
      if (value.a === undefined && value.b === undefined) {
        throw new ChatError("bad_request", "give a or b");
      }
    },
  });
  assert.equal(failure(schema, {}).message, "give a or b");
  assert.equal(failure(schema, { a: "x" }).message, 'Invalid thing: "a" must be an integer');
});

Deno.test("union: told apart by type; an unknown type is a failure", () => {
  const ping = object({ type: literal("ping") });
  const pong = object({ type: literal("pong"), at: integer() });
  const schema = union([ping, pong]);
  assert.deepEqual(checkValue(schema, { type: "pong", at: 1 }, { subject: "t" }), {
    type: "pong",
    at: 1,
  });
  assert.match(failure(schema, { type: "pang" }).message, /"type" is one of ping, pong/);
});

Deno.test("toJsonSchema: named parts once in $defs, optional fields not required", () => {
  const defs = {};
  const part = object({ x: integer() }).named("part");
  const whole = object({
    a: part,
    b: optional(part),
    c: optional(string(), { nilIsAbsent: true }),
  });
  const schema = toJsonSchema(whole, { defs });
  assert.deepEqual(schema.required, ["a"]);
  assert.deepEqual(schema.properties?.a, { $ref: "#/$defs/part" });
  assert.deepEqual(schema.properties?.c?.type, ["string", "null"]);
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(Object.keys(defs), ["part"]);
});

Deno.test("Ajv, given the JSON Schema, agrees with the check on random values", () => {
  const defs = {};
  const json = { ...toJsonSchema(THING, { defs }), $defs: defs };
  const validate = new Ajv2020({ strict: true }).compile(json);
  const value = fc.record({
    type: fc.constantFrom("thing", "other"),
    name: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
    count: fc.option(fc.oneof(fc.integer({ min: -2, max: 3 }), fc.double()), { nil: undefined }),
    ratio: fc.option(fc.oneof(fc.double({ min: -1, max: 2, noNaN: true }), fc.constant("x")), {
      nil: undefined,
    }),
    flag: fc.option(fc.oneof(fc.boolean(), fc.constant(null), fc.constant(1)), { nil: undefined }),
    tags: fc.option(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }), {
      nil: undefined,
    }),
    key: fc.option(fc.oneof(fc.string(), fc.constant(null), fc.integer()), { nil: undefined }),
    kind: fc.option(fc.constantFrom("a", "b", "c"), { nil: undefined }),
  }, { requiredKeys: ["type", "name"], noNullPrototype: true });
  fc.assert(
    fc.property(value, (frame) => {
      let accepted = true;
      try {
        checkValue(THING, frame, { subject: "t" });
      } catch {
        accepted = false;
      }
      // JSON Schema counts code points, the check UTF-16 units: keep to strings where they agree.
      if (typeof frame.name === "string" && [...frame.name].length !== frame.name.length) return;
      if (frame.tags?.some((tag) => typeof tag === "string" && /[\ud800-\udfff]/.test(tag))) return;
      assert.equal(validate(frame), accepted, JSON.stringify(frame));
    }),
    { numRuns: 500 },
  );
});
