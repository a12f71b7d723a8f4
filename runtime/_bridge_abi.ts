/**
 * The contract between the plugin bundle (JavaScript, built by
 * `runtime/bundle.ts`) and the Rust embed (`rust_embed/src/bridge.rs`), which
 * mirrors every constant here. The `deno test` harness drives the very same
 * bridge, so a plugin behaves identically under `deno test` and inside the
 * `.so`.
 *
 * ## The bundle
 *
 * `runtime/bundle.ts` bundles an entry like
 *
 * ```ts ignore
 * import plugin from "/abs/path/plugins/foo.ts";
 * import { installBridge } from "/abs/path/runtime/embed_bridge.ts";
 * installBridge(plugin);
 * ```
 *
 * as one classic script (esbuild `format: "iife"`). Evaluating it defines
 * `globalThis[BRIDGE_GLOBAL]`, an object {@linkcode Bridge}. The embed reads
 * the functions and buffers off it once, after evaluation.
 *
 * ## Calls (all on the instance's own thread; Rust waits for each)
 *
 * - `init(config)`: `config` is the init config string exactly as the host
 *   gave it, minus the reserved {@linkcode RESERVED_CONFIG_KEY} member (the
 *   embed strips and reads that one itself). Throws on malformed JSON, schema
 *   violation or an exception in the plugin's `init`.
 * - `open(params)` / `close()`.
 * - `init`, `open`, `close` and `destroy` return `undefined` when the
 *   plugin's callback was synchronous (or absent), or a Promise when it
 *   returned one. That promise fulfills when the call succeeded and rejects
 *   with the error (a `PluginError`) otherwise; it is already marked
 *   handled, so the engine does not report its rejection. The embed polls
 *   the event loop until it settles or the callback deadline passes
 *   ({@linkcode lifecycleDeadlineText} is then the call's error); nothing
 *   needs to be called again. A late `init` or `open` is released when it
 *   settles (its state destroyed, its capture closed); a new `open`, or
 *   `destroy`, abandons an `open` still pending.
 * - `nextBatch()`: returns a number, or a Promise when the plugin's
 *   `nextBatch` is async and not settled yet. A number `n > 0`: `n` events
 *   were written back to back from byte 0 of `batch` (each a full scap event,
 *   see `runtime/event_encoding.ts`; Rust walks them by their `len` field).
 *   {@linkcode BATCH_TIMEOUT}: nothing now, call again. {@linkcode BATCH_EOF}:
 *   the capture ended. A Promise: nothing is written yet; the embed polls the
 *   event loop until it settles (or the batch deadline passes, then it
 *   returns TIMEOUT to the host and keeps waiting on the next call) and then
 *   calls `nextBatch()` again, which now returns a number. The bridge writes
 *   into `batch` only inside a `nextBatch()` call, never when a promise
 *   settles, so the previous batch stays intact until the host asks again.
 *   Events that do not fit in `batch` stay queued for the next call; one
 *   event larger than `batch` is an error naming its size.
 * - `extract()`: reads the event and the field requests from `input`
 *   (layout below) and writes one result per request to `output`.
 * - `eventToString()`: reads the event from `input` (no requests), returns
 *   a string.
 * - `progress()`: returns `undefined` (no progress support) or
 *   `[pctHundredths, text]` (`pctHundredths` in 0..10000).
 * - `listOpenParams()`: the JSON array text for `plugin_list_open_params`.
 * - `metrics()`: the plugin's own metrics for `plugin_get_metrics`, as the
 *   text of a JSON object `{"name": number, ...}` (names sorted, none of
 *   {@linkcode BUILTIN_METRICS}), or `""` when the plugin publishes none.
 * - `destroy()`.
 *
 * Any of them may throw; the embed turns the exception into FAILURE and the
 * text of `plugin_get_last_error` (message and first stack frame). Messages
 * name the plugin and, for extraction, the field.
 *
 * ## `input` layout (little endian)
 *
 * | offset | type | what |
 * | --- | --- | --- |
 * | 0 | u64 | event number (`evtnum`) |
 * | 8 | u64 | event timestamp (ns) |
 * | 16 | u32 | payload length |
 * | 20 | u32 | payload offset (from byte 0 of `input`) |
 * | 24 | u32 | number of requests |
 * | 28 | u32 | id of the plugin that produced the event (param 1 of type 322) |
 * | 32 | u32 | event type (322 for plugin events) |
 * | 36 | u32 | reserved, 0 |
 * | 40 | request[] | {@linkcode REQUEST_SIZE} bytes each, see below |
 * | payload offset | bytes | the event payload (param 2 of type 322) |
 * | after payload | bytes | key arguments, UTF-8, referenced by requests |
 *
 * A request: `u32 fieldId` (index into the manifest's field list, as in
 * `get_fields`), `u32 argKind` ({@linkcode ARG_NONE}, {@linkcode ARG_INDEX},
 * {@linkcode ARG_KEY}), `u64 argIndex`, `u32 keyOffset`, `u32 keyLength`
 * (from byte 0 of `input`).
 *
 * ## `output` layout (little endian), one record per request, in order
 *
 * `u32 count` (0: the field has no value for this event), then `count`
 * values, each `u32 byteLength` and the bytes: 8 bytes for `uint64`,
 * `reltime`, `abstime`; 4 bytes (0 or 1) for `bool`; the UTF-8 bytes (no
 * NUL) for `string`; 4 or 16 bytes (network order) for `ipaddr` and for
 * `ipnet` alike: libsinsp takes an `ipnet` value as a bare address and
 * matches it against the network written in the rule (`f = 10.0.0.0/8`); a
 * value of any other size makes it throw (`filter_compare.cpp`, `PT_IPNET`;
 * plugin-sdk-rs `IpNet` is an `IpAddr`).
 * A result that does not fit in `output` is an error naming the field.
 */

/** Default of `falco_deno.callbackDeadlineMs` (`rust_embed/src/plugin.rs`). */
export const DEFAULT_CALLBACK_DEADLINE_MS = 1000;
/** Default of `falco_deno.batchDeadlineMs` (`rust_embed/src/plugin.rs`). */
export const DEFAULT_BATCH_DEADLINE_MS = 50;
/** `init` gets at least this long, whatever the callback deadline. */
export const MIN_INIT_DEADLINE_MS = 10_000;

/**
 * The error of an async `init`, `open`, `close` or `destroy` whose promise
 * did not settle within its deadline; the embed writes the same text.
 *
 * @example
 * ```ts
 * import { lifecycleDeadlineText } from "./_bridge_abi.ts";
 * console.assert(lifecycleDeadlineText("x", "open", 1000).startsWith("x: open did not settle"));
 * ```
 *
 * @param plugin The plugin name.
 * @param callback `init`, `open`, `close` or `destroy`.
 * @param ms The deadline that passed.
 * @returns The error text.
 */
export function lifecycleDeadlineText(
  plugin: string,
  callback: string,
  ms: number,
): string {
  return `${plugin}: ${callback} did not settle within its deadline of ${ms} ms`;
}

/** Name of the global the bundle defines. */
export const BRIDGE_GLOBAL = "__falcoDenoBridge";

/**
 * `Symbol.for` key of the function the embed offers, on V8, to make the
 * bridge's shared buffers (`rust_embed/src/engine.rs`); the bridge removes
 * it once they are made.
 */
export const SHARED_BUFFER_HOOK = "falco-deno.sharedBuffer";

/** Init config member reserved for the embed (deadlines, heap limit, ...). */
export const RESERVED_CONFIG_KEY = "falco_deno";

/** `nextBatch()` result: nothing now, call again. */
export const BATCH_TIMEOUT = 0;
/** `nextBatch()` result: end of capture. */
export const BATCH_EOF = -1;

/** Size of the batch buffer in bytes. */
export const BATCH_BUFFER_SIZE = 4 * 1024 * 1024;
/** Size of the input buffer (event + requests) in bytes. */
export const INPUT_BUFFER_SIZE = 4 * 1024 * 1024;
/** Size of the output buffer (extracted values) in bytes. */
export const OUTPUT_BUFFER_SIZE = 4 * 1024 * 1024;

/** Offset of the first request in `input`. */
export const INPUT_HEADER_SIZE = 40;
/** Size of one request in `input`. */
export const REQUEST_SIZE = 24;

/**
 * Names of the metrics the embed itself publishes (`rust_embed/src/metrics.rs`);
 * a plugin's own metric may not reuse one.
 */
export const BUILTIN_METRICS = [
  "events_produced",
  "extract_calls",
  "errors",
  "deadline_hits",
  "heap_limit_hits",
  "calls",
  "call_time_avg_us",
  "heap_used_bytes",
] as const;

/** Request without argument. */
export const ARG_NONE = 0;
/** Request with a numeric index argument (`field[3]`). */
export const ARG_INDEX = 1;
/** Request with a string key argument (`field[/a/b]`). */
export const ARG_KEY = 2;

/** The object the bundle installs as `globalThis[BRIDGE_GLOBAL]`. */
export interface Bridge {
  /** Shared with the embed: events of the current batch. */
  readonly batch: ArrayBuffer;
  /** Shared with the embed: event and requests for `extract`/`eventToString`. */
  readonly input: ArrayBuffer;
  /** Shared with the embed: extracted values. */
  readonly output: ArrayBuffer;
  /** Starts the plugin with the host's config string (see the module doc for a Promise). */
  init(config: string): void | Promise<void>;
  /** Opens a capture (see the module doc for a Promise). */
  open(params: string): void | Promise<void>;
  /** Closes the capture (see the module doc for a Promise). */
  close(): void | Promise<void>;
  /** Fills `batch`; see the module doc for the result. */
  nextBatch(): number | Promise<void>;
  /** Extracts the fields requested in `input` into `output`. */
  extract(): void;
  /** Renders the event in `input`. */
  eventToString(): string;
  /** Progress of the open capture, if the plugin reports it. */
  progress(): [number, string] | undefined;
  /** JSON array text of open param suggestions. */
  listOpenParams(): string;
  /** JSON object text of the plugin's own metrics, or `""`. */
  metrics(): string;
  /** Releases the plugin (see the module doc for a Promise). */
  destroy(): void | Promise<void>;
}
