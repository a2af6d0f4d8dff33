/**
 * `/upload` and `/download` as the modes of `chat join` run them: the
 * target worked out, the transfer run, and what happens told as lines of
 * text (progress in steps, then the outcome), the same in line mode, the
 * full-screen client and piped mode.
 *
 * @module
 */
import { ChatError } from "../shared/errors.ts";
import { nameKey, sanitizeForTerminal } from "../shared/validation.ts";
import type { ChatClient } from "./chat_client.ts";
import type { ClientCommand } from "./client_commands.ts";
import { baseName, downloadFile, uploadFile, type UploadTarget } from "./file_transfer.ts";
import { describeError, formatFileSize } from "./format.ts";

/** A file command of {@linkcode ClientCommand}. */
export type FileCommand = Extract<ClientCommand, { kind: "upload" | "download" }>;

/** Whether `command` is `/upload` or `/download`. */
export function isFileCommand(command: ClientCommand): command is FileCommand {
  return command.kind === "upload" || command.kind === "download";
}

/** How a file command tells what happens. */
export interface FileReport {
  /** A line of progress or success. */
  info(text: string): void;
  /** The failure. */
  error(text: string): void;
  /** Progress steps, in percent (default 25: 25%, 50%, 75%). */
  stepPercent?: number;
}

/**
 * Where `/upload` goes: `#room`, `@nick`, a bare name (a room the client
 * is in, else a user), or the current room.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uploadTarget } from "./file_commands.ts";
 * assert.deepEqual(uploadTarget("bob", { rooms: ["dev"] }), { to: "bob" });
 * assert.deepEqual(uploadTarget("Dev", { rooms: ["dev"] }), { room: "dev" });
 * assert.deepEqual(uploadTarget(undefined, { rooms: [], currentRoom: "ops" }), { room: "ops" });
 * ```
 */
export function uploadTarget(
  to: string | undefined,
  context: { rooms: readonly string[]; currentRoom?: string | undefined },
): UploadTarget {
  if (to === undefined) {
    if (context.currentRoom === undefined) {
      throw new ChatError("not_in_room", "You are not in a room: /upload PATH ROOM|NICK");
    }
    return { room: context.currentRoom };
  }
  if (to.startsWith("#")) return { room: to.slice(1) };
  if (to.startsWith("@")) return { to: to.slice(1) };
  const room = context.rooms.find((name) => nameKey(name) === nameKey(to));
  return room === undefined ? { to } : { room };
}

function progress(
  verb: string,
  name: string,
  report: FileReport,
): (done: number, total: number) => void {
  const step = report.stepPercent ?? 25;
  let shown = 0;
  return (done, total) => {
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (percent >= 100 || percent < shown + step) return;
    shown = percent - (percent % step);
    report.info(`${verb} ${name}: ${shown}% (${formatFileSize(done)} of ${formatFileSize(total)})`);
  };
}

/** Runs `/upload` or `/download`; resolves once it has reported its outcome. */
export async function runFileCommand(
  client: ChatClient,
  command: FileCommand,
  context: { currentRoom?: string | undefined; report: FileReport },
): Promise<void> {
  const { report } = context;
  try {
    if (command.kind === "upload") {
      const target = uploadTarget(command.to, {
        rooms: client.rooms,
        currentRoom: context.currentRoom,
      });
      const shown = sanitizeForTerminal(baseName(command.path));
      const where = "room" in target
        ? `#${sanitizeForTerminal(target.room)}`
        : sanitizeForTerminal(target.to);
      report.info(`uploading ${shown} to ${where}`);
      const done = await uploadFile(client, command.path, {
        target,
        onProgress: progress("uploading", shown, report),
      });
      report.info(
        `uploaded ${sanitizeForTerminal(done.file.name)} (${
          formatFileSize(done.file.size)
        }) to ${where}: id ${done.file.id}`,
      );
    } else {
      report.info(`downloading ${sanitizeForTerminal(command.file)}`);
      const saved = await downloadFile(client, command.file, {
        ...(command.path === undefined ? {} : { path: command.path }),
        overwrite: command.overwrite,
        onProgress: progress("downloading", sanitizeForTerminal(command.file), report),
      });
      report.info(
        `saved ${sanitizeForTerminal(saved.file.name)} (${formatFileSize(saved.file.size)}) as ${
          sanitizeForTerminal(saved.path)
        }`,
      );
    }
  } catch (error) {
    report.error(`/${command.kind}: ${describeError(error)}`);
  }
}
