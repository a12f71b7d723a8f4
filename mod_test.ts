import assert from "node:assert/strict";
import * as mod from "./mod.ts";

Deno.test("mod.ts exports the author's surface and nothing internal", async () => {
  assert.deepEqual(Object.keys(mod).sort(), [
    "EOF",
    "FIELD_TYPES",
    "FileFollower",
    "PluginError",
    "PluginHarness",
    "definePlugin",
    "followFile",
    "formatIp",
    "jsonPointer",
    "parseIp",
  ]);
  // Types too: what `deno doc` lists for mod.ts.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", new URL("./mod.ts", import.meta.url).pathname],
    stdout: "piped",
  }).output();
  assert.equal(out.code, 0);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const names = Object.values(
    doc.nodes as Record<string, { symbols: { name: string }[] }>,
  ).flatMap((n) => n.symbols.map((s) => s.name));
  for (const internal of ["Bridge", "checkDefinition", "buildManifest"]) {
    assert.ok(!names.includes(internal), `mod.ts exports ${internal}`);
  }
});
