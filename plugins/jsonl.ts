/**
 * jsonl: follows a JSON-lines file (one JSON document per line, one event
 * per line), across rotation and truncation, with the fields of the
 * official Go `json` plugin: `json.value[/json/pointer]`, `json.obj`,
 * `json.rawtime`.
 *
 * Open params: the absolute path of the file. The operator grants reading
 * it in falco.yaml:
 *
 * ```yaml
 * plugins:
 *   - name: jsonl
 *     library_path: /usr/share/falco/plugins/libjsonl.so
 *     init_config:
 *       start: beginning
 *       falco_deno: { allowRead: ["/var/log/app/events.jsonl"] }
 *     open_params: /var/log/app/events.jsonl
 * ```
 *
 * @module
 */

import {
  definePlugin,
  EOF,
  type FileFollower,
  followFile,
  jsonPointer,
} from "../mod.ts";

interface Config {
  /** Where to start reading: the whole file, or only what is appended from now on. */
  start: "beginning" | "end";
  /** Keep following the file (default), or stop at its end. */
  follow: boolean;
  /** How often to look for new lines when there are none, in ms. */
  pollMs: number;
  /** Most events per batch. */
  maxBatch: number;
}

export default definePlugin({
  name: "jsonl",
  id: 999,
  version: "0.1.0",
  description:
    "Follows a JSON-lines file: one event per line, fields by JSON pointer",
  contact: "https://github.com/falco-deno/falco-deno",
  eventSource: "jsonl",
  permissions: { read: ["<the file named in open_params>"] },
  initSchema: {
    type: "object",
    properties: {
      start: { enum: ["beginning", "end"], default: "beginning" },
      follow: { type: "boolean", default: true },
      pollMs: { type: "integer", minimum: 10, maximum: 60000, default: 200 },
      maxBatch: { type: "integer", minimum: 1, maximum: 100000, default: 1024 },
    },
    additionalProperties: false,
  },
  openParams: [{
    value: "/var/log/app/events.jsonl",
    desc: "Absolute path of the JSON-lines file to follow",
  }],

  init: (config: Config) => config,

  open: (config, params): FileFollower => {
    const path = params.trim();
    if (!path.startsWith("/")) {
      throw new Error(
        `open params must be the absolute path of a JSON-lines file, got "${params}"`,
      );
    }
    return followFile(path, {
      from: config.start === "end" ? "end" : "start",
      follow: config.follow,
      pollMs: config.pollMs,
    });
  },

  nextBatch: async (config, follower) => {
    const lines = await follower.nextLines(config.maxBatch);
    if (lines === null) return EOF;
    return lines.filter((l) => l.trim() !== "");
  },

  close: (_config, follower) => follower.close(),

  decode: (_state, event): unknown => {
    const text = event.text;
    const c = text.trimStart()[0];
    if (c !== "{" && c !== "[") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  },

  eventToString: (_state, event) => event.text,

  fields: [
    {
      name: "json.value",
      type: "string",
      key: "required",
      desc:
        "Extracts a value from a JSON-encoded input. Syntax is json.value[<json pointer>], where <json pointer> is a json pointer (see https://datatracker.ietf.org/doc/html/rfc6901)",
      extract: ({ decoded, key }) => {
        if (decoded === undefined) return undefined;
        const v = jsonPointer(decoded, key);
        if (v === undefined) return undefined;
        return typeof v === "string" ? v : JSON.stringify(v);
      },
    },
    {
      name: "json.obj",
      type: "string",
      desc: "The full json message as a text string.",
      extract: ({ decoded }) =>
        decoded === undefined ? undefined : JSON.stringify(decoded, null, 2),
    },
    {
      name: "json.rawtime",
      type: "string",
      desc: "The time of the event, identical to evt.rawtime.",
      extract: ({ event }) => String(event.ts),
    },
  ],
});
