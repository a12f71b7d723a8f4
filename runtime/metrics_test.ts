import assert from "node:assert/strict";
import { createBridge } from "./embed_bridge.ts";
import { definePlugin } from "./define_plugin.ts";
import { PluginHarness } from "./harness.ts";
import { metricsText } from "./metrics.ts";
import { BUILTIN_METRICS } from "./_bridge_abi.ts";
import { EOF } from "./types.ts";
import dummy from "../plugins/dummy.ts";

const meta = {
  name: "m",
  id: 999,
  version: "0.1.0",
  description: "d",
  contact: "c",
  eventSource: "m",
  open: () => ({}),
  nextBatch: (): typeof EOF => EOF,
};

Deno.test("bridge metrics: empty text without a metrics callback", () => {
  const bridge = createBridge(definePlugin(meta));
  bridge.init("");
  assert.equal(bridge.metrics(), "");
});

Deno.test("bridge metrics: JSON object text, names sorted, bigints as numbers", () => {
  let n = 0;
  const bridge = createBridge(definePlugin({
    ...meta,
    init: () => ({ seen: 0 }),
    metrics: (s) => ({
      zeta: 0.5,
      "a.b": ++n,
      big: 7n as unknown as number,
      s: s.seen,
    }),
  }));
  assert.equal(bridge.metrics(), "", "before init: nothing to report");
  bridge.init("");
  assert.equal(bridge.metrics(), '{"a.b":1,"big":7,"s":0,"zeta":0.5}');
  assert.deepEqual(JSON.parse(bridge.metrics()), {
    "a.b": 2,
    big: 7,
    s: 0,
    zeta: 0.5,
  });
  bridge.destroy();
  assert.equal(bridge.metrics(), "", "after destroy: nothing to report");
});

Deno.test("bridge metrics: a throwing callback or a bad value is a PluginError", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => {
      throw new Error("no counters");
    }, /metrics failed: no counters/],
    [() => 3, /metrics returned number: expected an object of numbers/],
    [() => [1], /metrics returned an array/],
    [() => ({ x: "1" }), /metric "x" is string: expected a finite number/],
    [() => ({ x: NaN }), /metric "x" is NaN/],
    [() => ({ x: Infinity }), /metric "x" is Infinity/],
    [() => ({ "bad name": 1 }), /metric name "bad name" must match/],
    [() => ({ errors: 1 }), /metric name "errors" is reserved/],
  ];
  for (const [fn, expected] of cases) {
    const bridge = createBridge(definePlugin({
      ...meta,
      metrics: fn as () => Record<string, number>,
    }));
    bridge.init("");
    assert.throws(() => bridge.metrics(), (e: Error) => {
      assert.equal(e.name, "PluginError");
      assert.match(e.message, /^Plugin "m": /);
      assert.match(e.message, expected);
      return true;
    });
  }
});

Deno.test("metricsText: every built-in name is reserved", () => {
  for (const name of BUILTIN_METRICS) {
    assert.throws(() => metricsText("p", { [name]: 1 }), /reserved/);
  }
  assert.equal(metricsText("p", {}), "{}");
});

Deno.test("definePlugin rejects a metrics member that is not a function", () => {
  assert.throws(
    () =>
      definePlugin({
        ...meta,
        metrics: 1 as unknown as () => Record<string, number>,
      }),
    /metrics must be a function/,
  );
});

Deno.test("dummy publishes captures_opened through the harness", async () => {
  const h = await PluginHarness.start(dummy, { config: { jitter: 0 } });
  assert.deepEqual(h.metrics(), { captures_opened: 0 });
  await h.open('{"maxEvents": 1}');
  assert.deepEqual(h.metrics(), { captures_opened: 1 });
  await h.close();
  await h.destroy();
});
