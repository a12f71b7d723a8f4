/**
 * Benchmark of falco-deno plugins against the official Go plugins and a
 * native C ceiling (protocol: ../shared/BENCHMARKS.md).
 *
 *   deno task bench                # full run: 5 interleaved runs, 200k events each
 *   deno run -A tests/bench/bench.ts --quick     # smoke: 1 run, 3000 events (seconds)
 *   options: --runs N --events N (sourced per run) --extract-events N (events
 *   extracted per run) --max-seconds S (cap per timed loop) --json-rounds N
 *   --out FILE --no-ts --skip-json --engines v8,quickjs
 *   --ts-quickjs PATH / --ts-v8 PATH / --ts-json-quickjs PATH / --ts-json-v8 PATH:
 *   use an already packed .so instead of running `deno task build`
 *   (a first `deno task build` may compile the generic embed library: minutes)
 *
 * Builds into ${FALCO_DENO_CACHE:-~/.cache/falco-deno}/bench/: bench_host
 * (gcc), libnative_dummy.so (gcc -O2 -shared), the official Go dummy/json
 * (tests/hosts/build_go_plugins.sh), and the TS contenders with
 * `deno task build plugins/dummy.ts --engine quickjs|v8 -o ...` (a failed
 * build = contender reported as missing, with the reason).
 * Contenders run A B C ... A B C ... (interleaved), each run a fresh
 * bench_host process; medians over runs (min/max kept). go-sdk runs with
 * the default GOMAXPROCS and with GOMAXPROCS=1; *_over_go ratios use the
 * faster Go mode. JSON workload: ~1 KiB k8s-audit-shaped payloads, fields
 * json.value[/user/username], json.value[/verb], json.value[/objectRef/resource],
 * events synthesised by bench_host (type 322) and extracted directly.
 * Prints a table; writes tests/bench/results.json (full run) or
 * $FALCO_DENO_CACHE/bench/results-quick.json (--quick; exit 1 if the
 * native or Go contender failed).
 */
import { parseArgs } from "node:util";
import { findV8Archive } from "../../runtime/engines.ts";

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
const goLibs =
  (await must("bash", ["tests/hosts/build_go_plugins.sh", "dummy", "json"]))
    .trim().split("\n");
const goDummy = goLibs.find((l) => l.endsWith("libdummy.so"))!;
const goJson = goLibs.find((l) => l.endsWith("libjson.so"))!;

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
      (plugin.includes("json")
        ? `ts-json-${engine}`
        : `ts-${engine}`) as "ts-v8"
    ];
  if (given) return given;
  try {
    await Deno.stat(`${repo}/${plugin}`);
  } catch {
    missing[`${plugin}/${engine}`] = `${plugin} does not exist`;
    return undefined;
  }
  const r = await run("deno", [
    "task",
    "build",
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

// JSON workload: the official Go json plugin vs a TS extractor (plugins/jsonl.ts if present)
const jsonContenders: Contender[] = [];
if (!args.values["skip-json"]) {
  for (const engine of ENGINES) {
    const lib = await buildTs(
      "plugins/jsonl.ts",
      engine,
      `${dir}/libjson-ts-${engine}.so`,
    );
    jsonContenders.push(
      lib ? { name: `ts-${engine}`, lib } : {
        name: `ts-${engine}`,
        missing: missing[`plugins/jsonl.ts/${engine}`],
      },
    );
  }
  jsonContenders.push({ name: "go-json", lib: goJson });
  jsonContenders.push({
    name: "go-json-gomaxprocs1",
    lib: goJson,
    env: { GOMAXPROCS: "1" },
  });
}

// ~1 KiB Kubernetes-audit-shaped JSON lines, deterministic
function auditEvent(i: number): string {
  const verbs = ["get", "list", "create", "update", "patch", "delete", "watch"];
  const res = [
    "pods",
    "secrets",
    "configmaps",
    "deployments",
    "services",
    "serviceaccounts",
  ];
  const users = [
    "system:serviceaccount:kube-system:replicaset-controller",
    "admin",
    "alice@example.com",
    "system:kube-scheduler",
  ];
  const e = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: `6a1e6c3e-${(i * 7919).toString(16).padStart(4, "0")}-4b1f-9d2c-${
      (1000000 + i).toString(16).padStart(12, "0")
    }`,
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/ns-${i % 17}/${
      res[i % res.length]
    }/obj-${i}?timeout=30s`,
    verb: verbs[i % verbs.length],
    user: {
      username: users[i % users.length],
      uid: `uid-${i % 97}`,
      groups: ["system:authenticated", `team-${i % 5}`],
    },
    sourceIPs: [`10.${i % 256}.${(i >> 8) % 256}.${(i * 13) % 256}`],
    userAgent:
      "kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819/system:serviceaccount",
    objectRef: {
      resource: res[i % res.length],
      namespace: `ns-${i % 17}`,
      name: `obj-${i}`,
      apiVersion: "v1",
    },
    responseStatus: { metadata: {}, code: [200, 201, 403, 404][i % 4] },
    requestReceivedTimestamp: "2024-05-01T12:00:00.000000Z",
    stageTimestamp: "2024-05-01T12:00:00.004512Z",
    annotations: {
      "authorization.k8s.io/decision": i % 4 === 2 ? "forbid" : "allow",
      "authorization.k8s.io/reason":
        `RBAC: allowed by ClusterRoleBinding "system:controller:${
          res[i % res.length]
        }" of ClusterRole`,
    },
  };
  let s = JSON.stringify(e);
  // pad to ~1 KiB with a realistic label map
  const labels: Record<string, string> = {};
  for (let k = 0; s.length + JSON.stringify(labels).length < 1010; k++) {
    labels[`app.kubernetes.io/l${k}`] = `v${(i + k) % 1000}`;
  }
  s = JSON.stringify({ ...e, objectLabels: labels });
  return s;
}
const payloadFile = `${dir}/k8s_audit_${JSON_EVENTS}.jsonl`;
await Deno.writeTextFile(
  payloadFile,
  Array.from({ length: JSON_EVENTS }, (_, i) => auditEvent(i)).join("\n") +
    "\n",
);
const JSON_FIELDS = [
  "json.value[/user/username]",
  "json.value[/verb]",
  "json.value[/objectRef/resource]",
];

// ---- run, interleaved -----------------------------------------------------
type Fig = {
  events_per_s: number | null;
  extracts_per_s: number | null;
  init_ms: number;
  init2_ms: number;
  instance_rss_kb: number;
  handoff_ns: number | null;
};
const samples: Record<string, Fig[]> = {};
const jsonSamples: Record<string, Fig[]> = {};
const failures: Record<string, string> = {};

async function once(c: Contender, json: boolean): Promise<Fig | undefined> {
  const argv = json
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
  const r = await run(`${dir}/bench_host`, argv, c.env ?? {});
  if (!r.ok) {
    failures[(json ? "json:" : "") + c.name] = (r.err || r.out).trim().split(
      "\n",
    ).slice(0, 4).join(" | ");
    return undefined;
  }
  return JSON.parse(r.out.trim().split("\n").pop()!);
}

for (let i = 0; i < RUNS; i++) {
  log(`run ${i + 1}/${RUNS}`);
  for (const c of contenders.filter((c) => c.lib)) {
    const f = await once(c, false);
    if (f) (samples[c.name] ??= []).push(f);
  }
  for (const c of jsonContenders.filter((c) => c.lib)) {
    const f = await once(c, true);
    if (f) (jsonSamples[c.name] ??= []).push(f);
  }
}

// ---- summarise --------------------------------------------------------------
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function summ(fs: Fig[] | undefined) {
  if (!fs?.length) return undefined;
  const out: Record<string, number | null> = {};
  for (
    const k of [
      "events_per_s",
      "extracts_per_s",
      "init_ms",
      "init2_ms",
      "instance_rss_kb",
      "handoff_ns",
    ] as const
  ) {
    const xs = fs.map((f) => f[k]).filter((x): x is number =>
      typeof x === "number"
    );
    out[k] = xs.length ? +median(xs).toFixed(3) : null;
    if (xs.length > 1 && (k === "events_per_s" || k === "extracts_per_s")) {
      out[`${k}_min`] = +Math.min(...xs).toFixed(1);
      out[`${k}_max`] = +Math.max(...xs).toFixed(1);
    }
  }
  return out;
}
const results = contenders.map((c) => {
  const s = summ(samples[c.name]);
  if (s) return { name: c.name, ...s, runs: samples[c.name].length };
  return {
    name: c.name,
    missing: c.missing ?? failures[c.name] ?? "no successful run",
  };
});
const jsonResults = jsonContenders.map((c) => {
  const s = summ(jsonSamples[c.name]);
  if (s) return { name: c.name, ...s, runs: jsonSamples[c.name].length };
  return {
    name: c.name,
    missing: c.missing ?? failures[`json:${c.name}`] ?? "no successful run",
  };
});

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
const fastestJson = by(jsonResults, "ts-v8")
  ? "ts-v8"
  : by(jsonResults, "ts-quickjs")
  ? "ts-quickjs"
  : undefined;
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
  events_go_over_native: ratio(goEv, native?.events_per_s),
  extracts_go_over_native: ratio(goEx, native?.extracts_per_s),
};
const cpus = navigator.hardwareConcurrency;
const doc = {
  host: `${Deno.build.arch}, ${cpus} cores`,
  date: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  events: EVENTS,
  extract_events: XEVENTS,
  max_seconds_per_loop: MAX_S,
  runs: RUNS,
  engines,
  handoff_call: "plugin_get_progress on an open instance (median ns per call)",
  results,
  json_workload: {
    payloads: JSON_EVENTS,
    payload_bytes_avg: Math.round(
      (await Deno.stat(payloadFile)).size / JSON_EVENTS,
    ),
    rounds: JSON_ROUNDS,
    fields: JSON_FIELDS,
    results: jsonResults,
  },
  ratios,
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
