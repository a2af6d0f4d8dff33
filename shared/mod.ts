/**
 * What server and client share: framing, the protocol's types and their
 * validation, slash commands and errors.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./protocol.ts";
export * from "./validation.ts";
export * from "./commands.ts";
