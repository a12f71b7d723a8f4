/**
 * falco-deno: Falco plugins written in TypeScript.
 *
 * A plugin is one file that default-exports {@linkcode definePlugin}'s
 * result; {@linkcode PluginHarness} tests it under `deno test` through the
 * same runtime code the `.so` runs inside Falco.
 *
 * @example A plugin and its test
 * ```ts
 * import { definePlugin, EOF, PluginHarness } from "./mod.ts";
 *
 * const plugin = definePlugin({
 *   name: "hello",
 *   id: 999,
 *   version: "0.1.0",
 *   description: "Says hello three times",
 *   contact: "https://example.com",
 *   eventSource: "hello",
 *   open: () => ({ left: 3 }),
 *   nextBatch: (_state, capture) =>
 *     capture.left-- > 0 ? ["hello"] : EOF,
 *   fields: [{
 *     name: "hello.text",
 *     type: "string",
 *     desc: "The greeting",
 *     extract: ({ event }) => event.text,
 *   }],
 * });
 *
 * const h = await PluginHarness.start(plugin);
 * const events = await h.collect();
 * console.assert(events.length === 3);
 * console.assert(h.extract(events[0], "hello.text") === "hello");
 * ```
 *
 * @module
 */

export { definePlugin } from "./runtime/define_plugin.ts";
export { EOF, FIELD_TYPES } from "./runtime/types.ts";
export type {
  AnyPlugin,
  AnyShape,
  ArgPresence,
  BatchResult,
  ConfigFromSchema,
  EventInput,
  EventView,
  ExtractContext,
  FieldBase,
  FieldDefinition,
  FieldOfType,
  FieldType,
  FieldValue,
  FromJsonType,
  InitSchema,
  JsonType,
  ListFieldDefinition,
  MaybePromise,
  ObjectFromSchema,
  OpenParam,
  Plugin,
  PluginDefinition,
  PluginPermissions,
  PresentKeys,
  Progress,
  SingleFieldDefinition,
} from "./runtime/types.ts";
export { PluginError } from "./runtime/plugin_error.ts";
export {
  type ExtractResult,
  type HarnessEvent,
  type HarnessOptions,
  PluginHarness,
} from "./runtime/harness.ts";
export type { Manifest } from "./runtime/manifest.ts";
export { formatIp, parseIp } from "./runtime/field_values.ts";
export type { DecodedValue } from "./runtime/field_values.ts";
export {
  FileFollower,
  followFile,
  type FollowOptions,
} from "./runtime/follow.ts";
export { jsonPointer } from "./runtime/json_pointer.ts";
