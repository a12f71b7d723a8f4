/**
 * Packing: turns the generic falco-deno library into one plugin's `.so`.
 *
 * Two edits, both plain byte work so no Rust toolchain is needed:
 *
 * 1. Capabilities. Falco's loader decides what a plugin can do from which
 *    `plugin_*` symbols `dlsym` finds. The generic library exports all of
 *    them, so for a capability the plugin lacks, the first byte of each of
 *    its symbol names in `.dynstr` becomes `_`. The GNU hash table still
 *    leads `dlsym` to the entry, but the name compare fails, so the symbol
 *    is not found. Nothing inside the library calls these exports through
 *    the dynamic table, so the library itself is unaffected.
 * 2. Contents. The bundle and the manifest are appended after the ELF data
 *    with a trailer (`rust_embed/src/manifest.rs` reads it back).
 *
 * @module
 */

/** Marks the end of a packed library; mirrors `manifest.rs`. */
export const PACK_MAGIC = "FDENOPK1";

/** The `plugin_*` exports of each capability. */
export const CAPABILITY_SYMBOLS = {
  sourcing: [
    "plugin_get_id",
    "plugin_get_event_source",
    "plugin_open",
    "plugin_close",
    "plugin_next_batch",
    "plugin_get_progress",
    "plugin_event_to_string",
    "plugin_list_open_params",
  ],
  extraction: [
    "plugin_get_fields",
    "plugin_extract_fields",
    "plugin_get_extract_event_sources",
    "plugin_get_extract_event_types",
  ],
} as const;

/** The symbols every plugin exports. */
export const COMMON_SYMBOLS = [
  "plugin_get_required_api_version",
  "plugin_get_version",
  "plugin_get_name",
  "plugin_get_description",
  "plugin_get_contact",
  "plugin_get_init_schema",
  "plugin_init",
  "plugin_destroy",
  "plugin_get_last_error",
  "plugin_get_metrics",
] as const;

/** What goes into a packed library. */
export interface PackInput {
  /** The generic library's bytes. */
  library: Uint8Array;
  /** The plugin bundle (one classic script). */
  bundle: string;
  /** The manifest object (`runtime/manifest.ts`), engine included. */
  manifest: {
    capabilities: { sourcing: boolean; extraction: boolean };
    [key: string]: unknown;
  };
}

/**
 * Builds the bytes of a packed plugin library.
 *
 * @param input The generic library, the bundle and the manifest.
 * @returns The packed `.so` contents.
 *
 * @example Pack a plugin
 * ```ts ignore
 * const so = packLibrary({ library, bundle, manifest });
 * await Deno.writeFile("libdummy_ts.so", so);
 * ```
 */
export function packLibrary(input: PackInput): Uint8Array {
  const library = input.library.slice();
  const hidden: string[] = [];
  if (!input.manifest.capabilities.sourcing) {
    hidden.push(...CAPABILITY_SYMBOLS.sourcing);
  }
  if (!input.manifest.capabilities.extraction) {
    hidden.push(...CAPABILITY_SYMBOLS.extraction);
  }
  hideDynamicSymbols(library, hidden);
  const encoder = new TextEncoder();
  const bundle = encoder.encode(input.bundle);
  const manifest = encoder.encode(JSON.stringify(input.manifest));
  const trailer = new Uint8Array(24);
  const view = new DataView(trailer.buffer);
  view.setBigUint64(0, BigInt(bundle.length), true);
  view.setBigUint64(8, BigInt(manifest.length), true);
  trailer.set(encoder.encode(PACK_MAGIC), 16);
  const out = new Uint8Array(
    library.length + bundle.length + manifest.length + trailer.length,
  );
  out.set(library, 0);
  out.set(bundle, library.length);
  out.set(manifest, library.length + bundle.length);
  out.set(trailer, library.length + bundle.length + manifest.length);
  return out;
}

/**
 * Lists the names of the defined dynamic symbols of an ELF64 library, as
 * `dlsym` would find them.
 *
 * @param library The library's bytes.
 * @returns The exported names.
 *
 * @example List exports
 * ```ts ignore
 * const names = dynamicSymbols(await Deno.readFile("libdummy_ts.so"));
 * ```
 */
export function dynamicSymbols(library: Uint8Array): string[] {
  const { symbols } = readDynamicSymbols(library);
  return symbols.filter((s) => s.defined).map((s) => s.name);
}

interface DynamicSymbol {
  name: string;
  nameOffset: number;
  defined: boolean;
}

function readDynamicSymbols(
  library: Uint8Array,
): { symbols: DynamicSymbol[] } {
  const view = new DataView(
    library.buffer,
    library.byteOffset,
    library.byteLength,
  );
  const isElf64Le = library[0] === 0x7f && library[1] === 0x45 &&
    library[2] === 0x4c && library[3] === 0x46 && library[4] === 2 &&
    library[5] === 1;
  if (!isElf64Le) {
    throw new Error("The generic library is not a 64-bit little-endian ELF");
  }
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      type: view.getUint32(at + 4, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
      link: view.getUint32(at + 0x28, true),
      entsize: Number(view.getBigUint64(at + 0x38, true)),
    };
  };
  const SHT_DYNSYM = 11;
  for (let i = 0; i < shnum; i++) {
    const dynsym = section(i);
    if (dynsym.type !== SHT_DYNSYM) continue;
    const dynstr = section(dynsym.link);
    const strEnd = Math.min(dynstr.offset + dynstr.size, library.length);
    const symbols: DynamicSymbol[] = [];
    const entsize = dynsym.entsize || 24;
    for (
      let at = dynsym.offset;
      at < dynsym.offset + dynsym.size;
      at += entsize
    ) {
      const nameOffset = dynstr.offset + view.getUint32(at, true);
      const shndx = view.getUint16(at + 6, true);
      // A name ends at its NUL, and never past the string table.
      const nul = library.subarray(0, strEnd).indexOf(0, nameOffset);
      if (nameOffset >= strEnd || nul < 0) {
        throw new Error(
          `The generic library's dynamic symbol at ${at} has a name outside its string table`,
        );
      }
      const end = nul;
      const name = new TextDecoder().decode(library.subarray(nameOffset, end));
      if (name) symbols.push({ name, nameOffset, defined: shndx !== 0 });
    }
    return { symbols };
  }
  throw new Error("The generic library has no dynamic symbol table");
}

function hideDynamicSymbols(library: Uint8Array, names: readonly string[]) {
  const { symbols } = readDynamicSymbols(library);
  for (const name of names) {
    const symbol = symbols.find((s) => s.name === name && s.defined);
    if (!symbol) {
      throw new Error(
        `The generic library does not export "${name}": rebuild it`,
      );
    }
    library[symbol.nameOffset] = "_".charCodeAt(0);
  }
}
