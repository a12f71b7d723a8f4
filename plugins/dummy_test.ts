import assert from "node:assert/strict";
import { PluginHarness } from "../mod.ts";
import dummy from "./dummy.ts";

// With jitter 0 the Go plugin's rule `sample += 1 + rand.Int63n(jitter+1)`
// adds exactly 1 per event: start 1, maxEvents 5 gives samples 2, 3, 4, 5, 6.
Deno.test("dummy lists events and fields with jitter 0 as the Go plugin", async () => {
  const h = await PluginHarness.start(dummy, { config: '{"jitter": 0}' });
  await h.open('{"start": 1, "maxEvents": 5}');
  const events = await h.collect();
  const rows = events.map((e) => [
    e.num,
    e.text,
    h.extract(e, "dummy.value"),
    h.extract(e, "dummy.strvalue"),
    h.extract(e, "dummy.divisible[2]"),
    h.extract(e, "dummy.divisible[3]"),
    h.eventToString(e),
  ]);
  assert.deepEqual(rows, [
    [1, "2", 2n, "2", 1n, 0n, '{"sample": "2"}'],
    [2, "3", 3n, "3", 0n, 1n, '{"sample": "3"}'],
    [3, "4", 4n, "4", 1n, 0n, '{"sample": "4"}'],
    [4, "5", 5n, "5", 0n, 0n, '{"sample": "5"}'],
    [5, "6", 6n, "6", 1n, 1n, '{"sample": "6"}'],
  ]);
  // Scap framing as the host sees it: type 322, plugin id 999, tid -1.
  const e = events[0];
  assert.equal(e.pluginId, 999);
  assert.equal(e.bytes.length, 38 + 1);
  assert.deepEqual([...e.payload], [0x32]);
  const view = new DataView(e.bytes.buffer, e.bytes.byteOffset);
  assert.equal(view.getUint16(20, true), 322);
  assert.equal(view.getBigUint64(8, true), 0xffff_ffff_ffff_ffffn);
  assert.ok(e.ts > 1_600_000_000_000_000_000n, "ts is now, in ns");
  await h.destroy();
});

Deno.test("dummy uses defaults: start 1, 20 events, jitter 10", async () => {
  const h = await PluginHarness.start(dummy);
  const events = await h.collect();
  assert.equal(events.length, 20);
  let prev = 1n;
  for (const e of events) {
    const v = h.extract(e, "dummy.value") as bigint;
    assert.ok(v - prev >= 1n && v - prev <= 11n, `step ${v - prev}`);
    prev = v;
  }
});

Deno.test("dummy starts from the start param and stops at maxEvents", async () => {
  const h = await PluginHarness.start(dummy, { config: { jitter: 0 } });
  await h.open('{"start": 100, "maxEvents": 3}');
  const events = await h.collect();
  assert.deepEqual(events.map((e) => e.text), ["101", "102", "103"]);
  assert.deepEqual(await h.collect(), []);
});

Deno.test("dummy values past 2^53 stay exact", async () => {
  const h = await PluginHarness.start(dummy, { config: { jitter: 0 } });
  await h.open('{"start": 9007199254740989, "maxEvents": 4}');
  const events = await h.collect();
  assert.deepEqual(
    events.map((e) => [
      h.extract(e, "dummy.value"),
      h.extract(e, "dummy.divisible[2]"),
      h.extract(e, "dummy.divisible[5]"),
    ]),
    [
      [9007199254740990n, 1n, 1n],
      [9007199254740991n, 0n, 0n],
      [9007199254740992n, 1n, 0n],
      [9007199254740993n, 0n, 0n],
    ],
  );
});

Deno.test("dummy manifest matches the Go plugin's fields", async () => {
  const h = await PluginHarness.start(dummy);
  assert.deepEqual(JSON.parse(h.manifest.fields), [
    {
      name: "dummy.divisible",
      type: "uint64",
      isList: false,
      arg: { isRequired: true, isIndex: true, isKey: false },
      display: "",
      desc:
        "Return 1 if the value is divisible by the provided divisor, 0 otherwise",
    },
    {
      name: "dummy.value",
      type: "uint64",
      isList: false,
      arg: { isRequired: false, isIndex: false, isKey: false },
      display: "",
      desc: "The sample value in the event",
    },
    {
      name: "dummy.strvalue",
      type: "string",
      isList: false,
      arg: { isRequired: false, isIndex: false, isKey: false },
      display: "",
      desc: "The sample value in the event, as a string",
    },
  ]);
  assert.equal(h.manifest.id, 999);
  assert.equal(h.manifest.eventSource, "dummy_ts");
  assert.equal(JSON.parse(h.manifest.initSchema).properties.jitter.default, 10);
});

Deno.test("dummy rejects a config that violates the schema", async () => {
  await assert.rejects(
    () => PluginHarness.start(dummy, { config: '{"jitter": -1}' }),
    /Plugin "dummy_ts": init config does not match the schema: \/jitter must be >= 0/,
  );
  await assert.rejects(
    () => PluginHarness.start(dummy, { config: '{"jitter": "x"}' }),
    /\/jitter must be integer/,
  );
});

Deno.test("dummy rejects malformed config JSON", async () => {
  await assert.rejects(
    () => PluginHarness.start(dummy, { config: "{jitter: 1" }),
    /Plugin "dummy_ts": init config is not valid JSON/,
  );
});

Deno.test("dummy ignores the reserved falco_deno config member", async () => {
  const h = await PluginHarness.start(dummy, {
    config: '{"jitter": 0, "falco_deno": {"batchDeadlineMs": 5}}',
  });
  await h.open('{"maxEvents": 1}');
  assert.deepEqual((await h.collect()).map((e) => e.text), ["2"]);
});

Deno.test("dummy reports bad open params", async () => {
  const h = await PluginHarness.start(dummy);
  await assert.rejects(
    () => h.open('{"start": "one"}'),
    /Plugin "dummy_ts": open failed: wrong open params format: "start" must be a non-negative integer/,
  );
  await assert.rejects(() => h.open("{"), /Plugin "dummy_ts": open failed/);
});

Deno.test("dummy.divisible requires its index argument", async () => {
  const h = await PluginHarness.start(dummy, { config: { jitter: 0 } });
  const [e] = await h.collect(1);
  assert.throws(
    () => h.extract(e, "dummy.divisible"),
    /Plugin "dummy_ts": field "dummy.divisible" requires an index argument/,
  );
  assert.throws(
    () => h.extract(e, "dummy.divisible[x]"),
    /field "dummy.divisible" has an invalid index argument "x"/,
  );
  assert.throws(
    () => h.extract(e, "dummy.divisible[0]"),
    /extract of field "dummy.divisible" failed: divisor must not be 0/,
  );
});

Deno.test("dummy rejects unknown fields", async () => {
  const h = await PluginHarness.start(dummy);
  const [e] = await h.collect(1);
  assert.throws(
    () => h.extract(e, "dummy.nope"),
    /Plugin "dummy_ts": unknown field "dummy.nope"/,
  );
  assert.throws(
    () => h.extract(e, "dummy.value[1]"),
    /field "dummy.value" does not take an argument/,
  );
});
