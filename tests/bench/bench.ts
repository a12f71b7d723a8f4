/**
 * Benchmark of falco-deno plugins against the official Go plugins and a
 * native C ceiling (protocol: ../shared/BENCHMARKS.md).
 *
 *   deno task bench                # full run: 5 interleaved runs, 200k events each
 *   deno run -A tests/bench/bench.ts --quick     # smoke: 1 run, 3000 events (seconds)
 *   options: --runs N --events N (sourced per run) --extract-events N (events
 *   extracted per run) --max-seconds S (cap per timed loop) --json-rounds N
 *   --out FILE --no-ts --skip-json --skip-k8s --skip-webhook --skip-sinsp
 *   --skip-k8saudit --engines v8,quickjs
 *   --k8s-events N (events in the audit file) --webhook-requests N
 *   --concurrency C (webhook clients, default 8) --field-rounds N (k8saudit
 *   per-field passes over the fixture events)
 *   --ts-quickjs PATH / --ts-v8 PATH / --ts-json-quickjs PATH / --ts-json-v8 PATH
 *   (plugins/jsonl.ts) / --ts-webhook-quickjs PATH / --ts-webhook-v8 PATH /
 *   --ts-k8saudit-quickjs PATH / --ts-k8saudit-v8 PATH:
 *   use an already packed .so instead of running `deno task build`
 *   (a first `deno task build` may compile the generic embed library: minutes)
 *
 * Builds into ${FALCO_DENO_CACHE:-~/.cache/falco-deno}/bench/: bench_host
 * (gcc), libnative_dummy.so (gcc -O2 -shared), the official Go dummy/json
 * and k8saudit (tests/hosts/build_go_plugins.sh), and the TS contenders with
 * `deno task build plugins/dummy.ts --engine quickjs|v8 -o ...` (a failed
 * build = contender reported as missing, with the reason).
 * Contenders run A B C ... A B C ... (interleaved), each run a fresh
 * bench_host process; medians over runs (min/max kept). go-sdk runs with
 * the default GOMAXPROCS and with GOMAXPROCS=1; *_over_go ratios use the
 * faster Go mode. JSON workload: ~1.2 KiB audit events (gen_k8s_audit.ts), fields
 * json.value[/user/username], json.value[/verb], json.value[/objectRef/resource],
 * events synthesised by bench_host (type 322) and extracted directly.
 * k8s file workload: a file of Kubernetes audit events, one JSON Event a
 * line (tests/bench/gen_k8s_audit.ts), read to its end through next_batch
 * by plugins/jsonl.ts (init {"follow":false,...}, open params: the path)
 * and by the official Go k8saudit plugin (open params: the plain path,
 * init {}), then the same lookups extracted on the first events (ka.* on
 * the Go side, json.value[...] on ours). Webhook workload: C clients with
 * fixed concurrency POST audit events on loopback keep-alive connections to
 * plugins/webhook.ts and to Go k8saudit's http:// open form; requests/s =
 * requests until the last one came out of next_batch.
 * k8saudit workload (tests/bench/k8saudit_bench.ts): plugins/k8saudit.ts
 * against the official Go k8saudit (as shipped, useAsync on, and with
 * useAsync off) with the same open params and fields: events/s from a
 * file, requests/s from the webhook, and extracts/s of each field alone
 * (quick: 3 fields).
 * Prints a table; writes tests/bench/results.json (full run) or
 * $FALCO_DENO_CACHE/bench/results-quick.json (--quick). Exit 1 if the
 * native or Go dummy contender failed, or any TypeScript contender of a
 * workload run (built or not), or any other contender that was built,
 * produced no figures; otherwise the last line is `bench: ok, ...`.
 */
import { parseArgs } from "node:util";
import { findV8Archive } from "../../runtime/engines.ts";
import { writeAuditFile } from "./gen_k8s_audit.ts";
import {
  goDummyForSinsp,
  runSinspBench,
  sinspContendersOf,
} from "./sinsp_bench.ts";
import {
  benchK8saudit,
  type K8sauditBenchResult,
  k8sauditFieldRequests,
} from "./k8saudit_bench.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    events: { type: "string" },
    "json-rounds": { type: "string" },
    out: { type: "string" },
    "no-ts": { type: "boolean", default: false },
    "skip-json": { type: "boolean", default: false },
    "skip-k8s": { type: "boolean", default: false },
    "skip-webhook": { type: "boolean", default: false },
    "skip-sinsp": { type: "boolean", default: false },
    "skip-k8saudit": { type: "boolean", default: false },
    "field-rounds": { type: "string" },
    "ts-k8saudit-quickjs": { type: "string" },
    "ts-k8saudit-v8": { type: "string" },
    "k8s-events": { type: "string" },
    "webhook-requests": { type: "string" },
    concurrency: { type: "string" },
    "ts-webhook-quickjs": { type: "string" },
    "ts-webhook-v8": { type: "string" },
    engines: { type: "string" },
    "ts-quickjs": { type: "string" },
    "ts-v8": { type: "string" },
    "ts-json-quickjs": { type: "string" },
    "ts-json-v8": { type: "string" },
    "extract-events": { type: "string" },
    "max-seconds": { type: "string" },
  },
});
const quick = args.values.quick!;
const RUNS = Number(args.values.runs ?? (quick ? 1 : 5));
const EVENTS = Number(args.values.events ?? (quick ? 3000 : 200000));
const XEVENTS = Number(args.values["extract-events"] ?? (quick ? 3000 : 20000));
const MAX_S = Number(args.values["max-seconds"] ?? (quick ? 10 : 8));
// V8 only when its prebuilt library is here: without it the build would
// compile for minutes and then fail to download.
const DEFAULT_ENGINES = findV8Archive() ? "v8,quickjs" : "quickjs";
const ENGINES = args.values["no-ts"]
  ? []
  : (args.values.engines ?? DEFAULT_ENGINES).split(",").filter(Boolean);
const JSON_EVENTS = quick ? 500 : 2000;
const JSON_ROUNDS = Number(args.values["json-rounds"] ?? (quick ? 1 : 10));
const K8S_EVENTS = Number(args.values["k8s-events"] ?? (quick ? 2000 : 20000));
// Extraction is ~100x slower than sourcing on some contenders: a slice.
const K8S_XEVENTS = Math.min(K8S_EVENTS, quick ? 500 : 5000);
const WEBHOOK_REQUESTS = Number(
  args.values["webhook-requests"] ?? (quick ? 1000 : 10000),
);
const CONCURRENCY = Number(args.values.concurrency ?? 8);

const repo = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const cache = Deno.env.get("FALCO_DENO_CACHE") ??
  `${Deno.env.get("HOME")}/.cache/falco-deno`;
const dir = `${cache}/bench`;
await Deno.mkdir(dir, { recursive: true });
const outFile = args.values.out ??
  (quick ? `${dir}/results-quick.json` : `${repo}/tests/bench/results.json`);

async function run(
  cmd: string,
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const r = await new Deno.Command(cmd, {
      args: argv,
      env,
      cwd: repo,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const dec = new TextDecoder();
    return {
      ok: r.success,
      out: dec.decode(r.stdout),
      err: dec.decode(r.stderr),
    };
  } catch (e) {
    return { ok: false, out: "", err: String(e) };
  }
}

async function must(cmd: string, argv: string[]) {
  const r = await run(cmd, argv);
  if (!r.ok) throw new Error(`${cmd} ${argv.join(" ")} failed:\n${r.err}`);
  return r.out;
}

// ---- build the contenders -------------------------------------------------
const log = (s: string) => console.error(`[bench] ${s}`);
log(`building into ${dir}`);
await must("gcc", [
  "-O2",
  "-pthread",
  "-o",
  `${dir}/bench_host`,
  "tests/bench/bench_host.c",
  "-ldl",
]);
await must("gcc", [
  "-O2",
  "-shared",
  "-fPIC",
  "-o",
  `${dir}/libnative_dummy.so`,
  "tests/bench/native_dummy.c",
]);
const goLibs = (await must("bash", [
  "tests/hosts/build_go_plugins.sh",
  "dummy",
  "json",
  "k8saudit",
]))
  .trim().split("\n");
const goDummy = goLibs.find((l) => l.endsWith("libdummy.so"))!;
const goJson = goLibs.find((l) => l.endsWith("libjson.so"))!;
const goK8s = goLibs.find((l) => l.endsWith("libk8saudit.so"))!;

type Contender = {
  name: string;
  lib?: string;
  env?: Record<string, string>;
  missing?: string;
};
const missing: Record<string, string> = {};
async function buildTs(
  plugin: string,
  engine: string,
  out: string,
): Promise<string | undefined> {
  const given = args
    .values[
      (plugin.includes("k8saudit")
        ? `ts-k8saudit-${engine}`
        : plugin.includes("json")
        ? `ts-json-${engine}`
        : plugin.includes("webhook")
        ? `ts-webhook-${engine}`
        : `ts-${engine}`) as "ts-v8"
    ];
  if (given) return given;
  try {
    await Deno.stat(`${repo}/${plugin}`);
  } catch {
    missing[`${plugin}/${engine}`] = `${plugin} does not exist`;
    return undefined;
  }
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    "runtime/build_cli.ts",
    plugin,
    "--engine",
    engine,
    "-o",
    out,
  ]);
  if (!r.ok) {
    const why =
      (r.err.trim().split("\n").slice(-3).join(" | ") || "build failed").slice(
        0,
        400,
      );
    missing[`${plugin}/${engine}`] =
      `deno task build ${plugin} --engine ${engine} failed: ${why}`;
    return undefined;
  }
  return out;
}
const contenders: Contender[] = [];
const engines: string[] = [];
for (const engine of ENGINES) {
  const lib = await buildTs(
    "plugins/dummy.ts",
    engine,
    `${dir}/libdummy-ts-${engine}.so`,
  );
  if (lib) engines.push(engine);
  contenders.push(
    lib ? { name: `ts-${engine}`, lib } : {
      name: `ts-${engine}`,
      missing: missing[`plugins/dummy.ts/${engine}`],
    },
  );
}
contenders.push({ name: "go-sdk", lib: goDummy });
contenders.push({
  name: "go-sdk-gomaxprocs1",
  lib: goDummy,
  env: { GOMAXPROCS: "1" },
});
contenders.push({ name: "native", lib: `${dir}/libnative_dummy.so` });

/** The TS contenders of one plugin, one per engine (missing ones with why). */
async function tsContenders(plugin: string, stem: string) {
  const out: Contender[] = [];
  for (const engine of ENGINES) {
    const lib = await buildTs(plugin, engine, `${dir}/${stem}-${engine}.so`);
    out.push(
      lib ? { name: `ts-${engine}`, lib } : {
        name: `ts-${engine}`,
        missing: missing[`${plugin}/${engine}`],
      },
    );
  }
  return out;
}
/** A Go plugin run with the default GOMAXPROCS and with GOMAXPROCS=1. */
const goBoth = (name: string, lib: string): Contender[] => [
  { name, lib },
  { name: `${name}-gomaxprocs1`, lib, env: { GOMAXPROCS: "1" } },
];

// JSON workload: the official Go json plugin vs a TS extractor
// (plugins/jsonl.ts); the k8s file workload reads with the same .so.
const doJson = !args.values["skip-json"];
const doK8s = !args.values["skip-k8s"];
const doWebhook = !args.values["skip-webhook"];
const jsonlTs = doJson || doK8s
  ? await tsContenders("plugins/jsonl.ts", "libjson-ts")
  : [];
const jsonContenders: Contender[] = doJson
  ? [...jsonlTs, ...goBoth("go-json", goJson)]
  : [];
// k8s file workload: jsonl.ts vs Go k8saudit, both reading one file to EOF.
const k8sContenders: Contender[] = doK8s
  ? [...jsonlTs, ...goBoth("go-k8saudit", goK8s)]
  : [];
// webhook workload: webhook.ts vs Go k8saudit's webhook server.
const webhookContenders: Contender[] = doWebhook
  ? [
    ...await tsContenders("plugins/webhook.ts", "libwebhook-ts"),
    ...goBoth("go-k8saudit", goK8s),
  ]
  : [];

// k8saudit workload: plugins/k8saudit.ts vs Go k8saudit (k8saudit_bench.ts).
const doK8saudit = !args.values["skip-k8saudit"];
const k8sauditTs = doK8saudit
  ? await tsContenders("plugins/k8saudit.ts", "libk8saudit-ts")
  : [];

const payloadFile = `${dir}/k8s_audit_${JSON_EVENTS}.jsonl`;
await writeAuditFile(payloadFile, JSON_EVENTS);
const JSON_FIELDS = [
  "json.value[/user/username]",
  "json.value[/verb]",
  "json.value[/objectRef/resource]",
];
// The same three lookups in k8saudit's own fields.
const K8S_GO_FIELDS = ["ka.user.name", "ka.verb", "ka.target.resource"];
const k8sFile = `${dir}/k8s_audit_file_${K8S_EVENTS}.jsonl`;
const k8sBytes = doK8s ? await writeAuditFile(k8sFile, K8S_EVENTS) : 0;
const WEBHOOK_PATH = "/k8s-audit";

/** A loopback port free right now (the plugin under test listens on it). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

// ---- run, interleaved -----------------------------------------------------
type Fig = {
  events?: number;
  requests_per_s?: number | null;
  latency_ms_avg?: number;
  events_per_s: number | null;
  extracts_per_s: number | null;
  init_ms: number;
  init2_ms: number;
  instance_rss_kb: number;
  handoff_ns: number | null;
};
const samples: Record<string, Fig[]> = {};
const jsonSamples: Record<string, Fig[]> = {};
const k8sSamples: Record<string, Fig[]> = {};
const webhookSamples: Record<string, Fig[]> = {};
const failures: Record<string, string> = {};

type Workload = "dummy" | "json" | "k8s" | "webhook";

/** The bench_host arguments of one contender in one workload. */
function hostArgs(c: Contender, w: Workload): string[] {
  const goSide = c.name.startsWith("go-");
  if (w === "k8s") {
    return [
      "--plugin",
      c.lib!,
      "--config",
      goSide ? "{}" : JSON.stringify({
        follow: false,
        falco_deno: { allowRead: [k8sFile] },
      }),
      "--open",
      k8sFile,
      "--events",
      String(K8S_EVENTS),
      "--extract-events",
      String(K8S_XEVENTS),
      // the file must be read to its end: no early stop
      "--max-seconds",
      "120",
      ...(goSide ? K8S_GO_FIELDS : JSON_FIELDS).flatMap((f) => ["--field", f]),
    ];
  }
  if (w === "webhook") {
    const port = freePort();
    return [
      "--plugin",
      c.lib!,
      "--config",
      goSide
        ? "{}"
        : JSON.stringify({ falco_deno: { allowNet: [`127.0.0.1:${port}`] } }),
      "--open",
      goSide ? `http://127.0.0.1:${port}${WEBHOOK_PATH}` : `127.0.0.1:${port}`,
      "--post-port",
      String(port),
      "--post-path",
      WEBHOOK_PATH,
      "--payloads",
      payloadFile,
      "--requests",
      String(WEBHOOK_REQUESTS),
      "--concurrency",
      String(CONCURRENCY),
      "--max-seconds",
      "120",
    ];
  }
  return w === "json"
    ? [
      "--plugin",
      c.lib!,
      "--config",
      "",
      "--payloads",
      payloadFile,
      "--plugin-id",
      "1",
      "--source",
      "k8s_audit",
      "--rounds",
      String(JSON_ROUNDS),
      ...JSON_FIELDS.flatMap((f) => ["--field", f]),
    ]
    : [
      "--plugin",
      c.lib!,
      "--config",
      '{"jitter":10}',
      "--events",
      String(EVENTS),
      "--extract-events",
      String(XEVENTS),
      "--max-seconds",
      String(MAX_S),
      "--open",
      `{"start":1,"maxEvents":${EVENTS}}`,
      "--field",
      "dummy.value",
      "--field",
      "dummy.strvalue",
      "--field",
      "dummy.divisible[3]",
    ];
}

async function once(c: Contender, w: Workload): Promise<Fig | undefined> {
  const r = await run(`${dir}/bench_host`, hostArgs(c, w), c.env ?? {});
  const key = (w === "dummy" ? "" : `${w}:`) + c.name;
  let fig: Fig | undefined;
  try {
    fig = r.ok ? JSON.parse(r.out.trim().split("\n").pop()!) : undefined;
  } catch {
    fig = undefined;
  }
  // A file read short of its end would be a rate over the wrong work.
  if (fig && w === "k8s" && fig.events !== K8S_EVENTS) {
    failures[key] = `read ${fig.events} events of ${K8S_EVENTS}`;
    return undefined;
  }
  if (!fig) {
    failures[key] = (r.err || r.out || "no output").trim().split("\n")
      .slice(0, 4).join(" | ");
  }
  return fig;
}

// The machines are shared: the load around the run says how much the
// figures were squeezed (a TS .so hops between two threads per call, which
// suffers more than one Go or C thread when the cores are oversubscribed).
const loadBefore = Deno.loadavg();
const workloads: [Workload, Contender[], Record<string, Fig[]>][] = [
  ["dummy", contenders, samples],
  ["json", jsonContenders, jsonSamples],
  ["k8s", k8sContenders, k8sSamples],
  ["webhook", webhookContenders, webhookSamples],
];
for (let i = 0; i < RUNS; i++) {
  log(`run ${i + 1}/${RUNS}`);
  for (const [w, cs, into] of workloads) {
    for (const c of cs.filter((c) => c.lib)) {
      const f = await once(c, w);
      if (f) (into[c.name] ??= []).push(f);
    }
  }
}

// The k8saudit workload interleaves its own contenders, run by run.
let k8sauditResult: K8sauditBenchResult | undefined;
if (doK8saudit) {
  const ts: Record<string, string> = {};
  for (const c of k8sauditTs) {
    if (c.lib) ts[c.name.replace(/^ts-/, "")] = c.lib;
  }
  const all = k8sauditFieldRequests();
  k8sauditResult = await benchK8saudit({
    benchHost: `${dir}/bench_host`,
    ts,
    go: goK8s,
    dir,
    runs: RUNS,
    k8sEvents: K8S_EVENTS,
    webhookRequests: WEBHOOK_REQUESTS,
    concurrency: CONCURRENCY,
    fieldRounds: Number(args.values["field-rounds"] ?? (quick ? 2 : 100)),
    fields: quick
      ? all.filter((f) =>
        ["ka.verb", "ka.req.pod.containers.image", "ka.uri.param[command]"]
          .includes(f)
      )
      : all,
    log: (l) => log(`k8saudit: ${l}`),
  });
}

// ---- summarise --------------------------------------------------------------
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const HOST_FIGURES = [
  "events_per_s",
  "extracts_per_s",
  "init_ms",
  "init2_ms",
  "instance_rss_kb",
  "handoff_ns",
] as const;
function summ(
  fs: Fig[] | undefined,
  keys: readonly (keyof Fig)[] = HOST_FIGURES,
) {
  if (!fs?.length) return undefined;
  const out: Record<string, number | null> = {};
  for (const k of keys) {
    const xs = fs.map((f) => f[k]).filter((x): x is number =>
      typeof x === "number"
    );
    out[k] = xs.length ? +median(xs).toFixed(3) : null;
    if (
      xs.length > 1 &&
      (k === "events_per_s" || k === "extracts_per_s" ||
        k === "requests_per_s")
    ) {
      out[`${k}_min`] = +Math.min(...xs).toFixed(1);
      out[`${k}_max`] = +Math.max(...xs).toFixed(1);
    }
  }
  return out;
}
/** The contenders with the Go dummy libsinsp 0.20.0 can load. */
async function forSinsp(cs: Contender[]): Promise<Contender[]> {
  if (!cs.some((c) => c.name.startsWith("go-sdk"))) return cs;
  const goDummy310 = await goDummyForSinsp();
  return cs.map((c) =>
    c.name.startsWith("go-sdk") ? { ...c, lib: goDummy310 } : c
  );
}
const sinspWorkload = args.values["skip-sinsp"] ? null : await runSinspBench(
  sinspContendersOf(await forSinsp(contenders)),
  {
    runs: RUNS,
    events: EVENTS,
    log,
  },
);
const results = contenders.map((c) => {
  const s = summ(samples[c.name]);
  if (s) return { name: c.name, ...s, runs: samples[c.name].length };
  return {
    name: c.name,
    missing: c.missing ?? failures[c.name] ?? "no successful run",
  };
});
/** Medians per contender of one workload, or why it has none. */
const summarise = (
  cs: Contender[],
  got: Record<string, Fig[]>,
  w: Workload,
  keys?: readonly (keyof Fig)[],
) =>
  cs.map((c) => {
    const s = summ(got[c.name], keys);
    if (s) return { name: c.name, ...s, runs: got[c.name].length };
    return {
      name: c.name,
      missing: c.missing ?? failures[`${w}:${c.name}`] ?? "no successful run",
    };
  });
const jsonResults = summarise(jsonContenders, jsonSamples, "json");
const k8sResults = summarise(k8sContenders, k8sSamples, "k8s");
const webhookResults = summarise(
  webhookContenders,
  webhookSamples,
  "webhook",
  ["requests_per_s", "latency_ms_avg", "init_ms"],
);

// deno-lint-ignore no-explicit-any
const by = (rs: any[], n: string) => rs.find((r) => r.name === n && !r.missing);
const ratio = (
  a?: number | null,
  b?: number | null,
) => (a && b ? +(a / b).toFixed(3) : null);
const bestOf = (rs: unknown[], names: string[], k: string) =>
  Math.max(...names.map((n) => by(rs as never[], n)?.[k] ?? 0)) || null;
const goEv = bestOf(results, ["go-sdk", "go-sdk-gomaxprocs1"], "events_per_s");
const goEx = bestOf(
  results,
  ["go-sdk", "go-sdk-gomaxprocs1"],
  "extracts_per_s",
);
const goJsonEx = bestOf(
  jsonResults,
  ["go-json", "go-json-gomaxprocs1"],
  "extracts_per_s",
);
const fastest = engines.includes("v8")
  ? "ts-v8"
  : engines.includes("quickjs")
  ? "ts-quickjs"
  : undefined;
/** The fastest engine with figures in a workload (V8 where built). */
// deno-lint-ignore no-explicit-any
const fastestIn = (rs: any[]) =>
  by(rs, "ts-v8") ?? by(rs, "ts-quickjs") ?? undefined;
const fastestJson = fastestIn(jsonResults)?.name;
const goK8sBoth = ["go-k8saudit", "go-k8saudit-gomaxprocs1"];
const tsK8s = fastestIn(k8sResults);
const tsWebhook = fastestIn(webhookResults);
const ts = fastest ? by(results, fastest) : undefined;
const qj = by(results, "ts-quickjs");
const native = by(results, "native");
const ratios = {
  fastest_engine: fastest ?? null,
  events_ts_over_go: ratio(ts?.events_per_s, goEv),
  extracts_ts_over_go: ratio(ts?.extracts_per_s, goEx),
  events_ts_over_native: ratio(ts?.events_per_s, native?.events_per_s),
  events_quickjs_over_go: ratio(qj?.events_per_s, goEv),
  extracts_quickjs_over_go: ratio(qj?.extracts_per_s, goEx),
  json_extracts_ts_over_go: ratio(
    fastestJson ? by(jsonResults, fastestJson)?.extracts_per_s : null,
    goJsonEx,
  ),
  jsonl_events_ts_over_go_k8saudit: ratio(
    tsK8s?.events_per_s,
    bestOf(k8sResults, goK8sBoth, "events_per_s"),
  ),
  jsonl_extracts_ts_over_go_k8saudit: ratio(
    tsK8s?.extracts_per_s,
    bestOf(k8sResults, goK8sBoth, "extracts_per_s"),
  ),
  webhook_requests_ts_over_go_k8saudit: ratio(
    tsWebhook?.requests_per_s,
    bestOf(webhookResults, goK8sBoth, "requests_per_s"),
  ),
  events_go_over_native: ratio(goEv, native?.events_per_s),
  extracts_go_over_native: ratio(goEx, native?.extracts_per_s),
  ...sinspWorkload?.ratios,
  // Per engine: TS k8saudit over Go k8saudit.
  k8saudit_ts_over_go: k8sauditResult?.ratios ?? null,
};
const cpus = navigator.hardwareConcurrency;
const doc = {
  host: `${Deno.build.arch}, ${cpus} cores`,
  date: new Date().toISOString(),
  loadavg_1_5_15: { before: loadBefore, after: Deno.loadavg() },
  mode: quick ? "quick" : "full",
  events: EVENTS,
  extract_events: XEVENTS,
  max_seconds_per_loop: MAX_S,
  runs: RUNS,
  engines,
  handoff_call: "plugin_get_progress on an open instance (median ns per call)",
  results,
  sinsp_workload: sinspWorkload,
  json_workload: {
    payloads: JSON_EVENTS,
    payload_bytes_avg: Math.round(
      (await Deno.stat(payloadFile)).size / JSON_EVENTS,
    ),
    rounds: JSON_ROUNDS,
    fields: JSON_FIELDS,
    results: jsonResults,
  },
  k8s_file_workload: {
    events: K8S_EVENTS,
    event_bytes_avg: K8S_EVENTS ? Math.round(k8sBytes / K8S_EVENTS) : null,
    file_shape:
      "one audit.k8s.io/v1 Event per line (the same file for both readers)",
    extract_events: K8S_XEVENTS,
    open_params: { ts: "<absolute path>", go: "<absolute path>" },
    init_config: {
      ts: '{"follow":false,"falco_deno":{"allowRead":["<path>"]}}',
      go: "{}",
    },
    fields: { ts: JSON_FIELDS, go: K8S_GO_FIELDS },
    results: k8sResults,
  },
  webhook_workload: {
    requests: WEBHOOK_REQUESTS,
    concurrency: CONCURRENCY,
    payload_bytes_avg: Math.round(
      (await Deno.stat(payloadFile)).size / JSON_EVENTS,
    ),
    open_params: {
      ts: "127.0.0.1:<port>",
      go: `http://127.0.0.1:<port>${WEBHOOK_PATH}`,
    },
    how:
      "C client threads, one keep-alive connection each, one request at a time; requests/s until the last event came out of next_batch",
    results: webhookResults,
  },
  k8saudit_workload: k8sauditResult
    ? {
      events: K8S_EVENTS,
      webhook_requests: WEBHOOK_REQUESTS,
      concurrency: CONCURRENCY,
      how:
        "plugins/k8saudit.ts vs Go k8saudit 0.18.0: the same file (plain path, read to EOF), the same http:// open params, each field alone on tests/fixtures/k8saudit/pods_and_rbac_compact.jsonl",
      ...k8sauditResult,
    }
    : null,
  ratios,
  webhook_requests_per_second: tsWebhook?.requests_per_s ?? null,
  missing,
  failures,
};
await Deno.writeTextFile(outFile, JSON.stringify(doc, null, 2) + "\n");

const fmt = (
  x: unknown,
  d = 0,
) => (typeof x === "number"
  ? x.toLocaleString("en-US", { maximumFractionDigits: d })
  : "-");
const line = (cells: string[]) =>
  console.log(
    cells.map((c, i) => (i ? c.padStart(14) : c.padEnd(22))).join(""),
  );
console.log(
  `\ndummy workload: ${EVENTS} events x ${RUNS} runs (medians), ${doc.host}`,
);
line([
  "contender",
  "events/s",
  "extracts/s",
  "init ms",
  "init2 ms",
  "rss KiB/inst",
  "handoff ns",
]);
for (const r of results as Record<string, unknown>[]) {
  if (r.missing) {
    console.log(`${String(r.name).padEnd(22)}MISSING: ${r.missing}`);
  } else {line([
      String(r.name),
      fmt(r.events_per_s),
      fmt(r.extracts_per_s),
      fmt(r.init_ms, 3),
      fmt(r.init2_ms, 3),
      fmt(r.instance_rss_kb, 1),
      fmt(r.handoff_ns, 1),
    ]);}
}
if (jsonResults.length) {
  console.log(
    `\njson workload: ${JSON_EVENTS} x ~${doc.json_workload.payload_bytes_avg} B payloads x ${JSON_ROUNDS} rounds, fields ${
      JSON_FIELDS.join(" ")
    }`,
  );
  line(["contender", "extracts/s", "init ms", "rss KiB/inst"]);
  for (const r of jsonResults as Record<string, unknown>[]) {
    if (r.missing) {
      console.log(`${String(r.name).padEnd(22)}MISSING: ${r.missing}`);
    } else {line([
        String(r.name),
        fmt(r.extracts_per_s),
        fmt(r.init_ms, 3),
        fmt(r.instance_rss_kb, 1),
      ]);}
  }
}
if (k8sResults.length) {
  console.log(
    `\nk8s file workload: ${K8S_EVENTS} audit events x ~${doc.k8s_file_workload.event_bytes_avg} B, read to EOF; extraction on the first ${K8S_XEVENTS} (${
      JSON_FIELDS.join(" ")
    } / ${K8S_GO_FIELDS.join(" ")})`,
  );
  line(["contender", "events/s", "extracts/s", "init ms"]);
  for (const r of k8sResults as Record<string, unknown>[]) {
    if (r.missing) {
      console.log(`${String(r.name).padEnd(22)}MISSING: ${r.missing}`);
    } else {
      line([
        String(r.name),
        fmt(r.events_per_s),
        fmt(r.extracts_per_s),
        fmt(r.init_ms, 3),
      ]);
    }
  }
}
if (webhookResults.length) {
  console.log(
    `\nwebhook workload: ${WEBHOOK_REQUESTS} POSTs of audit events, ${CONCURRENCY} keep-alive clients on loopback`,
  );
  line(["contender", "requests/s", "latency ms"]);
  for (const r of webhookResults as Record<string, unknown>[]) {
    if (r.missing) {
      console.log(`${String(r.name).padEnd(22)}MISSING: ${r.missing}`);
    } else {
      line([String(r.name), fmt(r.requests_per_s), fmt(r.latency_ms_avg, 2)]);
    }
  }
}
if (k8sauditResult) {
  console.log(
    `\nk8saudit workload: ${K8S_EVENTS} audit events from a file, ${WEBHOOK_REQUESTS} webhook POSTs, ${
      Object.keys(k8sauditResult.fields).length
    } fields alone`,
  );
  line(["contender", "file ev/s", "file ex/s", "webhook rq/s", "field ex/s"]);
  const perFieldMedian = (name: string) => {
    const xs = Object.values(k8sauditResult!.fields).map((by) => by[name])
      .filter((x): x is number => typeof x === "number").sort((a, b) => a - b);
    return xs.length ? xs[xs.length >> 1] : null;
  };
  const names = new Set([
    ...Object.keys(k8sauditResult.file),
    ...Object.keys(k8sauditResult.webhook),
  ]);
  for (const name of names) {
    line([
      name,
      fmt(k8sauditResult.file[name]?.events_per_s),
      fmt(k8sauditResult.file[name]?.extracts_per_s),
      fmt(k8sauditResult.webhook[name]?.requests_per_s),
      fmt(perFieldMedian(name)),
    ]);
  }
}
console.log(`\nratios: ${JSON.stringify(ratios)}`);
console.log(`wrote ${outFile}`);
if (Object.keys(failures).length) {
  console.error(`failures: ${JSON.stringify(failures, null, 1)}`);
}
const essential = ["native", "go-sdk", "go-sdk-gomaxprocs1"];
if (essential.some((n) => !by(results, n))) {
  console.error(
    "bench: an essential contender (native or Go) produced no figures",
  );
  Deno.exit(1);
}
// Every TypeScript contender of every workload run (built or not), and
// every other contender that was built, must have figures: this is what
// keeps the smoke run in `deno task test` from passing over a broken
// workload or plugin.
const broken = workloads.flatMap(([w, cs, got]) =>
  cs.filter((c) => (c.lib || c.name.startsWith("ts-")) && !got[c.name]?.length)
    .map((c) => `${w}:${c.name}`)
);
if (k8sauditResult) {
  // Every contender of the k8saudit workload, TS ones built or not.
  const names = [
    ...k8sauditTs.map((c) => c.name),
    "go-k8saudit",
    "go-k8saudit-sync",
  ];
  for (const name of names) {
    const got = k8sauditResult.file[name] && k8sauditResult.webhook[name] &&
      Object.values(k8sauditResult.fields).every((by) =>
        typeof by[name] === "number"
      );
    if (!got) broken.push(`k8saudit:${name}`);
  }
  for (const [what, why] of Object.entries(k8sauditResult.failures)) {
    console.error(`k8saudit ${what}: ${why}`);
  }
}
if (broken.length) {
  console.error(`bench: no figures from ${broken.join(", ")}`);
  Deno.exit(1);
}
const ran = workloads.filter(([, cs]) => cs.length).map((
  [w, cs],
) => `${w}: ${cs.map((c) => c.name).join(" ")}`);
if (k8sauditResult) {
  ran.push(
    `k8saudit: ${
      [...k8sauditTs.map((c) => c.name), "go-k8saudit", "go-k8saudit-sync"]
        .join(" ")
    }`,
  );
}
console.log(
  `bench: ok, figures from every contender of ${ran.length} workloads (${
    ran.join("; ")
  })`,
);
