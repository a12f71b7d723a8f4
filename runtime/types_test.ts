// Type-level tests: `deno test` type-checks this file first, so a type that
// does not say what the runtime does fails the run (an `@ts-expect-error`
// that finds no error is itself an error).
import assert from "node:assert/strict";
import { definePlugin } from "./define_plugin.ts";
import type { ConfigFromSchema } from "./types.ts";

const meta = {
  name: "types",
  version: "0.1.0",
  description: "d",
  contact: "c",
};

Deno.test("a required index or key is non-optional in the extractor's context", () => {
  const plugin = definePlugin({
    ...meta,
    fields: [
      {
        name: "t.div",
        type: "uint64",
        desc: "d",
        index: "required",
        extract: ({ index }) => {
          const divisor: number = index;
          return divisor;
        },
      },
      {
        name: "t.label",
        type: "string",
        desc: "d",
        key: "required",
        extract: ({ key }) => key.toUpperCase(),
      },
      {
        name: "t.tag",
        type: "string",
        desc: "d",
        index: "optional",
        extract: ({ index, key }) => {
          // @ts-expect-error an optional index may be absent
          const i: number = index;
          // @ts-expect-error a field with an index has no key
          const k: string = key;
          return `${i}${k}`;
        },
      },
      {
        name: "t.plain",
        type: "bool",
        desc: "d",
        // @ts-expect-error a field without argument has no index
        extract: ({ index }) => index.toFixed() === "",
      },
    ],
  });
  assert.equal(plugin.definition.fields?.length, 4);
});

Deno.test("init's config is typed from initSchema", () => {
  const schema = {
    type: "object",
    properties: {
      count: { type: "integer", default: 3 },
      mode: { enum: ["a", "b"] },
      names: { type: "array", items: { type: "string" } },
    },
    required: ["names"],
    additionalProperties: false,
  } as const;
  const config: ConfigFromSchema<typeof schema> = { count: 1, names: [] };
  // @ts-expect-error count has a default: it is always there after validation
  const missing: ConfigFromSchema<typeof schema> = { names: [] };
  const plugin = definePlugin({
    ...meta,
    initSchema: schema,
    init: (c) => {
      const n: number = c.count;
      const m: "a" | "b" | undefined = c.mode;
      const names: string[] = c.names;
      return { n, m, names };
    },
    fields: [{
      name: "t.n",
      type: "uint64",
      desc: "d",
      extract: ({ state }) => state.n,
    }],
  });
  definePlugin({
    ...meta,
    initSchema: schema,
    // @ts-expect-error the schema does not promise `url`
    init: (c: { count: number; url: string }) => c,
    fields: [{ name: "t.n", type: "uint64", desc: "d", extract: () => 1 }],
  });
  definePlugin({
    ...meta,
    // @ts-expect-error without a schema the config is unchecked JSON: unknown
    init: (c: { count: number }) => c,
    fields: [{ name: "t.n", type: "uint64", desc: "d", extract: () => 1 }],
  });
  assert.ok(plugin.definition.initSchema === schema && config && missing);
});
