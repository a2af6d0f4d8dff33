/**
 * docs/protocol.md read by tests: its sections and tables, so a test can
 * check that the document says what the server does.
 *
 * @module
 */
import assert from "node:assert/strict";

/** The text of docs/protocol.md. */
export const PROTOCOL_DOC = await Deno.readTextFile(
  new URL("../../docs/protocol.md", import.meta.url),
);

/** The text of section `title` (a `##` or `###` heading), up to the next heading of any level. */
export function docSection(title: string): string {
  const start = PROTOCOL_DOC.indexOf(`\n${title}\n`);
  assert.notEqual(start, -1, `docs/protocol.md has no heading "${title}"`);
  const rest = PROTOCOL_DOC.slice(start + title.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return end === -1 ? rest : rest.slice(0, end);
}

/** `text` on one line: runs of white space (line ends included) as one space. */
export function flat(text: string): string {
  return text.replace(/\s+/g, " ");
}

/**
 * The rows of the tables in `text` whose first cell is one or more codes in
 * backquotes (`` `bad_frame`, `frame_too_large` ``): each code with the
 * rest of its row (the other cells, joined by ` | `).
 */
export function codeRows(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\| ((?:`[a-z_]+`(?:, )?)+) +\|(.*)\|$/.exec(line);
    if (match === null) continue;
    const rest = match[2]!.split("|").map((cell) => cell.trim()).join(" | ");
    for (const [, code] of match[1]!.matchAll(/`([a-z_]+)`/g)) rows.set(code!, rest);
  }
  return rows;
}

/** The error table of section 9: each code and what it says about it. */
export function errorTable(): Map<string, string> {
  return codeRows(docSection("## 9. Errors"));
}

/** The codes section 16 lists as used in `bye`, and when. */
export function byeTable(): Map<string, string> {
  return codeRows(docSection("## 16. Closing: the bye frame"));
}
