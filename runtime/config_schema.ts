/**
 * Init config validation with Ajv: directly for the harness, and as
 * standalone JavaScript generated at build time for the embed (the bundle
 * must not contain Ajv). Both use `useDefaults: true` and the same error
 * text.
 *
 * @module
 */

import { Ajv, type ErrorObject } from "ajv";
import standaloneCode from "ajv/dist/standalone/index.js";
import type { ConfigValidator } from "./embed_bridge.ts";

const AJV_OPTIONS = {
  allErrors: true,
  useDefaults: true,
  strict: false,
} as const;

/**
 * The text of Ajv errors: `<path> <message>` joined by `; `, the path being
 * `/` for the root. Kept free of imports: its source is embedded in the
 * standalone validator.
 */
export function formatConfigErrors(
  errors:
    | ReadonlyArray<
      Pick<ErrorObject, "instancePath" | "message" | "params" | "keyword">
    >
    | null
    | undefined,
): string {
  if (!errors || errors.length === 0) return "invalid config";
  return errors.map((e) => {
    let msg = (e.instancePath || "/") + " " + (e.message || e.keyword);
    const p = e.params as Record<string, unknown> | undefined;
    if (e.keyword === "additionalProperties" && p) {
      msg += ' "' + String(p.additionalProperty) + '"';
    } else if (e.keyword === "enum" && p && Array.isArray(p.allowedValues)) {
      msg += " " + JSON.stringify(p.allowedValues);
    }
    return msg;
  }).join("; ");
}

/**
 * Creates a validator for `schema` with Ajv (for the harness).
 *
 * @example Validating a config
 * ```ts
 * import { createConfigValidator } from "./config_schema.ts";
 * const validate = createConfigValidator({
 *   type: "object",
 *   properties: { jitter: { type: "integer", default: 10 } },
 * });
 * const config: Record<string, unknown> = {};
 * console.assert(validate(config) === undefined && config.jitter === 10);
 * console.assert(validate({ jitter: "x" }) === "/jitter must be integer");
 * ```
 *
 * @param schema A JSON Schema object.
 * @returns The validator: error text, or `undefined` when valid.
 */
export function createConfigValidator(
  schema: Record<string, unknown>,
): ConfigValidator {
  const ajv = new Ajv(AJV_OPTIONS);
  const fn = ajv.compile(schema);
  return (config) => fn(config) ? undefined : formatConfigErrors(fn.errors);
}

/** Inline versions of the Ajv runtime helpers standalone code may require. */
const RUNTIME_HELPERS: Record<string, string> = {
  "ajv/dist/runtime/ucs2length": `(function (str) {
  let length = 0, pos = 0, value;
  while (pos < str.length) {
    length++;
    value = str.charCodeAt(pos++);
    if (value >= 0xd800 && value <= 0xdbff && pos < str.length) {
      value = str.charCodeAt(pos);
      if ((value & 0xfc00) === 0xdc00) pos++;
    }
  }
  return length;
})`,
  "ajv/dist/runtime/equal": `(function equal(a, b) {
  if (a === b) return true;
  if (a && b && typeof a == "object" && typeof b == "object") {
    if (a.constructor !== b.constructor) return false;
    let i, length;
    if (Array.isArray(a)) {
      length = a.length;
      if (length != b.length) return false;
      for (i = length; i-- !== 0;) if (!equal(a[i], b[i])) return false;
      return true;
    }
    if (a.constructor === RegExp) return a.source === b.source && a.flags === b.flags;
    if (a.valueOf !== Object.prototype.valueOf) return a.valueOf() === b.valueOf();
    if (a.toString !== Object.prototype.toString) return a.toString() === b.toString();
    const keys = Object.keys(a);
    length = keys.length;
    if (length !== Object.keys(b).length) return false;
    for (i = length; i-- !== 0;) if (!Object.prototype.hasOwnProperty.call(b, keys[i])) return false;
    for (i = length; i-- !== 0;) if (!equal(a[keys[i]], b[keys[i]])) return false;
    return true;
  }
  return a !== a && b !== b;
})`,
};

/**
 * Generates, at build time, the JavaScript source of an ES module whose
 * default export is a {@linkcode ConfigValidator} for `schema`. The module
 * has no imports (Ajv's runtime helpers are inlined), so the bundle runs on
 * any engine. Throws if the schema needs an Ajv helper that cannot be
 * inlined (such as `format: "uri"`).
 *
 * @example Generating a validator module
 * ```ts
 * import { compileConfigValidator } from "./config_schema.ts";
 * const source = compileConfigValidator({ type: "object" });
 * console.assert(source.includes("export default"));
 * ```
 *
 * @param schema A JSON Schema object (the plugin's `initSchema`).
 * @returns The module source.
 */
export function compileConfigValidator(
  schema: Record<string, unknown>,
): string {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: true } });
  const fn = ajv.compile(schema);
  let code: string = (standaloneCode as unknown as (
    a: Ajv,
    f: unknown,
  ) => string)(ajv, fn);
  code = code.replace(
    /require\("([^"]+)"\)(\.default)?/g,
    (_m, mod: string) => {
      const helper = RUNTIME_HELPERS[mod];
      if (helper === undefined) {
        throw new Error(
          `Init schema needs the Ajv runtime helper "${mod}", which cannot be embedded: simplify the schema`,
        );
      }
      return helper;
    },
  );
  const m = /export const validate = (\w+);export default \1;/.exec(code);
  if (m === null) {
    throw new Error("Unexpected Ajv standalone output: no default export");
  }
  code = code.replace(m[0], "");
  return `${code}
const formatConfigErrors = ${formatConfigErrors.toString()};
export default function validateConfig(config) {
  return ${m[1]}(config) ? undefined : formatConfigErrors(${m[1]}.errors);
}
`;
}
