/**
 * A plugin's fields table in Markdown, generated from its definition, in
 * the format of the official falcosecurity/plugins READMEs (`NAME`,
 * `TYPE` with `(list)` for list fields, `ARG` as `None`, `Index, Required`,
 * `Key, Optional`..., `DESCRIPTION`) between the same
 * `README-PLUGIN-FIELDS` markers.
 *
 * @module
 */

import { fieldArg } from "./_field_arg.ts";
import type { AnyPlugin } from "./types.ts";

/** The opening marker of a fields table (`deno task docs` writes it). */
export const FIELDS_BEGIN = "<!-- README-PLUGIN-FIELDS -->";
/** The closing marker of a fields table. */
export const FIELDS_END = "<!-- /README-PLUGIN-FIELDS -->";

// A Markdown cell cannot keep white space at its ends (k8saudit copies a Go
// description that ends in a space): trimmed here as the reader trims it.
const cell = (text: string) =>
  text.replace(/\s+/g, " ").trim().replace(/\|/g, "\\|");

/**
 * The rows of a plugin's fields table: name, type, argument, description.
 *
 * @param plugin A plugin from `definePlugin`.
 * @returns One row of four cells per field, in field id order.
 */
export function fieldRows(plugin: AnyPlugin): string[][] {
  return (plugin.definition.fields ?? []).map((f) => {
    const arg = fieldArg(f);
    return [
      `\`${f.name}\``,
      `\`${f.type}${f.list === true ? " (list)" : ""}\``,
      arg === undefined
        ? "None"
        : `${arg.kind === "index" ? "Index" : "Key"}, ${
          arg.required ? "Required" : "Optional"
        }`,
      cell(f.desc),
    ];
  });
}

/**
 * The Markdown fields table of a plugin, between the
 * {@linkcode FIELDS_BEGIN} and {@linkcode FIELDS_END} markers, padded as
 * `deno fmt` pads a table.
 *
 * @example
 * ```ts
 * import { fieldsTable } from "./fields_doc.ts";
 * import dummy from "../plugins/dummy.ts";
 * console.assert(fieldsTable(dummy).includes("| `dummy.divisible` | `uint64` | Index, Required |"));
 * ```
 *
 * @param plugin A plugin from `definePlugin`.
 * @returns The table, with its markers, ending in a newline.
 */
export function fieldsTable(plugin: AnyPlugin): string {
  const rows = [["NAME", "TYPE", "ARG", "DESCRIPTION"], ...fieldRows(plugin)];
  const widths = rows[0].map((_, c) =>
    Math.max(3, ...rows.map((r) => [...r[c]].length))
  );
  const line = (r: string[]) =>
    `| ${
      r.map((v, c) => v + " ".repeat(widths[c] - [...v].length)).join(" | ")
    } |`;
  return [
    FIELDS_BEGIN,
    "",
    line(rows[0]),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...rows.slice(1).map(line),
    "",
    FIELDS_END,
    "",
  ].join("\n");
}

/**
 * Reads the rows of the fields table that follows `anchor` in a Markdown
 * text (cells trimmed, header and separator left out), or `undefined`.
 *
 * @param markdown The README text.
 * @param anchor Text just before the table's opening marker.
 * @returns The rows.
 */
export function readFieldsTable(
  markdown: string,
  anchor: string,
): string[][] | undefined {
  const at = markdown.indexOf(anchor);
  if (at < 0) return undefined;
  const begin = markdown.indexOf(FIELDS_BEGIN, at);
  const end = markdown.indexOf(FIELDS_END, begin);
  if (begin < 0 || end < 0) return undefined;
  return markdown.slice(begin + FIELDS_BEGIN.length, end)
    .split("\n")
    .filter((l) => l.trim().startsWith("|"))
    .slice(2)
    .map((l) => l.trim().slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
}
