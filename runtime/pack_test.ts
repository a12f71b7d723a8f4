import assert from "node:assert/strict";
import { dynamicSymbols } from "./pack.ts";

/**
 * A minimal ELF64 little-endian file with one `.dynsym` (two entries) and
 * its `.dynstr`; `names` is the string table's bytes.
 */
function elf(names: Uint8Array, nameOffsets: number[]): Uint8Array {
  const ehsize = 64, shentsize = 64, symsize = 24;
  const dynsymAt = ehsize;
  const dynsymSize = symsize * nameOffsets.length;
  const dynstrAt = dynsymAt + dynsymSize;
  const shoff = dynstrAt + names.length;
  const out = new Uint8Array(shoff + 3 * shentsize);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1], 0);
  view.setBigUint64(0x28, BigInt(shoff), true);
  view.setUint16(0x3a, shentsize, true);
  view.setUint16(0x3c, 3, true);
  nameOffsets.forEach((name, i) => {
    view.setUint32(dynsymAt + i * symsize, name, true);
    view.setUint16(dynsymAt + i * symsize + 6, 1, true); // defined
  });
  out.set(names, dynstrAt);
  const header = (i: number, type: number, at: number, size: number) => {
    const h = shoff + i * shentsize;
    view.setUint32(h + 4, type, true);
    view.setBigUint64(h + 0x18, BigInt(at), true);
    view.setBigUint64(h + 0x20, BigInt(size), true);
    view.setUint32(h + 0x28, type === 11 ? 2 : 0, true);
    view.setBigUint64(h + 0x38, BigInt(type === 11 ? symsize : 0), true);
  };
  header(1, 11, dynsymAt, dynsymSize);
  header(2, 3, dynstrAt, names.length);
  return out;
}

const ascii = (s: string) => new TextEncoder().encode(s);

Deno.test("dynamicSymbols reads the names of the dynamic symbol table", () => {
  const names = ascii("\0plugin_init\0plugin_destroy\0");
  assert.deepEqual(dynamicSymbols(elf(names, [1, 13])), [
    "plugin_init",
    "plugin_destroy",
  ]);
});

Deno.test("dynamicSymbols refuses a name that runs past its string table", () => {
  // The last name has no NUL: before the bound, the scan ran off the end
  // of the file and never stopped.
  const names = ascii("\0plugin_init\0plugin_destroy");
  assert.throws(
    () => dynamicSymbols(elf(names, [1, 13])),
    /has a name outside its string table/,
  );
  assert.throws(
    () => dynamicSymbols(elf(ascii("\0a\0"), [1, 500])),
    /has a name outside its string table/,
  );
});
