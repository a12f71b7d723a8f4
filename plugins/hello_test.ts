import assert from "node:assert/strict";
import { PluginHarness } from "../mod.ts";
import hello from "./hello.ts";

Deno.test("hello says hello count times", async () => {
  const h = await PluginHarness.start(hello, { config: '{"count": 2}' });
  const events = await h.collect();
  assert.deepEqual(events.map((e) => e.text), ["hello 1", "hello 0"]);
  assert.equal(h.extract(events[0], "hello.word"), "hello");
});

Deno.test("hello rejects a negative count", async () => {
  await assert.rejects(
    () => PluginHarness.start(hello, { config: '{"count": -1}' }),
    /init config does not match the schema: \/count must be >= 0/,
  );
});
