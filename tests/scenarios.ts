/**
 * The one scenario list shared by the harness and the `.so` hosts. Each
 * host runs every scenario (init with `config`, open with `open`, read up
 * to `maxEvents` events or until EOF, extract `fields` from each event) and
 * writes the results in the canonical format below; the files must be
 * equal.
 *
 * ```json
 * { "<scenario name>": { "events": [
 *   { "num": 1, "payload_hex": "32", "fields": { "dummy.value": ["2"], "x.y": null } }
 * ] } }
 * ```
 *
 * Values are canonical text: decimal for uint64/reltime/abstime, `true` or
 * `false`, strings as they are, addresses as text (`10.0.0.1`, `2001:db8::1`;
 * ipnet values too: they are bare addresses). `null`: no value.
 *
 * CLI: `deno run -A tests/scenarios.ts [--expected out.json]` runs every
 * scenario through the harness and writes the results (stdout without
 * `--expected`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type AnyPlugin, PluginHarness } from "../mod.ts";

/** One scenario. */
export interface Scenario {
  /** Unique name, the key in the result file. */
  name: string;
  /** Plugin source file, relative to the repository root. */
  plugin: string;
  /** Init config string, exactly as given to `plugin_init`. */
  config: string;
  /** Open params string. */
  open: string;
  /** Most events to read (fewer if the capture ends first). */
  maxEvents: number;
  /** Field strings to extract from every event, in this order. */
  fields: string[];
}

/** Results of one scenario. */
export interface ScenarioResult {
  /** Events in order. */
  events: {
    num: number;
    payload_hex: string;
    fields: Record<string, string[] | null>;
  }[];
}

const DUMMY_FIELDS = [
  "dummy.value",
  "dummy.strvalue",
  "dummy.divisible[2]",
  "dummy.divisible[3]",
];

/** The scenarios. */
export const scenarios: Scenario[] = [
  {
    name: "dummy_jitter0",
    plugin: "plugins/dummy.ts",
    config: '{"jitter": 0}',
    open: '{"start": 1, "maxEvents": 10}',
    maxEvents: 100,
    fields: DUMMY_FIELDS,
  },
  {
    name: "dummy_start_1000_stop_at_4",
    plugin: "plugins/dummy.ts",
    config: '{"jitter":0}',
    open: '{"start": 1000, "maxEvents": 20}',
    maxEvents: 4,
    fields: [...DUMMY_FIELDS, "dummy.divisible[7]"],
  },
  {
    name: "dummy_reserved_config_member",
    plugin: "plugins/dummy.ts",
    config: '{"jitter": 0, "falco_deno": {}}',
    open: '{"maxEvents": 3}',
    maxEvents: 100,
    fields: ["dummy.value"],
  },
  {
    name: "showcase_every_type",
    plugin: "plugins/showcase.ts",
    config: '{"count": 6, "batch": 4}',
    open: "",
    maxEvents: 100,
    fields: [
      "showcase.id",
      "showcase.ok",
      "showcase.src",
      "showcase.dst",
      "showcase.net",
      "showcase.duration",
      "showcase.time",
      "showcase.ports",
      "showcase.tags",
      "showcase.tag",
      "showcase.tag[1]",
      "showcase.tag[5]",
      "showcase.label[env]",
      "showcase.label[team]",
      "showcase.label[none]",
      "showcase.addrs",
      "showcase.flags",
    ],
  },
  {
    name: "showcase_even_only",
    plugin: "plugins/showcase.ts",
    config: "",
    open: "even",
    maxEvents: 100,
    fields: ["showcase.id", "showcase.ok"],
  },
  {
    name: "hello_default_config",
    plugin: "plugins/hello.ts",
    config: "",
    open: "",
    maxEvents: 100,
    fields: ["hello.word"],
  },
];

const ROOT = new URL("../", import.meta.url);

/** Loads the plugin of a scenario. */
export async function loadPlugin(path: string): Promise<AnyPlugin> {
  const mod = await import(new URL(path, ROOT).href);
  return mod.default as AnyPlugin;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Runs one scenario through the harness.
 *
 * @param s The scenario.
 * @returns Its results in the canonical format.
 */
export async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const h = await PluginHarness.start(await loadPlugin(s.plugin), {
    config: s.config,
  });
  try {
    await h.open(s.open);
    const events = await h.collect(s.maxEvents);
    return {
      events: events.map((e) => ({
        num: e.num,
        payload_hex: hex(e.payload),
        fields: Object.fromEntries(
          s.fields.map((f) => [f, h.extractText(e, f)]),
        ),
      })),
    };
  } finally {
    await h.close();
    await h.destroy();
  }
}

/** Runs every scenario; returns the result file's object. */
export async function runScenarios(
  list: Scenario[] = scenarios,
): Promise<Record<string, ScenarioResult>> {
  const out: Record<string, ScenarioResult> = {};
  for (const s of list) out[s.name] = await runScenario(s);
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { expected: { type: "string" } },
  });
  const text = JSON.stringify(await runScenarios(), null, 2) + "\n";
  if (values.expected !== undefined) {
    await Deno.writeTextFile(values.expected, text);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(text));
  }
}

/**
 * JSON with object keys sorted, so key order does not matter: how scenario
 * results from different hosts are compared.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./scenarios.ts";
 * console.assert(canonicalJson({ b: 1, a: 2 }) === canonicalJson({ a: 2, b: 1 }));
 * ```
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
          Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
        )
        : v,
  );
}
