/**
 * The argument of a field definition (`index` or `key`, `"required"` or
 * `"optional"`), as the manifest, the extraction dispatch and the harness
 * read it.
 *
 * @module
 */

import type { ArgPresence } from "./types.ts";

/**
 * The argument a field takes, as the runtime reads it from a definition's
 * `index` or `key` member (see {@linkcode fieldArg}).
 */
export interface FieldArg {
  /** `"index"` for a numeric argument, `"key"` for a string argument. */
  kind: "index" | "key";
  /** Whether the field can only be used with an argument. */
  required: boolean;
}

/**
 * The argument of a field definition, or `undefined` when it takes none.
 *
 * @example
 * ```ts
 * import { fieldArg } from "./_field_arg.ts";
 * const f = { name: "a.b", type: "uint64", desc: "d", index: "required", extract: () => 1 } as const;
 * console.assert(fieldArg(f)?.kind === "index" && fieldArg(f)?.required);
 * ```
 *
 * @param f A field definition.
 * @returns Its argument kind and whether it is required.
 */
export function fieldArg(
  f: { index?: ArgPresence; key?: ArgPresence },
): FieldArg | undefined {
  if (f.index !== undefined) {
    return { kind: "index", required: f.index === "required" };
  }
  if (f.key !== undefined) {
    return { kind: "key", required: f.key === "required" };
  }
  return undefined;
}
