/**
 * The types of a plugin definition, as written by a plugin author and
 * checked by {@linkcode definePlugin}.
 *
 * @module
 */

/** The field types of the Falco plugin API. */
export type FieldType =
  | "uint64"
  | "string"
  | "bool"
  | "reltime"
  | "abstime"
  | "ipaddr"
  | "ipnet";

/** Every {@linkcode FieldType}, in the order of the plugin API. */
export const FIELD_TYPES: readonly FieldType[] = [
  "uint64",
  "string",
  "bool",
  "reltime",
  "abstime",
  "ipaddr",
  "ipnet",
];

/**
 * What an extractor may return for one value of a field of type `T`.
 *
 * - `uint64`, `reltime` (ns), `abstime` (ns since the epoch): a non-negative
 *   integer `number` (at most `Number.MAX_SAFE_INTEGER`) or a `bigint` below
 *   2^64.
 * - `string`: a string without NUL characters.
 * - `bool`: a boolean.
 * - `ipaddr`, `ipnet`: an IPv4 or IPv6 address as text (`"10.0.0.1"`,
 *   `"::1"`) or as 4 or 16 bytes in network order. libsinsp takes an `ipnet`
 *   value as a bare address and matches it against the network written in
 *   the rule (`my.net = 10.0.0.0/8`), so it has no prefix.
 */
export type FieldValue<T extends FieldType> = T extends "string" ? string
  : T extends "bool" ? boolean
  : T extends "ipaddr" | "ipnet" ? string | Uint8Array
  : number | bigint;

/**
 * Whether a field's argument must be given (`"required"`: the field cannot
 * be used without it) or may be left out (`"optional"`).
 */
export type ArgPresence = "required" | "optional";

/**
 * One event as the plugin sees it in `extract`, `decode` and `eventToString`.
 * It is valid only during the call that received it: the runtime reuses it
 * (and the memory of its `payload`) for the next event. Copy what you keep.
 */
export interface EventView {
  /** Event number given by the host (1 for the first event). */
  readonly num: number;
  /** Timestamp in nanoseconds since the epoch. */
  readonly ts: bigint;
  /** Id of the plugin that produced the event (0 for non-plugin events). */
  readonly pluginId: number;
  /**
   * The payload. A view into a buffer reused for the next event: copy it
   * (`payload.slice()`) to keep it. Under `PluginHarness` a kept view reads
   * as empty once the next event is loaded.
   */
  readonly payload: Uint8Array;
  /** The payload decoded as UTF-8 text (computed on first use). */
  readonly text: string;
}

/**
 * What an extractor gets. `I` and `K` are the types of `index` and `key`,
 * set by the field's `index` or `key` member: `number` for
 * `index: "required"`, `number | undefined` for `index: "optional"`,
 * `undefined` when the field takes no index (the same for `key`).
 *
 * One object is reused for every field and event: read what you need
 * during the call, never keep the object (`PluginHarness` throws when a
 * kept one is read later).
 */
export interface ExtractContext<
  S,
  D,
  I extends number | undefined = number | undefined,
  K extends string | undefined = string | undefined,
> {
  /** The event. */
  readonly event: EventView;
  /** The result of the plugin's `decode` for this event, computed once per event. */
  readonly decoded: D;
  /** The plugin state returned by `init`. */
  readonly state: S;
  /** The index argument (`field[3]`). */
  readonly index: I;
  /** The key argument (`field[a/b]`). */
  readonly key: K;
}

/** What every field definition has. */
export interface FieldBase {
  /** Field name as used in rules: `prefix.name`, letters, digits and `_`. */
  name: string;
  /** Description shown by `falco --list`. Required by libsinsp. */
  desc: string;
  /** Name to display instead of `name` (used by tools like Wireshark). */
  display?: string;
  /** Extra properties for the host (`"hidden"`, `"info"`, `"conversation"`). */
  properties?: string[];
  /** Suggest appending this field to Falco output lines. */
  addOutput?: boolean;
}

/** A field with one value per event; `I`, `K` as in {@linkcode ExtractContext}. */
export interface SingleFieldDefinition<
  T extends FieldType,
  S,
  D,
  I extends number | undefined = number | undefined,
  K extends string | undefined = string | undefined,
> extends FieldBase {
  /** The type of the value. */
  type: T;
  /** `false` or absent: one value. */
  list?: false;
  /** Returns the value, or `undefined`/`null` when the event has none. */
  extract(ctx: ExtractContext<S, D, I, K>): FieldValue<T> | undefined | null;
}

/** A field with a list of values per event; `I`, `K` as in {@linkcode ExtractContext}. */
export interface ListFieldDefinition<
  T extends FieldType,
  S,
  D,
  I extends number | undefined = number | undefined,
  K extends string | undefined = string | undefined,
> extends FieldBase {
  /** The type of each value. */
  type: T;
  /** `true`: a list of values. */
  list: true;
  /** Returns the values (an empty list or `undefined`: no value). */
  extract(
    ctx: ExtractContext<S, D, I, K>,
  ): Iterable<FieldValue<T>> | undefined | null;
}

/** A single or list field with the given argument types (see {@linkcode FieldOfType}). */
export type AnyShape<
  T extends FieldType,
  S,
  D,
  I extends number | undefined,
  K extends string | undefined,
> = SingleFieldDefinition<T, S, D, I, K> | ListFieldDefinition<T, S, D, I, K>;

/**
 * The field definitions of one type, by argument: none, `index` or `key`
 * (`"required"` or `"optional"`). The argument members are top-level
 * literals so that TypeScript picks the extractor's context from them.
 */
export type FieldOfType<T extends FieldType, S, D> =
  | (AnyShape<T, S, D, undefined, undefined> & {
    /** No index argument. */
    index?: undefined;
    /** No key argument. */
    key?: undefined;
  })
  | (AnyShape<T, S, D, number, undefined> & {
    /** `field[3]`: the index must be given. */
    index: "required";
    key?: undefined;
  })
  | (AnyShape<T, S, D, number | undefined, undefined> & {
    /** `field` or `field[3]`. */
    index: "optional";
    key?: undefined;
  })
  | (AnyShape<T, S, D, undefined, string> & {
    /** `field[a/b]`: the key must be given. */
    key: "required";
    index?: undefined;
  })
  | (AnyShape<T, S, D, undefined, string | undefined> & {
    /** `field` or `field[a/b]`. */
    key: "optional";
    index?: undefined;
  });

/**
 * One extractable field: its metadata, its argument (`index` or `key`:
 * `"required"` or `"optional"`) and its extractor.
 */
export type FieldDefinition<S = unknown, D = unknown> = {
  [T in FieldType]: FieldOfType<T, S, D>;
}[FieldType];

/** An event produced by `nextBatch`. */
export interface EventInput {
  /** The payload: bytes, or text written as UTF-8. */
  payload: Uint8Array | string;
  /**
   * Timestamp in ns since the epoch. Absent: 2^64-1, and the host stamps
   * the event with its own clock.
   */
  ts?: number | bigint;
}

/** Returned by `nextBatch` when the capture has ended. */
export const EOF: unique symbol = Symbol.for("falco-deno.eof");

/**
 * What `nextBatch` returns: events (a string or bytes is a payload with no
 * timestamp), an empty array when nothing is ready yet (the host calls
 * again), or {@linkcode EOF}.
 */
export type BatchResult =
  | ReadonlyArray<EventInput | Uint8Array | string>
  | typeof EOF;

/** A suggestion for the open params, listed by `falco --list-plugins`. */
export interface OpenParam {
  /** The params text. */
  value: string;
  /** What it does. */
  desc?: string;
  /** Separator when several values can be combined. */
  separator?: string;
}

/** Progress of a capture: `percent` in 0..100 and a text. */
export interface Progress {
  /** Percentage done, 0 to 100 (two decimals are kept). */
  percent: number;
  /** Free text, such as `"12/200 files"`. */
  text: string;
}

/**
 * What a plugin needs from the operator, in Deno's permission names. Each
 * entry is a grant string as `deno test --allow-read=...` takes it (an
 * absolute path, `host:port`, an env name), or a `<placeholder>` for what
 * only the config or the open params name. The operator grants it in
 * falco.yaml (`init_config.falco_deno.allowRead` ...): nothing is granted by
 * default, and a call outside the grants fails with `Deno.errors.NotCapable`.
 */
export interface PluginPermissions {
  /** Files and directories read (`Deno.readFile`, `Deno.open`, `followFile`...). */
  read?: string[];
  /** Files and directories written. */
  write?: string[];
  /** Hosts and ports listened on or connected to (`Deno.serve`, `fetch`). */
  net?: string[];
  /** Environment variables read (`Deno.env.get`). */
  env?: string[];
}

/**
 * A JSON Schema, as a plugin's `initSchema` (draft-07, checked by Ajv with
 * defaults filled in). {@linkcode ConfigFromSchema} reads the members it
 * understands; the others only constrain values.
 */
export type InitSchema = {
  readonly type?: JsonType | readonly JsonType[];
  readonly properties?: { readonly [name: string]: InitSchema };
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | InitSchema;
  readonly items?: InitSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly default?: unknown;
  readonly [keyword: string]: unknown;
};

/** The `type` names of JSON Schema. */
export type JsonType =
  | "object"
  | "array"
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "null";

/** The config type of a schema whose `type` is `T` (see {@linkcode ConfigFromSchema}). */
export type FromJsonType<T, Sch> = T extends "string" ? string
  : T extends "number" | "integer" ? number
  : T extends "boolean" ? boolean
  : T extends "null" ? null
  : T extends "array"
    ? Sch extends { readonly items: infer It } ? ConfigFromSchema<It>[]
    : unknown[]
  : T extends "object" ? ObjectFromSchema<Sch>
  : unknown;

/**
 * The properties of an object schema that a validated config always has:
 * listed in `required`, or given a `default` (filled in by validation).
 */
export type PresentKeys<Sch> = Sch extends { readonly properties: infer P } ? {
    [K in keyof P]: K extends
      (Sch extends { readonly required: readonly (infer R)[] } ? R : never) ? K
      : P[K] extends { readonly default: unknown } ? K
      : never;
  }[keyof P]
  : never;

/** The config type of an object schema (see {@linkcode ConfigFromSchema}). */
export type ObjectFromSchema<Sch> = Sch extends { readonly properties: infer P }
  ? (
    & { -readonly [K in keyof P & PresentKeys<Sch>]: ConfigFromSchema<P[K]> }
    & {
      -readonly [K in Exclude<keyof P, PresentKeys<Sch>>]?: ConfigFromSchema<
        P[K]
      >;
    }
    & (Sch extends { readonly additionalProperties: false } ? unknown
      : { [name: string]: unknown })
  )
  : { [name: string]: unknown };

/**
 * The type of a config that passed `Sch` (with its defaults filled in): an
 * object with a member per property, required when the schema requires it
 * or gives it a default, typed from `type`, `enum`, `const` and `items`;
 * `unknown` where the schema says nothing (and for no schema at all: the
 * config is then whatever JSON the operator wrote).
 *
 * @example
 * ```ts
 * import type { ConfigFromSchema } from "./types.ts";
 * const schema = {
 *   type: "object",
 *   properties: { count: { type: "integer", default: 3 }, name: { type: "string" } },
 *   additionalProperties: false,
 * } as const;
 * const config: ConfigFromSchema<typeof schema> = { count: 3 };
 * console.assert(config.count === 3 && config.name === undefined);
 * ```
 */
export type ConfigFromSchema<Sch> = [Sch] extends [undefined] ? unknown
  : Sch extends { readonly const: infer V } ? V
  : Sch extends { readonly enum: readonly (infer V)[] } ? V
  : Sch extends { readonly type: infer T }
    ? T extends readonly (infer U)[] ? FromJsonType<U, Sch>
    : FromJsonType<T, Sch>
  : Sch extends { readonly properties: unknown } ? ObjectFromSchema<Sch>
  : unknown;

/** What a lifecycle callback may return: the value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A plugin definition, as passed to {@linkcode definePlugin}.
 *
 * Type parameters: `C` the config (from `initSchema`, see
 * {@linkcode ConfigFromSchema}), `S` the state `init` returns, `I` the
 * capture `open` returns, `D` what `decode` returns for an event.
 *
 * Every callback takes the plugin state first: `(state, x)`.
 *
 * `init`, `open`, `close`, `destroy` and `nextBatch` may be `async`: the
 * runtime waits for the promise through the event loop, up to the callback
 * deadline (`falco_deno.callbackDeadlineMs`, 1000 ms by default; 10 s at
 * least for `init`) or, for `nextBatch`, up to the batch deadline (then the
 * host gets TIMEOUT and the batch stays pending). A lifecycle promise not
 * settled by its deadline fails the call.
 */
export interface PluginDefinition<
  C = unknown,
  S = unknown,
  I = unknown,
  D = unknown,
> {
  /** Plugin name (letters, digits, `_`, `-`, `.`). */
  name: string;
  /**
   * Event source id (u32): unique per source plugin, from Falco's plugin
   * registry (999 is reserved for development). 0 or absent for a plugin
   * without event source.
   */
  id?: number;
  /** Version, semver (`1.2.3`). */
  version: string;
  /** One-line description. */
  description: string;
  /** Contact: a URL or an email. */
  contact: string;
  /** Name of the event source the plugin produces (source plugins only). */
  eventSource?: string;
  /**
   * Event sources this plugin extracts fields from. Absent: its own source
   * (source plugins), or every source (extract-only plugins).
   */
  extractEventSources?: string[];
  /**
   * JSON Schema of the init config. The config is validated (with defaults
   * filled in) before `init` sees it, and `init`'s parameter is typed from
   * it ({@linkcode ConfigFromSchema}).
   */
  initSchema?: InitSchema;
  /**
   * The permissions the plugin needs, in the grant strings of the `.so`
   * (`init_config.falco_deno.allowRead`...) or `<placeholders>` for what only
   * the config or the open params name. Shown in the manifest; under
   * `PluginHarness`, the concrete entries are the grants of a test whose
   * config grants nothing itself.
   */
  permissions?: PluginPermissions;
  /** Suggestions for the open params (static, or computed from the state). */
  openParams?: OpenParam[] | ((state: S) => OpenParam[]);
  /**
   * Starts the plugin with the parsed, validated init config (`{}` when the
   * host gives an empty string). Returns the plugin state (may be async).
   */
  init?: (config: C) => MaybePromise<S>;
  /** Releases the plugin state (may be async). */
  destroy?: (state: S) => MaybePromise<void>;
  /** Opens a capture with the host's open params text. Returns the capture (may be async). */
  open?: (state: S, params: string) => MaybePromise<I>;
  /** Closes a capture (may be async: a server's shutdown can be awaited). */
  close?: (state: S, capture: I) => MaybePromise<void>;
  /** Returns the next events (may be async). */
  nextBatch?: (state: S, capture: I) => MaybePromise<BatchResult>;
  /** Progress of the capture, if known. */
  progress?: (state: S, capture: I) => Progress | undefined;
  /** Renders an event as text (`falco` output, `sysdig -p`). */
  eventToString?: (state: S, event: EventView) => string;
  /** Decodes an event once; every extractor of that event gets the result. */
  decode?: (state: S, event: EventView) => D;
  /**
   * The plugin's own metrics, read when the host asks for metrics (Falco's
   * `metrics` interval, its Prometheus endpoint): names (letters, digits,
   * `_`, `.`) to finite numbers. Falco shows each as
   * `<plugin name>.<name>`, a non-monotonic double. Not a hot path.
   */
  metrics?: (state: S) => Record<string, number>;
  /** Extractable fields; the order is the field id order of `get_fields`. */
  fields?: FieldDefinition<S, D>[];
}

/** A checked plugin, as returned by {@linkcode definePlugin}. */
export interface Plugin<C = unknown, S = unknown, I = unknown, D = unknown> {
  /** The definition, as given. */
  readonly definition: PluginDefinition<C, S, I, D>;
  /** Whether the plugin produces events (`open` + `nextBatch`). */
  readonly sourcing: boolean;
  /** Whether the plugin extracts fields. */
  readonly extraction: boolean;
}

/** Any plugin, whatever its type parameters (what the runtime accepts). */
// deno-lint-ignore no-explicit-any
export type AnyPlugin = Plugin<any, any, any, any>;
