/**
 * Extraction dispatch: reads an event and its field requests from the input
 * buffer, calls one extractor per requested field (the plugin's `decode`
 * runs once per event number and is cached), checks every value and writes
 * the results to the output buffer (layouts in `_bridge_abi.ts`).
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
import { checkValue, writeValue } from "./field_values.ts";
import { errorText, PluginError, wrapPluginError } from "./plugin_error.ts";
import { utf8Decode } from "./_utf8.ts";

const NOT_DECODED: unique symbol = Symbol("not decoded");

/** The event currently in the input buffer, with a lazy `text`. */
class InputEvent implements EventView {
  num = 0;
  ts = 0n;
  pluginId = 0;
  type = 0;
  payload: Uint8Array = new Uint8Array(0);
  #text: string | undefined;

  get text(): string {
    if (this.#text === undefined) this.#text = utf8Decode(this.payload);
    return this.#text;
  }

  load(input: Uint8Array, view: DataView): void {
    this.num = Number(view.getBigUint64(0, true));
    this.ts = view.getBigUint64(8, true);
    const len = view.getUint32(16, true);
    const off = view.getUint32(20, true);
    this.pluginId = view.getUint32(28, true);
    this.type = view.getUint32(32, true);
    if (off + len > input.length) {
      throw new RangeError(
        `Event payload of "${len}" bytes at offset "${off}" overruns the input buffer`,
      );
    }
    this.payload = input.subarray(off, off + len);
    this.#text = undefined;
  }
}

/**
 * Runs the extractors of one plugin against the input buffer. One instance
 * per bridge; not reentrant.
 */
export class ExtractionDispatcher {
  readonly #plugin: AnyPlugin;
  readonly #fields: FieldDefinition[];
  readonly #event = new InputEvent();
  #state: unknown = undefined;
  #decoded: unknown = NOT_DECODED;
  #cacheNum = -1;
  #cacheLen = -1;
  #cachePluginId = -1;
  readonly #ctx: {
    event: EventView;
    state: unknown;
    index: number | undefined;
    key: string | undefined;
    readonly decoded: unknown;
  };

  /** @param plugin The plugin whose fields to extract. */
  constructor(plugin: AnyPlugin) {
    this.#plugin = plugin;
    this.#fields = plugin.definition.fields ?? [];
    // deno-lint-ignore no-this-alias
    const self = this;
    this.#ctx = {
      event: this.#event,
      state: undefined,
      index: undefined,
      key: undefined,
      get decoded(): unknown {
        return self.#decode();
      },
    };
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
    this.#cacheNum = -1;
  }

  /** Loads the event of the input buffer (for `eventToString`). */
  loadEvent(input: Uint8Array, view: DataView): EventView {
    this.#event.load(input, view);
    const e = this.#event;
    if (
      e.num !== this.#cacheNum || e.payload.length !== this.#cacheLen ||
      e.pluginId !== this.#cachePluginId
    ) {
      this.#decoded = NOT_DECODED;
      this.#cacheNum = e.num;
      this.#cacheLen = e.payload.length;
      this.#cachePluginId = e.pluginId;
    }
    return e;
  }

  #decode(): unknown {
    if (this.#decoded === NOT_DECODED) {
      const decode = this.#plugin.definition.decode;
      if (decode === undefined) return undefined;
      try {
        this.#decoded = decode(this.#event, this.#state);
      } catch (err) {
        throw wrapPluginError(
          this.#plugin.definition.name,
          `decode of event "${this.#event.num}" failed`,
          err,
        );
      }
    }
    return this.#decoded;
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
    const n = inView.getUint32(24, true);
    const pluginName = this.#plugin.definition.name;
    if (INPUT_HEADER_SIZE + n * REQUEST_SIZE > input.length) {
      throw new PluginError(
        pluginName,
        `"${n}" requests overrun the input buffer`,
      );
    }
    const ctx = this.#ctx;
    let out = 0;
    for (let r = 0; r < n; r++) {
      const at = INPUT_HEADER_SIZE + r * REQUEST_SIZE;
      const fieldId = inView.getUint32(at, true);
      const argKind = inView.getUint32(at + 4, true);
      const field = this.#fields[fieldId];
      if (field === undefined) {
        throw new PluginError(
          pluginName,
          `unknown field id "${fieldId}" (the plugin has "${this.#fields.length}" fields)`,
        );
      }
      ctx.index = undefined;
      ctx.key = undefined;
      if (argKind === ARG_NONE) {
        if (field.arg?.required) {
          throw new PluginError(
            pluginName,
            `field "${field.name}" requires ${
              field.arg.kind === "index" ? "an index" : "a key"
            } argument`,
          );
        }
      } else if (argKind === ARG_INDEX) {
        if (field.arg?.kind !== "index") {
          throw new PluginError(
            pluginName,
            `field "${field.name}" does not take an index argument`,
          );
        }
        const index = inView.getBigUint64(at + 8, true);
        if (index > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new PluginError(
            pluginName,
            `field "${field.name}" index argument "${index}" is above 2^53-1`,
          );
        }
        ctx.index = Number(index);
      } else if (argKind === ARG_KEY) {
        if (field.arg?.kind !== "key") {
          throw new PluginError(
            pluginName,
            `field "${field.name}" does not take a key argument`,
          );
        }
        const keyOff = inView.getUint32(at + 16, true);
        const keyLen = inView.getUint32(at + 20, true);
        if (keyOff + keyLen > input.length) {
          throw new PluginError(
            pluginName,
            `field "${field.name}" key argument overruns the input buffer`,
          );
        }
        ctx.key = utf8Decode(input.subarray(keyOff, keyOff + keyLen));
      } else {
        throw new PluginError(
          pluginName,
          `field "${field.name}" request has unknown argument kind "${argKind}"`,
        );
      }
      let value: unknown;
      try {
        value =
          (field.extract as (c: ExtractContext<unknown, unknown>) => unknown)(
            ctx,
          );
      } catch (err) {
        throw wrapPluginError(
          pluginName,
          `extract of field "${field.name}" failed`,
          err,
        );
      }
      out = this.#writeRecord(field, value, output, outView, out);
    }
  }

  #writeRecord(
    field: FieldDefinition,
    value: unknown,
    output: Uint8Array,
    outView: DataView,
    at: number,
  ): number {
    const pluginName = this.#plugin.definition.name;
    const overflow = () =>
      new PluginError(
        pluginName,
        `field "${field.name}" values do not fit in the output buffer ("${output.length}" bytes)`,
      );
    if (at + 4 > output.length) throw overflow();
    let p = at + 4;
    let count = 0;
    const put = (v: unknown, where: string) => {
      let checked;
      try {
        checked = checkValue(field.type, v);
      } catch (err) {
        throw new PluginError(
          pluginName,
          `field "${field.name}" returned a bad value${where}: ${
            errorText(err)
          }`,
          { cause: err },
        );
      }
      p = writeValue(outView, output, p, field.type, checked);
      if (p < 0) throw overflow();
      count++;
    };
    if (value !== undefined && value !== null) {
      if (field.list === true) {
        if (
          typeof value !== "object" ||
          typeof (value as Iterable<unknown>)[Symbol.iterator] !== "function"
        ) {
          throw new PluginError(
            pluginName,
            `field "${field.name}" is a list field and must return an array or iterable, got ${typeof value}`,
          );
        }
        let i = 0;
        for (const v of value as Iterable<unknown>) put(v, ` at [${i++}]`);
      } else {
        put(value, "");
      }
    }
    outView.setUint32(at, count, true);
    return p;
  }
}
