/**
 * The plugin's own metrics, as the bridge hands them to the embed
 * (`plugin_get_metrics`). Runs inside the embed: no `Deno.*`.
 *
 * @module
 */

import { BUILTIN_METRICS } from "./_bridge_abi.ts";
import { PluginError } from "./plugin_error.ts";

/** What a metric name may look like (Falco prefixes it with the plugin name). */
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,199}$/;

/**
 * Checks what a plugin's `metrics` callback returned and renders it as the
 * JSON object text the embed parses: names sorted, values finite numbers.
 *
 * @example
 * ```ts
 * import { metricsText } from "./metrics.ts";
 * console.assert(metricsText("p", { b: 2, a: 1.5 }) === '{"a":1.5,"b":2}');
 * ```
 *
 * @param plugin The plugin name, for error messages.
 * @param result What `metrics(state)` returned.
 * @returns The JSON text.
 */
export function metricsText(plugin: string, result: unknown): string {
  if (result === null || typeof result !== "object" || Array.isArray(result)) {
    throw new PluginError(
      plugin,
      `metrics returned ${
        result === null
          ? "null"
          : Array.isArray(result)
          ? "an array"
          : typeof result
      }: expected an object of numbers`,
    );
  }
  const record = result as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const name of Object.keys(record).sort()) {
    if (!METRIC_NAME.test(name)) {
      throw new PluginError(
        plugin,
        `metric name "${name}" must match ${METRIC_NAME.source}`,
      );
    }
    if ((BUILTIN_METRICS as readonly string[]).includes(name)) {
      throw new PluginError(
        plugin,
        `metric name "${name}" is reserved for a built-in metric`,
      );
    }
    const v = record[name];
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n)) {
      throw new PluginError(
        plugin,
        `metric "${name}" is ${
          typeof v === "number" ? String(v) : typeof v
        }: expected a finite number`,
      );
    }
    out[name] = n;
  }
  return JSON.stringify(out);
}
