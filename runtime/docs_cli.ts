/**
 * `deno task docs <plugin.ts> [--update README.md]`: prints the plugin's
 * fields table in Markdown (see `fields_doc.ts`); with `--update`, replaces
 * the table under the plugin's heading in that file instead.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FIELDS_BEGIN, FIELDS_END, fieldsTable } from "./fields_doc.ts";
import type { AnyPlugin } from "./types.ts";

/**
 * The heading a plugin's section starts with in `plugins/README.md`.
 *
 * @param file The plugin's file name (`dummy.ts`).
 * @returns The heading line.
 */
export function sectionHeading(file: string): string {
  return `## \`${basename(file)}\``;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { update: { type: "string" } },
  });
  if (positionals.length !== 1) {
    console.error("usage: deno task docs <plugin.ts> [--update README.md]");
    Deno.exit(2);
  }
  const path = resolve(positionals[0]);
  const plugin = (await import(pathToFileURL(path).href)).default as AnyPlugin;
  const table = fieldsTable(plugin);
  if (values.update === undefined) {
    await Deno.stdout.write(new TextEncoder().encode(table));
  } else {
    const text = await Deno.readTextFile(values.update);
    const heading = sectionHeading(path);
    const at = text.indexOf(heading);
    const begin = text.indexOf(FIELDS_BEGIN, at);
    const end = text.indexOf(FIELDS_END, begin);
    if (at < 0 || begin < 0 || end < 0) {
      console.error(
        `${values.update} has no "${heading}" section with a fields table`,
      );
      Deno.exit(1);
    }
    await Deno.writeTextFile(
      values.update,
      text.slice(0, begin) + table.trimEnd() +
        text.slice(end + FIELDS_END.length),
    );
  }
}
