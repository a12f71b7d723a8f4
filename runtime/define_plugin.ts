/**
 * `definePlugin`: checks a plugin definition and returns the plugin object a
 * plugin file default-exports.
 *
 * @module
 */

import { FIELD_TYPES } from "./types.ts";
import type {
  ConfigFromSchema,
  FieldDefinition,
  InitSchema,
  Plugin,
  PluginDefinition,
} from "./types.ts";
import { PluginError } from "./plugin_error.ts";

const FIELD_NAME = /^[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+$/;
const PLUGIN_NAME = /^[a-zA-Z0-9_.-]+$/;
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
/** Ids from 2^31 on are reserved by Falco and must not be used by plugins. */
const MAX_PLUGIN_ID = 0x7fff_ffff;

/**
 * Defines a Falco plugin. Checks the definition and throws a
 * {@linkcode PluginError} listing the first problem found (malformed or
 * duplicate field names, id/source mismatch, unknown types, ...).
 *
 * A plugin is a source (`id`, `eventSource`, `open`, `nextBatch`), an
 * extractor (`fields`), or both.
 *
 * @example A source plugin with one field
 * ```ts
 * import { definePlugin, EOF } from "../mod.ts";
 * export default definePlugin({
 *   name: "counter",
 *   id: 999,
 *   version: "0.1.0",
 *   description: "Counts to 3",
 *   contact: "https://example.com",
 *   eventSource: "counter",
 *   initSchema: {
 *     type: "object",
 *     properties: { to: { type: "integer", default: 3 } },
 *   },
 *   init: (config) => ({ to: config.to }),
 *   open: () => ({ n: 0 }),
 *   nextBatch: (state, capture) =>
 *     capture.n < state.to ? [String(++capture.n)] : EOF,
 *   fields: [{
 *     name: "counter.n",
 *     type: "uint64",
 *     desc: "The count",
 *     extract: ({ event }) => Number(event.text),
 *   }],
 * });
 * ```
 *
 * @typeParam Sch The init schema, as written (its literal type gives the
 *   config type, {@linkcode ConfigFromSchema}; an `init` whose parameter
 *   type does not accept that config is a type error).
 * @typeParam S The plugin state returned by `init`.
 * @typeParam I The capture returned by `open`.
 * @typeParam D What `decode` returns for one event.
 * @param definition Metadata, callbacks and fields.
 * @returns The checked plugin.
 */
export function definePlugin<
  const Sch extends InitSchema | undefined = undefined,
  S = undefined,
  I = unknown,
  D = unknown,
>(
  definition: PluginDefinition<ConfigFromSchema<Sch>, S, I, D> & {
    initSchema?: Sch;
  },
): Plugin<ConfigFromSchema<Sch>, S, I, D> {
  const { sourcing, extraction } = checkDefinition(
    definition as PluginDefinition,
  );
  return Object.freeze({ definition, sourcing, extraction });
}

/** Throws a {@linkcode PluginError} for the first problem of `d`. */
export function checkDefinition(
  d: PluginDefinition,
): { sourcing: boolean; extraction: boolean } {
  if (d === null || typeof d !== "object") {
    throw new TypeError("Plugin definition must be an object");
  }
  if (typeof d.name !== "string" || !PLUGIN_NAME.test(d.name)) {
    throw new TypeError(
      `Plugin name "${
        String(d.name)
      }" is invalid: use letters, digits, "_", "-" and "."`,
    );
  }
  const fail = (detail: string): never => {
    throw new PluginError(d.name, detail);
  };
  for (const key of ["version", "description", "contact"] as const) {
    if (typeof d[key] !== "string") fail(`${key} must be a string`);
  }
  if (!SEMVER.test(d.version)) {
    fail(`version "${d.version}" is not a semantic version like "1.2.3"`);
  }
  for (
    const key of [
      "init",
      "destroy",
      "open",
      "close",
      "nextBatch",
      "progress",
      "eventToString",
      "decode",
      "metrics",
    ] as const
  ) {
    if (d[key] !== undefined && typeof d[key] !== "function") {
      fail(`${key} must be a function`);
    }
  }

  const hasOpen = d.open !== undefined, hasNext = d.nextBatch !== undefined;
  if (hasOpen !== hasNext) {
    fail(
      `a source plugin needs both open and nextBatch, got only ${
        hasOpen ? "open" : "nextBatch"
      }`,
    );
  }
  const sourcing = hasOpen && hasNext;
  const id = d.id ?? 0;
  const source = d.eventSource ?? "";
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
    fail(`id "${id}" is not a u32`);
  }
  if (typeof source !== "string") fail("eventSource must be a string");
  if (sourcing) {
    if (id === 0) {
      fail(
        `a source plugin needs a non-zero id (999 is reserved for development)`,
      );
    }
    if (id > MAX_PLUGIN_ID) {
      fail(
        `id "${id}" is in a range Falco reserves (above "${MAX_PLUGIN_ID}")`,
      );
    }
    if (source === "") fail("a source plugin needs an eventSource");
    if (source === "syscall") {
      fail(`eventSource "syscall" is reserved for Falco's own events`);
    }
  } else {
    if (id !== 0) {
      fail(`id "${id}" is set but the plugin has no open and nextBatch`);
    }
    if (source !== "") {
      fail(
        `eventSource "${source}" is set but the plugin has no open and nextBatch`,
      );
    }
    for (const key of ["close", "progress", "openParams"] as const) {
      if (d[key] !== undefined) {
        fail(`${key} is set but the plugin has no open and nextBatch`);
      }
    }
  }

  const fields = d.fields ?? [];
  if (!Array.isArray(fields)) fail("fields must be an array");
  const extraction = fields.length > 0;
  if (!sourcing && !extraction) {
    fail("the plugin has neither a source (open, nextBatch) nor fields");
  }
  const seen = new Set<string>();
  fields.forEach((f, i) => checkField(d.name, f, i, seen));
  if (d.decode !== undefined && !extraction) {
    fail("decode is set but the plugin has no fields");
  }

  if (d.extractEventSources !== undefined) {
    if (!extraction) fail("extractEventSources is set but there are no fields");
    if (!Array.isArray(d.extractEventSources)) {
      fail("extractEventSources must be an array of strings");
    }
    const srcs = new Set<string>();
    for (const s of d.extractEventSources) {
      if (typeof s !== "string" || s === "") {
        fail(`extractEventSources has an invalid source "${String(s)}"`);
      }
      if (srcs.has(s)) fail(`extractEventSources lists "${s}" twice`);
      srcs.add(s);
    }
  }

  if (d.initSchema !== undefined) {
    if (
      d.initSchema === null || typeof d.initSchema !== "object" ||
      Array.isArray(d.initSchema)
    ) {
      fail("initSchema must be a JSON Schema object");
    }
    try {
      JSON.stringify(d.initSchema);
    } catch (err) {
      fail(`initSchema is not JSON-serializable: ${(err as Error).message}`);
    }
  }
  if (d.openParams !== undefined && typeof d.openParams !== "function") {
    if (!Array.isArray(d.openParams)) {
      fail("openParams must be an array or a function");
    }
    d.openParams.forEach((p, i) => {
      if (p === null || typeof p !== "object" || typeof p.value !== "string") {
        fail(`openParams[${i}] must be an object with a string value`);
      }
    });
  }
  if (d.permissions !== undefined) {
    if (
      d.permissions === null || typeof d.permissions !== "object" ||
      Array.isArray(d.permissions)
    ) {
      fail("permissions must be an object of read, write, net, env lists");
    }
    for (const [kind, list] of Object.entries(d.permissions)) {
      if (!["read", "write", "net", "env"].includes(kind)) {
        fail(`permissions.${kind} is unknown (read, write, net, env)`);
      }
      if (
        !Array.isArray(list) ||
        list.some((v) => typeof v !== "string" || v === "")
      ) {
        fail(`permissions.${kind} must be an array of non-empty strings`);
      }
    }
  }
  return { sourcing, extraction };
}

function checkField(
  plugin: string,
  f: FieldDefinition,
  i: number,
  seen: Set<string>,
): void {
  const fail = (detail: string): never => {
    throw new PluginError(plugin, detail);
  };
  if (f === null || typeof f !== "object") {
    fail(`fields[${i}] is not an object`);
  }
  const name = f.name;
  if (typeof name !== "string" || !FIELD_NAME.test(name)) {
    fail(
      `field name "${
        String(name)
      }" is malformed: use "prefix.name" with letters, digits and "_"`,
    );
  }
  if (seen.has(name)) fail(`field "${name}" is defined twice`);
  seen.add(name);
  if (!FIELD_TYPES.includes(f.type)) {
    fail(
      `field "${name}" has unknown type "${String(f.type)}" (expected one of ${
        FIELD_TYPES.map((t) => `"${t}"`).join(", ")
      })`,
    );
  }
  if (typeof f.desc !== "string" || f.desc === "") {
    fail(`field "${name}" needs a desc`);
  }
  if (typeof f.extract !== "function") {
    fail(`field "${name}" needs an extract function`);
  }
  if (f.list !== undefined && typeof f.list !== "boolean") {
    fail(`field "${name}" list must be a boolean`);
  }
  if (f.display !== undefined && typeof f.display !== "string") {
    fail(`field "${name}" display must be a string`);
  }
  if (f.addOutput !== undefined && typeof f.addOutput !== "boolean") {
    fail(`field "${name}" addOutput must be a boolean`);
  }
  if ("arg" in f) {
    fail(
      `field "${name}" has an arg member: write index: "required" | "optional" or key: "required" | "optional"`,
    );
  }
  for (const kind of ["index", "key"] as const) {
    const v = f[kind];
    if (v !== undefined && v !== "required" && v !== "optional") {
      fail(
        `field "${name}" ${kind} must be "required" or "optional", got "${
          String(v)
        }"`,
      );
    }
  }
  if (f.index !== undefined && f.key !== undefined) {
    fail(`field "${name}" takes an index or a key, not both`);
  }
  if (f.properties !== undefined) {
    if (
      !Array.isArray(f.properties) ||
      f.properties.some((p) => typeof p !== "string")
    ) {
      fail(`field "${name}" properties must be an array of strings`);
    }
  }
}
