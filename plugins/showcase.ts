/**
 * A plugin that uses every feature of falco-deno: every field type, list
 * fields, key and index arguments, a JSON decode cached per event, async
 * `init`, `open`, `nextBatch` and `close`, progress, and open params
 * computed from the config.
 *
 * Each event is a JSON connection record:
 * `{"id":1,"src":"10.0.0.1","dst":"2001:db8::1","net":"192.168.1.0",...}`.
 *
 * @module
 */

import { definePlugin, EOF } from "../mod.ts";

/** Init config. */
export interface ShowcaseConfig {
  /** Number of events per capture. */
  count: number;
  /** Events per batch. */
  batch: number;
}

/** One event, as JSON in the payload. */
export interface Connection {
  id: number;
  src: string;
  dst: string;
  net: string;
  ok: boolean;
  durationNs: number;
  ports: number[];
  tags: string[];
  labels: Record<string, string>;
}

/** The connection record of event `n` (1-based). */
export function connection(n: number): Connection {
  return {
    id: n,
    src: `10.0.0.${n % 256}`,
    dst: `2001:db8::${n.toString(16)}`,
    net: `192.168.${n % 256}.0`,
    ok: n % 2 === 0,
    durationNs: n * 1500,
    ports: n % 3 === 0 ? [] : [1000 + n, 2000 + n],
    tags: ["conn", n % 2 === 0 ? "even" : "odd"],
    labels: { env: n % 2 === 0 ? "prod" : "dev", team: `t${n}` },
  };
}

/** Base timestamp of the events: 2023-11-14T22:13:20Z in ns. */
export const BASE_TS = 1_700_000_000_000_000_000n;

export default definePlugin({
  name: "showcase",
  // Falco's private id block starts at 2^30: for plugins not in the registry.
  id: 1073741825,
  version: "0.1.0",
  description: "Every field type, lists, arguments and an async source",
  contact: "https://github.com/falcosecurity",
  eventSource: "showcase",
  initSchema: {
    type: "object",
    properties: {
      count: { type: "integer", minimum: 0, default: 6 },
      batch: { type: "integer", minimum: 1, default: 4 },
    },
    additionalProperties: false,
  },
  openParams: (state) => [
    { value: "", desc: `${state.count} connections` },
    { value: "even", desc: "only even connections" },
  ],

  init: async (config: ShowcaseConfig) => {
    await Promise.resolve();
    return { ...config, captures: 0 };
  },

  open: async (state, params) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    state.captures++;
    return { next: 1, onlyEven: params === "even" };
  },

  close: async (state) => {
    await Promise.resolve();
    state.captures--;
  },

  metrics: (state) => ({ captures_open: state.captures }),

  // Async: resolves on a later microtask, as I/O would.
  async nextBatch(state, capture) {
    await Promise.resolve();
    if (capture.next > state.count) return EOF;
    const events = [];
    while (events.length < state.batch && capture.next <= state.count) {
      const n = capture.next++;
      if (capture.onlyEven && n % 2 !== 0) continue;
      events.push({
        payload: JSON.stringify(connection(n)),
        ts: BASE_TS + BigInt(n),
      });
    }
    return events;
  },

  progress: (state, capture) => ({
    percent: state.count === 0
      ? 100
      : Math.min(100, ((capture.next - 1) / state.count) * 100),
    text: `${capture.next - 1}/${state.count}`,
  }),

  eventToString: (_state, event) => {
    const c = JSON.parse(event.text) as Connection;
    return `conn ${c.id} ${c.src} -> ${c.dst}`;
  },

  decode: (_state, event): Connection => JSON.parse(event.text),

  fields: [
    {
      name: "showcase.id",
      type: "uint64",
      desc: "Connection id",
      extract: ({ decoded }) => decoded.id,
    },
    {
      name: "showcase.ok",
      type: "bool",
      desc: "Whether the connection succeeded",
      extract: ({ decoded }) => decoded.ok,
    },
    {
      name: "showcase.src",
      type: "ipaddr",
      desc: "Source address (IPv4)",
      display: "Source",
      extract: ({ decoded }) => decoded.src,
    },
    {
      name: "showcase.dst",
      type: "ipaddr",
      desc: "Destination address (IPv6)",
      extract: ({ decoded }) => decoded.dst,
    },
    {
      name: "showcase.net",
      type: "ipnet",
      desc:
        "Network of the source, matched with `showcase.net = 192.168.0.0/16`",
      extract: ({ decoded }) => decoded.net,
    },
    {
      name: "showcase.duration",
      type: "reltime",
      desc: "Duration in ns",
      extract: ({ decoded }) => decoded.durationNs,
    },
    {
      name: "showcase.time",
      type: "abstime",
      desc: "Event time in ns since the epoch",
      extract: ({ event }) => event.ts,
    },
    {
      name: "showcase.ports",
      type: "uint64",
      list: true,
      desc: "Ports used (may be empty)",
      extract: ({ decoded }) => decoded.ports,
    },
    {
      name: "showcase.tags",
      type: "string",
      list: true,
      desc: "Tags",
      addOutput: true,
      extract: ({ decoded }) => decoded.tags,
    },
    {
      name: "showcase.tag",
      type: "string",
      desc: "The tag at an index (default 0)",
      index: "optional",
      extract: ({ decoded, index }) => decoded.tags[index ?? 0],
    },
    {
      name: "showcase.label",
      type: "string",
      desc: "The label with the given key",
      key: "required",
      properties: ["info"],
      extract: ({ decoded, key }) => decoded.labels[key],
    },
    {
      name: "showcase.addrs",
      type: "ipaddr",
      list: true,
      desc: "Both addresses",
      extract: ({ decoded }) => [decoded.src, decoded.dst],
    },
    {
      name: "showcase.flags",
      type: "bool",
      list: true,
      desc: "ok, and whether ports were used",
      extract: ({ decoded }) => [decoded.ok, decoded.ports.length > 0],
    },
  ],
});
