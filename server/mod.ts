/**
 * The chat server: accept loop, broker, sessions.
 *
 * @module
 */
export * from "./chat/broker.ts";
export * from "./chat_server.ts";
export * from "./config/server_options.ts";
export * from "./serve_command.ts";
