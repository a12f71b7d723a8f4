/**
 * A JSON reader that keeps the text as written, with the data model of the
 * Go `fastjson` package (valyala/fastjson, the geraldcombs fork used by the
 * official Falco plugins): numbers keep their text (`1.50`, 64-bit integers
 * exact), strings and keys keep their escapes until read, objects keep key
 * order and duplicate keys, and {@linkcode JsonValue.marshal} writes a value
 * back as compact JSON the way `fastjson.Value.MarshalTo` does.
 *
 * Reading mutates, as in fastjson: asking a raw string for its type or text
 * decodes it (best effort: a bad escape is kept as written), and a key
 * lookup that misses, or looks for a key with a backslash, decodes the
 * object's keys. Decoded strings and keys are written back with Go's
 * `strconv.Quote` when they hold `"`, `\` or a control character, else
 * between plain quotes. Plugins that must give the same text as a Go plugin
 * on the same event (k8saudit) need exactly this.
 *
 * The grammar is fastjson's, which is looser than RFC 8259: string contents
 * are not checked (control characters, bad escapes), a number is any run of
 * `0-9 . - + e E` (or `inf`/`nan`), and nesting stops at 300 levels.
 *
 * @module
 */

/** The kinds of a {@linkcode JsonValue}. */
export type JsonKind =
  | "object"
  | "array"
  | "string"
  | "number"
  | "true"
  | "false"
  | "null";

const RAW_STRING = 0;
const STRING = 1;
const NUMBER = 2;
const OBJECT = 3;
const ARRAY = 4;
const TRUE = 5;
const FALSE = 6;
const NULL = 7;

const KIND_NAMES: JsonKind[] = [
  "string",
  "string",
  "number",
  "object",
  "array",
  "true",
  "false",
  "null",
];

/** Deepest nesting accepted, as fastjson's `MaxDepth`. */
export const MAX_DEPTH = 300;

/**
 * What the values of one parse share: the text, and whether a decode has
 * changed how something would be written (a string or key with an escape
 * or a control character read). Until then, a container whose text has no
 * white space is written back as its slice of the text.
 */
class JsonDoc {
  dirty = false;
  constructor(readonly text: string) {}
}

// deno-lint-ignore no-control-regex
const CHANGES_WHEN_DECODED = /[\\\x00-\x1f]/;

/** One parsed JSON value (see the module documentation for its rules). */
export class JsonValue {
  /** @internal */
  t: number;
  /** @internal raw or decoded string text, or number text */
  s = "";
  /** @internal object keys (raw until `keysDecoded`) */
  keys: string[] | undefined;
  /** @internal object values, or array items */
  items: JsonValue[] | undefined;
  /** @internal */
  keysDecoded = false;
  /** @internal a container's text span; `end` -1 when it holds white space */
  start = 0;
  /** @internal */
  end = -1;
  /** @internal */
  readonly doc: JsonDoc;

  /** @internal */
  constructor(t: number, doc: JsonDoc) {
    this.t = t;
    this.doc = doc;
  }

  /**
   * The kind of the value. Decodes a raw string, as fastjson's `Type()`.
   *
   * @returns The kind.
   *
   * @example Kinds
   * ```ts
   * import { parseJson } from "./lossless_json.ts";
   * console.assert(parseJson('{"a":[1]}').get("a")?.kind() === "array");
   * ```
   */
  kind(): JsonKind {
    if (this.t === RAW_STRING) {
      if (CHANGES_WHEN_DECODED.test(this.s)) this.doc.dirty = true;
      this.s = unescapeBestEffort(this.s);
      this.t = STRING;
    }
    return KIND_NAMES[this.t];
  }

  /**
   * The decoded text of a string value, as fastjson's `GetStringBytes()`.
   *
   * @returns The text, or `undefined` when the value is not a string.
   *
   * @example Escapes decoded
   * ```ts
   * import { parseJson } from "./lossless_json.ts";
   * console.assert(parseJson('["a\\u003cb"]').at(0)?.text() === "a<b");
   * ```
   */
  text(): string | undefined {
    return this.kind() === "string" ? this.s : undefined;
  }

  /** Whether the value is `true`. */
  isTrue(): boolean {
    return this.t === TRUE;
  }

  /**
   * Walks the value by keys, as fastjson's `Get(keys...)`: an object member
   * (the first with that key), or an array item when the key is a decimal
   * index.
   *
   * @param keys The path.
   * @returns The value found, or `undefined`.
   *
   * @example A nested member
   * ```ts
   * import { parseJson } from "./lossless_json.ts";
   * const v = parseJson('{"a":{"b":1.50}}');
   * console.assert(v.get("a", "b")?.marshal() === "1.50");
   * ```
   */
  get(...keys: string[]): JsonValue | undefined {
    // deno-lint-ignore no-this-alias
    let v: JsonValue | undefined = this;
    for (const key of keys) {
      if (v.t === OBJECT) {
        v = v.member(key);
      } else if (v.t === ARRAY) {
        v = v.items![goAtoi(key)];
      } else {
        return undefined;
      }
      if (v === undefined) return undefined;
    }
    return v;
  }

  /** The items of an array value, or `undefined` for any other kind. */
  array(): JsonValue[] | undefined {
    return this.t === ARRAY ? this.items : undefined;
  }

  /** The item `i` of an array value. */
  at(i: number): JsonValue | undefined {
    return this.t === ARRAY ? this.items![i] : undefined;
  }

  /**
   * The members of an object value (keys decoded, as fastjson's `Visit`),
   * in document order, duplicates included.
   *
   * @returns `[key, value]` pairs, or `undefined` when not an object.
   */
  entries(): [string, JsonValue][] | undefined {
    if (this.t !== OBJECT) return undefined;
    this.decodeKeys();
    return this.keys!.map((k, i) => [k, this.items![i]]);
  }

  /**
   * The value as compact JSON, as fastjson's `MarshalTo`: number text and
   * raw strings as written, decoded strings and keys quoted again.
   *
   * @returns The JSON text.
   *
   * @example Text kept
   * ```ts
   * import { parseJson } from "./lossless_json.ts";
   * const text = '{ "b": 1.50, "a": "\\u003c", "b": 12345678901234567890 }';
   * console.assert(
   *   parseJson(text).marshal() ===
   *     '{"b":1.50,"a":"\\u003c","b":12345678901234567890}',
   * );
   * ```
   */
  marshal(): string {
    if (this.end >= 0 && !this.doc.dirty) {
      return this.doc.text.slice(this.start, this.end);
    }
    const out: string[] = [];
    marshalTo(this, out);
    return out.join("");
  }

  /** @internal */
  member(key: string): JsonValue | undefined {
    const keys = this.keys!;
    if (!this.keysDecoded && !key.includes("\\")) {
      // fastjson's fast path: compare with the raw keys first.
      const i = keys.indexOf(key);
      if (i >= 0) return this.items![i];
    }
    this.decodeKeys();
    const i = keys.indexOf(key);
    return i >= 0 ? this.items![i] : undefined;
  }

  /** @internal */
  decodeKeys(): void {
    if (this.keysDecoded) return;
    const keys = this.keys!;
    for (let i = 0; i < keys.length; i++) {
      if (CHANGES_WHEN_DECODED.test(keys[i])) this.doc.dirty = true;
      keys[i] = unescapeBestEffort(keys[i]);
    }
    this.keysDecoded = true;
  }
}

function marshalTo(v: JsonValue, out: string[]): void {
  switch (v.t) {
    case RAW_STRING:
      out.push('"', v.s, '"');
      return;
    case STRING:
      out.push(escapeString(v.s));
      return;
    case NUMBER:
      out.push(v.s);
      return;
    case OBJECT: {
      if (v.end >= 0 && !v.doc.dirty) {
        out.push(v.doc.text.slice(v.start, v.end));
        return;
      }
      out.push("{");
      const keys = v.keys!, items = v.items!;
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) out.push(",");
        out.push(v.keysDecoded ? escapeString(keys[i]) : `"${keys[i]}"`, ":");
        marshalTo(items[i], out);
      }
      out.push("}");
      return;
    }
    case ARRAY: {
      if (v.end >= 0 && !v.doc.dirty) {
        out.push(v.doc.text.slice(v.start, v.end));
        return;
      }
      out.push("[");
      const items = v.items!;
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.push(",");
        marshalTo(items[i], out);
      }
      out.push("]");
      return;
    }
    case TRUE:
      out.push("true");
      return;
    case FALSE:
      out.push("false");
      return;
    default:
      out.push("null");
  }
}

/** Go's `strconv.Atoi` for a lookup: the index, or -1 when not one. */
function goAtoi(key: string): number {
  if (!/^[+-]?[0-9]+$/.test(key)) return -1;
  const n = Number(key);
  return Number.isSafeInteger(n) ? n : -1;
}

const isWs = (c: number) =>
  c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

/**
 * Parses JSON text with fastjson's grammar (leading and trailing white space
 * allowed).
 *
 * @param text The JSON text.
 * @returns The root value.
 * @throws {SyntaxError} When the text is not JSON for fastjson.
 *
 * @example Parse and write back
 * ```ts
 * import { parseJson } from "./lossless_json.ts";
 * console.assert(parseJson(' [1.0, "x"] ').marshal() === '[1.0,"x"]');
 * ```
 */
export function parseJson(text: string): JsonValue {
  const p = new JsonParser(text);
  p.step(Infinity);
  return p.result!;
}

const VALUE = 0, KEY = 1, AFTER = 2, DONE = 3;

/**
 * A JSON parse that can stop and resume ({@linkcode JsonParser.step}), so a
 * document of many megabytes is parsed in slices between which the caller
 * yields (a plugin callback must return within its deadline). No recursion:
 * nesting costs no stack.
 *
 * @example Parse in slices
 * ```ts
 * import { JsonParser } from "./lossless_json.ts";
 * const p = new JsonParser('{"a":[1,2,3]}');
 * while (!p.step(2)) {
 *   // yield to the event loop here
 * }
 * console.assert(p.result!.marshal() === '{"a":[1,2,3]}');
 * ```
 */
export class JsonParser {
  /** The root value, once {@linkcode JsonParser.step} returned true. */
  result: JsonValue | undefined;
  #i = 0;
  #state = VALUE;
  #stack: JsonValue[] = [];
  /** White space skipped so far, and at the opening of each open container. */
  #ws = 0;
  #wsMarks: number[] = [];
  readonly #s: string;
  readonly #doc: JsonDoc;

  /**
   * Starts a parse of `text`.
   *
   * @param text The JSON text.
   */
  constructor(text: string) {
    this.#s = text;
    this.#doc = new JsonDoc(text);
    this.#skipWs();
  }

  /**
   * Parses up to `budget` values and keys.
   *
   * @param budget How many values and keys to read before returning.
   * @returns Whether the parse is complete (`result` is set).
   * @throws {SyntaxError} When the text is not JSON for fastjson.
   */
  step(budget: number): boolean {
    const s = this.#s, stack = this.#stack;
    while (budget-- > 0) {
      switch (this.#state) {
        case VALUE: {
          if (this.#i >= s.length) this.#fail("Cannot parse empty string");
          if (stack.length + 1 > MAX_DEPTH) {
            this.#fail(`Nesting deeper than ${MAX_DEPTH}`);
          }
          const c = s.charCodeAt(this.#i);
          if (c === 0x7b || c === 0x5b) {
            const v = new JsonValue(c === 0x7b ? OBJECT : ARRAY, this.#doc);
            v.items = [];
            if (c === 0x7b) v.keys = [];
            v.start = this.#i;
            const mark = this.#ws;
            this.#attach(v);
            this.#i++;
            this.#skipWs();
            if (this.#i >= s.length) {
              this.#fail(c === 0x7b ? "Missing '}'" : "Missing ']'");
            }
            if (s.charCodeAt(this.#i) === c + 2) {
              this.#i++;
              if (this.#ws === mark) v.end = this.#i;
              this.#state = AFTER;
            } else {
              stack.push(v);
              this.#wsMarks.push(mark);
              this.#state = c === 0x7b ? KEY : VALUE;
            }
            break;
          }
          this.#attach(this.#scalar(c));
          this.#state = AFTER;
          break;
        }
        case KEY: {
          this.#skipWs();
          if (s.charCodeAt(this.#i) !== 0x22) this.#fail("Missing object key");
          stack[stack.length - 1].keys!.push(this.#rawString());
          this.#skipWs();
          if (s.charCodeAt(this.#i) !== 0x3a) {
            this.#fail("Missing ':' after key");
          }
          this.#i++;
          this.#skipWs();
          this.#state = VALUE;
          break;
        }
        case AFTER: {
          this.#skipWs();
          if (stack.length === 0) {
            if (this.#i < s.length) this.#fail("Unexpected tail");
            this.#state = DONE;
            return true;
          }
          const top = stack[stack.length - 1];
          const object = top.t === OBJECT;
          if (this.#i >= s.length) {
            this.#fail(`Unexpected end of ${object ? "object" : "array"}`);
          }
          const c = s.charCodeAt(this.#i++);
          if (c === 0x2c) {
            if (!object) this.#skipWs();
            this.#state = object ? KEY : VALUE;
          } else if (c === (object ? 0x7d : 0x5d)) {
            stack.pop();
            if (this.#wsMarks.pop() === this.#ws) top.end = this.#i;
          } else {
            this.#i--;
            this.#fail(
              `Missing ',' after ${object ? "object" : "array"} value`,
            );
          }
          break;
        }
        default:
          return true;
      }
    }
    return this.#state === DONE;
  }

  #attach(v: JsonValue): void {
    const stack = this.#stack;
    if (stack.length === 0) this.result = v;
    else stack[stack.length - 1].items!.push(v);
  }

  #skipWs(): void {
    const s = this.#s, from = this.#i;
    while (this.#i < s.length && isWs(s.charCodeAt(this.#i))) this.#i++;
    this.#ws += this.#i - from;
  }

  #fail(what: string): never {
    throw new SyntaxError(`${what} at offset ${this.#i}`);
  }

  #scalar(c: number): JsonValue {
    const s = this.#s;
    if (c === 0x22) {
      const v = new JsonValue(RAW_STRING, this.#doc);
      v.s = this.#rawString();
      return v;
    }
    if (c === 0x74) return this.#literal("true", TRUE);
    if (c === 0x66) return this.#literal("false", FALSE);
    if (c === 0x6e) {
      if (s.startsWith("null", this.#i)) return this.#literal("null", NULL);
      if (s.slice(this.#i, this.#i + 3).toLowerCase() === "nan") {
        const v = new JsonValue(NUMBER, this.#doc);
        v.s = s.slice(this.#i, this.#i + 3);
        this.#i += 3;
        return v;
      }
      this.#fail("Unexpected value");
    }
    return this.#number();
  }

  #literal(word: string, t: number): JsonValue {
    if (!this.#s.startsWith(word, this.#i)) this.#fail("Unexpected value");
    this.#i += word.length;
    return new JsonValue(t, this.#doc);
  }

  #number(): JsonValue {
    const s = this.#s, start = this.#i;
    let i = start;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (
        (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x65 ||
        c === 0x45 || c === 0x2b
      ) continue;
      const n = i - start;
      if (n === 0 || (n === 1 && (s[i - 1] === "-" || s[i - 1] === "+"))) {
        const word = s.slice(i, i + 3).toLowerCase();
        if (word === "inf" || word === "nan") {
          i += 3;
          break;
        }
        this.#i = i;
        this.#fail("Cannot parse number");
      }
      break;
    }
    const v = new JsonValue(NUMBER, this.#doc);
    v.s = s.slice(start, i);
    this.#i = i;
    return v;
  }

  /** The raw text between the quotes; `i` is at the opening quote. */
  #rawString(): string {
    const s = this.#s, start = this.#i + 1;
    let from = start;
    for (;;) {
      const q = s.indexOf('"', from);
      if (q < 0) {
        this.#i = s.length;
        this.#fail("Missing closing quote");
      }
      let b = q;
      while (b > start && s.charCodeAt(b - 1) === 0x5c) b--;
      if ((q - b) % 2 === 0) {
        this.#i = q + 1;
        return s.slice(start, q);
      }
      from = q + 1;
    }
  }
}

const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Decodes the escapes of a raw JSON string as fastjson's
 * `unescapeStringBestEffort`: an unknown or short escape is kept as
 * written, a lone surrogate escape too, and a surrogate followed by a
 * non-matching escape becomes U+FFFD (both consumed).
 *
 * @param raw The text between the quotes, as written.
 * @returns The decoded text.
 *
 * @example Decoding
 * ```ts
 * import { unescapeBestEffort } from "./lossless_json.ts";
 * console.assert(unescapeBestEffort("a\\tb\\x\\u00e9") === "a\tb\\x\u00e9");
 * ```
 */
export function unescapeBestEffort(raw: string): string {
  let n = raw.indexOf("\\");
  if (n < 0) return raw;
  let out = raw.slice(0, n);
  let i = n + 1;
  while (i <= raw.length) {
    if (i >= raw.length) break;
    const ch = raw[i++];
    switch (ch) {
      case '"':
      case "\\":
      case "/":
        out += ch;
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "t":
        out += "\t";
        break;
      case "u": {
        const xs = raw.slice(i, i + 4);
        if (xs.length < 4 || !HEX4.test(xs)) {
          out += "\\u";
          break;
        }
        const x = parseInt(xs, 16);
        i += 4;
        if (x < 0xd800 || x > 0xdfff) {
          out += String.fromCharCode(x);
          break;
        }
        const ys = raw.slice(i + 2, i + 6);
        if (
          raw.length - i < 6 || raw[i] !== "\\" || raw[i + 1] !== "u" ||
          !HEX4.test(ys)
        ) {
          out += "\\u" + xs;
          break;
        }
        const y = parseInt(ys, 16);
        out += x < 0xdc00 && y >= 0xdc00 && y <= 0xdfff
          ? String.fromCharCode(x, y)
          : "\ufffd";
        i += 6;
        break;
      }
      default:
        out += "\\" + ch;
    }
    n = raw.indexOf("\\", i);
    if (n < 0) {
      out += raw.slice(i);
      break;
    }
    out += raw.slice(i, n);
    i = n + 1;
  }
  return out;
}

/**
 * Quotes a decoded string as fastjson's `escapeString`: between plain
 * quotes, or with Go's `strconv.Quote` when it holds `"`, `\` or a
 * character below U+0020.
 *
 * @param s The text.
 * @returns The JSON string.
 *
 * @example Both paths
 * ```ts
 * import { escapeString } from "./lossless_json.ts";
 * console.assert(escapeString("a<b") === '"a<b"');
 * console.assert(escapeString('a"\n') === '"a\\"\\n"');
 * ```
 */
export function escapeString(s: string): string {
  // deno-lint-ignore no-control-regex
  return /["\\\x00-\x1f]/.test(s) ? goQuote(s) : `"${s}"`;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const GO_ESCAPES: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  12: "\\f",
  10: "\\n",
  13: "\\r",
  9: "\\t",
  11: "\\v",
};

/**
 * Go's `strconv.Quote`: `"` and `\` escaped, printable characters kept,
 * `\a \b \f \n \r \t \v`, other ASCII controls as `\xHH`, other
 * unprintable characters as `\uHHHH` or `\UHHHHHHHH` (Unicode categories
 * of the JavaScript engine, which may differ from Go's in new code points).
 *
 * @param s The text.
 * @returns The quoted text.
 *
 * @example Quoting
 * ```ts
 * import { goQuote } from "./lossless_json.ts";
 * console.assert(goQuote("\u0001é\u00ad") === '"\\x01é\\u00ad"');
 * ```
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c >= 0xa1 && PRINTABLE.test(ch)) out += ch;
    else if (GO_ESCAPES[c]) out += GO_ESCAPES[c];
    else if (c < 0x20 || c === 0x7f) out += "\\x" + hex(c, 2);
    else if (c >= 0xd800 && c <= 0xdfff) out += "\\ufffd";
    else if (c < 0x10000) out += "\\u" + hex(c, 4);
    else out += "\\U" + hex(c, 8);
  }
  return out + '"';
}

const hex = (c: number, width: number) => c.toString(16).padStart(width, "0");

/**
 * What field extraction reads: a {@linkcode JsonValue}, or, for text that
 * `JSON.parse` and `JSON.stringify` give back unchanged, a plain value
 * ({@linkcode parseJsonNode}). Both behave as fastjson on that text.
 */
export interface JsonNode {
  /** The kind (decodes a raw string). */
  kind(): JsonKind;
  /** A string's decoded text, else `undefined`. */
  text(): string | undefined;
  /** Whether the value is `true`. */
  isTrue(): boolean;
  /** The value at `keys`, as fastjson's `Get`. */
  get(...keys: string[]): JsonNode | undefined;
  /** An array's items, else `undefined`. */
  array(): JsonNode[] | undefined;
  /** An object's members in document order, else `undefined`. */
  entries(): [string, JsonNode][] | undefined;
  /** The value as compact JSON, as fastjson's `MarshalTo`. */
  marshal(): string;
}

/**
 * A value of text that `JSON.stringify` writes as written and that no read
 * changes ({@linkcode tryPlainJson}): the engine's native JSON does the work
 * (much faster than a parser in JavaScript, on QuickJS above all).
 */
class PlainNode implements JsonNode {
  constructor(readonly v: unknown, readonly raw?: string) {}

  kind(): JsonKind {
    const v = this.v;
    if (v === null) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "string") return "string";
    if (typeof v === "number") return "number";
    return Array.isArray(v) ? "array" : "object";
  }

  text(): string | undefined {
    return typeof this.v === "string" ? this.v : undefined;
  }

  isTrue(): boolean {
    return this.v === true;
  }

  get(...keys: string[]): JsonNode | undefined {
    let v = this.v;
    for (const key of keys) {
      if (Array.isArray(v)) {
        const i = goAtoi(key);
        if (i < 0 || i >= v.length) return undefined;
        v = v[i];
      } else if (v !== null && typeof v === "object") {
        if (!Object.hasOwn(v, key)) return undefined;
        v = (v as Record<string, unknown>)[key];
      } else {
        return undefined;
      }
    }
    return keys.length === 0 ? this : new PlainNode(v);
  }

  array(): JsonNode[] | undefined {
    const v = this.v;
    return Array.isArray(v) ? v.map((x) => new PlainNode(x)) : undefined;
  }

  entries(): [string, JsonNode][] | undefined {
    const v = this.v;
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return undefined;
    }
    return Object.entries(v).map(([k, x]) => [k, new PlainNode(x)]);
  }

  marshal(): string {
    return this.raw ?? JSON.stringify(this.v);
  }
}

// At least MAX_DEPTH opening brackets: the only texts that may nest too
// deep for fastjson (a native regular expression, no loop in JavaScript).
const MANY_BRACKETS = new RegExp(`^(?:[^{[]*[{[]){${MAX_DEPTH}}`);

// Go's strconv.Quote, which fastjson uses to write a string it decoded,
// writes these differently from JSON.stringify: \u escapes (controls, lone
// surrogates) and characters Go does not print as they are.
const UNICODE_ESCAPE = /\\u/;
const NOT_ASCII = /[^\x20-\x7e]/;
const NOT_PRINTABLE = /[^\x20-\x7e\p{L}\p{M}\p{N}\p{P}\p{S}]/u;

/**
 * The native fast path of {@linkcode parseJsonNode}: a value when
 * `JSON.stringify(JSON.parse(text))` gives `text` back (compact; key order,
 * numbers and strings as written; no repeated key), the only escapes are
 * `\"` `\\` `\n` `\t` `\r` `\b` `\f` (which Go writes back the same
 * once decoded), and every character is one Go prints as it is; otherwise
 * `undefined`.
 *
 * @param text The JSON text.
 * @returns The value, or `undefined` when the text needs the full parser.
 *
 * @example Compact JSON takes the fast path
 * ```ts
 * import { tryPlainJson } from "./lossless_json.ts";
 * console.assert(tryPlainJson('{"a":[1,"x\\"y"]}')?.get("a")?.marshal() === '[1,"x\\"y"]');
 * console.assert(tryPlainJson('{"a":1.50}') === undefined);
 * ```
 */
export function tryPlainJson(text: string): JsonNode | undefined {
  if (
    UNICODE_ESCAPE.test(text) ||
    (NOT_ASCII.test(text) && NOT_PRINTABLE.test(text))
  ) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (JSON.stringify(v) !== text) return undefined;
  // fastjson refuses nesting deeper than MAX_DEPTH; JSON.parse does not.
  if (text.length >= 2 * MAX_DEPTH && MANY_BRACKETS.test(text)) {
    return undefined;
  }
  return new PlainNode(v, text);
}

/**
 * Parses JSON for reading as fastjson would: natively when the text allows
 * ({@linkcode tryPlainJson}), else with {@linkcode parseJson}.
 *
 * @param text The JSON text.
 * @returns The root.
 * @throws {SyntaxError} When the text is not JSON for fastjson.
 *
 * @example Both paths read alike
 * ```ts
 * import { parseJsonNode } from "./lossless_json.ts";
 * console.assert(parseJsonNode('{"n":1}').get("n")?.marshal() === "1");
 * console.assert(parseJsonNode('{"n":1.0}').get("n")?.marshal() === "1.0");
 * ```
 */
export function parseJsonNode(text: string): JsonNode {
  return tryPlainJson(text) ?? parseJson(text);
}
