/**
 * The chat client: a {@linkcode ChatClient} library with reconnection (over
 * TCP, TLS or a Unix socket), LAN discovery of servers, the formatting of
 * events for people and scripts, and the `chat join` command.
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
export * from "./client_commands.ts";
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
export * from "./password_input.ts";
export * from "./piped_mode.ts";
export * from "./read_marker.ts";
export * from "./request_pacer.ts";
export * from "./server_discovery.ts";
export * from "./server_picker.ts";
// The shared protocol types this API speaks in.
export type {
  AckFrame,
  ByeFrame,
  ChatEvent,
  ClientFrame,
  DirectMessageEvent,
  RequestBody,
  RoomMessageEvent,
  ServerFrame,
  ServerLimits,
  WelcomeFrame,
} from "../shared/protocol.ts";
export type { ErrorFrame } from "../shared/errors.ts";
export type { Command, CommandContext } from "../shared/commands.ts";
export type { DiscoveryAnswer } from "../shared/discovery.ts";
