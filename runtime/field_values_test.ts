import assert from "node:assert/strict";
import {
  checkValue,
  formatIp,
  parseIp,
  readValue,
  writeValue,
} from "./field_values.ts";
import type { FieldType } from "./types.ts";

Deno.test("parseIp and formatIp round-trip IPv4 and IPv6", () => {
  for (
    const [text, canon] of [
      ["10.0.0.1", "10.0.0.1"],
      ["::1", "::1"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["::ffff:192.0.2.1", "::ffff:c000:201"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["::", "::"],
    ]
  ) {
    assert.equal(formatIp(parseIp(text)!), canon, text);
  }
  for (
    const t of [
      "1.2.3",
      "256.0.0.1",
      "01.2.3.4",
      "1::2::3",
      "g::1",
      "",
      "1:2:3:4:5:6:7:8:9",
    ]
  ) {
    assert.equal(parseIp(t), undefined, t);
  }
});

Deno.test("checkValue enforces the u64 range", () => {
  assert.equal(checkValue("uint64", 5), 5n);
  assert.equal(checkValue("uint64", 2n ** 64n - 1n), 2n ** 64n - 1n);
  assert.throws(() => checkValue("uint64", 2n ** 64n), /out of the u64 range/);
  assert.throws(() => checkValue("uint64", -1), /not a non-negative integer/);
  assert.throws(() => checkValue("reltime", 1.5), /not a non-negative integer/);
  assert.throws(() => checkValue("abstime", 2 ** 60), /return a bigint/);
  assert.throws(() => checkValue("uint64", "5"), /expected a number or bigint/);
});

Deno.test("checkValue rejects NUL in strings and wrong types", () => {
  assert.throws(
    () => checkValue("string", "a\0b"),
    /NUL character at index "1"/,
  );
  assert.throws(
    () => checkValue("string", 3),
    /expected a string, got number "3"/,
  );
  assert.throws(() => checkValue("bool", 1), /expected a boolean/);
  assert.throws(() => checkValue("ipaddr", "300.1.1.1"), /not an IPv4 or IPv6/);
  assert.throws(() => checkValue("ipnet", "10.0.0.0/8"), /has a prefix/);
  assert.throws(() => checkValue("ipaddr", new Uint8Array(5)), /"5" bytes/);
});

Deno.test("writeValue and readValue round-trip every type", () => {
  const buf = new Uint8Array(64);
  const view = new DataView(buf.buffer);
  const cases: [FieldType, unknown, unknown][] = [
    ["uint64", 7, 7n],
    ["reltime", 2n ** 63n, 2n ** 63n],
    ["abstime", 0, 0n],
    ["bool", true, true],
    ["string", "héllo", "héllo"],
    ["ipaddr", "192.168.1.2", "192.168.1.2"],
    ["ipnet", "fe80::1", "fe80::1"],
  ];
  for (const [type, value, expected] of cases) {
    const end = writeValue(view, buf, 0, type, checkValue(type, value));
    const len = view.getUint32(0, true);
    assert.equal(end, 4 + len);
    assert.equal(readValue(buf, 4, len, type), expected, type);
  }
  assert.equal(view.getUint32(0, true), 16, "ipv6 is 16 bytes");
  assert.equal(writeValue(view, buf, 60, "uint64", 1n), -1, "no room");
});
