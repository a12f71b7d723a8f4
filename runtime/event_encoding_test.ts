import assert from "node:assert/strict";
import {
  decodePluginEvent,
  encodePluginEvent,
  TS_UNSET,
} from "./event_encoding.ts";

Deno.test("encodePluginEvent writes the packed scap layout", () => {
  const ev = encodePluginEvent(0x01020304, new Uint8Array([0xaa, 0xbb]), 9n);
  assert.deepEqual([...ev], [
    9,
    0,
    0,
    0,
    0,
    0,
    0,
    0, // ts
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255, // tid
    40,
    0,
    0,
    0, // len
    0x42,
    0x01, // type 322
    2,
    0,
    0,
    0, // nparams
    4,
    0,
    0,
    0, // len of plugin id
    2,
    0,
    0,
    0, // len of payload
    4,
    3,
    2,
    1, // plugin id
    0xaa,
    0xbb,
  ]);
  const d = decodePluginEvent(ev);
  assert.equal(d.pluginId, 0x01020304);
  assert.equal(d.ts, 9n);
  assert.deepEqual([...d.payload], [0xaa, 0xbb]);
  assert.equal(
    decodePluginEvent(encodePluginEvent(1, new Uint8Array())).ts,
    TS_UNSET,
  );
});

Deno.test("decodePluginEvent rejects malformed events", () => {
  const ev = encodePluginEvent(1, new Uint8Array([1, 2, 3]));
  assert.throws(() => decodePluginEvent(ev.subarray(0, 20)), /is truncated/);
  assert.throws(
    () => decodePluginEvent(ev.subarray(0, 40)),
    /overruns its buffer/,
  );
  const wrong = ev.slice();
  wrong[20] = 1;
  assert.throws(() => decodePluginEvent(wrong), /Event type is "257"/);
  const badLen = ev.slice();
  badLen[16] = 99;
  assert.throws(
    () => decodePluginEvent(badLen),
    /does not match its payload length/,
  );
});
