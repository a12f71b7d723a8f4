/**
 * RFC 6901 JSON pointers, the argument syntax of the Falco `json` plugin's
 * fields (`json.value[/user/name]`).
 *
 * @module
 */

/**
 * Walks `value` along a JSON pointer, as the official Go `json` plugin does:
 * `~1` stands for `/` and `~0` for `~`; array indexes are decimal without
 * leading zeros; a missing member gives `undefined`.
 *
 * @param value A parsed JSON document.
 * @param pointer The pointer (`""` is the whole document).
 * @returns The value found, or `undefined`.
 *
 * @example Read a nested member
 * ```ts
 * import { jsonPointer } from "./json_pointer.ts";
 * const doc = { user: { name: "ana" }, tags: ["a", "b"] };
 * console.assert(jsonPointer(doc, "/user/name") === "ana");
 * console.assert(jsonPointer(doc, "/tags/1") === "b");
 * console.assert(jsonPointer(doc, "/nope") === undefined);
 * ```
 */
export function jsonPointer(value: unknown, pointer: string): unknown {
  if (pointer === "") return value;
  const path = pointer.startsWith("/") ? pointer.slice(1) : pointer;
  let v = value;
  for (const raw of path.split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(v)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
      v = v[Number(key)];
    } else if (v !== null && typeof v === "object") {
      if (!Object.hasOwn(v, key)) return undefined;
      v = (v as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
    if (v === undefined) return undefined;
  }
  return v;
}
