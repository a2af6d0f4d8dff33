/**
 * The chat server: accept loop, broker, sessions.
 *
 * @module
 */
export * from "./broker.ts";
export * from "./chat_server.ts";
export * from "./server_options.ts";
export * from "./serve_command.ts";
