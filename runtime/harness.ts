/**
 * The test harness: drives a plugin as Falco does, through the very bridge
 * the embed runs (`createBridge`), and returns events and field values as
 * the host sees them.
 *
 * @module
 */

import {
  ARG_INDEX,
  ARG_KEY,
  ARG_NONE,
  BATCH_EOF,
  BATCH_TIMEOUT,
  type Bridge,
  DEFAULT_BATCH_DEADLINE_MS,
  DEFAULT_CALLBACK_DEADLINE_MS,
  INPUT_HEADER_SIZE,
  lifecycleDeadlineText,
  MIN_INIT_DEADLINE_MS,
  REQUEST_SIZE,
  RESERVED_CONFIG_KEY,
} from "./_bridge_abi.ts";
import { harnessGrants, Sandbox } from "./_sandbox.ts";
import { guardReusedObjects } from "./_reuse_guard.ts";
import type { AnyPlugin, FieldDefinition } from "./types.ts";
import { fieldArg } from "./_field_arg.ts";
import { createBridge } from "./embed_bridge.ts";
import { createConfigValidator } from "./config_schema.ts";
import {
  decodePluginEvent,
  encodePluginEvent,
  PLUGIN_EVENT_TYPE,
  TS_UNSET,
} from "./event_encoding.ts";
import { canonicalText, type DecodedValue, readValue } from "./field_values.ts";
import { parseFieldString, parseIndexArg } from "./field_string.ts";
import { buildManifest, type Manifest } from "./manifest.ts";
import { PluginError } from "./plugin_error.ts";
import { utf8Decode, utf8Encode, utf8Write } from "./_utf8.ts";

/** An event as the host sees it. */
export interface HarnessEvent {
  /** Event number, from 1, increasing over the harness's life. */
  readonly num: number;
  /** Timestamp (ns); `TS_UNSET` (2^64-1) if the plugin left it to the host. */
  readonly ts: bigint;
  /** Id of the plugin that produced it. */
  readonly pluginId: number;
  /** Event source name of the plugin that produced it. */
  readonly source: string;
  /** The payload bytes. */
  readonly payload: Uint8Array;
  /** The payload as UTF-8 text. */
  readonly text: string;
  /** The whole scap event, as written in the batch buffer. */
  readonly bytes: Uint8Array;
}

/** Options of {@linkcode PluginHarness.start}. */
export interface HarnessOptions {
  /**
   * Init config: JSON text as the host passes it, or an object. Default
   * `""`. Its `falco_deno` member is read as the `.so` reads it: the grants
   * (`allowRead`, `allowWrite`, `allowNet`, `allowEnv`; where absent, the
   * plugin's declared `permissions` of that kind, placeholders left out)
   * and the deadlines (`callbackDeadlineMs`, `batchDeadlineMs`).
   */
  config?: string | Record<string, unknown>;
  /** Batch buffer size, to test events that do not fit. */
  batchSize?: number;
  /** Output buffer size, to test values that do not fit. */
  outputSize?: number;
  /** Consecutive TIMEOUT results tolerated by `collect` (default 10000). */
  maxTimeouts?: number;
}

/** What `extract` returns: a value, a list for list fields, or `undefined`. */
export type ExtractResult = DecodedValue | DecodedValue[] | undefined;

/** The members of `falco_deno` the embed knows, in its order (`rust_embed/src/plugin.rs`). */
const EMBED_OPTIONS = [
  "batchDeadlineMs",
  "callbackDeadlineMs",
  "heapLimitMb",
  "allowRead",
  "allowWrite",
  "allowNet",
  "allowEnv",
  "prefetchFields",
];

/**
 * Checks the `falco_deno` member of a parsed config as the `.so` does, with
 * its messages, and returns its deadlines.
 */
function embedOptions(
  plugin: string,
  config: unknown,
): { callback: number; batch: number } {
  const reserved = config !== null && typeof config === "object" &&
      !Array.isArray(config)
    ? (config as Record<string, unknown>)[RESERVED_CONFIG_KEY]
    : undefined;
  const invalid = (detail: string) =>
    new Error(
      `${plugin}: invalid "${RESERVED_CONFIG_KEY}" member of the init config: ${detail}`,
    );
  const options = (reserved ?? {}) as Record<string, unknown>;
  if (reserved !== undefined) {
    if (
      reserved === null || typeof reserved !== "object" ||
      Array.isArray(reserved)
    ) {
      throw invalid("expected a map");
    }
    for (const key of Object.keys(options)) {
      if (!EMBED_OPTIONS.includes(key)) {
        throw invalid(
          `unknown field \`${key}\`, expected one of ${
            EMBED_OPTIONS.map((k) => `\`${k}\``).join(", ")
          }`,
        );
      }
    }
    for (const key of ["allowRead", "allowWrite", "allowNet", "allowEnv"]) {
      const v = options[key];
      if (
        v !== undefined && typeof v !== "boolean" &&
        !(Array.isArray(v) && v.every((e) => typeof e === "string"))
      ) {
        throw invalid("data did not match any variant of untagged enum Grant");
      }
    }
  }
  const ms = (v: unknown, def: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : def;
  const callback = ms(options.callbackDeadlineMs, DEFAULT_CALLBACK_DEADLINE_MS);
  const heap = ms(options.heapLimitMb, 128);
  if (callback === 0 || heap < 8) {
    throw invalid("callbackDeadlineMs must be > 0 and heapLimitMb >= 8");
  }
  return {
    callback,
    batch: ms(options.batchDeadlineMs, DEFAULT_BATCH_DEADLINE_MS),
  };
}

/**
 * Waits for `p` up to `ms`; `"late"` if it has not settled by then (it
 * keeps running, as in the `.so`).
 */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "late"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Drives one plugin instance: `init` with a config string, `open`, batches
 * until EOF, extraction by field string, `eventToString`.
 *
 * It is as strict as the `.so`: the plugin runs with the `.so`'s globals
 * and `Deno.*` calls only, under the `.so`'s grants (a call outside them
 * throws `Deno.errors.NotCapable` with the `.so`'s message; a file is
 * checked by its real path); async lifecycle calls and `nextBatch` get the
 * `.so`'s deadlines; a kept `ExtractContext` or `EventView` throws when
 * read after its call, a kept payload view reads as empty once the next
 * event is loaded.
 *
 * @example Testing the dummy plugin
 * ```ts
 * import { PluginHarness } from "./harness.ts";
 * import dummy from "../plugins/dummy.ts";
 * const h = await PluginHarness.start(dummy, { config: '{"jitter":0}' });
 * await h.open('{"start":1,"maxEvents":3}');
 * const events = await h.collect();
 * console.assert(events.map((e) => e.text).join() === "2,3,4");
 * console.assert(h.extract(events[0], "dummy.divisible[2]") === 1n);
 * await h.destroy();
 * ```
 */
export class PluginHarness {
  /** The plugin. */
  readonly plugin: AnyPlugin;
  /** Its manifest, as the `.so` serves it. */
  readonly manifest: Manifest;
  // The bridge, exactly as the embed uses it.
  readonly #bridge: Bridge;
  #nextNum = 1;
  #opened = false;
  #eof = false;
  #maxTimeouts: number;
  #fieldIds = new Map<string, number>();
  #leftover: HarnessEvent[] = [];
  #sandbox: Sandbox;
  #deadlines: { callback: number; batch: number };

  private constructor(
    plugin: AnyPlugin,
    options: HarnessOptions,
    validate: ((config: unknown) => string | undefined) | undefined,
    config: unknown,
  ) {
    this.plugin = plugin;
    this.manifest = buildManifest(plugin);
    const name = plugin.definition.name;
    this.#deadlines = embedOptions(name, config);
    this.#sandbox = new Sandbox(
      harnessGrants(name, config, plugin.definition.permissions),
    );
    this.#bridge = createBridge(guardReusedObjects(plugin), validate, {
      batchSize: options.batchSize,
      outputSize: options.outputSize,
    });
    this.#maxTimeouts = options.maxTimeouts ?? 10000;
    (plugin.definition.fields ?? []).forEach((f, i) =>
      this.#fieldIds.set(f.name, i)
    );
  }

  /**
   * Creates the plugin instance and calls `init` with the config.
   *
   * @param plugin A plugin from `definePlugin`.
   * @param options Init config and buffer sizes.
   * @returns The started harness.
   */
  static async start(
    plugin: AnyPlugin,
    options: HarnessOptions = {},
  ): Promise<PluginHarness> {
    const schema = plugin.definition.initSchema;
    const validate = schema === undefined
      ? undefined
      : createConfigValidator(schema);
    const given = options.config ?? "";
    const text = typeof given === "string" ? given : JSON.stringify(given);
    let parsed: unknown = undefined;
    try {
      parsed = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      // The bridge reports malformed JSON.
    }
    const h = new PluginHarness(plugin, options, validate, parsed);
    await h.#lifecycle(
      "init",
      () => h.#bridge.init(text),
      Math.max(h.#deadlines.callback, MIN_INIT_DEADLINE_MS),
    );
    return h;
  }

  /**
   * Runs a lifecycle call of the bridge in the sandbox and waits for it as
   * the embed does: a promise not settled within `ms` fails the call.
   */
  async #lifecycle(
    callback: string,
    call: () => void | Promise<void>,
    ms = this.#deadlines.callback,
  ): Promise<void> {
    const r = this.#sandbox.run(call);
    if (r === undefined) return;
    if (await within(r, ms) === "late") {
      throw new Error(
        lifecycleDeadlineText(this.plugin.definition.name, callback, ms),
      );
    }
  }

  /**
   * Builds an event as if another plugin had produced it (to test
   * extract-only plugins).
   *
   * @param payload The payload (text is written as UTF-8).
   * @param from Producer: `source`, `pluginId`, and optionally `num`, `ts`.
   * @returns The event.
   */
  static makeEvent(
    payload: Uint8Array | string,
    from: { source: string; pluginId: number; num?: number; ts?: bigint },
  ): HarnessEvent {
    const bytes = typeof payload === "string" ? utf8Encode(payload) : payload;
    const ev = encodePluginEvent(from.pluginId, bytes, from.ts ?? TS_UNSET);
    return toHarnessEvent(ev, from.num ?? 1, from.source);
  }

  /**
   * Opens a capture.
   *
   * @param params The open params text.
   */
  async open(params = ""): Promise<void> {
    await this.#lifecycle("open", () => this.#bridge.open(params));
    this.#leftover = [];
    this.#opened = true;
    this.#eof = false;
  }

  /**
   * Asks for one batch. Returns its events, `"timeout"` or `"eof"`. An
   * async `nextBatch` is awaited up to the batch deadline, as in the
   * `.so`: not settled by then, the batch is `"timeout"` and stays pending
   * for the next call.
   */
  async nextBatch(): Promise<HarnessEvent[] | "timeout" | "eof"> {
    const deadline = Date.now() + this.#deadlines.batch;
    let r = this.#sandbox.run(() => this.#bridge.nextBatch());
    while (typeof r !== "number") {
      const left = deadline - Date.now();
      if (left <= 0 || await within(r, left) === "late") return "timeout";
      r = this.#sandbox.run(() => this.#bridge.nextBatch());
    }
    if (r === BATCH_EOF) return "eof";
    if (r === BATCH_TIMEOUT) return "timeout";
    if (r < 0) throw new Error(`nextBatch returned "${r}"`);
    const batch = new Uint8Array(this.#bridge.batch);
    const out: HarnessEvent[] = [];
    let at = 0;
    for (let i = 0; i < r; i++) {
      const ev = decodePluginEvent(batch, at);
      out.push(
        toHarnessEvent(
          batch.slice(at, at + ev.len),
          this.#nextNum++,
          this.manifest.eventSource,
        ),
      );
      at += ev.len;
    }
    return out;
  }

  /**
   * Reads batches until EOF or until `max` events (opening the capture with
   * `""` if it is not open).
   *
   * @param max Most events to return.
   * @returns The events.
   */
  async collect(max = Infinity): Promise<HarnessEvent[]> {
    if (!this.#opened) await this.open("");
    const events: HarnessEvent[] = this.#leftover.splice(0, max);
    let timeouts = 0;
    while (events.length < max && !this.#eof) {
      const r = await this.nextBatch();
      if (r === "eof") {
        this.#eof = true;
        break;
      }
      if (r === "timeout") {
        if (++timeouts > this.#maxTimeouts) {
          throw new PluginError(
            this.plugin.definition.name,
            `nextBatch returned TIMEOUT "${this.#maxTimeouts}" times in a row`,
          );
        }
        await new Promise((res) => setTimeout(res, 1));
        continue;
      }
      timeouts = 0;
      events.push(...r);
    }
    // Events of the last batch beyond `max` are kept for the next call.
    this.#leftover.push(...events.splice(max));
    return events;
  }

  /**
   * Extracts one field from an event, as a rule would. Returns the value
   * (`bigint` for integer types, `boolean`, `string`, address text), an
   * array for list fields, or `undefined` when the event has no value.
   *
   * @param event An event.
   * @param field A field string: `name` or `name[arg]`.
   * @returns The value.
   */
  extract(event: HarnessEvent, field: string): ExtractResult {
    return this.extractMany(event, [field])[0];
  }

  /**
   * Extracts several fields in one `extract` call (the event is decoded
   * once).
   *
   * @param event An event.
   * @param fields Field strings.
   * @returns One result per field.
   */
  extractMany(event: HarnessEvent, fields: string[]): ExtractResult[] {
    const lists = this.#extractRaw(event, fields);
    return lists.map((values, i) => {
      if (values === undefined) return undefined;
      const def = this.#field(fields[i]);
      return def.list === true ? values : values[0];
    });
  }

  /**
   * Extracts one field as canonical text (as in scenario result files):
   * the list of values, or `null` when the event has no value.
   *
   * @param event An event.
   * @param field A field string.
   * @returns The values as text.
   */
  extractText(event: HarnessEvent, field: string): string[] | null {
    const values = this.#extractRaw(event, [field])[0];
    return values === undefined ? null : values.map(canonicalText);
  }

  /**
   * Renders an event with the plugin's `eventToString`.
   *
   * @param event An event.
   * @returns The text.
   */
  eventToString(event: HarnessEvent): string {
    this.#writeInput(event, [], []);
    return this.#sandbox.run(() => this.#bridge.eventToString());
  }

  /** Progress of the capture: `[pctHundredths, text]` or `undefined`. */
  progress(): [number, string] | undefined {
    return this.#sandbox.run(() => this.#bridge.progress());
  }

  /** The plugin's own metrics, as `plugin_get_metrics` publishes them. */
  metrics(): Record<string, number> {
    const text = this.#sandbox.run(() => this.#bridge.metrics());
    return text === "" ? {} : JSON.parse(text);
  }

  /** The open params suggestions (parsed `plugin_list_open_params`). */
  listOpenParams(): { value: string; desc: string; separator: string }[] {
    return JSON.parse(this.#sandbox.run(() => this.#bridge.listOpenParams()));
  }

  /** Closes the capture (waiting for an async `close` up to its deadline). */
  async close(): Promise<void> {
    this.#opened = false;
    await this.#lifecycle("close", () => this.#bridge.close());
  }

  /** Destroys the plugin instance (waiting for an async `destroy`). */
  async destroy(): Promise<void> {
    await this.#lifecycle("destroy", () => this.#bridge.destroy());
  }

  #field(text: string): FieldDefinition {
    const { name } = parseFieldString(text);
    const id = this.#fieldIds.get(name);
    if (id === undefined) {
      throw new PluginError(
        this.plugin.definition.name,
        `unknown field "${name}"`,
      );
    }
    return this.plugin.definition.fields![id];
  }

  /** Whether the host would hand `event` to this plugin for extraction. */
  #compatible(event: HarnessEvent): boolean {
    const d = this.plugin.definition;
    if (d.extractEventSources !== undefined) {
      return d.extractEventSources.length === 0 ||
        d.extractEventSources.includes(event.source);
    }
    if (this.plugin.sourcing) return event.source === d.eventSource;
    return true;
  }

  #extractRaw(
    event: HarnessEvent,
    fields: string[],
  ): (DecodedValue[] | undefined)[] {
    const name = this.plugin.definition.name;
    const kinds: number[] = [], indexes: bigint[] = [], keys: string[] = [];
    const ids: number[] = [], defs: FieldDefinition[] = [];
    for (const text of fields) {
      const ref = parseFieldString(text);
      const def = this.#field(text);
      ids.push(this.#fieldIds.get(ref.name)!);
      defs.push(def);
      let kind = ARG_NONE, index = 0n, key = "";
      const arg = fieldArg(def);
      if (ref.arg !== undefined) {
        if (arg === undefined) {
          throw new PluginError(
            name,
            `field "${def.name}" does not take an argument, got "${ref.arg}"`,
          );
        }
        if (arg.kind === "index") {
          const v = parseIndexArg(ref.arg);
          if (v === undefined) {
            throw new PluginError(
              name,
              `field "${def.name}" has an invalid index argument "${ref.arg}"`,
            );
          }
          kind = ARG_INDEX;
          index = v;
        } else {
          kind = ARG_KEY;
          key = ref.arg;
        }
      }
      kinds.push(kind);
      indexes.push(index);
      keys.push(key);
    }
    if (!this.#compatible(event)) return fields.map(() => undefined);
    this.#writeInput(event, ids, kinds, indexes, keys);
    this.#sandbox.run(() => this.#bridge.extract());
    const out = new Uint8Array(this.#bridge.output);
    const view = new DataView(this.#bridge.output);
    let at = 0;
    return defs.map((def) => {
      const count = view.getUint32(at, true);
      at += 4;
      const values: DecodedValue[] = [];
      for (let i = 0; i < count; i++) {
        const len = view.getUint32(at, true);
        values.push(readValue(out, at + 4, len, def.type));
        at += 4 + len;
      }
      return count === 0 ? undefined : values;
    });
  }

  #writeInput(
    event: HarnessEvent,
    ids: number[],
    kinds: number[],
    indexes: bigint[] = [],
    keys: string[] = [],
  ): void {
    const bytes = new Uint8Array(this.#bridge.input);
    const view = new DataView(this.#bridge.input);
    const payloadAt = INPUT_HEADER_SIZE + ids.length * REQUEST_SIZE;
    if (payloadAt + event.payload.length > bytes.length) {
      throw new RangeError(
        `Event payload of "${event.payload.length}" bytes does not fit in the input buffer`,
      );
    }
    view.setBigUint64(0, BigInt(event.num), true);
    view.setBigUint64(8, event.ts, true);
    view.setUint32(16, event.payload.length, true);
    view.setUint32(20, payloadAt, true);
    view.setUint32(24, ids.length, true);
    view.setUint32(28, event.pluginId, true);
    view.setUint32(32, PLUGIN_EVENT_TYPE, true);
    view.setUint32(36, 0, true);
    bytes.set(event.payload, payloadAt);
    let keyAt = payloadAt + event.payload.length;
    for (let r = 0; r < ids.length; r++) {
      const at = INPUT_HEADER_SIZE + r * REQUEST_SIZE;
      view.setUint32(at, ids[r], true);
      view.setUint32(at + 4, kinds[r], true);
      view.setBigUint64(at + 8, indexes[r] ?? 0n, true);
      let keyLen = 0;
      if (kinds[r] === ARG_KEY) {
        keyLen = utf8Write(keys[r], bytes, keyAt);
        if (keyLen < 0) throw new RangeError("Key argument does not fit");
      }
      view.setUint32(at + 16, kinds[r] === ARG_KEY ? keyAt : 0, true);
      view.setUint32(at + 20, keyLen, true);
      keyAt += keyLen;
    }
  }
}

function toHarnessEvent(
  bytes: Uint8Array,
  num: number,
  source: string,
): HarnessEvent {
  const ev = decodePluginEvent(bytes);
  let text: string | undefined;
  return {
    num,
    ts: ev.ts,
    pluginId: ev.pluginId,
    source,
    payload: ev.payload,
    bytes,
    get text() {
      return text ??= utf8Decode(ev.payload);
    },
  };
}
