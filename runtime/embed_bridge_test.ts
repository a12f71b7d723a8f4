import assert from "node:assert/strict";
import { createBridge, formatLogArgs, installBridge } from "./embed_bridge.ts";
import { definePlugin } from "./define_plugin.ts";
import { PluginHarness } from "./harness.ts";
import { BATCH_EOF, BATCH_TIMEOUT, BRIDGE_GLOBAL } from "./_bridge_abi.ts";
import { EOF, type PluginDefinition } from "./types.ts";

const meta = {
  name: "b",
  id: 999,
  version: "0.1.0",
  description: "d",
  contact: "c",
  eventSource: "b",
};

function boom(what: string): never {
  throw new Error(`${what} exploded`);
}

/** A plugin whose callback `failing` throws. */
function failingPlugin(failing: string) {
  const def: PluginDefinition<unknown, unknown, { n: number }, unknown> = {
    ...meta,
    init: () => failing === "init" ? boom("init") : {},
    destroy: () => failing === "destroy" ? boom("destroy") : undefined,
    open: () => failing === "open" ? boom("open") : { n: 0 },
    close: () => failing === "close" ? boom("close") : undefined,
    nextBatch: (_s, c) =>
      failing === "nextBatch" ? boom("nextBatch") : c.n++ < 2 ? ["x"] : EOF,
    progress: () =>
      failing === "progress" ? boom("progress") : { percent: 50, text: "half" },
    eventToString: () =>
      failing === "eventToString" ? boom("eventToString") : "ev",
    decode: () => failing === "decode" ? boom("decode") : 1,
    fields: [{
      name: "b.v",
      type: "uint64",
      desc: "V",
      extract: ({ decoded }) =>
        failing === "extract" ? boom("extract") : decoded as number,
    }],
  };
  return definePlugin(def);
}

Deno.test("createBridge names the plugin and callback of every exception", async () => {
  for (
    const what of [
      "init",
      "open",
      "nextBatch",
      "close",
      "progress",
      "eventToString",
      "decode",
      "extract",
      "destroy",
    ]
  ) {
    const plugin = failingPlugin(what);
    const run = async () => {
      const h = await PluginHarness.start(plugin);
      await h.open();
      h.progress();
      const [e] = await h.collect(1);
      h.eventToString(e);
      h.extract(e, "b.v");
      await h.close();
      await h.destroy();
    };
    const detail = what === "extract"
      ? 'extract of field "b.v" failed'
      : what === "decode"
      ? 'decode of event "1" failed'
      : `${what} failed`;
    await assert.rejects(run, (err: Error) => {
      assert.equal(err.name, "PluginError");
      assert.equal(err.message, `Plugin "b": ${detail}: ${what} exploded`);
      assert.match(
        err.stack!,
        /embed_bridge_test\.ts/,
        "keeps the plugin's frames",
      );
      return true;
    });
  }
});

Deno.test("createBridge supports an async nextBatch, pending across calls", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const plugin = definePlugin({
    ...meta,
    open: () => ({ step: 0 }),
    nextBatch: async (_s, c) => {
      if (c.step++ === 0) {
        await gate;
        return ["late"];
      }
      return EOF;
    },
  });
  const bridge = createBridge(plugin);
  bridge.init("");
  bridge.open("");
  const p1 = bridge.nextBatch();
  assert.ok(p1 instanceof Promise);
  assert.equal(bridge.nextBatch(), p1, "same pending promise until settled");
  release();
  await p1;
  assert.equal(bridge.nextBatch(), 1);
  const p2 = bridge.nextBatch();
  assert.ok(p2 instanceof Promise);
  await p2;
  assert.equal(bridge.nextBatch(), BATCH_EOF);
});

Deno.test("createBridge reports a rejected async nextBatch on the next call", async () => {
  const plugin = definePlugin({
    ...meta,
    open: () => ({}),
    nextBatch: () => Promise.reject(new Error("network down")),
  });
  const bridge = createBridge(plugin);
  bridge.init("");
  bridge.open("");
  await bridge.nextBatch();
  assert.throws(
    () => bridge.nextBatch(),
    /Plugin "b": nextBatch failed: network down/,
  );
});

Deno.test("createBridge queues events that do not fit and rejects a too large one", () => {
  const plugin = definePlugin({
    ...meta,
    open: () => ({ sent: false }),
    nextBatch: (_s, c) =>
      c.sent ? EOF : (c.sent = true, ["aaaa", "bbbb", "cccc", "x".repeat(100)]),
  });
  const bridge = createBridge(plugin, undefined, { batchSize: 90 });
  bridge.init("");
  bridge.open("");
  assert.equal(bridge.nextBatch(), 2, "two 42-byte events fit in 90 bytes");
  assert.equal(bridge.nextBatch(), 1);
  assert.throws(
    () => bridge.nextBatch(),
    /Plugin "b": event of "138" bytes does not fit in the batch buffer \("90" bytes\)/,
  );
});

Deno.test("createBridge returns TIMEOUT for an empty batch and checks events", () => {
  const results: unknown[] = [
    [],
    [{ payload: 5 }],
    [{ payload: "a", ts: -1 }],
    7,
  ];
  const plugin = definePlugin({
    ...meta,
    open: () => ({}),
    nextBatch: () => results.shift() as [],
  });
  const bridge = createBridge(plugin);
  bridge.init("");
  bridge.open("");
  assert.equal(bridge.nextBatch(), BATCH_TIMEOUT);
  assert.throws(
    () => bridge.nextBatch(),
    /payload is number: expected a string or Uint8Array/,
  );
  assert.throws(() => bridge.nextBatch(), /bad ts "-1"/);
  assert.throws(
    () => bridge.nextBatch(),
    /nextBatch returned number: expected an array of events or EOF/,
  );
});

Deno.test("createBridge enforces the call order", () => {
  const bridge = createBridge(failingPlugin("none"));
  assert.throws(() => bridge.open(""), /Plugin "b": open called before init/);
  bridge.init("");
  assert.throws(() => bridge.init(""), /init called twice/);
  assert.throws(
    () => bridge.nextBatch(),
    /nextBatch called without an open capture/,
  );
  bridge.destroy();
  assert.throws(() => bridge.open(""), /open called after destroy/);
});

Deno.test("extraction rejects wrong value types, NUL and out-of-range values", async () => {
  const values: Record<string, unknown> = {};
  const plugin = definePlugin({
    name: "v",
    version: "1.0.0",
    description: "d",
    contact: "c",
    fields: [
      {
        name: "v.u",
        type: "uint64",
        desc: "u",
        extract: () => values.u as number,
      },
      {
        name: "v.s",
        type: "string",
        desc: "s",
        extract: () => values.s as string,
      },
      {
        name: "v.l",
        type: "string",
        list: true,
        desc: "l",
        extract: () => values.l as string[],
      },
      {
        name: "v.ip",
        type: "ipaddr",
        desc: "ip",
        extract: () => values.ip as string,
      },
    ],
  });
  const h = await PluginHarness.start(plugin);
  const e = PluginHarness.makeEvent("x", { source: "any", pluginId: 1 });
  values.u = 2n ** 64n;
  assert.throws(
    () => h.extract(e, "v.u"),
    /Plugin "v": field "v\.u" returned a bad value: value "18446744073709551616" is out of the u64 range/,
  );
  values.u = "12";
  assert.throws(
    () => h.extract(e, "v.u"),
    /field "v\.u" returned a bad value: expected a number or bigint for a uint64 field, got the string "12"/,
  );
  values.s = "a\0b";
  assert.throws(
    () => h.extract(e, "v.s"),
    /field "v\.s" returned a bad value: string value contains a NUL character/,
  );
  values.l = ["ok", 3];
  assert.throws(
    () => h.extract(e, "v.l"),
    /field "v\.l" returned a bad value at \[1\]: expected a string/,
  );
  values.l = "abc";
  assert.throws(
    () => h.extract(e, "v.l"),
    /is a list field and must return an array or iterable/,
  );
  values.ip = "1.2.3.999";
  assert.throws(
    () => h.extract(e, "v.ip"),
    /field "v\.ip" returned a bad value: value "1\.2\.3\.999" is not an IPv4 or IPv6 address/,
  );
  values.l = [];
  assert.equal(h.extract(e, "v.l"), undefined, "an empty list is no value");
});

Deno.test("extraction reports values that overflow the output buffer", async () => {
  const plugin = definePlugin({
    name: "o",
    version: "1.0.0",
    description: "d",
    contact: "c",
    fields: [{
      name: "o.s",
      type: "string",
      desc: "s",
      extract: () => "y".repeat(100),
    }],
  });
  const h = await PluginHarness.start(plugin, { outputSize: 64 });
  const e = PluginHarness.makeEvent("x", { source: "any", pluginId: 1 });
  assert.throws(
    () => h.extract(e, "o.s"),
    /Plugin "o": field "o\.s" values do not fit in the output buffer \("64" bytes\)/,
  );
});

Deno.test("extraction decodes each event once for several fields", async () => {
  let decodes = 0;
  const plugin = definePlugin({
    name: "c",
    version: "1.0.0",
    description: "d",
    contact: "c",
    decode: (_state, ev) => (decodes++, JSON.parse(ev.text)),
    fields: [
      {
        name: "c.a",
        type: "uint64",
        desc: "a",
        extract: ({ decoded }) => (decoded as { a: number }).a,
      },
      {
        name: "c.b",
        type: "string",
        desc: "b",
        extract: ({ decoded }) => (decoded as { b: string }).b,
      },
    ],
  });
  const h = await PluginHarness.start(plugin);
  const e1 = PluginHarness.makeEvent('{"a":1,"b":"x"}', {
    source: "s",
    pluginId: 1,
    num: 1,
  });
  const e2 = PluginHarness.makeEvent('{"a":2,"b":"yy"}', {
    source: "s",
    pluginId: 1,
    num: 2,
  });
  assert.deepEqual(h.extractMany(e1, ["c.a", "c.b"]), [1n, "x"]);
  assert.equal(h.extract(e1, "c.b"), "x");
  assert.equal(decodes, 1);
  assert.deepEqual(h.extractMany(e2, ["c.b", "c.a"]), ["yy", 2n]);
  assert.equal(decodes, 2);
});

Deno.test("installBridge sets the global and routes console to op_falco_log", () => {
  const g = globalThis as Record<string, unknown>;
  const logs: [number, string][] = [];
  const savedConsole = globalThis.console;
  const savedDeno = g.Deno;
  const fakeDeno = {
    core: {
      ops: { op_falco_log: (l: number, m: string) => logs.push([l, m]) },
    },
  };
  try {
    Object.defineProperty(globalThis, "Deno", {
      value: fakeDeno,
      configurable: true,
      writable: true,
    });
    const bridge = installBridge(failingPlugin("none"));
    assert.equal(g[BRIDGE_GLOBAL], bridge);
    console.log("n=%d", 3, { a: 1 });
    console.warn("careful");
    console.error(new Error("bad").message);
    console.debug(5n);
  } finally {
    Object.defineProperty(globalThis, "Deno", {
      value: savedDeno,
      configurable: true,
      writable: true,
    });
    globalThis.console = savedConsole;
    delete g[BRIDGE_GLOBAL];
  }
  assert.deepEqual(logs, [[1, 'n=3 {"a":1}'], [2, "careful"], [3, "bad"], [
    0,
    "5n",
  ]]);
  assert.equal(formatLogArgs(["%s%%", "x"]), "x%");
});

Deno.test("createBridge: init, open, close and destroy may be async", async () => {
  const log: string[] = [];
  const tick = () => new Promise((r) => setTimeout(r, 5));
  const plugin = definePlugin({
    ...meta,
    init: async () => (await tick(), log.push("init"), { opened: 0 }),
    open: async (state) => {
      await tick();
      log.push("open");
      return { n: ++state.opened };
    },
    nextBatch: (_s, c) => c.n-- > 0 ? ["x"] : EOF,
    close: async () => (await tick(), log.push("close"), undefined),
    destroy: async () => (await tick(), log.push("destroy"), undefined),
  });
  const bridge = createBridge(plugin);
  const init = bridge.init("");
  assert.ok(init instanceof Promise, "an async init gives the embed a promise");
  assert.throws(() => bridge.open(""), /open called before init finished/);
  await init;
  const open = bridge.open("");
  assert.ok(open instanceof Promise);
  assert.throws(() => bridge.nextBatch(), /without an open capture/);
  await open;
  assert.equal(bridge.nextBatch(), 1);
  await bridge.close();
  await bridge.open("");
  // destroy closes the open capture first, then releases the state.
  await bridge.destroy();
  assert.deepEqual(log, ["init", "open", "close", "open", "close", "destroy"]);
});

Deno.test("createBridge: a rejected async lifecycle call rejects with the plugin's error", async () => {
  const plugin = definePlugin({
    ...meta,
    init: (): Promise<object> => Promise.reject(new Error("no config server")),
    open: () => ({}),
    nextBatch: () => EOF,
  });
  const bridge = createBridge(plugin);
  await assert.rejects(
    async () => await bridge.init(""),
    /Plugin "b": init failed: no config server/,
  );
  assert.throws(() => bridge.open(""), /open called after a failed init/);
});

Deno.test("createBridge: a late async open is closed when a new open or destroy abandoned it", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const closed: string[] = [];
  let opens = 0;
  const plugin = definePlugin({
    ...meta,
    open: async () => {
      const name = `capture ${++opens}`;
      if (opens === 1) await gate;
      return { name };
    },
    nextBatch: () => EOF,
    close: (_s, c) => void closed.push(c.name),
  });
  const bridge = createBridge(plugin);
  bridge.init("");
  const first = bridge.open("");
  // The host gave up on the first open (its deadline passed) and opens again.
  await bridge.open("");
  release();
  await first;
  assert.deepEqual(closed, ["capture 1"], "the abandoned capture is closed");
  assert.equal(
    bridge.nextBatch(),
    BATCH_EOF,
    "the second capture is the open one",
  );
});

Deno.test("PluginHarness: an async lifecycle call gets the .so's deadline", async () => {
  const plugin = definePlugin({
    ...meta,
    open: () => new Promise<object>(() => {}),
    nextBatch: () => EOF,
  });
  const h = await PluginHarness.start(plugin, {
    config: { falco_deno: { callbackDeadlineMs: 30 } },
  });
  await assert.rejects(
    () => h.open(""),
    (err: Error) => {
      assert.equal(
        err.message,
        "b: open did not settle within its deadline of 30 ms",
      );
      return true;
    },
  );
  await h.destroy();
});

Deno.test("PluginHarness: an async nextBatch past the batch deadline is a TIMEOUT, still pending", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const plugin = definePlugin({
    ...meta,
    open: () => ({ sent: false }),
    nextBatch: async (_s, c) => {
      if (c.sent) return EOF;
      await gate;
      c.sent = true;
      return ["late"];
    },
  });
  const h = await PluginHarness.start(plugin, {
    config: { falco_deno: { batchDeadlineMs: 10 } },
  });
  await h.open();
  assert.equal(await h.nextBatch(), "timeout");
  release();
  const r = await h.nextBatch();
  assert.ok(Array.isArray(r) && r[0].text === "late");
  await h.close();
  await h.destroy();
});

Deno.test("decode and eventToString take (state, event) like every callback", async () => {
  const seen: unknown[] = [];
  const plugin = definePlugin({
    ...meta,
    init: () => ({ tag: "state" }),
    open: () => ({ done: false }),
    nextBatch: (_s, c) => c.done ? EOF : (c.done = true, ["7"]),
    decode: (state, event) => (seen.push(state.tag), Number(event.text)),
    eventToString: (state, event) => `${state.tag} ${event.text}`,
    fields: [{
      name: "b.n",
      type: "uint64",
      desc: "N",
      extract: ({ decoded }) => decoded,
    }],
  });
  const h = await PluginHarness.start(plugin);
  const [e] = await h.collect();
  assert.equal(h.extract(e, "b.n"), 7n);
  assert.equal(h.eventToString(e), "state 7");
  assert.deepEqual(seen, ["state"]);
  await h.destroy();
});
