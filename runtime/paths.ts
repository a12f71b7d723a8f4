/**
 * Where the repository and the cache are.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(
  /\/$/,
  "",
);

/**
 * The cache directory for builds and archives: `$FALCO_DENO_CACHE`, else
 * `~/.cache/falco-deno`.
 *
 * @returns An absolute path.
 *
 * @example
 * ```ts
 * import { cacheDir } from "./paths.ts";
 * console.assert(cacheDir().length > 0);
 * ```
 */
export function cacheDir(): string {
  return Deno.env.get("FALCO_DENO_CACHE") ??
    join(Deno.env.get("HOME") ?? "/tmp", ".cache", "falco-deno");
}
