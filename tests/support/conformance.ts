/**
 * The test suite as a conformance test: every frame a server under test
 * sends is checked against docs/protocol.schema.json (by Ajv, a JSON
 * Schema implementation of its own, not by the code the schema was made
 * from), the result of each ack against the schema of the request it
 * answers. The test peers call {@linkcode ConformanceCheck.received} for
 * every frame and fail the test on the first one that does not conform.
 *
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import PROTOCOL_SCHEMA from "../../docs/protocol.schema.json" with { type: "json" };

const ajv = new Ajv2020({ strict: true, allErrors: false });
ajv.addSchema(PROTOCOL_SCHEMA, "protocol");

type Validator = ReturnType<typeof ajv.compile>;

const validators = new Map<string, Validator>();

function validator(def: string): Validator | undefined {
  let found = validators.get(def);
  if (found === undefined) {
    found = ajv.getSchema(`protocol#/$defs/${def}`);
    if (found !== undefined) validators.set(def, found);
  }
  return found;
}

/** The schema's complaint about `value` as `$defs[def]`, or undefined when it conforms. */
export function schemaProblem(def: string, value: unknown): string | undefined {
  const validate = validator(def);
  if (validate === undefined) return `the schema has no $defs["${def}"]`;
  if (validate(value)) return undefined;
  return ajv.errorsText(validate.errors, { dataVar: def });
}

/** Whether `def` names a definition of the schema (`result.join`, `request.say`, ...). */
export function hasSchemaDef(def: string): boolean {
  return Object.hasOwn(PROTOCOL_SCHEMA.$defs, def);
}

const SERVER_DEFS: Record<string, string> = {
  welcome: "server.welcome",
  ack: "server.ack",
  error: "server.error",
  ping: "server.ping",
  bye: "server.bye",
  message: "event.message",
  dm: "event.dm",
  join: "event.join",
  leave: "event.leave",
  nick: "event.nick",
  topic: "event.topic",
  notice: "event.notice",
  // Section 22.
  away: "event.away",
  typing: "event.typing",
  // Message changes (section 21).
  edit: "event.edit",
  delete: "event.delete",
  react: "event.react",
  unreact: "event.unreact",
};

/**
 * The schema's complaint about a frame from a server, or undefined when it
 * conforms: checked against the definition its `type` names (for a short
 * message), then against `ServerFrame` as a whole.
 */
export function serverFrameProblem(frame: unknown): string | undefined {
  const type = (frame as { type?: unknown } | null)?.type;
  const def = typeof type === "string" && Object.hasOwn(SERVER_DEFS, type)
    ? SERVER_DEFS[type]!
    : undefined;
  if (def === undefined) return `no server frame has the type ${JSON.stringify(type)}`;
  return schemaProblem(def, frame) ?? schemaProblem("ServerFrame", frame);
}

/**
 * Follows one connection: the requests sent (by id, to know which result
 * an ack must carry) and every frame received. The first frame that does
 * not conform is kept in {@linkcode ConformanceCheck.failure}.
 */
export class ConformanceCheck {
  /** Request types sent and not answered yet, by id (oldest first: ids may repeat). */
  #pending = new Map<number, string[]>();
  /** Why the first non-conforming frame failed, with the frame. */
  failure: Error | undefined;
  /** Frames checked. */
  checked = 0;

  /** Notes a frame the test sends, so that its ack can be checked. */
  sent(frame: Record<string, unknown>): void {
    const { type, id } = frame;
    if (typeof type !== "string" || typeof id !== "number") return;
    const waiting = this.#pending.get(id);
    if (waiting === undefined) this.#pending.set(id, [type]);
    else waiting.push(type);
  }

  /** Checks a frame the server sent. */
  received(frame: unknown): void {
    this.checked++;
    const problem = this.#problem(frame);
    if (problem !== undefined && this.failure === undefined) {
      this.failure = new Error(
        `A frame from the server does not match docs/protocol.schema.json: ${problem}\n` +
          `frame: ${JSON.stringify(frame).slice(0, 2000)}`,
      );
    }
  }

  /** Throws the failure, if there is one: tests call this before they pass. */
  assertConforms(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  #problem(frame: unknown): string | undefined {
    const problem = serverFrameProblem(frame);
    if (problem !== undefined) return problem;
    const { type, id, result } = frame as { type: string; id?: number; result?: unknown };
    if ((type !== "ack" && type !== "error") || id === undefined) return undefined;
    const request = this.#pending.get(id)?.shift();
    if (this.#pending.get(id)?.length === 0) this.#pending.delete(id);
    if (type === "error" || request === undefined || !hasSchemaDef(`request.${request}`)) {
      return undefined;
    }
    return schemaProblem(`result.${request}`, result ?? {});
  }
}
