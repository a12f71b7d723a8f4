import assert from "node:assert/strict";
import { definePlugin } from "./define_plugin.ts";
import { EOF, type PluginDefinition } from "./types.ts";

const base = {
  name: "t",
  version: "1.0.0",
  description: "d",
  contact: "c",
};
const field = {
  name: "t.a",
  type: "uint64" as const,
  desc: "A",
  extract: () => 1,
};

// deno-lint-ignore no-explicit-any
function bad(def: any, pattern: RegExp) {
  assert.throws(() => definePlugin(def as PluginDefinition), pattern);
}

Deno.test("definePlugin accepts source-only, extract-only and both", () => {
  const src = definePlugin({
    ...base,
    id: 999,
    eventSource: "t",
    open: () => ({}),
    nextBatch: () => EOF,
  });
  assert.deepEqual([src.sourcing, src.extraction], [true, false]);
  const ext = definePlugin({ ...base, fields: [field] });
  assert.deepEqual([ext.sourcing, ext.extraction], [false, true]);
  const both = definePlugin({
    ...base,
    id: 1,
    eventSource: "t",
    open: () => ({}),
    nextBatch: () => EOF,
    fields: [field],
  });
  assert.deepEqual([both.sourcing, both.extraction], [true, true]);
});

Deno.test("definePlugin rejects duplicate and malformed field names", () => {
  bad(
    { ...base, fields: [field, field] },
    /Plugin "t": field "t\.a" is defined twice/,
  );
  bad(
    { ...base, fields: [{ ...field, name: "nodot" }] },
    /Plugin "t": field name "nodot" is malformed/,
  );
  bad(
    { ...base, fields: [{ ...field, name: "t.1a" }] },
    /field name "t\.1a" is malformed/,
  );
});

Deno.test("definePlugin rejects unknown field types and bad args", () => {
  bad(
    { ...base, fields: [{ ...field, type: "int32" }] },
    /Plugin "t": field "t\.a" has unknown type "int32"/,
  );
  bad(
    { ...base, fields: [{ ...field, index: "yes" }] },
    /field "t\.a" index must be "required" or "optional", got "yes"/,
  );
  bad(
    { ...base, fields: [{ ...field, index: "required", key: "optional" }] },
    /field "t\.a" takes an index or a key, not both/,
  );
  bad(
    { ...base, fields: [{ ...field, arg: { kind: "index", required: true } }] },
    /field "t\.a" has an arg member: write index: "required"/,
  );
  bad(
    { ...base, fields: [{ ...field, desc: "" }] },
    /field "t\.a" needs a desc/,
  );
  bad(
    { ...base, fields: [{ ...field, extract: undefined }] },
    /field "t\.a" needs an extract function/,
  );
});

Deno.test("definePlugin rejects id/source mismatches", () => {
  const source = { open: () => ({}), nextBatch: () => EOF };
  bad(
    { ...base, ...source, eventSource: "t" },
    /Plugin "t": a source plugin needs a non-zero id/,
  );
  bad({ ...base, ...source, id: 5 }, /a source plugin needs an eventSource/);
  bad(
    { ...base, fields: [field], id: 5 },
    /id "5" is set but the plugin has no open and nextBatch/,
  );
  bad(
    { ...base, fields: [field], eventSource: "x" },
    /eventSource "x" is set but the plugin has no open and nextBatch/,
  );
  bad(
    { ...base, ...source, id: 2 ** 31, eventSource: "t" },
    /in a range Falco reserves/,
  );
  bad({ ...base, ...source, id: -1, eventSource: "t" }, /id "-1" is not a u32/);
  bad(
    { ...base, id: 1, eventSource: "t", open: () => ({}) },
    /needs both open and nextBatch, got only open/,
  );
  bad(
    { ...base, ...source, id: 1, eventSource: "syscall" },
    /eventSource "syscall" is reserved/,
  );
});

Deno.test("definePlugin rejects bad metadata", () => {
  bad(
    { ...base, fields: [field], version: "1.0" },
    /version "1\.0" is not a semantic version/,
  );
  bad(
    { ...base, fields: [field], name: "a b" },
    /Plugin name "a b" is invalid/,
  );
  bad({ ...base }, /neither a source \(open, nextBatch\) nor fields/);
  bad(
    { ...base, fields: [field], extractEventSources: ["a", "a"] },
    /extractEventSources lists "a" twice/,
  );
  bad(
    { ...base, fields: [field], initSchema: [] },
    /initSchema must be a JSON Schema object/,
  );
  bad({ ...base, fields: [field], init: 3 }, /init must be a function/);
});
