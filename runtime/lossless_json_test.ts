import assert from "node:assert/strict";
import {
  escapeString,
  goQuote,
  MAX_DEPTH,
  parseJson,
  parseJsonNode,
  tryPlainJson,
  unescapeBestEffort,
} from "./lossless_json.ts";

Deno.test("parseJson keeps what JSON.parse plus JSON.stringify changes", () => {
  const cases: [string, string][] = [
    ["1.50", "number text"],
    ['"a\\u003cb"', "escape as written"],
    ['{"b":1,"10":2,"2":3}', "integer-like keys stay in place"],
    ['{"a":1,"a":2}', "duplicate keys"],
    ["12345678901234567890", "64-bit integer exact"],
    ["123456789012345678901234567890", "beyond 64 bits"],
    ["1e400", "beyond float64"],
    ["-0", "negative zero"],
    ['"\\/"', "escaped solidus"],
  ];
  assert.equal(parseJson('{"b":1,"a":2}').marshal(), '{"b":1,"a":2}');
  for (const [text, what] of cases) {
    const doc = `[${text}]`;
    assert.equal(parseJson(doc).marshal(), doc, what);
    assert.notEqual(JSON.stringify(JSON.parse(doc)), doc, what);
  }
});

Deno.test("parseJson minifies white space only", () => {
  const text =
    ' { "a" : [ 1 , 2.0 ] ,\t"b" :\n{ } , "c" : [ ] , "d" : "x y" } ';
  assert.equal(
    parseJson(text).marshal(),
    '{"a":[1,2.0],"b":{},"c":[],"d":"x y"}',
  );
});

Deno.test("parseJson accepts what fastjson accepts", () => {
  // String contents are not checked; numbers are runs of 0-9 . - + e E.
  for (
    const text of [
      '["\\x"]',
      '["\u0001"]',
      "[1-2e+]",
      "[nan]",
      "[NaN]",
      "[-Inf]",
      "[+inf]",
      '["\\ud800"]',
    ]
  ) {
    assert.equal(parseJson(text).marshal(), text);
  }
});

Deno.test("parseJson refuses what fastjson refuses", () => {
  for (
    const text of [
      "",
      "   ",
      "{",
      '{"a":1',
      '{"a" 1}',
      "[1,]",
      "[1 2]",
      '{"a":1} x',
      "[tru]",
      "[nul]",
      "[-]",
      '["open',
      "{a:1}",
    ]
  ) {
    assert.throws(() => parseJson(text), SyntaxError, JSON.stringify(text));
  }
});

Deno.test("parseJson stops at fastjson's depth, without overflowing the stack", () => {
  const ok = "[".repeat(MAX_DEPTH - 1) + "1" + "]".repeat(MAX_DEPTH - 1);
  assert.equal(parseJson(ok).marshal(), ok);
  const deep = "[".repeat(MAX_DEPTH) + "1" + "]".repeat(MAX_DEPTH);
  assert.throws(() => parseJson(deep), /Nesting deeper than 300/);
  const huge = "[".repeat(1_000_000);
  assert.throws(() => parseJson(huge), /Nesting deeper than 300/);
});

Deno.test("JsonValue reading decodes in place, as fastjson", () => {
  const v = parseJson('{"s":"a\\u003cb","t":"q\\"x","n":1.0}');
  // Untouched: written back as read.
  assert.equal(v.marshal(), '{"s":"a\\u003cb","t":"q\\"x","n":1.0}');
  // Reading a string decodes it; it is quoted again when written.
  assert.equal(v.get("s")!.text(), "a<b");
  assert.equal(v.get("t")!.text(), 'q"x');
  assert.equal(v.marshal(), '{"s":"a<b","t":"q\\"x","n":1.0}');
});

Deno.test("JsonValue.get decodes the keys only when a lookup misses", () => {
  const v = parseJson('{"k\\u0065y":1,"plain":2}');
  assert.equal(v.get("plain")!.marshal(), "2");
  assert.equal(v.marshal(), '{"k\\u0065y":1,"plain":2}');
  assert.equal(v.get("key")!.marshal(), "1");
  assert.equal(v.marshal(), '{"key":1,"plain":2}');
});

Deno.test("JsonValue.get walks arrays by decimal index and takes the first duplicate", () => {
  const v = parseJson('{"a":[{"b":1},{"b":2}],"d":1,"d":2}');
  assert.equal(v.get("a", "1", "b")!.marshal(), "2");
  assert.equal(v.get("a", "+1", "b")!.marshal(), "2");
  assert.equal(v.get("a", "2"), undefined);
  assert.equal(v.get("a", "x"), undefined);
  assert.equal(v.get("d")!.marshal(), "1");
  assert.equal(v.get("d", "x"), undefined);
  assert.deepEqual(v.entries()!.map(([k]) => k), ["a", "d", "d"]);
});

Deno.test("unescapeBestEffort keeps bad escapes as written", () => {
  const cases: [string, string][] = [
    ["plain", "plain"],
    ['\\"\\\\\\/\\b\\f\\n\\r\\t', '"\\/\b\f\n\r\t'],
    ["\\u00e9\\u003c", "é<"],
    ["\\ud83d\\ude00", "😀"],
    ["\\x", "\\x"],
    ["\\u12", "\\u12"],
    ["\\u12zz", "\\u12zz"],
    ["\\ud800", "\\ud800"],
    ["\\ud800x", "\\ud800x"],
    ["\\ud800\\u0041", "\ufffd"],
    ["\\udc00\\udc00", "\ufffd"],
    ["a\\", "a"],
  ];
  for (const [raw, want] of cases) {
    assert.equal(unescapeBestEffort(raw), want, raw);
  }
});

Deno.test("escapeString and goQuote quote as Go", () => {
  assert.equal(escapeString("a<b é"), '"a<b é"');
  assert.equal(escapeString('a"b'), '"a\\"b"');
  assert.equal(escapeString("a\\b"), '"a\\\\b"');
  assert.equal(
    goQuote("\x07\b\f\n\r\t\v\x01\x7f"),
    '"\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f"',
  );
  assert.equal(
    goQuote("\u0085\u00a0\u00ad\u2028é😀"),
    '"\\u0085\\u00a0\\u00ad\\u2028é😀"',
  );
  assert.equal(goQuote("\u{e0001}"), '"\\U000e0001"');
});

Deno.test("JsonValue.marshal slices untouched text and writes out the rest", () => {
  const v = parseJson('{"a":{"b": 1},"c":[1,"x"],"d":"raw\x01"}');
  assert.equal(v.get("c")!.marshal(), '[1,"x"]');
  assert.equal(v.marshal(), '{"a":{"b":1},"c":[1,"x"],"d":"raw\x01"}');
  // A raw control character is quoted by Go once the string is read.
  assert.equal(v.get("d")!.text(), "raw\x01");
  assert.equal(v.get("c")!.marshal(), '[1,"x"]');
  assert.equal(v.marshal(), '{"a":{"b":1},"c":[1,"x"],"d":"raw\\x01"}');
  // Reading strings without escapes changes nothing.
  const w = parseJson('{"k":["plain"]}');
  assert.equal(w.get("k")!.at(0)!.text(), "plain");
  assert.equal(w.marshal(), '{"k":["plain"]}');
});

Deno.test("tryPlainJson takes only text that fastjson would write back the same", () => {
  for (
    const text of [
      '{"a":"q\\"x\\n\\t\\\\","b":[1,true,null],"c":{}}',
      '{"é":"日本 ✓ 😀"}',
      "[]",
    ]
  ) {
    const v = tryPlainJson(text);
    assert.ok(v, text);
    assert.equal(v.marshal(), text);
    assert.equal(parseJson(text).marshal(), text);
  }
  for (
    const text of [
      '{"a":"\\u0001"}', // Go writes \x01
      '{"a":"\\u003c"}',
      '{"a":"\\/"}',
      '{"a":"x\u00a0\\""}', // Go writes \u00a0 once it quotes
      '{"a":1.0}',
      '{"a":1,"a":2}',
      '{"2":1,"1":2}',
      '{"a": 1}',
      " {}",
      "[".repeat(300) + "]".repeat(300),
    ]
  ) {
    assert.equal(tryPlainJson(text), undefined, text);
  }
  // A string with an escape, read, then its parent written: same as Go.
  const text = '{"r":[{"v":"say \\"hi\\""}]}';
  const fast = parseJsonNode(text), slow = parseJson(text);
  assert.equal(fast.get("r")!.array()![0].get("v")!.text(), 'say "hi"');
  assert.equal(slow.get("r")!.array()![0].get("v")!.text(), 'say "hi"');
  assert.equal(fast.get("r")!.marshal(), slow.get("r")!.marshal());
});
