/**
 * Writes docs/protocol.schema.json from the protocol's definitions in
 * shared/protocol.ts: `deno task docs:schema` regenerates it, and a test
 * fails when it is stale.
 *
 * @module
 */
import { protocolJsonSchema } from "./protocol.ts";

/**
 * The text of docs/protocol.schema.json (before `deno fmt` lays it out).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderProtocolSchema } from "./protocol_schema.ts";
 * assert.equal(JSON.parse(renderProtocolSchema()).title, "chat wire protocol 1.0");
 * ```
 */
export function renderProtocolSchema(): string {
  return JSON.stringify(protocolJsonSchema(), null, 2) + "\n";
}

if (import.meta.main) {
  await Deno.stdout.write(new TextEncoder().encode(renderProtocolSchema()));
}
