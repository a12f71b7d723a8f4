/**
 * Checking and encoding of extracted field values into the output layout of
 * `_bridge_abi.ts`, decoding them back (for the harness and the hosts), and
 * their canonical text.
 *
 * @module
 */

import type { FieldType } from "./types.ts";
import { utf8Decode, utf8Write } from "./_utf8.ts";

const U64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TWO_32 = 4294967296;

/** A decoded value, as the host sees it. */
export type DecodedValue = bigint | string | boolean;

/**
 * Parses an IPv4 (`a.b.c.d`) or IPv6 (RFC 4291 text, with `::` and an
 * embedded IPv4 tail) address. Returns 4 or 16 bytes, or `undefined`.
 *
 * @example Parsing addresses
 * ```ts
 * import { parseIp } from "./field_values.ts";
 * console.assert(parseIp("10.0.0.1")?.length === 4);
 * console.assert(parseIp("::1")?.length === 16);
 * console.assert(parseIp("10.0.0.256") === undefined);
 * ```
 *
 * @param text The address.
 * @returns The address bytes in network order.
 */
export function parseIp(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length > 45) return undefined;
  const out = new Uint8Array(16);
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const groups = s.split(":");
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = parseIpv4(g);
        if (v4 === undefined) return undefined;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        words.push(parseInt(g, 16));
      }
    }
    return words;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1 && head.length !== 8) return undefined;
  if (halves.length === 2 && head.length + tail.length > 7) return undefined;
  const words = new Array<number>(8).fill(0);
  head.forEach((w, i) => (words[i] = w));
  tail.forEach((w, i) => (words[8 - tail.length + i] = w));
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/**
 * Text of an address of 4 or 16 bytes: dotted IPv4, or RFC 5952 IPv6
 * (lowercase, longest zero run as `::`).
 *
 * @example Formatting addresses
 * ```ts
 * import { formatIp } from "./field_values.ts";
 * console.assert(formatIp(new Uint8Array([10, 0, 0, 1])) === "10.0.0.1");
 * ```
 *
 * @param bytes 4 or 16 bytes in network order.
 * @returns The address text.
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) {
    throw new RangeError(`IP address has "${bytes.length}" bytes, not 4 or 16`);
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i++) {
    words.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  }
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${
    hex(words.slice(bestStart + bestLen))
  }`;
}

/**
 * Checks one value against its field type and returns it in the shape the
 * encoder writes: `bigint` for integer types, `string`, `boolean`, or the
 * address bytes. Throws a `TypeError`/`RangeError` whose message describes
 * the value; the caller adds the plugin and field names.
 */
export function checkValue(
  type: FieldType,
  value: unknown,
): bigint | string | boolean | Uint8Array {
  switch (type) {
    case "uint64":
    case "reltime":
    case "abstime": {
      if (typeof value === "number") {
        if (!Number.isInteger(value) || value < 0) {
          throw new RangeError(
            `value "${value}" is not a non-negative integer`,
          );
        }
        if (value > Number.MAX_SAFE_INTEGER) {
          throw new RangeError(
            `value "${value}" is above Number.MAX_SAFE_INTEGER: return a bigint`,
          );
        }
        return BigInt(value);
      }
      if (typeof value === "bigint") {
        if (value < 0n || value > U64_MAX) {
          throw new RangeError(`value "${value}" is out of the u64 range`);
        }
        return value;
      }
      throw new TypeError(
        `expected a number or bigint for a ${type} field, got ${
          describe(value)
        }`,
      );
    }
    case "string": {
      if (typeof value !== "string") {
        throw new TypeError(`expected a string, got ${describe(value)}`);
      }
      const nul = value.indexOf("\0");
      if (nul >= 0) {
        throw new RangeError(
          `string value contains a NUL character at index "${nul}"`,
        );
      }
      return value;
    }
    case "bool":
      if (typeof value !== "boolean") {
        throw new TypeError(`expected a boolean, got ${describe(value)}`);
      }
      return value;
    case "ipaddr":
    case "ipnet": {
      if (value instanceof Uint8Array) {
        if (value.length !== 4 && value.length !== 16) {
          throw new RangeError(
            `address has "${value.length}" bytes, not 4 or 16`,
          );
        }
        return value;
      }
      if (typeof value !== "string") {
        throw new TypeError(
          `expected an address string or bytes, got ${describe(value)}`,
        );
      }
      if (type === "ipnet" && value.includes("/")) {
        throw new RangeError(
          `ipnet value "${value}" has a prefix: libsinsp takes the address only and matches it against the network in the rule`,
        );
      }
      const bytes = parseIp(value);
      if (bytes === undefined) {
        throw new RangeError(`value "${value}" is not an IPv4 or IPv6 address`);
      }
      return bytes;
    }
    default:
      throw new TypeError(`unknown field type "${type as string}"`);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const t = typeof value;
  if (t === "object") return "an object";
  if (t === "string") return `the string "${value}"`;
  return `${t} "${String(value)}"`;
}

/**
 * Writes one checked value (from {@linkcode checkValue}) at `offset`:
 * `u32 byteLength` then the bytes. Returns the new offset, or -1 when it
 * does not fit.
 */
export function writeValue(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  type: FieldType,
  value: bigint | string | boolean | Uint8Array,
): number {
  const start = offset + 4;
  let len: number;
  switch (type) {
    case "uint64":
    case "reltime":
    case "abstime":
      if (start + 8 > bytes.length) return -1;
      view.setBigUint64(start, value as bigint, true);
      len = 8;
      break;
    case "bool":
      if (start + 4 > bytes.length) return -1;
      view.setUint32(start, value ? 1 : 0, true);
      len = 4;
      break;
    case "string":
      len = utf8Write(value as string, bytes, start);
      if (len < 0) return -1;
      break;
    default: {
      const b = value as Uint8Array;
      if (start + b.length > bytes.length) return -1;
      bytes.set(b, start);
      len = b.length;
    }
  }
  view.setUint32(offset, len, true);
  return start + len;
}

/** {@linkcode fieldTypeCode} of `uint64`, `reltime` and `abstime`. */
export const TYPE_U64 = 0;
/** {@linkcode fieldTypeCode} of `string`. */
export const TYPE_STRING = 1;
/** {@linkcode fieldTypeCode} of `bool`. */
export const TYPE_BOOL = 2;
/** {@linkcode fieldTypeCode} of `ipaddr`, `ipnet` and unknown types. */
export const TYPE_OTHER = 3;
/** {@linkcode writeFast} result: the value needs {@linkcode checkValue}. */
export const NEEDS_CHECK = -2;

/** The small integer {@linkcode writeFast} dispatches on. */
export function fieldTypeCode(type: FieldType): number {
  switch (type) {
    case "uint64":
    case "reltime":
    case "abstime":
      return TYPE_U64;
    case "string":
      return TYPE_STRING;
    case "bool":
      return TYPE_BOOL;
    default:
      return TYPE_OTHER;
  }
}

/**
 * Writes a value that is already in its final shape (a safe non-negative
 * integer number or a u64 bigint, a string without NUL, a boolean) like
 * {@linkcode writeValue} would after {@linkcode checkValue}, without
 * allocating. Returns the new offset, -1 when it does not fit, or
 * {@linkcode NEEDS_CHECK} for any other value (bad ones, addresses): then
 * `checkValue` and `writeValue` do the job and give the error.
 *
 * @param view The output buffer.
 * @param bytes The same buffer.
 * @param offset Where the value's `u32 byteLength` goes.
 * @param code The field's {@linkcode fieldTypeCode}.
 * @param value What the extractor returned.
 */
export function writeFast(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  code: number,
  value: unknown,
): number {
  const start = offset + 4;
  if (code === TYPE_U64) {
    if (typeof value === "number") {
      if (!(value >= 0 && value <= MAX_SAFE && value % 1 === 0)) {
        return NEEDS_CHECK;
      }
      if (start + 8 > bytes.length) return -1;
      const lo = value % TWO_32;
      view.setUint32(offset, 8, true);
      view.setUint32(start, lo, true);
      view.setUint32(start + 4, (value - lo) / TWO_32, true);
      return start + 8;
    }
    if (typeof value === "bigint") {
      if (value < 0n || value > U64_MAX) return NEEDS_CHECK;
      if (start + 8 > bytes.length) return -1;
      view.setUint32(offset, 8, true);
      view.setBigUint64(start, value, true);
      return start + 8;
    }
    return NEEDS_CHECK;
  }
  if (code === TYPE_STRING) {
    if (typeof value !== "string" || value.indexOf("\0") >= 0) {
      return NEEDS_CHECK;
    }
    const len = utf8Write(value, bytes, start);
    if (len < 0) return -1;
    view.setUint32(offset, len, true);
    return start + len;
  }
  if (code === TYPE_BOOL) {
    if (value !== true && value !== false) return NEEDS_CHECK;
    if (start + 4 > bytes.length) return -1;
    view.setUint32(offset, 4, true);
    view.setUint32(start, value ? 1 : 0, true);
    return start + 4;
  }
  return NEEDS_CHECK;
}

/**
 * Reads one value written by {@linkcode writeValue} (`len` bytes at
 * `offset`): `bigint` for integer types, `boolean`, `string` (also for
 * addresses, as text).
 */
export function readValue(
  bytes: Uint8Array,
  offset: number,
  len: number,
  type: FieldType,
): DecodedValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case "uint64":
    case "reltime":
    case "abstime":
      if (len !== 8) throw new RangeError(`${type} value has "${len}" bytes`);
      return view.getBigUint64(offset, true);
    case "bool":
      if (len !== 4) throw new RangeError(`bool value has "${len}" bytes`);
      return view.getUint32(offset, true) !== 0;
    case "string":
      return utf8Decode(bytes.subarray(offset, offset + len));
    default:
      return formatIp(bytes.slice(offset, offset + len));
  }
}

/**
 * Canonical text of a decoded value, as in the scenario result files:
 * decimal for integer types, `true`/`false`, strings as they are, addresses
 * as text.
 *
 * @example Canonical text
 * ```ts
 * import { canonicalText } from "./field_values.ts";
 * console.assert(canonicalText(7n) === "7");
 * console.assert(canonicalText(true) === "true");
 * ```
 *
 * @param value A decoded value.
 * @returns Its text.
 */
export function canonicalText(value: DecodedValue): string {
  return typeof value === "string" ? value : String(value);
}
