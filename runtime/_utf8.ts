/**
 * UTF-8 helpers that work without `TextEncoder`/`TextDecoder` (the embed's
 * bare engine has neither). The built-in classes are used when present.
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

const g = globalThis as unknown as {
  TextEncoder?: new () => Encoder;
  TextDecoder?: new (label?: string) => Decoder;
  Deno?: Record<symbol, unknown>;
};
/**
 * Inside the embed, `TextEncoder`/`TextDecoder` are deno_web's, loaded on
 * first use and backed by ops: on QuickJS-ng every op call is a slow call,
 * and loading them costs every instance's init. The code below is faster
 * there, so the hot path keeps it.
 */
const inEmbed = g.Deno?.[Symbol.for("falco-deno.console")] === true;
const nativeEncoder: Encoder | undefined = g.TextEncoder && !inEmbed
  ? new g.TextEncoder()
  : undefined;
const nativeDecoder: Decoder | undefined = g.TextDecoder && !inEmbed
  ? new g.TextDecoder("utf-8")
  : undefined;

/** Number of bytes `s` takes in UTF-8 (lone surrogates count as U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Writes `s` as UTF-8 into `dst` from `offset`. Returns the number of bytes
 * written, or -1 when it does not fit (nothing meaningful is written then).
 */
export function utf8Write(s: string, dst: Uint8Array, offset: number): number {
  // ASCII fast path, the common case for field values.
  const room = dst.length - offset;
  if (s.length > room) {
    // Even all-ASCII would not fit.
    return -1;
  }
  if (nativeEncoder !== undefined) {
    const r = nativeEncoder.encodeInto(s, dst.subarray(offset));
    return r.read === s.length ? r.written : -1;
  }
  let p = offset;
  const end = dst.length;
  for (let i = 0; i < s.length; i++) {
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
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
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
  if (nativeDecoder !== undefined) return nativeDecoder.decode(b);
  let out = "";
  let chunk: number[] = [];
  const flush = () => {
    out += String.fromCharCode.apply(null, chunk);
    chunk = [];
  };
  let i = 0;
  while (i < b.length) {
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
    if (chunk.length > 4096) flush();
    i += n;
  }
  flush();
  return out;
}

function cont(b: Uint8Array, i: number): boolean {
  return i < b.length && (b[i] & 0xc0) === 0x80;
}
