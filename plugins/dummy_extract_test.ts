import assert from "node:assert/strict";
import { PluginHarness } from "../mod.ts";
import dummy from "./dummy.ts";
import dummyExtract from "./dummy_extract.ts";

Deno.test("dummy_extract is extract-only over the dummy sources", async () => {
  const h = await PluginHarness.start(dummyExtract);
  assert.deepEqual(h.manifest.capabilities, {
    sourcing: false,
    extraction: true,
  });
  assert.equal(h.manifest.id, 0);
  assert.equal(h.manifest.eventSource, "");
  assert.equal(h.manifest.extractEventSources, '["dummy","dummy_ts"]');
  await assert.rejects(() => h.open(""), /the plugin has no source/);
});

Deno.test("dummy_extract extracts from dummy_ts events", async () => {
  const source = await PluginHarness.start(dummy, { config: { jitter: 0 } });
  await source.open('{"start": 9, "maxEvents": 3}');
  const events = await source.collect();
  const h = await PluginHarness.start(dummyExtract, {
    config: { threshold: 10 },
  });
  assert.deepEqual(
    events.map((e) =>
      h.extractMany(e, [
        "dummyx.parity",
        "dummyx.square",
        "dummyx.digits",
        "dummyx.big",
      ])
    ),
    [
      ["even", 100n, [1n, 0n], false],
      ["odd", 121n, [1n, 1n], true],
      ["even", 144n, [1n, 2n], true],
    ],
  );
});

Deno.test("dummy_extract extracts from events of the official dummy source", async () => {
  const h = await PluginHarness.start(dummyExtract);
  const e = PluginHarness.makeEvent("7", { source: "dummy", pluginId: 3 });
  assert.equal(h.extract(e, "dummyx.square"), 49n);
  assert.equal(h.extract(e, "dummyx.parity"), "odd");
});

Deno.test("dummy_extract reports a u64 overflow naming plugin and field", async () => {
  const h = await PluginHarness.start(dummyExtract);
  const e = PluginHarness.makeEvent("4294967296", {
    source: "dummy",
    pluginId: 3,
  });
  assert.throws(
    () => h.extract(e, "dummyx.square"),
    /Plugin "dummy_extract": field "dummyx\.square" returned a bad value: value "18446744073709551616" is out of the u64 range/,
  );
});

Deno.test("dummy_extract ignores events of other sources, as the host does", async () => {
  const h = await PluginHarness.start(dummyExtract);
  const e = PluginHarness.makeEvent("12", { source: "k8s_audit", pluginId: 1 });
  assert.equal(h.extract(e, "dummyx.parity"), undefined);
});
