/**
 * The packed plugins inside libsinsp, the code inside Falco that loads and
 * drives plugins: its plugin manager reads and checks them, its event
 * source engine calls them, its filter compiler and formatters extract
 * their fields. Our host (`tests/hosts/sinsp/host.cpp`) is only the driver.
 *
 * Suites (each recorded as one line of `deno task test`):
 * - plugins as libsinsp reads them: required API version, capabilities,
 *   `get_extract_event_types`, fields, sources; init configs it refuses;
 * - the shared scenarios: events and every field value through libsinsp's
 *   JSON and text formatters equal the harness's results;
 * - filters over plugin fields (`=`, `in`, `intersects`, `contains`, list
 *   fields, index and key arguments), counts computed from the plugins'
 *   own data, and the filters libsinsp must refuse;
 * - an extract-only plugin beside source plugins (routing by source);
 * - two TypeScript plugins in one process (one inspector; two inspectors
 *   in parallel threads, as Falco runs one per source), and plugins of two
 *   engines in one process when both are packed;
 * - a plugin that throws, loops or exhausts its heap.
 *
 * CLI: `deno run -A tests/sinsp_suite.ts [--engine quickjs]` packs the
 * example plugins (with `FALCO_DENO_LIBRARY` when set) and runs the suites.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildPlugin } from "../runtime/build_cli.ts";
import { stopBundler } from "../runtime/bundle.ts";
import { cacheDir, type Engine, REPO_ROOT } from "../runtime/engines.ts";
import { connection } from "../plugins/showcase.ts";
import { ensureSinspHost } from "./hosts/sinsp/setup.ts";
import {
  runSinspHost,
  type SinspEvent,
  type SinspSessionResult,
  type SinspSessionSpec,
} from "./hosts/sinsp/run_host.ts";
import {
  canonicalJson,
  runScenario,
  type Scenario,
  type ScenarioResult,
  scenarios,
} from "./scenarios.ts";
import { SO_PLUGINS } from "./so_plugins.ts";

/** Pass, fail and skip counts of one suite. */
export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

/** The callback of `tests/run_all.ts` that prints and totals a suite. */
export type RecordSuite = (name: string, tally: Tally, note?: string) => void;

/** Options of {@linkcode runSinspSuites}. */
export interface SinspSuiteOptions {
  /** Progress and failure details. */
  log?: (line: string) => void;
  /**
   * The plugins packed with the other engine, if any: one plugin of each
   * engine then runs in one libsinsp process.
   */
  otherEngine?: { engine: Engine; packed: Map<string, string> };
}

const DUMMY = "plugins/dummy.ts";
const DUMMY_EXTRACT = "plugins/dummy_extract.ts";
const SHOWCASE = "plugins/showcase.ts";
const SANDBOX_PROBE = "tests/fixtures/sandbox_probe.ts";
const JSONL = "plugins/jsonl.ts";

/** The event type of plugin events (`PPME_PLUGINEVENT_E`). */
const PLUGIN_EVENT_CODE = 322;

let hostOnce: ReturnType<typeof ensureSinspHost> | undefined;

/** Names of the list fields of every plugin the suites use. */
const listFields = new Set<string>();
/**
 * Names of their `ipnet` fields: libsinsp 0.20.0's formatters print every
 * ipnet value as `<IPNET>` (`rawval_to_string`), whatever it is.
 */
const ipnetFields = new Set<string>();

async function loadListFields() {
  for (const p of [...SO_PLUGINS.map((x) => x.plugin), SANDBOX_PROBE]) {
    const plugin = (await import(join(REPO_ROOT, p))).default;
    for (const f of plugin.definition.fields ?? []) {
      if (f.list) listFields.add(f.name);
      if (f.type === "ipnet") ipnetFields.add(f.name);
    }
  }
}

/** What libsinsp's text formatter prints for canonical values. */
function expectedText(field: string, values: string[] | null): string {
  if (values === null) return "<NA>";
  return listFields.has(field.replace(/\[.*$/, ""))
    ? `(${values.join(",")})`
    : values.join(",");
}

/** One case of a suite: a name and a check that throws on failure. */
interface Case {
  name: string;
  check: () => Promise<void> | void;
}

class CaseFailure extends Error {}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CaseFailure(message);
}

function expectEqual(actual: unknown, expected: unknown, what: string) {
  const a = canonicalJson(actual);
  const e = canonicalJson(expected);
  if (a !== e) {
    throw new CaseFailure(`${what}:\n    libsinsp: ${a}\n    expected: ${e}`);
  }
}

/** A session that must have run without a fatal error. */
function okSession(
  s: SinspSessionResult | undefined,
  what: string,
): SinspSessionResult {
  expect(s !== undefined, `${what}: no session result`);
  expect(!s.fatal, `${what}: the session failed: ${s.fatal}`);
  for (const p of s.plugins) {
    expect(
      !p.registerError && !p.initError,
      `${what}: ${p.path} not loaded: ${p.registerError ?? p.initError}`,
    );
  }
  expect(!s.openError, `${what}: open failed: ${s.openError}`);
  return s;
}

async function runCases(
  suiteName: string,
  cases: Case[],
  record: RecordSuite,
  log: (line: string) => void,
  note = "",
) {
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  for (const c of cases) {
    try {
      await c.check();
      t.passed++;
    } catch (e) {
      t.failed++;
      log(
        `  FAILED ${c.name}: ${
          e instanceof CaseFailure
            ? e.message
            : e instanceof Error
            ? e.stack
            : e
        }`,
      );
    }
  }
  record(suiteName, t, note);
}

/** The session of a scenario, on a packed `.so`. */
function scenarioSession(s: Scenario, path: string, name: string) {
  return {
    plugins: [{ path, config: s.config }],
    open: { plugin: name, params: s.open },
    fields: s.fields,
    maxEvents: s.maxEvents,
  } satisfies SinspSessionSpec;
}

/** Compares libsinsp's events with the harness's results of a scenario. */
function compareWithHarness(
  events: SinspEvent[],
  expected: ScenarioResult,
  fields: string[],
  what: string,
) {
  const asHarness = events.map((e) => ({
    num: e.num,
    payload_hex: e.payloadHex,
    fields: e.fields,
  }));
  const base = (f: string) => f.replace(/\[.*$/, "");
  const want = expected.events.map((e) => ({
    ...e,
    fields: Object.fromEntries(
      Object.entries(e.fields).map(([f, v]) => [
        f,
        v && ipnetFields.has(base(f)) ? v.map(() => "<IPNET>") : v,
      ]),
    ),
  }));
  expected = { events: want };
  expectEqual(asHarness, expected.events, `${what}: events and field values`);
  const texts = events.map((e) => e.text);
  const wantTexts = expected.events.map((e) =>
    Object.fromEntries(fields.map((f) => [f, expectedText(f, e.fields[f])]))
  );
  expectEqual(texts, wantTexts, `${what}: text formatter output`);
}

/**
 * Runs every libsinsp suite on the plugins packed with one engine.
 *
 * @param engine The engine the plugins were packed with (for the names).
 * @param packed Repository-relative plugin path to packed `.so` path.
 * @param record Prints and totals one suite (as in `tests/run_all.ts`).
 * @param options Log and the other engine's plugins.
 *
 * @example In `tests/run_all.ts`, after the plugins are packed
 * ```ts ignore
 * await runSinspSuites(engine, packed, record);
 * ```
 */
export async function runSinspSuites(
  engine: Engine,
  packed: Map<string, string>,
  record: RecordSuite,
  options: SinspSuiteOptions = {},
): Promise<void> {
  const log = options.log ?? ((l: string) => console.log(l));
  const prefix = `[${engine}] libsinsp`;
  await loadListFields();
  let binary: string;
  let sinspExample: string;
  let note: string;
  try {
    // Once per process: a failed build is not retried for the next engine.
    hostOnce ??= ensureSinspHost(log);
    const host = await hostOnce;
    binary = host.binary;
    sinspExample = host.libsinsp.sinspExample;
    const l = host.libsinsp;
    note = `libsinsp ${l.debianVersion}: ${
      l.cached
        ? `cached build reused in ${l.seconds.toFixed(1)} s`
        : "built now"
    }, cold build ${l.coldBuildSeconds} s`;
  } catch (e) {
    log(
      `building libsinsp or its host failed: ${
        e instanceof Error ? e.message : e
      }`,
    );
    record(`${prefix}: build (or reuse) libsinsp and the host`, {
      passed: 0,
      failed: 1,
      skipped: 0,
    });
    return;
  }
  record(`${prefix}: build (or reuse) libsinsp and the host`, {
    passed: 1,
    failed: 0,
    skipped: 0,
  }, note);

  await runCases(
    `${prefix}: libsinsp's own sinsp-example (one plugin, empty open params)`,
    packed.has(DUMMY)
      ? [sinspExampleCase(sinspExample, packed.get(DUMMY)!)]
      : [],
    record,
    log,
  );

  const host = async (
    sessions: SinspSessionSpec[],
    parallel = false,
    timeoutMs = 120_000,
  ) => {
    const r = await runSinspHost(binary, { sessions, parallel }, {
      timeoutMs,
    });
    expect(
      r.code === 0,
      `the libsinsp host exited with ${r.code} (signal ${r.signal}): ${
        r.stderr.slice(-1000)
      }`,
    );
    return r.sessions;
  };
  const so = (plugin: string) => packed.get(plugin);
  const missing = (plugins: string[]) => plugins.filter((p) => !so(p));

  await runCases(
    `${prefix}: plugins as libsinsp reads them (API version, capabilities, extract event types, init configs)`,
    describeCases(packed, host),
    record,
    log,
  );
  await runCases(
    `${prefix}: the shared scenarios through libsinsp's formatters equal the harness`,
    scenarios.filter((s) => so(s.plugin)).map((s) => ({
      name: `scenario ${s.name}`,
      check: async () => {
        const name = (await import(join(REPO_ROOT, s.plugin))).default
          .definition.name as string;
        const [session] = await host([scenarioSession(s, so(s.plugin)!, name)]);
        const ok = okSession(session, s.name);
        expect(ok.errors.length === 0, `errors: ${ok.errors.join("; ")}`);
        compareWithHarness(ok.events, await runScenario(s), s.fields, s.name);
      },
    })),
    record,
    log,
  );

  if (so(JSONL)) {
    await runCases(
      `${prefix}: jsonl reads a file through libsinsp (JSON pointers as key arguments)`,
      [jsonlCase(so(JSONL)!, host)],
      record,
      log,
    );
  }

  const filterNeeds = [DUMMY, DUMMY_EXTRACT, SHOWCASE];
  if (missing(filterNeeds).length) {
    for (
      const what of [
        "filters over plugin fields",
        "an extract-only plugin beside source plugins",
        "two TypeScript plugins in one process",
      ]
    ) {
      record(`${prefix}: ${what}`, {
        passed: 0,
        failed: 0,
        skipped: 1,
      }, `not packed: ${missing(filterNeeds).join(", ")}`);
    }
  } else {
    await runCases(
      `${prefix}: filters over plugin fields (=, in, intersects, contains, lists, index and key arguments)`,
      filterCases(so, host),
      record,
      log,
    );
    await runCases(
      `${prefix}: an extract-only plugin beside source plugins (routing by source)`,
      extractOnlyCases(so, host),
      record,
      log,
    );
    await runCases(
      `${prefix}: two TypeScript plugins in one process (one inspector; two in parallel threads)`,
      twoPluginCases(so, host),
      record,
      log,
    );
  }

  const other = options.otherEngine;
  if (other && so(DUMMY) && other.packed.get(SHOWCASE)) {
    await runCases(
      `${prefix}: a ${engine} plugin beside a ${other.engine} plugin in one process`,
      crossEngineCases(so(DUMMY)!, other.packed.get(SHOWCASE)!, host),
      record,
      log,
    );
  }

  if (missing([DUMMY, SANDBOX_PROBE]).length) {
    record(`${prefix}: a plugin that throws, loops or exhausts its heap`, {
      passed: 0,
      failed: 0,
      skipped: 1,
    }, `not packed: ${missing([DUMMY, SANDBOX_PROBE]).join(", ")}`);
  } else {
    await runCases(
      `${prefix}: a plugin that throws, loops or exhausts its heap: libsinsp gets an error, events flow`,
      faultCases(so, host),
      record,
      log,
    );
  }
}

/**
 * jsonl on a file of its own: the operator's grant in the init config, the
 * path as open params, fields with JSON pointer keys (`/`, `~1`, `~0`),
 * a line that is not JSON (skipped), a filter on a key argument.
 */
function jsonlCase(jsonl: string, host: Host): Case {
  return {
    name: "jsonl events and fields equal the harness's",
    check: async () => {
      const dir = await Deno.makeTempDir({ prefix: "fdeno-sinsp-jsonl-" });
      const path = join(dir, "events.jsonl");
      const lines = [
        '{"user":{"name":"alice","roles":["admin","dev"]},"verb":"get","n":3}',
        "not json",
        '{"a/b":{"m~n":true},"verb":"list","user":{"name":"bob"}}',
        '{"verb":"get","user":"carol"}',
        '{"user":{"name":"dan","roles":[]},"verb":"delete","n":-1.5}',
      ];
      await Deno.writeTextFile(path, lines.join("\n") + "\n");
      const fields = [
        "json.value[/user/name]",
        "json.value[/user/roles/1]",
        "json.value[/user/roles]",
        "json.value[/verb]",
        "json.value[/n]",
        "json.value[/a~1b/m~0n]",
        "json.value[/missing]",
        "json.obj",
      ];
      const config = JSON.stringify({
        follow: false,
        falco_deno: { allowRead: [path] },
      });
      try {
        const scenario: Scenario = {
          name: "jsonl_file",
          plugin: JSONL,
          config,
          open: path,
          maxEvents: 100,
          fields,
        };
        const [s] = await host([{
          ...scenarioSession(scenario, jsonl, "jsonl"),
          filters: ["json.value[/verb] = get", "json.value[/user/name] exists"],
        }]);
        const ok = okSession(s, "jsonl");
        const expected = await runScenario(scenario);
        // One event per non-empty line, JSON or not (fields then have no value).
        expectEqual(ok.counts.events, lines.length, "events (one per line)");
        compareWithHarness(ok.events, expected, fields, "jsonl");
        const verbs = expected.events.map((e) => e.fields["json.value[/verb]"]);
        const names = expected.events.map((e) =>
          e.fields["json.value[/user/name]"]
        );
        expectEqual(
          ok.filters.map((f) => f.matched),
          [
            verbs.filter((v) => v?.[0] === "get").length,
            names.filter((v) => v !== null).length,
          ],
          "filter counts",
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** `sinsp-example -p "lib.so|config" -f filter -o format`, upstream's own driver. */
function sinspExampleCase(sinspExample: string, dummy: string): Case {
  return {
    name: "sinsp-example with the dummy plugin, a filter and an output format",
    check: async () => {
      // sinsp-example 0.20.0 opens the plugin with "": the defaults.
      const harness = await runScenario({
        name: "dummy_default_open",
        plugin: DUMMY,
        config: '{"jitter":0}',
        open: "",
        maxEvents: 1000,
        fields: ["dummy.value", "dummy.divisible[3]"],
      });
      const want = harness.events
        .filter((e) => BigInt(e.fields["dummy.value"]![0]) > 5n)
        .map((e) =>
          `${e.fields["dummy.value"]![0]} ${e.fields["dummy.divisible[3]"]![0]}`
        );
      const out = await new Deno.Command(sinspExample, {
        args: [
          "-p",
          `${dummy}|{"jitter":0}`,
          "-f",
          "dummy.value > 5",
          "-o",
          "%dummy.value %dummy.divisible[3]",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      expect(
        out.success,
        `sinsp-example exited with ${out.code}: ${
          new TextDecoder().decode(out.stderr).slice(-1000)
        }`,
      );
      const lines = text.split("\n").filter((l) => /^\d+ \d+$/.test(l));
      expectEqual(lines, want, "sinsp-example's output lines");
      expect(
        text.includes(`Retrieved events: ${want.length}`),
        `sinsp-example's count: ${text.slice(-300)}`,
      );
    },
  };
}

type Host = (
  sessions: SinspSessionSpec[],
  parallel?: boolean,
  timeoutMs?: number,
) => Promise<SinspSessionResult[]>;

function describeCases(packed: Map<string, string>, host: Host): Case[] {
  const cases: Case[] = [];
  for (const p of SO_PLUGINS) {
    const path = packed.get(p.plugin);
    if (!path) continue;
    cases.push({
      name: `${p.plugin} as libsinsp reads it`,
      check: async () => {
        const spec = await p.loaderSpec() as {
          name: string;
          capabilities: string[];
          id?: number;
          eventSource?: string;
          extractEventSources?: string[];
          fields?: string[];
          requiredApiVersion: string;
        };
        const [s] = await host([{
          plugins: [{ path, config: p.validConfig }],
        }]);
        const got = okSession(s, p.plugin).plugins[0];
        const sourcing = spec.capabilities.includes("sourcing");
        const extraction = spec.capabilities.includes("extraction");
        expectEqual(got.name, spec.name, "name");
        expectEqual(
          got.requiredApiVersion,
          spec.requiredApiVersion,
          "required API version",
        );
        expectEqual(got.caps, spec.capabilities, "capabilities");
        if (sourcing) {
          expectEqual(
            [got.id, got.eventSource],
            [spec.id, spec.eventSource],
            "id and event source",
          );
        }
        if (extraction) {
          // libsinsp adds a source plugin's own source to those it declares.
          const sources = [
            ...new Set([
              ...spec.extractEventSources ?? [],
              ...sourcing ? [spec.eventSource!] : [],
            ]),
          ];
          expectEqual(
            [...got.extractEventSources!].sort(),
            [...sources].sort(),
            "extract event sources",
          );
          expectEqual(
            got.extractEventCodes,
            [PLUGIN_EVENT_CODE],
            "get_extract_event_types (event codes)",
          );
          expectEqual(
            got.extractEventTypes,
            ["pluginevent"],
            "get_extract_event_types (event names)",
          );
          expectEqual(got.fields, spec.fields, "fields");
        }
      },
    });
    cases.push({
      name: `${p.plugin}: libsinsp refuses the invalid init configs`,
      check: async () => {
        const sessions = await host(
          p.invalidConfigs.map((config) => ({
            plugins: [{ path, config }],
          })),
        );
        p.invalidConfigs.forEach((config, i) => {
          const got = sessions[i]?.plugins[0];
          expect(
            got !== undefined && !got.registerError &&
              typeof got.initError === "string" && got.initError.length > 0,
            `init config ${JSON.stringify(config)} was accepted (${
              JSON.stringify(got)
            })`,
          );
        });
      },
    });
  }
  return cases;
}

/** A filter, and the events it must match as a predicate over event `i`. */
interface FilterCase {
  filter: string;
  matches: (i: number) => boolean;
}

function checkFilters(
  s: SinspSessionResult,
  filters: FilterCase[],
  count: number,
  what: string,
) {
  expectEqual(s.counts.events, count, `${what}: events read`);
  filters.forEach((f, k) => {
    const r = s.filters[k];
    expect(!r.error, `${what}: "${f.filter}" did not compile: ${r.error}`);
    const want = s.events.map((_e, i) => f.matches(i));
    const got = s.events.map((e) => e.matches[k]);
    expectEqual(
      { matched: r.matched, perEvent: got },
      { matched: want.filter(Boolean).length, perEvent: want },
      `${what}: "${f.filter}"`,
    );
  });
}

function filterCases(so: (p: string) => string | undefined, host: Host) {
  const dummyRun: Scenario = {
    name: "filters_dummy",
    plugin: DUMMY,
    config: '{"jitter":0}',
    open: '{"start": 1, "maxEvents": 12}',
    maxEvents: 100,
    fields: ["dummy.value"],
  };
  return [
    {
      name: "dummy and dummy_extract fields",
      check: async () => {
        // The samples, from the harness: the filters' truth comes from them.
        const samples = (await runScenario(dummyRun)).events.map((e) =>
          BigInt(e.fields["dummy.value"]![0])
        );
        const v = (i: number) => samples[i];
        const threshold = 5n;
        const filters: FilterCase[] = [
          { filter: "dummy.value = 5", matches: (i) => v(i) === 5n },
          {
            filter: "dummy.value in (2, 4, 6, 100)",
            matches: (i) => [2n, 4n, 6n, 100n].includes(v(i)),
          },
          {
            filter: "dummy.value > 5 and dummy.divisible[2] = 1",
            matches: (i) => v(i) > 5n && v(i) % 2n === 0n,
          },
          {
            filter: "dummy.divisible[3] = 1 or dummy.divisible[5] = 1",
            matches: (i) => v(i) % 3n === 0n || v(i) % 5n === 0n,
          },
          {
            filter: 'dummy.strvalue contains "1"',
            matches: (i) => `${v(i)}`.includes("1"),
          },
          {
            filter: "dummy.strvalue startswith 1",
            matches: (i) => `${v(i)}`.startsWith("1"),
          },
          {
            filter: "dummy.strvalue in (3, 7, 12)",
            matches: (i) => ["3", "7", "12"].includes(`${v(i)}`),
          },
          {
            filter: "not dummy.value in (2, 3)",
            matches: (i) => ![2n, 3n].includes(v(i)),
          },
          { filter: "dummy.value exists", matches: () => true },
          {
            filter: "evt.pluginname = dummy_ts and evt.source = dummy_ts",
            matches: () => true,
          },
          { filter: "dummyx.parity = even", matches: (i) => v(i) % 2n === 0n },
          {
            filter: "dummyx.digits intersects (1)",
            matches: (i) => `${v(i)}`.includes("1"),
          },
          {
            filter: "dummyx.digits in (1, 0)",
            matches: (i) => [...`${v(i)}`].every((d) => d === "1" || d === "0"),
          },
          { filter: "dummyx.big = true", matches: (i) => v(i) > threshold },
          {
            filter: "dummyx.square >= 49",
            matches: (i) => v(i) * v(i) >= 49n,
          },
        ];
        const [s] = await host([{
          plugins: [
            { path: so(DUMMY)!, config: dummyRun.config },
            { path: so(DUMMY_EXTRACT)!, config: `{"threshold":${threshold}}` },
          ],
          open: { plugin: "dummy_ts", params: dummyRun.open },
          filters: filters.map((f) => f.filter),
          maxEvents: 100,
        }]);
        checkFilters(okSession(s, "dummy"), filters, samples.length, "dummy");
      },
    },
    {
      name: "showcase fields: every type, lists, index and key arguments",
      check: async () => {
        const count = 9;
        const c = (i: number) => connection(i + 1);
        const filters: FilterCase[] = [
          { filter: "showcase.ok = true", matches: (i) => c(i).ok },
          {
            filter: "showcase.id in (1, 3, 9)",
            matches: (i) => [1, 3, 9].includes(c(i).id),
          },
          {
            filter: "showcase.net = 192.168.0.0/16",
            matches: (i) => c(i).net.startsWith("192.168."),
          },
          {
            filter: "showcase.net in (192.168.3.0/24, 192.168.5.0/24)",
            matches: (i) =>
              ["192.168.3.", "192.168.5."].some((p) => c(i).net.startsWith(p)),
          },
          {
            filter: "showcase.dst in (2001:db8::2, 2001:db8::8)",
            matches: (i) => ["2001:db8::2", "2001:db8::8"].includes(c(i).dst),
          },
          {
            filter: "showcase.time > 1700000000000000003",
            matches: (i) => BigInt(i + 1) > 3n,
          },
          {
            filter: "showcase.src = 10.0.0.3",
            matches: (i) => c(i).src === "10.0.0.3",
          },
          {
            filter: "showcase.dst = 2001:db8::4",
            matches: (i) => c(i).dst === "2001:db8::4",
          },
          {
            filter: "showcase.duration > 6000",
            matches: (i) => c(i).durationNs > 6000,
          },
          {
            filter: "showcase.tags intersects (even)",
            matches: (i) => c(i).tags.includes("even"),
          },
          {
            filter: "showcase.tags in (conn, odd)",
            matches: (i) => c(i).tags.every((t) => ["conn", "odd"].includes(t)),
          },
          {
            filter: "showcase.tag[1] = odd",
            matches: (i) => c(i).tags[1] === "odd",
          },
          { filter: "showcase.tag = conn", matches: () => true },
          {
            filter: "showcase.tag[5] exists",
            matches: (i) => c(i).tags[5] !== undefined,
          },
          {
            filter: "showcase.label[env] = prod",
            matches: (i) => c(i).labels.env === "prod",
          },
          {
            filter: "showcase.label[team] in (t1, t5)",
            matches: (i) => ["t1", "t5"].includes(c(i).labels.team),
          },
          {
            filter: "showcase.label[team] contains 1",
            matches: (i) => c(i).labels.team.includes("1"),
          },
          {
            filter: "showcase.ports intersects (1001, 2004)",
            matches: (i) => c(i).ports.some((p) => p === 1001 || p === 2004),
          },
          {
            filter: "showcase.ports exists",
            matches: (i) => c(i).ports.length > 0,
          },
          {
            filter: "showcase.addrs intersects (10.0.0.2)",
            matches: (i) => c(i).src === "10.0.0.2",
          },
          {
            filter: "showcase.flags intersects (true)",
            matches: (i) => c(i).ok || c(i).ports.length > 0,
          },
        ];
        const [s] = await host([{
          plugins: [{
            path: so(SHOWCASE)!,
            config: `{"count":${count},"batch":4}`,
          }],
          open: { plugin: "showcase", params: "" },
          filters: filters.map((f) => f.filter),
          maxEvents: 100,
        }]);
        checkFilters(okSession(s, "showcase"), filters, count, "showcase");
      },
    },
    {
      name: "libsinsp refuses filters that break the fields' argument rules",
      check: async () => {
        const refused = [
          "dummy.divisible = 1", // index argument required
          "dummy.divisible[x] = 1", // index argument not a number
          "dummy.value[3] = 1", // no argument allowed
          "showcase.label = prod", // key argument required
          "showcase.tag[x] = conn", // index argument not a number
          "dummy.nosuchfield = 1",
          "showcase.tags contains ven", // no contains on list fields
          "showcase.net = 192.168.3.0", // an ipnet compares with a network
        ];
        const [s] = await host([{
          plugins: [
            { path: so(DUMMY)!, config: "{}" },
            { path: so(SHOWCASE)!, config: "{}" },
          ],
          filters: refused,
        }]);
        okSession(s, "refused filters").filters.forEach((f) =>
          expect(
            typeof f.error === "string",
            `"${f.filter}" compiled; libsinsp should refuse it`,
          )
        );
      },
    },
  ] satisfies Case[];
}

function extractOnlyCases(so: (p: string) => string | undefined, host: Host) {
  const fields = [
    "dummy.value",
    "dummyx.parity",
    "dummyx.square",
    "dummyx.digits",
    "dummyx.big",
  ];
  return [
    {
      name: "dummy_extract's fields on dummy_ts events",
      check: async () => {
        const [s] = await host([{
          plugins: [
            { path: so(DUMMY)!, config: '{"jitter":0}' },
            { path: so(DUMMY_EXTRACT)!, config: '{"threshold":4}' },
          ],
          open: { plugin: "dummy_ts", params: '{"start":1,"maxEvents":8}' },
          fields,
        }]);
        const ok = okSession(s, "dummy + dummy_extract");
        expectEqual(ok.counts.events, 8, "events");
        for (const e of ok.events) {
          const v = BigInt(e.fields["dummy.value"]![0]);
          expectEqual(e.fields, {
            "dummy.value": [`${v}`],
            "dummyx.parity": [v % 2n === 0n ? "even" : "odd"],
            "dummyx.square": [`${v * v}`],
            "dummyx.digits": [...`${v}`],
            "dummyx.big": [`${v > 4n}`],
          }, `event ${e.num}`);
        }
      },
    },
    {
      name: "no dummy_extract fields on showcase events (not its source)",
      check: async () => {
        const [s] = await host([{
          plugins: [
            { path: so(SHOWCASE)!, config: '{"count":3}' },
            { path: so(DUMMY_EXTRACT)!, config: "{}" },
          ],
          open: { plugin: "showcase", params: "" },
          fields: ["showcase.id", "dummyx.parity", "dummyx.digits"],
          filters: ["dummyx.parity exists", "showcase.id > 0"],
        }]);
        const ok = okSession(s, "showcase + dummy_extract");
        expectEqual(ok.counts.events, 3, "events");
        expectEqual(
          ok.events.map((e) => e.fields),
          [1, 2, 3].map((n) => ({
            "showcase.id": [`${n}`],
            "dummyx.parity": null,
            "dummyx.digits": null,
          })),
          "fields",
        );
        expectEqual(
          ok.filters.map((f) => f.matched),
          [0, 3],
          "filter counts",
        );
      },
    },
  ] satisfies Case[];
}

function twoPluginCases(so: (p: string) => string | undefined, host: Host) {
  const dummyScenario = scenarios.find((s) => s.name === "dummy_jitter0")!;
  const showcaseScenario = scenarios.find((s) =>
    s.name === "showcase_every_type"
  )!;
  // Enough events that the two threads overlap.
  const longDummy: Scenario = {
    ...dummyScenario,
    name: "dummy_long",
    open: '{"start": 1, "maxEvents": 3000}',
    maxEvents: 5000,
  };
  return [
    {
      name: "dummy_ts, showcase and dummy_extract registered in one inspector",
      check: async () => {
        const [s] = await host([{
          plugins: [
            { path: so(DUMMY)!, config: dummyScenario.config },
            { path: so(SHOWCASE)!, config: showcaseScenario.config },
            { path: so(DUMMY_EXTRACT)!, config: "{}" },
          ],
          open: { plugin: "showcase", params: showcaseScenario.open },
          fields: showcaseScenario.fields,
          maxEvents: showcaseScenario.maxEvents,
        }]);
        const ok = okSession(s, "three plugins");
        compareWithHarness(
          ok.events,
          await runScenario(showcaseScenario),
          showcaseScenario.fields,
          "showcase beside dummy_ts",
        );
      },
    },
    {
      name: "dummy_ts and showcase in two inspectors, two threads at once",
      check: async () => {
        const [d, sc] = await host([
          scenarioSession(longDummy, so(DUMMY)!, "dummy_ts"),
          scenarioSession(showcaseScenario, so(SHOWCASE)!, "showcase"),
        ], true);
        compareWithHarness(
          okSession(d, "dummy thread").events,
          await runScenario(longDummy),
          longDummy.fields,
          "dummy thread",
        );
        compareWithHarness(
          okSession(sc, "showcase thread").events,
          await runScenario(showcaseScenario),
          showcaseScenario.fields,
          "showcase thread",
        );
      },
    },
    {
      name: "the same .so in two inspectors, two threads at once",
      check: async () => {
        const sessions = await host([
          scenarioSession(longDummy, so(DUMMY)!, "dummy_ts"),
          scenarioSession(longDummy, so(DUMMY)!, "dummy_ts"),
        ], true);
        const expected = await runScenario(longDummy);
        sessions.forEach((s, i) =>
          compareWithHarness(
            okSession(s, `thread ${i}`).events,
            expected,
            longDummy.fields,
            `thread ${i}`,
          )
        );
      },
    },
  ] satisfies Case[];
}

function crossEngineCases(dummy: string, showcase: string, host: Host) {
  const s = scenarios.find((x) => x.name === "showcase_every_type")!;
  return [
    {
      name: "dummy_ts and showcase of two engines in one inspector",
      check: async () => {
        const [r] = await host([{
          plugins: [
            { path: dummy, config: '{"jitter":0}' },
            { path: showcase, config: s.config },
          ],
          open: { plugin: "showcase", params: s.open },
          fields: s.fields,
        }]);
        compareWithHarness(
          okSession(r, "two engines").events,
          await runScenario(s),
          s.fields,
          "showcase beside the other engine's dummy_ts",
        );
      },
    },
    {
      name: "the two engines in two inspectors, two threads at once",
      check: async () => {
        const d = scenarios.find((x) => x.name === "dummy_jitter0")!;
        const [a, b] = await host([
          scenarioSession(d, dummy, "dummy_ts"),
          scenarioSession(s, showcase, "showcase"),
        ], true);
        compareWithHarness(
          okSession(a, "dummy").events,
          await runScenario(d),
          d.fields,
          "dummy",
        );
        compareWithHarness(
          okSession(b, "showcase").events,
          await runScenario(s),
          s.fields,
          "showcase",
        );
      },
    },
  ] satisfies Case[];
}

function faultCases(so: (p: string) => string | undefined, host: Host) {
  const probeConfig =
    '{"falco_deno":{"callbackDeadlineMs":300,"heapLimitMb":32}}';
  // The heap limit, not the deadline, must stop the allocation (V8 takes
  // more than 300 ms to fill 32 MiB).
  const heapConfig =
    '{"falco_deno":{"callbackDeadlineMs":30000,"heapLimitMb":32}}';
  const probeSession = (
    fields: string[],
    config = probeConfig,
  ): SinspSessionSpec => ({
    plugins: [{ path: so(SANDBOX_PROBE)!, config }],
    open: { plugin: "sandbox_probe", params: "" },
    fields,
    maxFailures: 2,
  });
  const lastError = (e: SinspEvent | undefined, field: string) =>
    e?.lastErrors?.[field] ?? "";
  return [
    {
      name:
        "an extract that throws on every event: no value, the error, every event",
      check: async () => {
        const [s] = await host([{
          plugins: [{ path: so(DUMMY)!, config: '{"jitter":0}' }],
          open: { plugin: "dummy_ts", params: '{"start":1,"maxEvents":10}' },
          fields: ["dummy.divisible[0]", "dummy.value", "dummy.divisible[2]"],
          filters: ["dummy.divisible[0] = 0", "dummy.value > 0"],
        }]);
        const ok = okSession(s, "throwing extract");
        expectEqual(ok.counts.events, 10, "events");
        expectEqual(ok.end, "eof", "end");
        ok.events.forEach((e, i) => {
          expectEqual(e.fields, {
            "dummy.divisible[0]": null,
            "dummy.value": [`${i + 2}`],
            "dummy.divisible[2]": [`${(i + 2) % 2 === 0 ? 1 : 0}`],
          }, `event ${e.num}`);
          expect(
            lastError(e, "dummy.divisible[0]").includes(
              "divisor must not be 0",
            ),
            `event ${e.num}: get_last_error after the failed extraction: ${
              JSON.stringify(e.lastErrors)
            }`,
          );
        });
        expectEqual(ok.filters.map((f) => f.matched), [0, 10], "filters");
      },
    },
    {
      name:
        "an extract that loops: the watchdog stops it, libsinsp gets the error, the plugin works on",
      check: async () => {
        const [s] = await host(
          [probeSession([
            "probe.spin",
            "probe.inventory[nothing]",
            "probe.ok",
          ])],
          false,
          60_000,
        );
        const ok = okSession(s, "looping extract");
        expectEqual(
          [ok.counts.events, ok.counts.failures, ok.end],
          [1, 0, "eof"],
          "events, failures, end",
        );
        const e = ok.events[0];
        expectEqual(e.fields, {
          "probe.spin": null,
          "probe.inventory[nothing]": null,
          "probe.ok": ["ok"],
        }, "fields");
        expect(
          /deadline|terminat|time/i.test(lastError(e, "probe.spin")),
          `get_last_error after the loop: ${JSON.stringify(e.lastErrors)}`,
        );
        expect(
          lastError(e, "probe.inventory[nothing]").includes(
            'unknown inventory "nothing"',
          ),
          `get_last_error after the throw: ${JSON.stringify(e.lastErrors)}`,
        );
      },
    },
    {
      name:
        "an extract that exhausts its heap: stopped, libsinsp gets the error, the process lives, a new instance works",
      check: async () => {
        const [s, fresh] = await host(
          [
            probeSession(["probe.grow", "probe.ok"], heapConfig),
            // A fresh inspector in the same process.
            probeSession(["probe.ok"]),
          ],
          false,
          60_000,
        );
        const ok = okSession(s, "heap exhaustion");
        const e = ok.events[0];
        expect(e?.fields["probe.grow"] === null, "probe.grow has a value");
        expect(
          /heap|memory/i.test(lastError(e, "probe.grow")),
          `get_last_error after the heap exhaustion: ${
            JSON.stringify(e?.lastErrors)
          }`,
        );
        // The probe keeps what it allocated: the instance may refuse
        // further calls, with the reason, as in the runner's sandbox test.
        for (const err of ok.errors) {
          expect(/heap|memory/i.test(err), `unexpected error: ${err}`);
        }
        const again = okSession(fresh, "after the heap exhaustion");
        expectEqual(
          again.events.map((x) => [x.payloadHex, x.fields["probe.ok"]]),
          [[hexOf("no probe"), ["ok"]]],
          "a new instance's events",
        );
      },
    },
    {
      name:
        "a source whose nextBatch rejects: libsinsp gets the failure, the process lives",
      check: async () => {
        const sessions = await host([
          {
            plugins: [{ path: so(SANDBOX_PROBE)!, config: probeConfig }],
            open: { plugin: "sandbox_probe", params: '{"probe":"throw 0"}' },
            maxFailures: 2,
          },
          // A fresh inspector in the same process: the plugin works again.
          probeSession(["probe.ok"]),
        ]);
        const failed = okSession(sessions[0], "rejecting source");
        expect(
          failed.counts.failures >= 1 &&
            failed.errors.some((e) => e.startsWith("next: failure")),
          `libsinsp's next() did not fail: ${JSON.stringify(failed)}`,
        );
        expectEqual(failed.counts.events, 0, "events of the failed capture");
        const again = okSession(sessions[1], "after the failure");
        expectEqual(
          again.events.map((e) => [e.payloadHex, e.fields["probe.ok"]]),
          [[hexOf("no probe"), ["ok"]]],
          "the next capture's events",
        );
      },
    },
    {
      name:
        "a loop and a heap exhaustion in one thread, a healthy plugin in another",
      check: async () => {
        const d = scenarios.find((x) => x.name === "dummy_jitter0")!;
        const [probe, dummy] = await host(
          [
            probeSession(["probe.spin", "probe.grow"]),
            scenarioSession(d, so(DUMMY)!, "dummy_ts"),
          ],
          true,
          60_000,
        );
        expectEqual(
          okSession(probe, "probe thread").events[0]?.fields,
          { "probe.spin": null, "probe.grow": null },
          "probe thread",
        );
        compareWithHarness(
          okSession(dummy, "dummy thread").events,
          await runScenario(d),
          d.fields,
          "dummy thread",
        );
      },
    },
  ] satisfies Case[];
}

function hexOf(text: string): string {
  return Array.from(
    new TextEncoder().encode(text),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Packs the plugins the suites use, for the CLI. */
async function packAll(engine: Engine): Promise<Map<string, string>> {
  const outDir = join(cacheDir(), "test-plugins-sinsp", engine);
  await Deno.mkdir(outDir, { recursive: true });
  const packed = new Map<string, string>();
  for (const p of [...SO_PLUGINS.map((x) => x.plugin), SANDBOX_PROBE]) {
    const r = await buildPlugin(join(REPO_ROOT, p), {
      engine,
      output: join(outDir, `lib${p.replace(/^.*\/|\.ts$/g, "")}.so`),
      log: () => {},
    });
    packed.set(p, r.path);
  }
  return packed;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { engine: { type: "string", default: "quickjs" } },
  });
  const engine = values.engine as Engine;
  const total: Tally = { passed: 0, failed: 0, skipped: 0 };
  const packed = await packAll(engine);
  await stopBundler();
  await runSinspSuites(engine, packed, (name, t, note) => {
    total.passed += t.passed;
    total.failed += t.failed;
    total.skipped += t.skipped;
    console.log(
      `== ${name}: ${t.passed} passed, ${t.failed} failed` +
        (t.skipped ? `, ${t.skipped} skipped` : "") +
        (note ? ` (${note})` : ""),
    );
  });
  console.log(
    `${total.passed} passed, ${total.failed} failed` +
      (total.skipped ? `, ${total.skipped} skipped` : ""),
  );
  Deno.exit(total.failed ? 1 : 0);
}
