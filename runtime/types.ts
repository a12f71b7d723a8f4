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

/** The argument a field accepts: `field[3]` (index) or `field[a/b]` (key). */
export interface FieldArg {
  /** `"index"` for a numeric argument, `"key"` for a string argument. */
  kind: "index" | "key";
  /** Whether the field can only be used with an argument. */
  required?: boolean;
}

/** One event as the plugin sees it in `extract`, `decode` and `eventToString`. */
export interface EventView {
  /** Event number given by the host (1 for the first event). */
  readonly num: number;
  /** Timestamp in nanoseconds since the epoch. */
  readonly ts: bigint;
  /** Id of the plugin that produced the event (0 for non-plugin events). */
  readonly pluginId: number;
  /**
   * The payload. A view into a buffer reused for the next event: copy it
   * (`payload.slice()`) to keep it.
   */
  readonly payload: Uint8Array;
  /** The payload decoded as UTF-8 text (computed on first use). */
  readonly text: string;
}

/** What an extractor gets. One object is reused: do not keep it. */
export interface ExtractContext<S, D> {
  /** The event. */
  readonly event: EventView;
  /** The result of the plugin's `decode` for this event, computed once per event. */
  readonly decoded: D;
  /** The plugin state returned by `init`. */
  readonly state: S;
  /** The index argument (`field[3]`), when given. */
  readonly index: number | undefined;
  /** The key argument (`field[a/b]`), when given. */
  readonly key: string | undefined;
}

/** What every field definition has. */
export interface FieldBase {
  /** Field name as used in rules: `prefix.name`, letters, digits and `_`. */
  name: string;
  /** Description shown by `falco --list`. Required by libsinsp. */
  desc: string;
  /** Name to display instead of `name` (used by tools like Wireshark). */
  display?: string;
  /** Argument the field takes, if any. */
  arg?: FieldArg;
  /** Extra properties for the host (`"hidden"`, `"info"`, `"conversation"`). */
  properties?: string[];
  /** Suggest appending this field to Falco output lines. */
  addOutput?: boolean;
}

/** A field with one value per event. */
export interface SingleFieldDefinition<T extends FieldType, S, D>
  extends FieldBase {
  /** The type of the value. */
  type: T;
  /** `false` or absent: one value. */
  list?: false;
  /** Returns the value, or `undefined`/`null` when the event has none. */
  extract(ctx: ExtractContext<S, D>): FieldValue<T> | undefined | null;
}

/** A field with a list of values per event. */
export interface ListFieldDefinition<T extends FieldType, S, D>
  extends FieldBase {
  /** The type of each value. */
  type: T;
  /** `true`: a list of values. */
  list: true;
  /** Returns the values (an empty list or `undefined`: no value). */
  extract(
    ctx: ExtractContext<S, D>,
  ): Iterable<FieldValue<T>> | undefined | null;
}

/** One extractable field: its metadata and its extractor. */
export type FieldDefinition<S = unknown, D = unknown> = {
  [T in FieldType]:
    | SingleFieldDefinition<T, S, D>
    | ListFieldDefinition<T, S, D>;
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
 * A plugin definition, as passed to {@linkcode definePlugin}.
 *
 * Type parameters: `C` the config (inferred from the type of `init`'s
 * parameter), `S` the state `init` returns, `I` the capture `open` returns,
 * `D` what `decode` returns for an event.
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
   * filled in) before `init` sees it.
   */
  initSchema?: Record<string, unknown>;
  /**
   * The permissions the plugin needs (documentation for the operator; shown
   * in the manifest). Grants come only from the init config.
   */
  permissions?: PluginPermissions;
  /** Suggestions for the open params (static, or computed from the state). */
  openParams?: OpenParam[] | ((state: S) => OpenParam[]);
  /**
   * Starts the plugin with the parsed, validated init config (`{}` when the
   * host gives an empty string). Returns the plugin state.
   */
  init?(config: C): S;
  /** Releases the plugin state. */
  destroy?(state: S): void;
  /** Opens a capture with the host's open params text. Returns the capture. */
  open?(state: S, params: string): I;
  /** Closes a capture. */
  close?(state: S, capture: I): void;
  /** Returns the next events (may be async). */
  nextBatch?(state: S, capture: I): BatchResult | Promise<BatchResult>;
  /** Progress of the capture, if known. */
  progress?(state: S, capture: I): Progress | undefined;
  /** Renders an event as text (`falco` output, `sysdig -p`). */
  eventToString?(event: EventView, state: S): string;
  /** Decodes an event once; every extractor of that event gets the result. */
  decode?(event: EventView, state: S): D;
  /**
   * The plugin's own metrics, read when the host asks for metrics (Falco's
   * `metrics` interval, its Prometheus endpoint): names (letters, digits,
   * `_`, `.`) to finite numbers. Falco shows each as
   * `<plugin name>.<name>`, a non-monotonic double. Not a hot path.
   */
  metrics?(state: S): Record<string, number>;
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
