/**
 * The chat client: a {@linkcode ChatClient} library with reconnection, the
 * formatting of events for people and scripts, and the `chat join` command.
 *
 * @example
 * ```ts ignore
 * import { ChatClient } from "./mod.ts";
 * await using client = await ChatClient.connect({ nick: "alice" });
 * await client.request({ type: "join", room: "general" });
 * ```
 *
 * @module
 */
export * from "./address.ts";
export * from "./backoff.ts";
export * from "./chat_client.ts";
export * from "./client_event.ts";
export * from "./connection_closed_error.ts";
export * from "./event_queue.ts";
export * from "./format.ts";
export * from "./frame_connection.ts";
export * from "./interactive_mode.ts";
export * from "./join_command.ts";
export * from "./key_decoder.ts";
export * from "./line_editor.ts";
export * from "./line_reader.ts";
export * from "./piped_mode.ts";
export * from "./request_pacer.ts";
// The shared protocol types this API speaks in.
export type {
  AckFrame,
  ByeFrame,
  ChatEvent,
  ClientFrame,
  RequestBody,
  ServerFrame,
  ServerLimits,
  WelcomeFrame,
} from "../shared/protocol.ts";
export type { ErrorFrame } from "../shared/errors.ts";
