/**
 * Catches, under `PluginHarness`, a plugin that keeps an object the
 * runtime reuses: the `ExtractContext` of an extractor, the `EventView` of
 * `extract`, `decode` or `eventToString`, or the memory of a payload view.
 *
 * In the `.so` one context and one event view serve every field of every
 * event, and a payload is a view into the input buffer, rewritten for the
 * next event: a kept one silently shows another event. The harness hands
 * the plugin fresh objects that throw when read after their call
 * returned, and payload copies whose memory is detached (reads as empty)
 * once the next event is loaded.
 *
 * @module
 */

import type {
  AnyPlugin,
  EventView,
  ExtractContext,
  FieldDefinition,
  PluginDefinition,
} from "./types.ts";

type Check = () => void;

/** The payload copies handed out, detached when the event changes. */
class PayloadCopies {
  #raw: Uint8Array | undefined;
  #copy: Uint8Array | undefined;

  of(raw: Uint8Array): Uint8Array {
    const copy = this.#copy;
    if (
      raw === this.#raw && copy !== undefined && copy.length === raw.length &&
      copy.every((b, i) => b === raw[i])
    ) {
      return copy;
    }
    if (copy !== undefined && copy.buffer.byteLength > 0) {
      // Detaches the old copy: a view the plugin kept now reads as empty.
      structuredClone(copy.buffer, { transfer: [copy.buffer as ArrayBuffer] });
    }
    this.#raw = raw;
    return this.#copy = raw.slice();
  }
}

function keptError(what: string): TypeError {
  return new TypeError(
    `${what} was kept after its call returned: the runtime reuses it for the next call (copy what you need during the call)`,
  );
}

function eventView(
  ev: EventView,
  payloads: PayloadCopies,
  check: Check,
): EventView {
  return {
    get num() {
      check();
      return ev.num;
    },
    get ts() {
      check();
      return ev.ts;
    },
    get pluginId() {
      check();
      return ev.pluginId;
    },
    get payload() {
      check();
      return payloads.of(ev.payload);
    },
    get text() {
      check();
      return ev.text;
    },
  };
}

/** Runs `fn` with a check that fails once `fn` has returned. */
function during<T>(what: string, fn: (check: Check) => T): T {
  let live = true;
  const check = () => {
    if (!live) throw keptError(what);
  };
  try {
    return fn(check);
  } finally {
    live = false;
  }
}

/**
 * The plugin with its extractors, `decode` and `eventToString` handed
 * guarded objects (see the module doc).
 *
 * @param plugin A plugin from `definePlugin`.
 * @returns The same plugin, guarded.
 */
export function guardReusedObjects(plugin: AnyPlugin): AnyPlugin {
  const d = plugin.definition as PluginDefinition;
  const payloads = new PayloadCopies();
  const fields = d.fields?.map((f): FieldDefinition => {
    const extract = f.extract as (
      c: ExtractContext<unknown, unknown>,
    ) => unknown;
    const what = `The ExtractContext of field "${f.name}"`;
    return {
      ...f,
      extract: (ctx: ExtractContext<unknown, unknown>) =>
        during(what, (check) => {
          const event = eventView(ctx.event, payloads, check);
          return extract({
            get event() {
              check();
              return event;
            },
            get decoded() {
              check();
              return ctx.decoded;
            },
            get state() {
              check();
              return ctx.state;
            },
            get index() {
              check();
              return ctx.index;
            },
            get key() {
              check();
              return ctx.key;
            },
          });
        }),
    } as FieldDefinition;
  });
  const decode = d.decode;
  const eventToString = d.eventToString;
  const definition: PluginDefinition = {
    ...d,
    ...(fields ? { fields } : {}),
    ...(decode
      ? {
        decode: (state: unknown, ev: EventView) =>
          during(
            "The EventView given to decode",
            (check) => decode(state, eventView(ev, payloads, check)),
          ),
      }
      : {}),
    ...(eventToString
      ? {
        eventToString: (state: unknown, ev: EventView) =>
          during(
            "The EventView given to eventToString",
            (check) => eventToString(state, eventView(ev, payloads, check)),
          ),
      }
      : {}),
  };
  return Object.freeze({ ...plugin, definition });
}
