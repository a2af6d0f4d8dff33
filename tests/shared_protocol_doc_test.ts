/**
 * docs/protocol.md's examples say what the code does: its hex frames decode
 * to the frames it names (and encode back to the same bytes), and every
 * frame it writes out (the example exchange of section 18, each frame on a
 * line of a code block or in inline code) is valid by
 * docs/protocol.schema.json and by the validators, with each ack's result
 * matching its request; and section 8's result column names the fields of
 * each result.
 */
import assert from "node:assert/strict";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import {
  parseAck,
  parseClientFrame,
  parseServerFrame,
  protocolJsonSchema,
  REQUEST_TYPES,
  type RequestType,
} from "../shared/protocol.ts";
import { schemaProblem, serverFrameProblem } from "./support/conformance.ts";
import { SETTINGS } from "../server/config/settings.ts";

const DOC = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));

/** The text of section `title` (a `##` or `###` heading), up to the next heading of any level. */
function section(title: string): string {
  const start = DOC.indexOf(`\n${title}\n`);
  assert.notEqual(start, -1, `docs/protocol.md has no heading "${title}"`);
  const rest = DOC.slice(start + title.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return end === -1 ? rest : rest.slice(0, end);
}

/** The fenced code blocks of `text`. */
function codeBlocks(text: string): string[] {
  return [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

function hexBytes(hex: string): Uint8Array {
  const pairs = hex.trim().split(/\s+/);
  for (const pair of pairs) assert.match(pair, /^[0-9a-f]{2}$/, `not a hex byte: ${pair}`);
  return new Uint8Array(pairs.map((pair) => parseInt(pair, 16)));
}

function decodeOne(bytes: Uint8Array): unknown {
  const values = [...new FrameDecoder().push(bytes)];
  assert.equal(values.length, 1, "one frame");
  return values[0];
}

Deno.test('section 3, "A frame in hex": the bytes are the frame the text names', () => {
  const text = section("### A frame in hex");
  const claim = /`(\{[^`]*\})` is (\d+) bytes on the wire/.exec(text);
  assert.ok(claim, "the sentence naming the frame and its size");
  const frame = JSON.parse(claim[1]!);
  const [block] = codeBlocks(text);
  // Each line: hex bytes, then (after two spaces or more) what they are.
  const hex = block!.split("\n").map((line) => line.split(/\s{2,}/)[0]!).join(" ");
  const bytes = hexBytes(hex);
  assert.equal(bytes.length, Number(claim[2]));
  assert.deepEqual(decodeOne(bytes), frame);
  assert.deepEqual(encodeFrame(frame), bytes);
  // The length line says what the prefix holds.
  const length = /length = (\d+) bytes of payload/.exec(block!);
  assert.equal(Number(length?.[1]), bytes.length - 4);
  assert.equal(schemaProblem("request.join", frame), undefined);
  assert.deepEqual(parseClientFrame(frame), frame);
});

Deno.test("section 3: the heartbeat ping's bytes", () => {
  const text = section("### A frame in hex");
  const claim = /heartbeat probe `(\{[^`]*\})` is `([0-9a-f ]+)`/.exec(text);
  assert.ok(claim, "the sentence giving the ping's bytes");
  const frame = JSON.parse(claim[1]!);
  const bytes = hexBytes(claim[2]!);
  assert.deepEqual(decodeOne(bytes), frame);
  assert.deepEqual(encodeFrame(frame), bytes);
  assert.equal(serverFrameProblem(frame), undefined);
  assert.deepEqual(parseServerFrame(frame), { type: "ping" });
});

/** `line` without a `//` comment (one outside any string). */
function withoutComment(line: string): string {
  let quoted = false;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (char === "\\") index++;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === "/" && line[index + 1] === "/") {
      return line.slice(0, index).trimEnd();
    }
  }
  return line;
}

/** The frames of a `jsonc` exchange: `>` client to server, `<` server to client. */
function exchange(block: string): Array<{ from: "client" | "server"; frame: unknown }> {
  const frames: Array<{ from: "client" | "server"; frame: unknown }> = [];
  let current: { from: "client" | "server"; text: string } | undefined;
  const finish = () => {
    if (current === undefined) return;
    frames.push({ from: current.from, frame: JSON.parse(current.text) });
    current = undefined;
  };
  for (const raw of block.split("\n")) {
    const line = withoutComment(raw);
    const start = /^([<>]) (\{.*)$/.exec(line);
    if (start) {
      finish();
      current = { from: start[1] === ">" ? "client" : "server", text: start[2]! };
    } else if (current !== undefined && line.trim() !== "") {
      current.text += line;
    } else {
      finish();
    }
  }
  finish();
  return frames;
}

Deno.test("section 18, the example exchange: every frame is valid, every ack matches its request", () => {
  const [block] = codeBlocks(section("## 18. Example exchange"));
  const frames = exchange(block!);
  assert.ok(frames.length >= 20, `found ${frames.length} frames`);
  const requests = new Map<number, RequestType>();
  for (const { from, frame } of frames) {
    const shown = JSON.stringify(frame);
    if (from === "client") {
      const { type, id } = frame as { type: string; id?: number };
      if (type === "frobnicate") {
        // An unknown request: what the example shows the server refusing.
        assert.notEqual(schemaProblem("ClientFrame", frame), undefined);
        continue;
      }
      assert.equal(schemaProblem("ClientFrame", frame), undefined, shown);
      assert.doesNotThrow(() => parseClientFrame(structuredClone(frame)), shown);
      if (id !== undefined) requests.set(id, type as RequestType);
      continue;
    }
    assert.equal(serverFrameProblem(frame), undefined, shown);
    const parsed = parseServerFrame(structuredClone(frame));
    assert.deepEqual(parsed, frame, shown);
    if (parsed?.type === "ack") {
      const type = requests.get(parsed.id);
      assert.ok(type !== undefined, `an ack of no request: ${shown}`);
      assert.equal(schemaProblem(`result.${type}`, parsed.result ?? {}), undefined, shown);
      assert.doesNotThrow(() => parseAck(parsed, { type }), shown);
    }
  }
});

Deno.test("every other frame docs/protocol.md writes out (a line of a code block, or inline code) is valid", () => {
  const inline = [...DOC.matchAll(/`(\{"type": [^`]*\})`/g)].map((match) => match[1]!);
  const lines = codeBlocks(DOC).flatMap((block) => block.split("\n"));
  let checked = 0;
  for (const text of [...lines, ...inline]) {
    // `{...}` stands for a result left out.
    if (!/^\{"type": "[a-z_]+"/.test(text) || text.includes("{...}")) continue;
    const frame = JSON.parse(text) as Record<string, unknown>;
    // Frames that exist in both directions are valid in one of them.
    const problems = [schemaProblem("ClientFrame", frame), serverFrameProblem(frame)];
    assert.ok(problems.includes(undefined), `${text}\n${problems.join("\n")}`);
    checked++;
  }
  assert.ok(checked >= 10, `checked ${checked}`);
});

/** The top-level fields of `{a, b?: x, c: {d, e}}`: name and whether it is optional. */
function fieldsOf(shape: string): Map<string, boolean> {
  const fields = new Map<string, boolean>();
  let depth = 0;
  let part = "";
  const add = () => {
    const name = /^\s*([A-Za-z][A-Za-z0-9]*)(\?)?/.exec(part);
    if (name) fields.set(name[1]!, name[2] === "?");
    part = "";
  };
  for (const char of shape.slice(1, -1)) {
    if (char === "{" || char === "[") depth++;
    if (char === "}" || char === "]") depth--;
    if (char === "," && depth === 0) add();
    else part += char;
  }
  add();
  return fields;
}

Deno.test("section 8: the result column names the fields of each result type", () => {
  const table = section("## 8. Requests and their acks").split("\n").filter((line) =>
    line.startsWith("| `")
  );
  const { $defs } = protocolJsonSchema();
  const seen = new Set<string>();
  for (const row of table) {
    const [types, , result] = row.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
    const shape = /`(\{[^`]*\})`/.exec(result!)?.[1];
    assert.ok(shape !== undefined, row);
    const fields = fieldsOf(shape);
    // "plus `duplicate: true` ..." adds optional flags.
    for (const [, name] of result!.matchAll(/`([a-z]+): true`/g)) fields.set(name!, true);
    for (const [, type] of types!.matchAll(/`([a-z_]+)`/g)) {
      seen.add(type!);
      let def = $defs[`result.${type}`]!;
      if (def.$ref !== undefined) def = $defs[def.$ref.replace("#/$defs/", "")]!;
      const required = new Set(def.required ?? []);
      const documented = Object.fromEntries(
        [...fields].map(([name, optional]) => [name, optional ? "optional" : "required"]),
      );
      const defined = Object.fromEntries(
        Object.keys(def.properties ?? {}).map((name) => [
          name,
          required.has(name) ? "required" : "optional",
        ]),
      );
      assert.deepEqual(documented, defined, `the ${type} row of section 8`);
    }
  }
  assert.deepEqual([...seen].sort(), [...REQUEST_TYPES].sort());
});

Deno.test("docs/protocol.md: a default it gives for a server flag is the server's default", () => {
  const byFlag = new Map(Object.values(SETTINGS).map((setting) => [setting.flag, setting.default]));
  const flat = DOC.replace(/\s+/g, " ");
  // "`--max-replay` of them (500 by default" and "(10 by default, `--max-handshakes-per-ip`".
  const named = [
    ...[...flat.matchAll(/`--([a-z-]+)`[^`]{0,40}?\(([\d,]+) by default/g)].map((
      m,
    ) => [m[1], m[2]]),
    ...[...flat.matchAll(/\(([\d,]+) by default, `--([a-z-]+)`/g)].map((m) => [m[2], m[1]]),
  ];
  assert.ok(named.length >= 5, `found ${named.length} defaults`);
  for (const [flag, value] of named) {
    assert.ok(byFlag.has(flag!), `--${flag} is not a server flag`);
    assert.equal(Number(value!.replaceAll(",", "")), byFlag.get(flag!), `--${flag}`);
  }
});
