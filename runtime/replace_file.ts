/**
 * Writing a file that something may be reading or have mapped.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";

/**
 * Writes `data` to a new file beside `path` and renames it over `path`.
 * A process that has the old file open or mapped (a Falco that loaded a
 * plugin `.so`) keeps the old bytes; one that opens `path` later sees the
 * whole new file, never a partial one.
 *
 * @param path The file to replace (or create).
 * @param data Its new contents.
 * @param mode Permission bits of the new file.
 *
 * @example
 * ```ts
 * import { replaceFile } from "./replace_file.ts";
 * const dir = await Deno.makeTempDir();
 * await replaceFile(`${dir}/libdemo.so`, new Uint8Array([1, 2, 3]), 0o755);
 * console.assert((await Deno.readFile(`${dir}/libdemo.so`)).length === 3);
 * ```
 */
export async function replaceFile(
  path: string,
  data: Uint8Array,
  mode = 0o644,
): Promise<void> {
  const tmp = join(
    dirname(resolve(path)),
    `.${basename(path)}.tmp${Deno.pid}`,
  );
  try {
    await Deno.writeFile(tmp, data, { mode });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
