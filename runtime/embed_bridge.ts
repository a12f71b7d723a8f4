/**
 * The bridge: the JavaScript side of the contract in `_bridge_abi.ts`. The
 * embed and the `deno test` harness both drive a plugin through it.
 *
 * This file and everything it imports run inside the embed: no `Deno.*`, no
 * npm packages, no `TextEncoder` (polyfilled in `_utf8.ts`).
 *
 * @module
 */

import {
  BATCH_BUFFER_SIZE,
  BATCH_EOF,
  BATCH_TIMEOUT,
  type Bridge,
  BRIDGE_GLOBAL,
  INPUT_BUFFER_SIZE,
  OUTPUT_BUFFER_SIZE,
  RESERVED_CONFIG_KEY,
  SHARED_BUFFER_HOOK,
} from "./_bridge_abi.ts";
import { EOF } from "./types.ts";
import type { AnyPlugin, BatchResult, EventInput } from "./types.ts";
import {
  PLUGIN_EVENT_HEADER_SIZE,
  pluginEventHeader,
  writePluginEventHeader,
} from "./event_encoding.ts";
import { ExtractionDispatcher } from "./extraction.ts";
import { openParamsText } from "./manifest.ts";
import { metricsText } from "./metrics.ts";
import { errorText, PluginError, wrapPluginError } from "./plugin_error.ts";
import { utf8Decode, utf8Length, utf8Write } from "./_utf8.ts";

/**
 * Validates a parsed init config (defaults may be filled in place). Returns
 * the error text, or `undefined` when the config is valid.
 */
export type ConfigValidator = (config: unknown) => string | undefined;

/** Options of {@linkcode createBridge}. */
export interface BridgeOptions {
  /** Size of the batch buffer (default `BATCH_BUFFER_SIZE`). */
  batchSize?: number;
  /** Size of the input buffer (default `INPUT_BUFFER_SIZE`). */
  inputSize?: number;
  /** Size of the output buffer (default `OUTPUT_BUFFER_SIZE`). */
  outputSize?: number;
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** An async `nextBatch` in flight. */
interface Pending {
  promise: Promise<void>;
  settled: boolean;
  failed: boolean;
  result?: unknown;
  error?: unknown;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function";
}

/**
 * A buffer the embed shares with the bridge, of `size` bytes.
 *
 * On V8 the embed offers a hook that maps fresh pages for it, which the OS
 * zeroes when first touched: a plain `ArrayBuffer` is zeroed whole at once
 * (three 4 MiB buffers cost about 10 ms of every `plugin_init`: 23 against
 * 13.5 ms per init/destroy cycle of the dummy), and a resizable one, which
 * V8 also maps lazily, makes every `DataView` access on the hot paths a
 * call (10 ns per `setUint32` against 0.5 ns). Elsewhere (QuickJS-ng,
 * `deno test`) the buffer is resizable to its own size, so it never moves.
 */
function sharedBuffer(size: number): ArrayBuffer {
  const hook = (globalThis as Record<symbol, unknown>)[
    Symbol.for(SHARED_BUFFER_HOOK)
  ];
  if (typeof hook === "function") return hook(size) as ArrayBuffer;
  return new ArrayBuffer(size, { maxByteLength: size });
}

/**
 * Creates a {@linkcode Bridge} over a plugin: the object the embed calls.
 *
 * @example Driving a plugin by hand
 * ```ts
 * import { createBridge } from "./embed_bridge.ts";
 * import { definePlugin } from "./define_plugin.ts";
 * import { EOF } from "./types.ts";
 * const plugin = definePlugin({
 *   name: "one", id: 999, version: "0.1.0", description: "d", contact: "c",
 *   eventSource: "one",
 *   open: () => ({ done: false }),
 *   nextBatch: (_s, c) => c.done ? EOF : (c.done = true, ["hello"]),
 * });
 * const bridge = createBridge(plugin);
 * bridge.init("");
 * bridge.open("");
 * console.assert(bridge.nextBatch() === 1);
 * console.assert(bridge.nextBatch() === -1);
 * ```
 *
 * @param plugin A plugin from `definePlugin`.
 * @param validate Init config validator (from the init schema), if any.
 * @param options Buffer sizes.
 * @returns The bridge.
 */
export function createBridge(
  plugin: AnyPlugin,
  validate?: ConfigValidator,
  options: BridgeOptions = {},
): Bridge {
  const d = plugin.definition;
  const name = d.name;
  const pluginId = d.id ?? 0;

  const batch = sharedBuffer(options.batchSize ?? BATCH_BUFFER_SIZE);
  const input = sharedBuffer(options.inputSize ?? INPUT_BUFFER_SIZE);
  const output = sharedBuffer(options.outputSize ?? OUTPUT_BUFFER_SIZE);
  const batchBytes = new Uint8Array(batch), batchView = new DataView(batch);
  const inBytes = new Uint8Array(input), inView = new DataView(input);
  const outBytes = new Uint8Array(output), outView = new DataView(output);

  const dispatcher = new ExtractionDispatcher(plugin);
  const eventHeader = pluginEventHeader(pluginId);
  let phase: "new" | "starting" | "ready" | "failed" | "destroyed" = "new";
  let state: unknown = undefined;

  // The open capture.
  let open = false;
  let capture: unknown = undefined;
  let generation = 0;
  let queue: ReadonlyArray<EventInput | Uint8Array | string> = [];
  let queueAt = 0;
  let eof = false;
  let pending: Pending | undefined;

  const fail = (detail: string): never => {
    throw new PluginError(name, detail);
  };
  const requireReady = (what: string) => {
    if (phase !== "ready") {
      fail(
        phase === "new"
          ? `${what} called before init`
          : phase === "starting"
          ? `${what} called before init finished`
          : phase === "failed"
          ? `${what} called after a failed init`
          : `${what} called after destroy`,
      );
    }
  };
  const requireOpen = (what: string) => {
    requireReady(what);
    if (!open) fail(`${what} called without an open capture`);
  };
  const call = <T>(what: string, fn: () => T): T => {
    let r: T;
    try {
      r = fn();
    } catch (err) {
      throw wrapPluginError(name, `${what} failed`, err);
    }
    return r;
  };
  /**
   * The promise an async lifecycle call returns to the embed: it fulfills
   * when the plugin's callback did, and rejects with the wrapped error
   * otherwise. Marked handled, so the engine does not report the rejection
   * as unhandled: the embed reads the promise's state.
   */
  const lifecycle = (
    what: string,
    result: PromiseLike<unknown>,
    then: (value: unknown) => void,
    failed?: () => void,
  ): Promise<void> => {
    const p = Promise.resolve(result).then(then, (err) => {
      failed?.();
      throw wrapPluginError(name, `${what} failed`, err);
    });
    p.catch(() => {});
    return p;
  };
  /**
   * Releases what an abandoned async `init` or `open` produced after its
   * caller stopped waiting (the deadline passed, or `destroy` came first).
   */
  const releaseLate = (what: string, release: () => unknown) => {
    const report = (err: unknown) =>
      console.error(
        wrapPluginError(
          name,
          `${what} of an abandoned ${
            what === "destroy" ? "state" : "capture"
          } failed`,
          err,
        )
          .message,
      );
    try {
      const r = release();
      if (isThenable(r)) Promise.resolve(r).catch(report);
    } catch (err) {
      report(err);
    }
  };
  const startCapture = (c: unknown) => {
    capture = c;
    open = true;
    queue = [];
    queueAt = 0;
    eof = false;
    pending = undefined;
    dispatcher.resetCache();
  };

  /** Writes queued events into `batch`; returns how many. */
  const writeQueued = (): number => {
    try {
      return writeQueuedEvents();
    } catch (err) {
      // A bad event drops the rest of its batch: the next call starts anew.
      queue = [];
      queueAt = 0;
      throw err;
    }
  };
  // Once per event: no closure, no BigInt for number timestamps, the
  // constant header bytes copied at once (see writePluginEventHeader).
  const writeQueuedEvents = (): number => {
    let at = 0, n = 0;
    while (queueAt < queue.length) {
      const item = queue[queueAt];
      let payload: unknown, ts: unknown;
      if (typeof item === "string" || item instanceof Uint8Array) {
        payload = item;
        ts = undefined;
      } else if (item !== null && typeof item === "object") {
        payload = item.payload;
        ts = item.ts;
      } else {
        payload = item;
      }
      if (
        ts !== undefined &&
        !(typeof ts === "number"
          ? ts >= 0 && ts <= MAX_SAFE && ts % 1 === 0
          : typeof ts === "bigint" && ts >= 0n && ts <= U64_MAX)
      ) {
        return fail(
          `nextBatch returned an event with a bad ts "${
            String(ts)
          }": expected a u64 number or bigint`,
        );
      }
      const payloadAt = at + PLUGIN_EVENT_HEADER_SIZE;
      let payloadLen: number;
      if (typeof payload === "string") {
        payloadLen = utf8Write(payload, batchBytes, payloadAt);
      } else if (payload instanceof Uint8Array) {
        payloadLen = payload.length;
        if (payloadAt + payloadLen > batchBytes.length) payloadLen = -1;
        else batchBytes.set(payload, payloadAt);
      } else {
        return fail(
          `nextBatch returned an event whose payload is ${
            payload === null ? "null" : typeof payload
          }: expected a string or Uint8Array`,
        );
      }
      if (payloadLen < 0) {
        if (n === 0) {
          fail(
            `event of "${
              PLUGIN_EVENT_HEADER_SIZE +
              (typeof payload === "string"
                ? utf8Length(payload)
                : (payload as Uint8Array).length)
            }" bytes does not fit in the batch buffer ("${batchBytes.length}" bytes)`,
          );
        }
        break;
      }
      at = writePluginEventHeader(
        batchView,
        batchBytes,
        at,
        eventHeader,
        ts as number | bigint | undefined,
        payloadLen,
      );
      n++;
      queueAt++;
    }
    if (queueAt >= queue.length) {
      queue = [];
      queueAt = 0;
    }
    return n;
  };

  const takeResult = (result: unknown): number => {
    if (result === EOF) {
      eof = true;
      return BATCH_EOF;
    }
    if (!Array.isArray(result)) {
      return fail(
        `nextBatch returned ${
          result === null ? "null" : typeof result
        }: expected an array of events or EOF`,
      );
    }
    if (result.length === 0) return BATCH_TIMEOUT;
    queue = result as BatchResult as ReadonlyArray<EventInput>;
    queueAt = 0;
    return writeQueued();
  };

  const bridge: Bridge = {
    batch,
    input,
    output,

    init(configText: string): void | Promise<void> {
      if (phase !== "new") fail("init called twice");
      phase = "failed";
      let config: unknown = {};
      if (configText.trim() !== "") {
        try {
          config = JSON.parse(configText);
        } catch (err) {
          fail(`init config is not valid JSON: ${errorText(err)}`);
        }
      }
      if (
        config !== null && typeof config === "object" &&
        !Array.isArray(config) && RESERVED_CONFIG_KEY in config
      ) {
        const copy = { ...(config as Record<string, unknown>) };
        delete copy[RESERVED_CONFIG_KEY];
        config = copy;
      }
      if (validate !== undefined) {
        const problem = validate(config);
        if (problem !== undefined) {
          fail(`init config does not match the schema: ${problem}`);
        }
      }
      const init = d.init;
      const result = init === undefined
        ? undefined
        : call("init", () => init(config));
      const ready = (s: unknown) => {
        state = s;
        dispatcher.setState(s);
        phase = "ready";
      };
      if (!isThenable(result)) return ready(result);
      phase = "starting";
      return lifecycle("init", result, (s) => {
        if (phase === "starting") return ready(s);
        // destroy came first: the late state is released at once.
        const release = d.destroy;
        if (release !== undefined) releaseLate("destroy", () => release(s));
      }, () => {
        if (phase === "starting") phase = "failed";
      });
    },

    open(params: string): void | Promise<void> {
      requireReady("open");
      if (!plugin.sourcing) fail("open called but the plugin has no source");
      if (open) fail("open called while a capture is open");
      // A new generation abandons an async open still pending.
      const gen = ++generation;
      const st = state;
      const c = call("open", () => d.open!(st, params));
      if (!isThenable(c)) return startCapture(c);
      return lifecycle("open", c, (late) => {
        if (gen === generation && phase === "ready") return startCapture(late);
        const release = d.close;
        if (release !== undefined) {
          releaseLate("close", () => release(st, late));
        }
      });
    },

    close(): void | Promise<void> {
      requireOpen("close");
      open = false;
      generation++;
      pending = undefined;
      queue = [];
      queueAt = 0;
      const c = capture;
      capture = undefined;
      const release = d.close;
      if (release === undefined) return;
      const r = call("close", () => release(state, c));
      if (isThenable(r)) return lifecycle("close", r, () => {});
    },

    nextBatch(): number | Promise<void> {
      if (phase !== "ready" || !open) requireOpen("nextBatch");
      if (queueAt < queue.length) return writeQueued();
      if (eof) return BATCH_EOF;
      if (pending !== undefined) {
        if (!pending.settled) return pending.promise;
        const p = pending;
        pending = undefined;
        if (p.failed) throw wrapPluginError(name, "nextBatch failed", p.error);
        return takeResult(p.result);
      }
      const result = call("nextBatch", () => d.nextBatch!(state, capture));
      if (isThenable(result)) {
        const gen = generation;
        const p: Pending = {
          settled: false,
          failed: false,
          promise: Promise.resolve(result).then(
            (r) => {
              if (gen !== generation) return;
              p.settled = true;
              p.result = r;
            },
            (err) => {
              if (gen !== generation) return;
              p.settled = true;
              p.failed = true;
              p.error = err;
            },
          ),
        };
        pending = p;
        return p.promise;
      }
      return takeResult(result);
    },

    extract(): void {
      if (phase !== "ready") requireReady("extract");
      if (!plugin.extraction) {
        fail("extract called but the plugin has no fields");
      }
      dispatcher.extract(inBytes, inView, outBytes, outView);
    },

    eventToString(): string {
      requireReady("eventToString");
      const ev = dispatcher.loadEvent(inBytes, inView);
      const render = d.eventToString;
      if (render === undefined) return utf8Decode(ev.payload);
      const s = call("eventToString", () => render(state, ev));
      if (typeof s !== "string") {
        fail(`eventToString returned ${typeof s}: expected a string`);
      }
      return s;
    },

    progress(): [number, string] | undefined {
      requireReady("progress");
      const fn = d.progress;
      if (fn === undefined || !open) return undefined;
      const p = call("progress", () => fn(state, capture));
      if (p === undefined || p === null) return undefined;
      if (
        typeof p !== "object" || typeof p.percent !== "number" ||
        !(p.percent >= 0 && p.percent <= 100)
      ) {
        fail(
          "progress must return { percent: number in 0..100, text: string } or undefined",
        );
      }
      return [Math.round(p.percent * 100), String(p.text ?? "")];
    },

    listOpenParams(): string {
      const op = d.openParams;
      if (op === undefined) return "[]";
      if (typeof op === "function") {
        requireReady("listOpenParams");
        const list = call("openParams", () => op(state));
        if (!Array.isArray(list)) fail("openParams must return an array");
        return openParamsText(list);
      }
      return openParamsText(op);
    },

    metrics(): string {
      const fn = d.metrics;
      if (fn === undefined || phase !== "ready") return "";
      return metricsText(name, call("metrics", () => fn(state)));
    },

    destroy(): void | Promise<void> {
      if (phase === "destroyed") return;
      const wasReady = phase === "ready";
      let closing: void | Promise<void> = undefined;
      if (open) {
        try {
          closing = bridge.close();
        } catch {
          // destroy goes on: the host cannot handle an error here.
        }
      }
      // Abandons an async open still pending.
      generation++;
      phase = "destroyed";
      const st = state;
      state = undefined;
      dispatcher.setState(undefined);
      const release = d.destroy;
      if (!wasReady || release === undefined) {
        if (closing === undefined) return;
        return lifecycle("close", closing.catch(() => {}), () => {});
      }
      if (closing === undefined) {
        const r = call("destroy", () => release(st));
        if (isThenable(r)) return lifecycle("destroy", r, () => {});
        return;
      }
      // An async close runs to its end before the state is released.
      return lifecycle(
        "destroy",
        closing.catch(() => {}).then(() => release(st)),
        () => {},
      );
    },
  };
  return bridge;
}

/** Set on `Deno` by the embed when its `console` already logs to Falco. */
const EMBED_CONSOLE = Symbol.for("falco-deno.console");

/** Levels of `op_falco_log`. */
const LOG_LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** Formats console arguments, simply (`%s`, `%d`, `%i`, `%f`, `%o`, `%O`, `%j`). */
export function formatLogArgs(args: unknown[]): string {
  const show = (v: unknown): string => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return v.stack ?? `${v.name}: ${v.message}`;
    if (typeof v === "bigint") return `${v}n`;
    if (v === undefined || typeof v === "function" || typeof v === "symbol") {
      return String(v);
    }
    try {
      return JSON.stringify(
        v,
        (_k, x) => typeof x === "bigint" ? `${x}n` : x,
      ) ?? String(v);
    } catch {
      return String(v);
    }
  };
  const rest = args.slice();
  let head = "";
  if (typeof rest[0] === "string" && rest[0].includes("%")) {
    const fmt = rest.shift() as string;
    head = fmt.replace(/%([sdifoOj%])/g, (m, c: string) => {
      if (c === "%") return "%";
      if (rest.length === 0) return m;
      const v = rest.shift();
      if (c === "s") return typeof v === "string" ? v : show(v);
      if (c === "d" || c === "i") {
        return typeof v === "bigint" ? `${v}n` : String(Math.trunc(Number(v)));
      }
      if (c === "f") return String(Number(v));
      return show(v);
    });
    return [head, ...rest.map(show)].join(" ");
  }
  return rest.map(show).join(" ");
}

/**
 * Installs a `console` that forwards to Falco's logger when the embed
 * provides `Deno.core.ops.op_falco_log`. Returns whether it did.
 */
export function installFalcoConsole(): boolean {
  const g = globalThis as unknown as {
    Deno?: { core?: { ops?: { op_falco_log?: unknown } } };
    console?: unknown;
  };
  const log = g.Deno?.core?.ops?.op_falco_log;
  if (typeof log !== "function") return false;
  // The embed's web platform already installed Deno's console, printing to
  // Falco's logger: keep it.
  if ((g.Deno as Record<symbol, unknown>)[EMBED_CONSOLE] === true) return false;
  const at = (level: number) => (...args: unknown[]) => {
    (log as (level: number, message: string) => void)(
      level,
      formatLogArgs(args),
    );
  };
  g.console = {
    log: at(LOG_LEVELS.info),
    info: at(LOG_LEVELS.info),
    debug: at(LOG_LEVELS.debug),
    trace: at(LOG_LEVELS.debug),
    warn: at(LOG_LEVELS.warn),
    error: at(LOG_LEVELS.error),
  };
  return true;
}

/**
 * Creates the bridge of `plugin` and installs it as
 * `globalThis.__falcoDenoBridge`, where the embed finds it; also installs a
 * `console` that logs through Falco when the embed offers `op_falco_log`.
 * Called by the bundle's entry, not by plugin authors.
 *
 * @example The bundle's entry
 * ```ts ignore
 * import plugin from "./plugins/dummy.ts";
 * import validateConfig from "virtual:config-validator";
 * import { installBridge } from "./runtime/embed_bridge.ts";
 * installBridge(plugin, validateConfig);
 * ```
 *
 * @param plugin A plugin from `definePlugin`.
 * @param validate The init config validator generated at build time.
 * @returns The installed bridge.
 */
export function installBridge(
  plugin: AnyPlugin,
  validate?: ConfigValidator,
): Bridge {
  installFalcoConsole();
  const bridge = createBridge(plugin, validate);
  delete (globalThis as Record<symbol, unknown>)[
    Symbol.for(SHARED_BUFFER_HOOK)
  ];
  (globalThis as Record<string, unknown>)[BRIDGE_GLOBAL] = bridge;
  return bridge;
}
