/**
 * UTF-8 helpers that work without `TextEncoder`/`TextDecoder` (the embed's
 * bare engine has neither).
 *
 * They run for every event and field value, on an interpreter in the
 * embed, where each way has its price (QuickJS-ng, measured in the `.so`):
 * the JavaScript loops cost ~0.25 µs per character to encode and ~0.05 µs
 * per byte to decode ASCII; `Deno.core.encode`/`decode` (when the embed has
 * them) ~1.5 µs whatever the length; `TextEncoder`/`TextDecoder` (deno_web's,
 * argument conversions and an op) ~4-7 µs. So short strings take the
 * JavaScript paths, longer ones `Deno.core` when its result is provably
 * ASCII (then every way gives the same bytes), and anything else the
 * built-in classes when present, the JavaScript paths otherwise. (The web
 * platform's bootstrap deletes `Deno.core` before the bundle runs: then
 * only the JavaScript paths and the classes remain.)
 *
 * @module
 */

interface Encoder {
  encodeInto(s: string, dst: Uint8Array): { read: number; written: number };
  encode(s: string): Uint8Array;
}
interface Decoder {
  decode(b: Uint8Array): string;
}
/** The helpers of `Deno.core` used here, when the embed offers them. */
interface Core {
  encode(s: string): Uint8Array;
  decode(b: Uint8Array): string;
}

const g = globalThis as unknown as {
  TextEncoder?: new () => Encoder;
  TextDecoder?: new (label?: string) => Decoder;
  Deno?: { core?: Partial<Core> };
};
let nativeEncoder: Encoder | undefined = g.TextEncoder
  ? new g.TextEncoder()
  : undefined;
let nativeDecoder: Decoder | undefined = g.TextDecoder
  ? new g.TextDecoder("utf-8")
  : undefined;
let core: Core | undefined = findCore();

function findCore(): Core | undefined {
  const deno = g.Deno;
  const c = deno === undefined ? undefined : deno.core;
  return c !== undefined && typeof c.encode === "function" &&
      typeof c.decode === "function"
    ? c as Core
    : undefined;
}

/** Strings longer than this are encoded by `Deno.core.encode`. */
const CORE_ENCODE_MIN = 8;
/** Byte arrays longer than this are decoded by `Deno.core.decode`. */
const CORE_DECODE_MIN = 24;
/** Without `Deno.core`, strings from this length go to `TextEncoder`. */
const ENCODER_MIN = 24;
/** Without `Deno.core`, bytes from this length go to `TextDecoder`. */
const DECODER_MIN = 96;
/** Most arguments `String.fromCharCode.apply` gets at once. */
const APPLY_CHUNK = 8192;
const REPLACEMENT = "\ufffd";

const fromCharCode = String.fromCharCode;

/** Number of bytes `s` takes in UTF-8 (lone surrogates count as U+FFFD). */
export function utf8Length(s: string): number {
  const len = s.length;
  let n = len;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        // Two UTF-16 units, four bytes.
        n += 2;
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/**
 * Writes `s` as UTF-8 into `dst` from `offset`. Returns the number of bytes
 * written, or -1 when it does not fit (nothing meaningful is written then).
 */
export function utf8Write(s: string, dst: Uint8Array, offset: number): number {
  const len = s.length;
  if (len > dst.length - offset) {
    // Even all-ASCII would not fit.
    return -1;
  }
  if (len > CORE_ENCODE_MIN && core !== undefined) {
    const b = core.encode(s);
    // As many bytes as units: all ASCII, the same bytes any encoder makes.
    if (b.length === len) {
      dst.set(b, offset);
      return len;
    }
  } else if (len < ENCODER_MIN || nativeEncoder === undefined) {
    // ASCII fast path, the common case for field values; it fits (see
    // above).
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      dst[offset + i] = c;
    }
    if (i === len) return len;
  }
  if (nativeEncoder === undefined) return utf8WriteFrom(s, 0, dst, offset);
  const r = nativeEncoder.encodeInto(s, dst.subarray(offset));
  return r.read === len ? r.written : -1;
}

/** The general encoder. */
function utf8WriteFrom(
  s: string,
  i: number,
  dst: Uint8Array,
  offset: number,
): number {
  let p = offset;
  const len = s.length;
  const end = dst.length;
  for (; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      if (p >= end) return -1;
      dst[p++] = c;
      continue;
    }
    if (c < 0x800) {
      if (p + 2 > end) return -1;
      dst[p++] = 0xc0 | (c >> 6);
      dst[p++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        if (p + 4 > end) return -1;
        dst[p++] = 0xf0 | (c >> 18);
        dst[p++] = 0x80 | ((c >> 12) & 0x3f);
        dst[p++] = 0x80 | ((c >> 6) & 0x3f);
        dst[p++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (p + 3 > end) return -1;
    dst[p++] = 0xe0 | (c >> 12);
    dst[p++] = 0x80 | ((c >> 6) & 0x3f);
    dst[p++] = 0x80 | (c & 0x3f);
  }
  return p - offset;
}

/** Encodes `s` as a new UTF-8 byte array. */
export function utf8Encode(s: string): Uint8Array {
  if (nativeEncoder !== undefined) return nativeEncoder.encode(s);
  const out = new Uint8Array(utf8Length(s));
  utf8Write(s, out, 0);
  return out;
}

/** Decodes UTF-8 bytes; invalid sequences become U+FFFD. */
export function utf8Decode(b: Uint8Array): string {
  const len = b.length;
  if (len > CORE_DECODE_MIN && core !== undefined) {
    const t = core.decode(b);
    // As many units as bytes and no replacement: all ASCII (a BOM, a
    // multi-byte character, an invalid byte would show).
    if (t.length === len && t.indexOf(REPLACEMENT) < 0) return t;
  } else if (len < DECODER_MIN || nativeDecoder === undefined) {
    // ASCII fast path: one call makes the whole string.
    let i = 0;
    while (i < len && b[i] < 0x80) i++;
    if (i === len) {
      return len <= APPLY_CHUNK
        ? fromCharCode.apply(null, b as unknown as number[])
        : asciiChunks(b, 0, len);
    }
  }
  if (nativeDecoder === undefined) return utf8DecodeFrom(b, 0);
  return nativeDecoder.decode(b);
}

/** The string of ASCII bytes `b[from..to)`. */
function asciiChunks(b: Uint8Array, from: number, to: number): string {
  let out = "";
  for (let at = from; at < to; at += APPLY_CHUNK) {
    out += fromCharCode.apply(
      null,
      b.subarray(at, Math.min(at + APPLY_CHUNK, to)) as unknown as number[],
    );
  }
  return out;
}

/** The general decoder, from byte `i` of `b`. */
function utf8DecodeFrom(b: Uint8Array, i: number): string {
  const len = b.length;
  let out = "";
  const chunk: number[] = [];
  while (i < len) {
    const c = b[i];
    let cp = 0xfffd;
    let n = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c <= 0xdf && cont(b, i + 1)) {
      cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef && cont(b, i + 1) && cont(b, i + 2)) {
      const v = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) |
        (b[i + 2] & 0x3f);
      if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) {
        cp = v;
        n = 3;
      }
    } else if (
      c >= 0xf0 && c <= 0xf4 && cont(b, i + 1) && cont(b, i + 2) &&
      cont(b, i + 3)
    ) {
      const v = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) |
        ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
      if (v >= 0x10000 && v <= 0x10ffff) {
        cp = v;
        n = 4;
      }
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      chunk.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else chunk.push(cp);
    if (chunk.length > 4096) {
      out += fromCharCode.apply(null, chunk);
      chunk.length = 0;
    }
    i += n;
  }
  return out + fromCharCode.apply(null, chunk);
}

function cont(b: Uint8Array, i: number): boolean {
  return i < b.length && (b[i] & 0xc0) === 0x80;
}

/**
 * For tests: makes the helpers use these natives (`undefined`: none) as if
 * found at load. Returns a function that restores the ones found.
 */
export function _useNatives(
  natives: { encoder?: Encoder; decoder?: Decoder; core?: Core },
): () => void {
  const saved = [nativeEncoder, nativeDecoder, core] as const;
  nativeEncoder = natives.encoder;
  nativeDecoder = natives.decoder;
  core = natives.core;
  return () => {
    [nativeEncoder, nativeDecoder, core] = saved;
  };
}
