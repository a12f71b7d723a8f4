import assert from "node:assert/strict";
import { fieldRows, fieldsTable, readFieldsTable } from "./fields_doc.ts";
import { definePlugin } from "./define_plugin.ts";

const plugin = definePlugin({
  name: "doc_probe",
  version: "0.1.0",
  description: "Fields with awkward descriptions",
  contact: "test",
  fields: [
    {
      name: "doc.trailing",
      type: "string",
      desc: "Ends in a space ",
      extract: () => "x",
    },
    {
      name: "doc.pipe",
      type: "string",
      key: "optional",
      desc: "a | b\nacross  lines",
      extract: () => "x",
    },
  ],
});

Deno.test("fieldsTable reads back as fieldRows, whatever white space or pipes a description has", () => {
  const table = fieldsTable(plugin);
  assert.deepEqual(readFieldsTable(table, ""), fieldRows(plugin));
  assert.deepEqual(fieldRows(plugin).map((r) => r[3]), [
    "Ends in a space",
    "a \\| b across lines",
  ]);
});
