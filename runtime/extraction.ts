/**
 * Extraction dispatch: reads an event and its field requests from the input
 * buffer, calls one extractor per requested field (the plugin's `decode`
 * runs once per event and is cached), checks every value and writes
 * the results to the output buffer (layouts in `_bridge_abi.ts`).
 *
 * This runs once per field per event (libsinsp asks for one field per
 * call), on an interpreter in the embed: it allocates nothing per call when
 * the event is the one of the previous call, reads the input header through
 * a `Uint32Array` rather than `DataView` calls, and keeps what it needs of
 * each field in plain arrays built once.
 *
 * @module
 */

import {
  ARG_INDEX,
  ARG_KEY,
  ARG_NONE,
  INPUT_HEADER_SIZE,
  REQUEST_SIZE,
} from "./_bridge_abi.ts";
import type {
  AnyPlugin,
  EventView,
  ExtractContext,
  FieldDefinition,
} from "./types.ts";
import { fieldArg } from "./_field_arg.ts";
import {
  checkValue,
  fieldTypeCode,
  NEEDS_CHECK,
  writeFast,
  writeValue,
} from "./field_values.ts";
import { errorText, PluginError, wrapPluginError } from "./plugin_error.ts";
import { utf8Decode } from "./_utf8.ts";

const NOT_DECODED: unique symbol = Symbol("not decoded");
const TWO_32 = 4294967296;

/** `FieldArg` kinds, as small integers. */
const TAKES_NOTHING = 0;
const TAKES_INDEX = 1;
const TAKES_KEY = 2;

/** Reads `u32` number `i` (byte `4 * i`) of a buffer. */
interface U32Reader {
  readonly [i: number]: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A `Uint32Array` over `bytes` when the host is little endian and `bytes`
 * is 4-byte aligned (the bridge's buffers are), else a reader that does the
 * same through `view`.
 */
function u32Reader(bytes: Uint8Array, view: DataView): U32Reader {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  }
  return new Proxy({}, {
    get: (_t, k) => view.getUint32(Number(k) * 4, true),
  }) as U32Reader;
}

/** The event currently in the input buffer, with a lazy `text`. */
class InputEvent implements EventView {
  num = 0;
  ts = 0n;
  pluginId = 0;
  type = 0;
  payload: Uint8Array = new Uint8Array(0);
  #text: string | undefined;
  // The key of the decode cache, as the embed keys its prefetched fields
  // (rust_embed/src/prefetch.rs): the header words below and the payload
  // bytes, kept in `#bytes` because the host rewrites the input buffer.
  #numLo = -1;
  #numHi = -1;
  #tsLo = -1;
  #tsHi = -1;
  #off = -1;
  #len = -1;
  #bytes = new Uint8Array(256);
  #words = new Uint32Array(this.#bytes.buffer);

  get text(): string {
    const t = this.#text;
    if (t !== undefined) return t;
    return this.#text = utf8Decode(this.payload);
  }

  /** Makes the next `load` take its event as a new one. */
  forget(): void {
    this.#numLo = -1;
    this.#off = -1;
    this.#text = undefined;
  }

  /**
   * Reads the header of `input` (through `h`, its words). Returns whether
   * the event differs from the one of the previous call (by event number,
   * timestamp, producer, type or payload bytes: the key of the decode
   * cache); its payload view and text are kept while that key and the
   * payload offset stay.
   */
  load(input: Uint8Array, h: U32Reader): boolean {
    const numLo = h[0], numHi = h[1], tsLo = h[2], tsHi = h[3];
    const len = h[4], off = h[5], pluginId = h[7], type = h[8];
    if (off + len > input.length) {
      this.forget();
      throw new RangeError(
        `Event payload of "${len}" bytes at offset "${off}" overruns the input buffer`,
      );
    }
    const changed = numLo !== this.#numLo || numHi !== this.#numHi ||
      tsLo !== this.#tsLo || tsHi !== this.#tsHi || len !== this.#len ||
      pluginId !== this.pluginId || type !== this.type ||
      !this.#samePayload(input, h, off, len);
    if (changed) {
      this.#numLo = numLo;
      this.#numHi = numHi;
      this.num = numLo + numHi * TWO_32;
      this.pluginId = pluginId;
      this.type = type;
      this.#tsLo = tsLo;
      this.#tsHi = tsHi;
      this.ts = (BigInt(tsHi) << 32n) | BigInt(tsLo);
      this.#keepPayload(input, off, len);
    }
    if (changed || off !== this.#off) {
      this.#off = off;
      this.#len = len;
      this.payload = input.subarray(off, off + len);
      this.#text = undefined;
    }
    return changed;
  }

  /** Whether the payload at `off` has the bytes kept by `#keepPayload`. */
  #samePayload(input: Uint8Array, h: U32Reader, off: number, len: number) {
    const bytes = this.#bytes;
    let i = 0;
    // Word by word where the payload is aligned (the bridge aligns it).
    if (off % 4 === 0) {
      const words = this.#words, at = off >> 2;
      for (const n = len >> 2; i < n; i++) {
        if (h[at + i] !== words[i]) return false;
      }
      i <<= 2;
    }
    for (; i < len; i++) if (input[off + i] !== bytes[i]) return false;
    return true;
  }

  #keepPayload(input: Uint8Array, off: number, len: number): void {
    if (this.#bytes.length < len) {
      // A whole number of words, for `#words`.
      const size = Math.max(len, 2 * this.#bytes.length) + 3 & ~3;
      this.#bytes = new Uint8Array(size);
      this.#words = new Uint32Array(this.#bytes.buffer);
    }
    this.#bytes.set(input.subarray(off, off + len));
  }
}

/** The context object handed to extractors (one, reused). */
class Context {
  event: EventView;
  state: unknown = undefined;
  index: number | undefined = undefined;
  key: string | undefined = undefined;
  readonly #dispatcher: ExtractionDispatcher;

  constructor(event: EventView, dispatcher: ExtractionDispatcher) {
    this.event = event;
    this.#dispatcher = dispatcher;
  }

  get decoded(): unknown {
    return this.#dispatcher.decoded();
  }
}

/**
 * Runs the extractors of one plugin against the input buffer. One instance
 * per bridge; not reentrant.
 */
export class ExtractionDispatcher {
  readonly #plugin: AnyPlugin;
  readonly #pluginName: string;
  readonly #fields: FieldDefinition[];
  // Per field, by field id: its extractor, the argument it takes
  // (TAKES_*), whether that is required, its type code and type, whether
  // it is a list.
  readonly #extractors: ((c: ExtractContext<unknown, unknown>) => unknown)[];
  readonly #takes: number[];
  readonly #required: boolean[];
  readonly #codes: number[];
  readonly #lists: boolean[];
  readonly #event = new InputEvent();
  readonly #ctx: Context;
  #state: unknown = undefined;
  #decoded: unknown = NOT_DECODED;
  #input: Uint8Array | undefined;
  #words: U32Reader = [];

  /** @param plugin The plugin whose fields to extract. */
  constructor(plugin: AnyPlugin) {
    this.#plugin = plugin;
    this.#pluginName = plugin.definition.name;
    const fields = this.#fields = plugin.definition.fields ?? [];
    this.#extractors = fields.map((f) =>
      f.extract as (c: ExtractContext<unknown, unknown>) => unknown
    );
    const args = fields.map(fieldArg);
    this.#takes = args.map((a) =>
      a === undefined
        ? TAKES_NOTHING
        : a.kind === "index"
        ? TAKES_INDEX
        : TAKES_KEY
    );
    this.#required = args.map((a) => a?.required === true);
    this.#codes = fields.map((f) => fieldTypeCode(f.type));
    this.#lists = fields.map((f) => f.list === true);
    this.#ctx = new Context(this.#event, this);
  }

  /** Sets the plugin state passed to extractors. */
  setState(state: unknown): void {
    this.#state = state;
    this.#ctx.state = state;
    this.resetCache();
  }

  /** Forgets the cached decoded event. */
  resetCache(): void {
    this.#decoded = NOT_DECODED;
    this.#event.forget();
  }

  /** Loads the event of the input buffer (for `eventToString`). */
  loadEvent(input: Uint8Array, view: DataView): EventView {
    if (input !== this.#input) {
      this.#input = input;
      this.#words = u32Reader(input, view);
    }
    if (this.#event.load(input, this.#words)) this.#decoded = NOT_DECODED;
    return this.#event;
  }

  /** The decoded event (the plugin's `decode`, once per event). */
  decoded(): unknown {
    const cached = this.#decoded;
    if (cached !== NOT_DECODED) return cached;
    const decode = this.#plugin.definition.decode;
    if (decode === undefined) return undefined;
    try {
      return this.#decoded = decode(this.#state, this.#event);
    } catch (err) {
      throw wrapPluginError(
        this.#pluginName,
        `decode of event "${this.#event.num}" failed`,
        err,
      );
    }
  }

  /**
   * Reads the event and requests from `input` and writes one record per
   * request to `output`.
   */
  extract(
    input: Uint8Array,
    inView: DataView,
    output: Uint8Array,
    outView: DataView,
  ): void {
    this.loadEvent(input, inView);
    const h = this.#words;
    const n = h[6];
    const pluginName = this.#pluginName;
    if (INPUT_HEADER_SIZE + n * REQUEST_SIZE > input.length) {
      throw new PluginError(
        pluginName,
        `"${n}" requests overrun the input buffer`,
      );
    }
    const ctx = this.#ctx;
    const takes = this.#takes;
    let out = 0;
    for (let r = 0; r < n; r++) {
      const w = (INPUT_HEADER_SIZE + r * REQUEST_SIZE) >> 2;
      const fieldId = h[w];
      const argKind = h[w + 1];
      const take = takes[fieldId];
      if (take === undefined) {
        throw new PluginError(
          pluginName,
          `unknown field id "${fieldId}" (the plugin has "${this.#fields.length}" fields)`,
        );
      }
      if (argKind === ARG_NONE) {
        if (this.#required[fieldId]) this.#argError(fieldId, argKind, 0);
        ctx.index = undefined;
        ctx.key = undefined;
      } else if (argKind === ARG_INDEX) {
        const hi = h[w + 3];
        if (take !== TAKES_INDEX || hi > 0x1f_ffff) {
          this.#argError(fieldId, argKind, w);
        }
        ctx.index = h[w + 2] + hi * TWO_32;
        ctx.key = undefined;
      } else if (argKind === ARG_KEY) {
        const keyOff = h[w + 4];
        const keyLen = h[w + 5];
        if (take !== TAKES_KEY || keyOff + keyLen > input.length) {
          this.#argError(fieldId, argKind, w);
        }
        ctx.index = undefined;
        ctx.key = utf8Decode(input.subarray(keyOff, keyOff + keyLen));
      } else {
        this.#argError(fieldId, argKind, w);
      }
      let value: unknown;
      try {
        value = this.#extractors[fieldId](ctx);
      } catch (err) {
        throw wrapPluginError(
          pluginName,
          `extract of field "${this.#fields[fieldId].name}" failed`,
          err,
        );
      }
      if (value === undefined || value === null) {
        if (out + 4 > output.length) this.#overflow(fieldId, output);
        outView.setUint32(out, 0, true);
        out += 4;
      } else if (this.#lists[fieldId]) {
        out = this.#writeList(fieldId, value, output, outView, out);
      } else {
        if (out + 4 > output.length) this.#overflow(fieldId, output);
        let p = writeFast(
          outView,
          output,
          out + 4,
          this.#codes[fieldId],
          value,
        );
        if (p === NEEDS_CHECK) {
          p = this.#writeChecked(fieldId, value, -1, output, outView, out + 4);
        }
        if (p < 0) this.#overflow(fieldId, output);
        outView.setUint32(out, 1, true);
        out = p;
      }
    }
  }

  /** Throws the error of a bad argument in the request at word `w`. */
  #argError(fieldId: number, argKind: number, w: number): never {
    const field = this.#fields[fieldId];
    const name = field.name;
    const arg = fieldArg(field);
    let detail: string;
    if (argKind === ARG_NONE) {
      detail = `field "${name}" requires ${
        arg?.kind === "index" ? "an index" : "a key"
      } argument`;
    } else if (argKind === ARG_INDEX) {
      if (arg?.kind !== "index") {
        detail = `field "${name}" does not take an index argument`;
      } else {
        const h = this.#words;
        const index = (BigInt(h[w + 3]) << 32n) | BigInt(h[w + 2]);
        detail = `field "${name}" index argument "${index}" is above 2^53-1`;
      }
    } else if (argKind === ARG_KEY) {
      detail = arg?.kind !== "key"
        ? `field "${name}" does not take a key argument`
        : `field "${name}" key argument overruns the input buffer`;
    } else {
      detail = `field "${name}" request has unknown argument kind "${argKind}"`;
    }
    throw new PluginError(this.#pluginName, detail);
  }

  #overflow(fieldId: number, output: Uint8Array): never {
    throw new PluginError(
      this.#pluginName,
      `field "${
        this.#fields[fieldId].name
      }" values do not fit in the output buffer ("${output.length}" bytes)`,
    );
  }

  /**
   * Checks `v` (element `i` of a list, or -1) and writes it at `p`, the
   * slow way; returns the new offset or -1 when it does not fit.
   */
  #writeChecked(
    fieldId: number,
    v: unknown,
    i: number,
    output: Uint8Array,
    outView: DataView,
    p: number,
  ): number {
    const field = this.#fields[fieldId];
    let checked;
    try {
      checked = checkValue(field.type, v);
    } catch (err) {
      throw new PluginError(
        this.#pluginName,
        `field "${field.name}" returned a bad value${
          i < 0 ? "" : ` at [${i}]`
        }: ${errorText(err)}`,
        { cause: err },
      );
    }
    return writeValue(outView, output, p, field.type, checked);
  }

  /** Writes the record of a list field at `at`; returns the new offset. */
  #writeList(
    fieldId: number,
    value: unknown,
    output: Uint8Array,
    outView: DataView,
    at: number,
  ): number {
    if (at + 4 > output.length) this.#overflow(fieldId, output);
    if (
      typeof value !== "object" ||
      typeof (value as Iterable<unknown>)[Symbol.iterator] !== "function"
    ) {
      throw new PluginError(
        this.#pluginName,
        `field "${
          this.#fields[fieldId].name
        }" is a list field and must return an array or iterable, got ${typeof value}`,
      );
    }
    const code = this.#codes[fieldId];
    let p = at + 4;
    let count = 0;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        p = this.#writeElement(fieldId, code, value[i], i, output, outView, p);
      }
      count = value.length;
    } else {
      for (const v of value as Iterable<unknown>) {
        p = this.#writeElement(fieldId, code, v, count, output, outView, p);
        count++;
      }
    }
    outView.setUint32(at, count, true);
    return p;
  }

  #writeElement(
    fieldId: number,
    code: number,
    v: unknown,
    i: number,
    output: Uint8Array,
    outView: DataView,
    p: number,
  ): number {
    let next = writeFast(outView, output, p, code, v);
    if (next === NEEDS_CHECK) {
      next = this.#writeChecked(fieldId, v, i, output, outView, p);
    }
    if (next < 0) this.#overflow(fieldId, output);
    return next;
  }
}
