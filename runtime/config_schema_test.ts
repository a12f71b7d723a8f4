import assert from "node:assert/strict";
import {
  compileConfigValidator,
  createConfigValidator,
} from "./config_schema.ts";

const schema = {
  type: "object",
  properties: {
    jitter: { type: "integer", minimum: 0, default: 10 },
    name: { type: "string", maxLength: 3 },
    mode: { enum: ["a", { b: 1 }] },
  },
  required: ["name"],
  additionalProperties: false,
};

Deno.test("compileConfigValidator output behaves as Ajv itself", async () => {
  const source = compileConfigValidator(schema);
  assert.doesNotMatch(
    source,
    /require\(|\bimport\b/,
    "no imports in the embed",
  );
  const mod = await import(
    "data:text/javascript;base64," + btoa(unescape(encodeURIComponent(source)))
  );
  const standalone = mod.default as (c: unknown) => string | undefined;
  const direct = createConfigValidator(schema);
  const inputs = [
    { name: "ab" },
    { name: "abcd", jitter: -1 },
    { name: "ab", extra: 1 },
    { jitter: "x" },
    { name: "a", mode: { b: 1 } },
    { name: "a", mode: { b: 2 } },
    [],
  ];
  for (const input of inputs) {
    const a = structuredClone(input), b = structuredClone(input);
    assert.equal(standalone(a), direct(b), JSON.stringify(input));
    assert.deepEqual(a, b, "same defaults applied");
  }
  const withDefault: Record<string, unknown> = { name: "x" };
  assert.equal(standalone(withDefault), undefined);
  assert.equal(withDefault.jitter, 10);
  assert.equal(
    direct({ name: "ab", extra: 1 }),
    '/ must NOT have additional properties "extra"',
  );
});

Deno.test("compileConfigValidator refuses schemas needing Ajv runtime helpers it cannot embed", () => {
  assert.throws(
    () => compileConfigValidator({ $async: true, type: "object" }),
    /Init schema needs the Ajv runtime helper "ajv\/dist\/runtime\/validation_error"/,
  );
});
