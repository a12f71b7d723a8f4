import assert from "node:assert/strict";
import { jsonPointer } from "./json_pointer.ts";

Deno.test("jsonPointer follows RFC 6901", () => {
  const doc = { "a/b": { "m~n": [10, 20] }, arr: [{ x: 1 }], nul: null };
  assert.deepEqual(jsonPointer(doc, ""), doc);
  assert.equal(jsonPointer(doc, "/a~1b/m~0n/1"), 20);
  assert.equal(jsonPointer(doc, "/arr/0/x"), 1);
  assert.equal(jsonPointer(doc, "/nul"), null);
});

Deno.test("jsonPointer gives undefined for what is not there", () => {
  const doc = { arr: [1, 2], s: "text" };
  assert.equal(jsonPointer(doc, "/missing"), undefined);
  assert.equal(jsonPointer(doc, "/arr/2"), undefined);
  assert.equal(jsonPointer(doc, "/arr/01"), undefined);
  assert.equal(jsonPointer(doc, "/arr/-"), undefined);
  assert.equal(jsonPointer(doc, "/s/0"), undefined);
  assert.equal(jsonPointer(doc, "/toString"), undefined);
});
