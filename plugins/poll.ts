/**
 * poll: fetches a URL on a timer, one event per response (its status and
 * body), with fields by JSON pointer: `poll.value[/json/pointer]`,
 * `poll.status`, `poll.url`, `poll.body`. A failed fetch is logged and
 * counted (`fetch_errors` metric), never an event.
 *
 * Open params: the `http://` URL to poll (no TLS inside the `.so`). The
 * operator grants its host in falco.yaml:
 *
 * ```yaml
 * plugins:
 *   - name: poll
 *     library_path: /usr/share/falco/plugins/libpoll.so
 *     init_config:
 *       intervalMs: 10000
 *       falco_deno: { allowNet: ["10.0.0.5:8080"] }
 *     open_params: http://10.0.0.5:8080/status
 * ```
 *
 * @module
 */

import { definePlugin, jsonPointer } from "../mod.ts";

interface Config {
  /** Time between two fetches, ms. */
  intervalMs: number;
  /** Time allowed for one fetch, ms. */
  timeoutMs: number;
  /** Most responses waiting for `nextBatch`; older ones are dropped. */
  maxQueue: number;
}

interface State extends Config {
  counts: Record<string, number>;
}

interface Capture {
  url: string;
  queue: string[];
  timer: ReturnType<typeof setInterval> | undefined;
  busy: boolean;
}

interface Decoded {
  status: string;
  url: string;
  body: string;
  doc: unknown;
}

export default definePlugin({
  name: "poll",
  id: 996,
  version: "0.1.0",
  description: "Fetches a URL on a timer: one event per response",
  contact: "https://github.com/falco-deno/falco-deno",
  eventSource: "poll",
  permissions: { net: ["<the host:port of the URL in open_params>"] },
  initSchema: {
    type: "object",
    properties: {
      intervalMs: {
        type: "integer",
        minimum: 10,
        maximum: 86400000,
        default: 10000,
      },
      timeoutMs: {
        type: "integer",
        minimum: 10,
        maximum: 600000,
        default: 5000,
      },
      maxQueue: { type: "integer", minimum: 1, maximum: 100000, default: 100 },
    },
    additionalProperties: false,
  },
  openParams: [{
    value: "http://127.0.0.1:8080/status",
    desc: "The URL to fetch",
  }],

  init: (config: Config): State => ({
    ...config,
    counts: { responses: 0, fetch_errors: 0, dropped: 0 },
  }),

  open: (config, params): Capture => {
    const url = new URL(params.trim()).href;
    const cap: Capture = { url, queue: [], timer: undefined, busy: false };
    const tick = async () => {
      if (cap.busy) return;
      cap.busy = true;
      try {
        const r = await fetch(url, {
          signal: AbortSignal.timeout(config.timeoutMs),
        });
        const body = await r.text();
        if (cap.queue.length >= config.maxQueue) {
          cap.queue.shift();
          config.counts.dropped++;
          console.warn(
            `poll: queue full (${config.maxQueue}), dropped the oldest response; ${config.counts.dropped} in all`,
          );
        }
        cap.queue.push(`${r.status} ${url}\n${body}`);
        config.counts.responses++;
      } catch (e) {
        config.counts.fetch_errors++;
        console.warn(
          `poll: fetch ${url} failed: ${(e as Error)?.message ?? e}`,
        );
      } finally {
        cap.busy = false;
      }
    };
    tick();
    cap.timer = setInterval(tick, config.intervalMs);
    return cap;
  },

  nextBatch: (_config, cap) => cap.queue.splice(0),

  close: (_config, cap) => clearInterval(cap.timer),

  metrics: (config) => ({ ...config.counts }),

  decode: (_state, event): Decoded => {
    const text = event.text;
    const nl = text.indexOf("\n");
    const head = text.slice(0, nl);
    const sp = head.indexOf(" ");
    const body = text.slice(nl + 1);
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      doc = undefined;
    }
    return { status: head.slice(0, sp), url: head.slice(sp + 1), body, doc };
  },

  eventToString: (_state, event) => event.text,

  fields: [
    {
      name: "poll.value",
      type: "string",
      key: "required",
      desc:
        "A value of the JSON response: poll.value[<json pointer>]; objects and arrays as JSON text",
      extract: ({ decoded, key }) => {
        if (decoded.doc === undefined) return undefined;
        const v = jsonPointer(decoded.doc, key);
        if (v === undefined) return undefined;
        return typeof v === "string" ? v : JSON.stringify(v);
      },
    },
    {
      name: "poll.status",
      type: "string",
      desc: "The HTTP status of the response",
      extract: ({ decoded }) => decoded.status,
    },
    {
      name: "poll.url",
      type: "string",
      desc: "The URL fetched",
      extract: ({ decoded }) => decoded.url,
    },
    {
      name: "poll.body",
      type: "string",
      desc: "The response body",
      extract: ({ decoded }) => decoded.body,
    },
  ],
});
