import assert from "node:assert/strict";
import {
  _useNatives,
  utf8Decode,
  utf8Encode,
  utf8Length,
  utf8Write,
} from "./_utf8.ts";

const te = new TextEncoder();
const td = new TextDecoder();
/** What the embed's `Deno.core` does: UTF-8 with replacement, BOM stripped. */
const fakeCore = {
  encode: (s: string) => te.encode(s),
  decode: (b: Uint8Array) => td.decode(b),
};

const long = (s: string) => s.repeat(40);
const strings = [
  "",
  "1234",
  "12345678901",
  "y".repeat(30),
  "y€".repeat(15),
  long("abc"),
  "é",
  "ab€cd",
  long("x€"),
  "😀",
  long("a😀"),
  "a\ud800b",
  long("a\udc00b"),
];
const byteCases: Uint8Array[] = [
  ...strings.filter((s) => !/[\ud800-\udfff]/.test(s.replace(/😀/g, "")))
    .map((s) => te.encode(s)),
  new Uint8Array([0xef, 0xbb, 0xbf, 0x41]),
  new Uint8Array([0xef, 0xbb, 0xbf, ...te.encode(long("bom"))]),
  new Uint8Array([0x41, 0xff, 0x42]),
  new Uint8Array([...te.encode(long("q")), 0xff]),
];

const setups = {
  "no natives": {},
  "TextEncoder/TextDecoder": { encoder: te, decoder: td },
  "Deno.core": { core: fakeCore },
  "everything": { encoder: te, decoder: td, core: fakeCore },
};

for (const [name, natives] of Object.entries(setups)) {
  Deno.test(`utf8Write/utf8Encode match TextEncoder (${name})`, () => {
    const restore = _useNatives(natives);
    try {
      for (const s of strings) {
        const want = te.encode(s);
        assert.equal(utf8Length(s), want.length, s);
        assert.deepEqual(utf8Encode(s), want, s);
        const dst = new Uint8Array(want.length + 3);
        assert.equal(utf8Write(s, dst, 3), want.length, s);
        assert.deepEqual(dst.subarray(3), want, s);
        if (want.length > 0) {
          const small = new Uint8Array(want.length + 2);
          assert.equal(utf8Write(s, small, 3), -1, `${s} does not fit`);
        }
      }
    } finally {
      restore();
    }
  });

  Deno.test(`utf8Decode decodes valid UTF-8 (${name})`, () => {
    const restore = _useNatives(natives);
    try {
      for (const b of byteCases) {
        const got = utf8Decode(b);
        if ("decoder" in natives) {
          // Exactly TextDecoder, BOM and replacements included.
          assert.equal(got, td.decode(b));
        } else if (b[0] !== 0xef && !b.includes(0xff)) {
          assert.equal(got, td.decode(b));
        } else {
          assert.ok(got.length > 0);
        }
      }
    } finally {
      restore();
    }
  });
}
