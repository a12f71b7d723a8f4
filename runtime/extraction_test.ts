import assert from "node:assert/strict";
import { definePlugin } from "./define_plugin.ts";
import { PluginHarness } from "./harness.ts";
import dummy from "../plugins/dummy.ts";
import dummyExtract from "../plugins/dummy_extract.ts";

/** Two events under one event number, same length and producer. */
function twins(source: string, pluginId: number) {
  return [
    PluginHarness.makeEvent("12", { source, pluginId, num: 7 }),
    PluginHarness.makeEvent("13", { source, pluginId, num: 7 }),
  ];
}

Deno.test("extraction of an extract-only plugin is fresh for new bytes under one event number", async () => {
  const h = await PluginHarness.start(dummyExtract);
  const [a, b] = twins("dummy", 3);
  assert.deepEqual(h.extractMany(a, ["dummyx.square", "dummyx.digits"]), [
    144n,
    [1n, 2n],
  ]);
  assert.deepEqual(h.extractMany(b, ["dummyx.square", "dummyx.digits"]), [
    169n,
    [1n, 3n],
  ]);
  assert.equal(h.extract(a, "dummyx.parity"), "even");
});

Deno.test("extraction of a source plugin is fresh for new bytes under one event number", async () => {
  const h = await PluginHarness.start(dummy, { config: { jitter: 0 } });
  const [a, b] = twins("dummy_ts", 999);
  assert.deepEqual(h.extractMany(a, ["dummy.value", "dummy.strvalue"]), [
    12n,
    "12",
  ]);
  assert.deepEqual(h.extractMany(b, ["dummy.value", "dummy.strvalue"]), [
    13n,
    "13",
  ]);
});

Deno.test("extraction decodes one event once however often it is asked, and again when its bytes change", async () => {
  let decodes = 0;
  const plugin = definePlugin({
    name: "n",
    version: "1.0.0",
    description: "d",
    contact: "c",
    decode: (_state, ev) => (decodes++, Number(ev.text)),
    fields: [{
      name: "n.v",
      type: "uint64",
      desc: "v",
      extract: ({ decoded }) => decoded as number,
    }],
  });
  const h = await PluginHarness.start(plugin);
  const [a, b] = twins("s", 1);
  assert.equal(h.extract(a, "n.v"), 12n);
  assert.equal(h.extract(a, "n.v"), 12n);
  assert.equal(decodes, 1);
  assert.equal(h.extract(b, "n.v"), 13n);
  assert.equal(decodes, 2);
  const later = PluginHarness.makeEvent("13", {
    source: "s",
    pluginId: 1,
    num: 7,
    ts: 5n,
  });
  assert.equal(h.extract(later, "n.v"), 13n);
  assert.equal(decodes, 3, "a new timestamp is a new event, as for the embed");
});
