/**
 * Small schema combinators for the wire protocol: one definition per frame
 * gives its TypeScript type ({@linkcode Infer}), its validation
 * ({@linkcode Schema.check}) and its JSON Schema
 * ({@linkcode toJsonSchema}), so the three cannot drift.
 *
 * Why not zod: the protocol's errors are its own (a first failure in a fixed
 * order, with a machine code per field such as `invalid_name` or
 * `invalid_body`, and messages clients see), normalizing validators
 * (NFKC names) throw those codes themselves, and frames are checked on the
 * server's hot path; zod collects every issue with its own messages. These
 * combinators stop at the first failure, let {@linkcode ChatError}s through
 * untouched and allocate nothing on the happy path beyond the output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkValue, integer, object, optional, string, toJsonSchema } from "./schema.ts";
 * const point = object({ name: string({ maxLength: 8 }), x: optional(integer({ min: 0 })) });
 * assert.deepEqual(checkValue(point, { name: "a", x: 1, extra: true }, { subject: "point" }), {
 *   name: "a",
 *   x: 1,
 * });
 * assert.throws(
 *   () => checkValue(point, { name: 7 }, { subject: "point" }),
 *   /Invalid point: "name" must be a string/,
 * );
 * assert.equal(toJsonSchema(point).required?.toString(), "name");
 * ```
 *
 * @module
 */
import { ChatError, type ErrorCode } from "./errors.ts";

/** A JSON Schema (draft 2020-12) object, as {@linkcode toJsonSchema} writes it. */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  const?: unknown;
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  items?: JsonSchema;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  $ref?: string;
  [keyword: string]: unknown;
}

/** Runtime settings a check may need (limits the server announces). */
export interface CheckOptions {
  /** Longest message body accepted, in code points. */
  maxBodyLength?: number;
}

/**
 * A field that failed its check, thrown between combinators: each
 * enclosing object or array adds its key to `path`, and
 * {@linkcode checkValue} turns it into a {@linkcode ChatError}.
 */
export class Mismatch extends Error {
  /** The keys from the checked value down to the field, outermost first. */
  readonly path: Array<string | number> = [];
  /** What went wrong, e.g. `must be a string`. */
  readonly problem: string;
  /** The same when the value was of the wrong JSON type, for checks that name types. */
  readonly typeProblem: string | undefined;

  constructor(problem: string, typeProblem?: string) {
    super(problem);
    this.name = "Mismatch";
    this.problem = problem;
    this.typeProblem = typeProblem;
  }
}

/** Anything that checks a value and describes it as JSON Schema. */
export abstract class Schema<T> {
  /** The checked type; only for {@linkcode Infer}, never set. */
  declare readonly type: T;
  /** A sentence for people, put in the JSON Schema. */
  description: string | undefined;
  /** The name under which the JSON Schema puts it in `$defs` (referenced, not repeated). */
  defName: string | undefined;

  /** Checks `value` and returns it normalized; throws {@linkcode Mismatch} or a {@linkcode ChatError}. */
  abstract check(value: unknown, options: CheckOptions): T;

  /** The JSON Schema of this value alone; `emit` writes the schemas of its parts. */
  protected abstract body(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema;

  /** The JSON Schema of this value, parts written through `emit` (which collects `$defs`). */
  jsonSchema(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema {
    const body = this.body(emit);
    return this.description === undefined ? body : { description: this.description, ...body };
  }

  /** Sets the description; returns this. */
  describe(description: string): this {
    this.description = description;
    return this;
  }

  /** Puts this schema in `$defs` under `name` wherever it appears; returns this. */
  named(name: string): this {
    this.defName = name;
    return this;
  }

  /**
   * A schema that checks as this one, then passes the value through `next`,
   * which may normalize it or throw a {@linkcode ChatError} with its own code
   * (the JSON Schema stays this one's, with `description` if given).
   */
  then<U>(next: (value: T, options: CheckOptions) => U, description?: string): Schema<U> {
    const refined = new Refined(this, next);
    if (description !== undefined) refined.describe(description);
    return refined;
  }
}

/** The type a schema checks. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

class Refined<T, U> extends Schema<U> {
  readonly #inner: Schema<T>;
  readonly #next: (value: T, options: CheckOptions) => U;

  constructor(inner: Schema<T>, next: (value: T, options: CheckOptions) => U) {
    super();
    this.#inner = inner;
    this.#next = next;
  }

  check(value: unknown, options: CheckOptions): U {
    return this.#next(this.#inner.check(value, options), options);
  }

  protected body(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema {
    return this.#inner.jsonSchema(emit);
  }
}

/** Options of {@linkcode string}. */
export interface StringOptions {
  /** Longest, in UTF-16 code units (what `String.length` counts). */
  maxLength?: number;
  /** A regular expression the whole string must match. */
  pattern?: RegExp;
  /** The problem reported for any failure, instead of the generic ones. */
  problem?: string;
}

class StringSchema extends Schema<string> {
  readonly #options: StringOptions;

  constructor(options: StringOptions) {
    super();
    this.#options = options;
  }

  check(value: unknown): string {
    const { maxLength, pattern, problem } = this.#options;
    if (typeof value !== "string") throw new Mismatch(problem ?? "must be a string");
    if (maxLength !== undefined && value.length > maxLength) {
      throw new Mismatch(problem ?? `longer than ${maxLength}`);
    }
    if (pattern !== undefined && !pattern.test(value)) {
      throw new Mismatch(problem ?? `must match ${pattern.source}`);
    }
    return value;
  }

  protected body(): JsonSchema {
    const { maxLength, pattern } = this.#options;
    const schema: JsonSchema = { type: "string" };
    // JSON Schema counts code points, never more than UTF-16 units: a bound that holds.
    if (maxLength !== undefined) schema.maxLength = maxLength;
    if (pattern !== undefined) schema.pattern = pattern.source;
    return schema;
  }
}

/**
 * A string, at most `maxLength` UTF-16 code units, matching `pattern`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkValue, string } from "./schema.ts";
 * assert.throws(
 *   () => checkValue(string({ maxLength: 2 }), "abc", { subject: "name" }),
 *   /Invalid name: longer than 2/,
 * );
 * ```
 */
export function string(options: StringOptions = {}): Schema<string> {
  return new StringSchema(options);
}

/** Options of {@linkcode integer} and {@linkcode number}. */
export interface NumberOptions {
  /** Smallest value allowed. */
  min?: number;
  /** The problem reported for any failure, instead of the generic ones. */
  problem?: string;
}

class NumberSchema extends Schema<number> {
  readonly #integer: boolean;
  readonly #options: NumberOptions;

  constructor(integer: boolean, options: NumberOptions) {
    super();
    this.#integer = integer;
    this.#options = options;
  }

  check(value: unknown): number {
    const { min, problem } = this.#options;
    const kind = this.#integer ? "an integer" : "a number";
    const expected = problem ??
      (min === undefined ? `must be ${kind}` : `must be ${kind} >= ${min}`);
    if (typeof value !== "number") throw new Mismatch(expected, problem ?? "must be a number");
    const whole = this.#integer ? Number.isSafeInteger(value) : Number.isFinite(value);
    if (!whole || (min !== undefined && value < min)) throw new Mismatch(expected);
    return value;
  }

  protected body(): JsonSchema {
    const { min } = this.#options;
    const schema: JsonSchema = { type: this.#integer ? "integer" : "number" };
    if (min !== undefined) schema.minimum = min;
    if (this.#integer) schema.maximum = Number.MAX_SAFE_INTEGER;
    return schema;
  }
}

/**
 * A safe integer (at most 2^53 − 1 in magnitude), at least `min`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkValue, integer } from "./schema.ts";
 * assert.equal(checkValue(integer({ min: 1 }), 3, { subject: "limit" }), 3);
 * assert.throws(
 *   () => checkValue(integer({ min: 1 }), 0.5, { subject: "limit" }),
 *   /must be an integer >= 1/,
 * );
 * ```
 */
export function integer(options: NumberOptions = {}): Schema<number> {
  return new NumberSchema(true, options);
}

/** A finite number (fractions allowed), at least `min`. */
export function number(options: NumberOptions = {}): Schema<number> {
  return new NumberSchema(false, options);
}

class BooleanSchema extends Schema<boolean> {
  check(value: unknown): boolean {
    if (typeof value !== "boolean") throw new Mismatch("must be a boolean");
    return value;
  }

  protected body(): JsonSchema {
    return { type: "boolean" };
  }
}

/** `true` or `false`. */
export function boolean(): Schema<boolean> {
  return new BooleanSchema();
}

type Primitive = string | number | boolean;

/** Exactly one value: see {@linkcode literal}. */
export class LiteralSchema<T extends Primitive> extends Schema<T> {
  /** The only value allowed. */
  readonly value: T;

  constructor(value: T) {
    super();
    this.value = value;
  }

  check(value: unknown): T {
    if (value !== this.value) throw new Mismatch(`must be ${JSON.stringify(this.value)}`);
    return this.value;
  }

  protected body(): JsonSchema {
    return { const: this.value };
  }
}

/**
 * Exactly `value`: a frame's `type`, or a flag that is only ever `true`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkValue, literal } from "./schema.ts";
 * assert.equal(checkValue(literal(true), true, { subject: "more" }), true);
 * assert.throws(() => checkValue(literal(true), false, { subject: "more" }), /must be true/);
 * ```
 */
export function literal<const T extends Primitive>(value: T): LiteralSchema<T> {
  return new LiteralSchema(value);
}

class EnumSchema<T extends string> extends Schema<T> {
  readonly #values: readonly T[];
  readonly #set: ReadonlySet<string>;
  readonly #unknown: T | undefined;

  constructor(values: readonly T[], unknown: T | undefined) {
    super();
    this.#values = values;
    this.#set = new Set(values);
    this.#unknown = unknown;
  }

  check(value: unknown): T {
    if (typeof value !== "string") throw new Mismatch("must be a string");
    if (this.#set.has(value)) return value as T;
    if (this.#unknown !== undefined) return this.#unknown;
    throw new Mismatch(`must be one of ${this.#values.join(", ")}`);
  }

  protected body(): JsonSchema {
    return { type: "string", enum: this.#values };
  }
}

/**
 * One of the strings `values`. With `unknown`, any other string reads as
 * that one (a newer peer's new error code reads as `internal`); the JSON
 * Schema still lists only `values`.
 */
export function oneOfStrings<const T extends string>(
  values: readonly T[],
  options: { unknown?: T } = {},
): Schema<T> {
  return new EnumSchema(values, options.unknown);
}

class ArraySchema<T> extends Schema<T[]> {
  readonly #item: Schema<T>;
  readonly #maxItems: number | undefined;

  constructor(item: Schema<T>, maxItems: number | undefined) {
    super();
    this.#item = item;
    this.#maxItems = maxItems;
  }

  check(value: unknown, options: CheckOptions): T[] {
    if (!Array.isArray(value)) throw new Mismatch("must be an array");
    if (this.#maxItems !== undefined && value.length > this.#maxItems) {
      throw new Mismatch(`must have at most ${this.#maxItems} entries`);
    }
    const out = new Array<T>(value.length);
    for (let index = 0; index < value.length; index++) {
      try {
        out[index] = this.#item.check(value[index], options);
      } catch (error) {
        if (error instanceof Mismatch) error.path.unshift(index);
        throw error;
      }
    }
    return out;
  }

  protected body(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema {
    const schema: JsonSchema = { type: "array", items: emit(this.#item) };
    if (this.#maxItems !== undefined) schema.maxItems = this.#maxItems;
    return schema;
  }
}

/** An array of `item`, at most `maxItems` long. */
export function array<T>(item: Schema<T>, options: { maxItems?: number } = {}): Schema<T[]> {
  return new ArraySchema(item, options.maxItems);
}

class NullableSchema<T> extends Schema<T | null> {
  readonly #inner: Schema<T>;

  constructor(inner: Schema<T>) {
    super();
    this.#inner = inner;
  }

  check(value: unknown, options: CheckOptions): T | null {
    return value === null ? null : this.#inner.check(value, options);
  }

  protected body(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema {
    return withNull(emit(this.#inner), undefined);
  }
}

/** `inner` or `nil` (a value of its own, such as `mode.key: nil` removing a key). */
export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return new NullableSchema(inner);
}

/** `schema` that also allows null, as simply as JSON Schema can say it. */
function withNull(schema: JsonSchema, note: string | undefined): JsonSchema {
  const text = [schema.description, note].filter((part) => part !== undefined).join("; ");
  const described = text === "" ? {} : { description: text };
  const { type } = schema;
  // Keywords such as maxLength apply only to their own type, so a type list is exact.
  if (typeof type === "string" && schema.const === undefined && schema.enum === undefined) {
    return { ...described, ...schema, ...described, type: [type, "null"] };
  }
  return { ...described, anyOf: [schema, { type: "null" }] };
}

/** A field that may be left out: see {@linkcode optional}. */
export class Optional<T> {
  readonly inner: Schema<T>;
  /** Whether `nil` counts as leaving it out. */
  readonly nilIsAbsent: boolean;

  constructor(inner: Schema<T>, nilIsAbsent: boolean) {
    this.inner = inner;
    this.nilIsAbsent = nilIsAbsent;
  }
}

/**
 * An object field that may be left out. With `nilIsAbsent`, `nil` is taken
 * for leaving it out (the server tolerates it in requests); otherwise `nil`
 * is checked by `inner` like any value.
 */
export function optional<T>(
  inner: Schema<T>,
  options: { nilIsAbsent?: boolean } = {},
): Optional<T> {
  return new Optional(inner, options.nilIsAbsent ?? false);
}

/** The fields of an {@linkcode object}. */
export type Shape = Record<string, Schema<unknown> | Optional<unknown>>;

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;

// An optional field whose check gives undefined is left out (`action: false`).
type FieldType<F> = F extends Optional<infer T> ? Exclude<T, undefined>
  : F extends Schema<infer T> ? T
  : never;

/** The type of an object with fields `S`: optional fields are `key?: T`. */
export type InferShape<S extends Shape> = Simplify<
  & { -readonly [K in keyof S as S[K] extends Optional<unknown> ? never : K]: FieldType<S[K]> }
  & { -readonly [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: FieldType<S[K]> }
>;

/** Whether `value` is a map (not an array, not binary). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/** Options of {@linkcode object}. */
export interface ObjectOptions<T> {
  /** A check of the whole object once its fields passed (fields that go together). */
  refine?: (value: T) => void;
}

/** An object schema: its fields are known, so frames can be told apart by their `type`. */
export class ObjectSchema<S extends Shape> extends Schema<InferShape<S>> {
  /** The fields, in the order they are checked. */
  readonly shape: S;
  readonly #keys: string[];
  readonly #schemas: Schema<unknown>[];
  readonly #optional: Array<Optional<unknown> | undefined>;
  // Only a field named like an Object.prototype member could be read from the prototype.
  readonly #ownOnly: boolean;
  readonly #refine: ((value: InferShape<S>) => void) | undefined;

  constructor(shape: S, options: ObjectOptions<InferShape<S>>) {
    super();
    this.shape = shape;
    this.#keys = Object.keys(shape);
    this.#schemas = this.#keys.map((key) => {
      const field = shape[key]!;
      return field instanceof Optional ? field.inner : field;
    });
    this.#optional = this.#keys.map((key) => {
      const field = shape[key]!;
      return field instanceof Optional ? field : undefined;
    });
    this.#ownOnly = this.#keys.some((key) => key in Object.prototype);
    this.#refine = options.refine;
  }

  check(value: unknown, options: CheckOptions): InferShape<S> {
    if (!isRecord(value)) throw new Mismatch("must be a map");
    // Only the known fields are kept: unknown ones are dropped, as receivers must.
    const out: Record<string, unknown> = {};
    const keys = this.#keys;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      const field = this.#ownOnly && !Object.hasOwn(value, key) ? undefined : value[key];
      const optional = this.#optional[index];
      if (
        optional !== undefined &&
        (field === undefined || (field === null && optional.nilIsAbsent))
      ) {
        continue;
      }
      let checked: unknown;
      try {
        checked = this.#schemas[index]!.check(field, options);
      } catch (error) {
        if (error instanceof Mismatch) error.path.unshift(key);
        throw error;
      }
      // A normalizer may say a value means absent (`action: false`).
      if (checked !== undefined) out[key] = checked;
    }
    const result = out as InferShape<S>;
    this.#refine?.(result);
    return result;
  }

  protected body(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (let index = 0; index < this.#keys.length; index++) {
      const key = this.#keys[index]!;
      const optional = this.#optional[index];
      const written = emit(this.#schemas[index]!);
      properties[key] = optional?.nilIsAbsent
        ? withNull(written, "nil is the same as leaving it out")
        : written;
      if (optional === undefined) required.push(key);
    }
    return { type: "object", properties, required, additionalProperties: false };
  }
}

/**
 * A map with the fields `shape`, checked in that order (the first failure
 * is reported); unknown fields are dropped. `options.refine` checks the
 * fields together.
 */
export function object<S extends Shape>(
  shape: S,
  options: ObjectOptions<InferShape<S>> = {},
): ObjectSchema<S> {
  return new ObjectSchema(shape, options);
}

class AnyMapSchema extends Schema<Record<string, unknown>> {
  check(value: unknown): Record<string, unknown> {
    if (!isRecord(value)) throw new Mismatch("must be a map");
    return value;
  }

  protected body(): JsonSchema {
    return { type: "object" };
  }
}

/** Any map, kept as it is (an ack's `result`, checked later against its request). */
export function anyMap(): Schema<Record<string, unknown>> {
  return new AnyMapSchema();
}

class CustomSchema<T> extends Schema<T> {
  readonly #check: (value: unknown, options: CheckOptions) => T;
  readonly #json: JsonSchema;

  constructor(check: (value: unknown, options: CheckOptions) => T, json: JsonSchema) {
    super();
    this.#check = check;
    this.#json = json;
  }

  check(value: unknown, options: CheckOptions): T {
    return this.#check(value, options);
  }

  protected body(): JsonSchema {
    return this.#json;
  }
}

/**
 * A value checked by a validator of its own (one that throws a
 * {@linkcode ChatError} with its own code, for any input), described by
 * `json` in the JSON Schema.
 */
export function custom<T>(
  check: (value: unknown, options: CheckOptions) => T,
  json: JsonSchema,
): Schema<T> {
  return new CustomSchema(check, json);
}

class UnionSchema<T> extends Schema<T> {
  readonly #members: ReadonlyMap<string, Schema<unknown>>;

  constructor(members: ReadonlyMap<string, Schema<unknown>>) {
    super();
    this.#members = members;
  }

  check(value: unknown, options: CheckOptions): T {
    const type = isRecord(value) ? value.type : undefined;
    const member = typeof type === "string" ? this.#members.get(type) : undefined;
    if (member === undefined) {
      throw new Mismatch(
        `must be a map whose "type" is one of ${[...this.#members.keys()].join(", ")}`,
      );
    }
    return member.check(value, options) as T;
  }

  protected body(emit: (schema: Schema<unknown>) => JsonSchema): JsonSchema {
    return { oneOf: [...this.#members.values()].map(emit) };
  }
}

/**
 * One of `members`, told apart by their `type` field (each member's
 * `shape.type` is a {@linkcode literal}).
 */
export function union<
  M extends Schema<unknown> & { readonly shape: { readonly type: LiteralSchema<string> } },
>(
  members: readonly M[],
): Schema<Infer<M>> {
  const byType = new Map<string, Schema<unknown>>();
  for (const member of members) byType.set(member.shape.type.value, member);
  return new UnionSchema(byType);
}

/** Where {@linkcode checkValue} says a failure happened, and with which code. */
export interface CheckPlace {
  /** What is checked, e.g. `join frame` or `join result`: messages read `Invalid SUBJECT: ...`. */
  subject: string;
  /** The code of a failure: `bad_request` (the default) for a request, `bad_frame` for a reply. */
  code?: ErrorCode;
  /** Name the JSON type a mistyped value should have had (`must be a number`), as replies do. */
  typeNames?: boolean;
}

/**
 * Checks `value` against `schema` and returns it normalized, or throws a
 * {@linkcode ChatError}: a field's own code (`invalid_name`, ...) when its
 * validator has one, else `place.code` with the message
 * `Invalid SUBJECT: "PATH" PROBLEM`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkValue, integer, object } from "./schema.ts";
 * const schema = object({ ts: integer({ min: 0 }) });
 * assert.throws(
 *   () => checkValue(schema, { ts: "now" }, { subject: "message frame", typeNames: true }),
 *   { code: "bad_request", message: 'Invalid message frame: "ts" must be a number' },
 * );
 * ```
 */
export function checkValue<T>(
  schema: Schema<T>,
  value: unknown,
  place: CheckPlace,
  options: CheckOptions = {},
): T {
  try {
    return schema.check(value, options);
  } catch (error) {
    if (!(error instanceof Mismatch)) throw error;
    const problem = place.typeNames && error.typeProblem !== undefined
      ? error.typeProblem
      : error.problem;
    const where = error.path.length === 0 ? "" : `"${formatPath(error.path)}" `;
    throw new ChatError(
      place.code ?? "bad_request",
      `Invalid ${place.subject}: ${where}${problem}`,
    );
  }
}

function formatPath(path: ReadonlyArray<string | number>): string {
  let text = "";
  for (const key of path) {
    text += typeof key === "number" ? `[${key}]` : text === "" ? key : `.${key}`;
  }
  return text;
}

/** Options of {@linkcode toJsonSchema}. */
export interface JsonSchemaOptions {
  /** Where named parts go (`$defs`); filled in as they are met. */
  defs?: Record<string, JsonSchema>;
}

/**
 * The JSON Schema of `schema`. Named parts ({@linkcode Schema.named}) are
 * written once into `options.defs` and referenced as `#/$defs/NAME`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { literal, object, string, toJsonSchema } from "./schema.ts";
 * const defs = {};
 * const ping = object({ type: literal("ping"), note: string() }).named("ping");
 * assert.deepEqual(toJsonSchema(ping, { defs }), { $ref: "#/$defs/ping" });
 * assert.deepEqual(Object.keys(defs), ["ping"]);
 * ```
 */
export function toJsonSchema(schema: Schema<unknown>, options: JsonSchemaOptions = {}): JsonSchema {
  const defs = options.defs ?? {};
  const emit = (part: Schema<unknown>): JsonSchema => {
    if (part.defName === undefined) return part.jsonSchema(emit);
    const name = part.defName;
    if (!Object.hasOwn(defs, name)) {
      defs[name] = {}; // reserved first: a part that contains itself ends here
      defs[name] = part.jsonSchema(emit);
    }
    return { $ref: `#/$defs/${name}` };
  };
  return emit(schema);
}
