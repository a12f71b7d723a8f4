import assert from "node:assert/strict";
import { PluginHarness } from "../mod.ts";
import showcase, { BASE_TS } from "./showcase.ts";

Deno.test("showcase extracts every field type", async () => {
  const h = await PluginHarness.start(showcase, { config: { count: 3 } });
  const events = await h.collect();
  assert.equal(events.length, 3);
  const [, e2, e3] = events;
  assert.equal(e2.ts, BASE_TS + 2n);
  assert.deepEqual(
    h.extractMany(e2, [
      "showcase.id",
      "showcase.ok",
      "showcase.src",
      "showcase.dst",
      "showcase.net",
      "showcase.duration",
      "showcase.time",
    ]),
    [2n, true, "10.0.0.2", "2001:db8::2", "192.168.2.0", 3000n, BASE_TS + 2n],
  );
  assert.equal(h.extract(e3, "showcase.ok"), false);
});

Deno.test("showcase list fields return every value, or nothing for an empty list", async () => {
  const h = await PluginHarness.start(showcase, { config: { count: 3 } });
  const [e1, , e3] = await h.collect();
  assert.deepEqual(h.extract(e1, "showcase.ports"), [1001n, 2001n]);
  assert.equal(h.extract(e3, "showcase.ports"), undefined);
  assert.deepEqual(h.extract(e1, "showcase.tags"), ["conn", "odd"]);
  assert.deepEqual(h.extract(e1, "showcase.addrs"), [
    "10.0.0.1",
    "2001:db8::1",
  ]);
  assert.deepEqual(h.extract(e1, "showcase.flags"), [false, true]);
  assert.deepEqual(h.extractText(e1, "showcase.ports"), ["1001", "2001"]);
  assert.equal(h.extractText(e3, "showcase.ports"), null);
});

Deno.test("showcase key and index arguments", async () => {
  const h = await PluginHarness.start(showcase, { config: { count: 2 } });
  const [e1, e2] = await h.collect();
  assert.equal(h.extract(e1, "showcase.label[env]"), "dev");
  assert.equal(h.extract(e2, "showcase.label[team]"), "t2");
  assert.equal(h.extract(e2, "showcase.label[missing]"), undefined);
  assert.equal(h.extract(e2, "showcase.tag"), "conn");
  assert.equal(h.extract(e2, "showcase.tag[1]"), "even");
  assert.equal(h.extract(e2, "showcase.tag[7]"), undefined);
  assert.throws(
    () => h.extract(e1, "showcase.label"),
    /Plugin "showcase": field "showcase\.label" requires a key argument/,
  );
});

Deno.test("showcase async nextBatch delivers batches until EOF", async () => {
  const h = await PluginHarness.start(showcase, {
    config: { count: 5, batch: 2 },
  });
  await h.open("");
  const sizes = [];
  for (;;) {
    const r = await h.nextBatch();
    if (r === "eof") break;
    assert.notEqual(r, "timeout");
    sizes.push((r as unknown[]).length);
  }
  assert.deepEqual(sizes, [2, 2, 1]);
});

Deno.test("showcase progress, open params and eventToString", async () => {
  const h = await PluginHarness.start(showcase, { config: { count: 4 } });
  assert.deepEqual(h.listOpenParams()[0], {
    value: "",
    desc: "4 connections",
    separator: "",
  });
  await h.open("even");
  const events = await h.collect(1);
  assert.deepEqual(h.progress(), [10000, "4/4"]);
  assert.equal(h.eventToString(events[0]), "conn 2 10.0.0.2 -> 2001:db8::2");
  assert.deepEqual(events.map((e) => e.num), [1]);
  const rest = await h.collect();
  assert.deepEqual(rest.map((e) => h.extract(e, "showcase.id")), [4n]);
});

Deno.test("showcase manifest lists list, arg, display and properties flags", async () => {
  const h = await PluginHarness.start(showcase);
  const fields = JSON.parse(h.manifest.fields);
  const byName = Object.fromEntries(
    fields.map((f: { name: string }) => [f.name, f]),
  );
  assert.equal(fields.length, 13);
  assert.equal(byName["showcase.tags"].isList, true);
  assert.equal(byName["showcase.tags"].addOutput, true);
  assert.deepEqual(byName["showcase.label"].arg, {
    isRequired: true,
    isIndex: false,
    isKey: true,
  });
  assert.deepEqual(byName["showcase.label"].properties, ["info"]);
  assert.equal(byName["showcase.src"].display, "Source");
  assert.equal(byName["showcase.net"].type, "ipnet");
  assert.equal(h.manifest.openParams, "[]", "computed params are not static");
});

Deno.test("showcase rejects unknown config members (additionalProperties)", async () => {
  await assert.rejects(
    () => PluginHarness.start(showcase, { config: '{"cnt": 1}' }),
    /Plugin "showcase": init config does not match the schema: \/ must NOT have additional properties "cnt"/,
  );
  // The reserved member is stripped before validation.
  await PluginHarness.start(showcase, { config: '{"falco_deno": {}}' });
});

Deno.test("showcase async init, open and close run to their end", async () => {
  const h = await PluginHarness.start(showcase, { config: { count: 1 } });
  assert.deepEqual(h.metrics(), { captures_open: 0 });
  await h.open("");
  assert.deepEqual(h.metrics(), { captures_open: 1 });
  assert.equal((await h.collect()).length, 1);
  await h.close();
  assert.deepEqual(h.metrics(), { captures_open: 0 });
  await h.destroy();
});
