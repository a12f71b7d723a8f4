/**
 * The manifest: the static answers of a plugin (name, fields JSON, init
 * schema, ...) that the `.so` serves without starting the engine.
 *
 * @module
 */

import type { AnyPlugin, PluginPermissions } from "./types.ts";
import { fieldArg } from "./_field_arg.ts";

/** Plugin API version the embed requires (3.4.0: it uses `log_fn`). */
export const REQUIRED_API_VERSION = "3.4.0";

/** The manifest, read by the Rust embed with serde (field names are fixed). */
export interface Manifest {
  /** `plugin_get_name`. */
  name: string;
  /** `plugin_get_version`. */
  version: string;
  /** `plugin_get_description`. */
  description: string;
  /** `plugin_get_contact`. */
  contact: string;
  /** `plugin_get_id` (0 without event source). */
  id: number;
  /** `plugin_get_event_source` (`""` without event source). */
  eventSource: string;
  /** `plugin_get_extract_event_sources`: JSON array text. */
  extractEventSources: string;
  /** `plugin_get_fields`: JSON array text. */
  fields: string;
  /** `plugin_get_init_schema`: JSON Schema text, `""` if none. */
  initSchema: string;
  /** `plugin_list_open_params` for static suggestions: JSON array text. */
  openParams: string;
  /** `plugin_get_required_api_version`. */
  requiredApiVersion: string;
  /** Which symbol groups the `.so` exports. */
  capabilities: { sourcing: boolean; extraction: boolean };
  /** What the plugin declares it needs (`definition.permissions`), for the operator. */
  permissions?: PluginPermissions;
}

/**
 * Builds the manifest of a plugin.
 *
 * @example The manifest of a small plugin
 * ```ts
 * import { buildManifest } from "./manifest.ts";
 * import { definePlugin } from "./define_plugin.ts";
 * const plugin = definePlugin({
 *   name: "x", version: "1.0.0", description: "d", contact: "c",
 *   fields: [{ name: "x.a", type: "bool", desc: "A", extract: () => true }],
 * });
 * const m = buildManifest(plugin);
 * console.assert(m.capabilities.extraction && !m.capabilities.sourcing);
 * console.assert(JSON.parse(m.fields)[0].type === "bool");
 * ```
 *
 * @param plugin A plugin from `definePlugin`.
 * @returns Its manifest.
 */
export function buildManifest(plugin: AnyPlugin): Manifest {
  const d = plugin.definition;
  const fields = (d.fields ?? []).map((f) => {
    const arg = fieldArg(f);
    const entry: Record<string, unknown> = {
      name: f.name,
      type: f.type,
      isList: f.list === true,
      arg: {
        isRequired: arg?.required === true,
        isIndex: arg?.kind === "index",
        isKey: arg?.kind === "key",
      },
      display: f.display ?? "",
      desc: f.desc,
    };
    if (f.properties !== undefined && f.properties.length > 0) {
      entry.properties = [...f.properties];
    }
    if (f.addOutput === true) entry.addOutput = true;
    return entry;
  });
  return {
    name: d.name,
    version: d.version,
    description: d.description,
    contact: d.contact,
    id: d.id ?? 0,
    eventSource: d.eventSource ?? "",
    extractEventSources: JSON.stringify(d.extractEventSources ?? []),
    fields: JSON.stringify(fields),
    initSchema: d.initSchema === undefined ? "" : JSON.stringify(d.initSchema),
    openParams: openParamsText(
      Array.isArray(d.openParams) ? d.openParams : [],
    ),
    requiredApiVersion: REQUIRED_API_VERSION,
    capabilities: { sourcing: plugin.sourcing, extraction: plugin.extraction },
    ...(d.permissions === undefined ? {} : { permissions: d.permissions }),
  };
}

/** JSON text of open param suggestions, as `plugin_list_open_params` returns. */
export function openParamsText(
  params: ReadonlyArray<{ value: string; desc?: string; separator?: string }>,
): string {
  return JSON.stringify(
    params.map((p) => ({
      value: p.value,
      desc: p.desc ?? "",
      separator: p.separator ?? "",
    })),
  );
}
