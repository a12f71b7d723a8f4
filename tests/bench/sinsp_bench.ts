/**
 * The libsinsp workload of the benchmark: events per second of a dummy
 * plugin driven by libsinsp (the code inside Falco), once with a filter on
 * one plugin field and once with a 3-field output format, through our
 * libsinsp host (`tests/hosts/sinsp/host.cpp`). Contenders run interleaved
 * (A B C ... A B C ...), each run a fresh host process; medians over runs.
 *
 * CLI (standalone): `deno run -A tests/bench/sinsp_bench.ts --ts-quickjs
 * libdummy.so [--ts-v8 libdummy.so] [--runs 5] [--events 200000]
 * [--out results.json]`; builds the native C dummy (gcc) and the official
 * Go dummy (`tests/hosts/build_go_plugins.sh`).
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { cacheDir, REPO_ROOT } from "../../runtime/paths.ts";
import { ensureSinspHost } from "../hosts/sinsp/setup.ts";
import { runSinspHost } from "../hosts/sinsp/run_host.ts";

/** One plugin `.so` to measure. */
export interface SinspBenchContender {
  /** Name in the results (`ts-quickjs`, `go-sdk`, ...). */
  name: string;
  /** The `.so`. */
  lib: string;
  /** The plugin's name, as libsinsp opens it (`dummy_ts`, `dummy`, ...). */
  plugin: string;
  /** Extra environment (`GOMAXPROCS`). */
  env?: Record<string, string>;
}

/** Options of {@linkcode runSinspBench}. */
export interface SinspBenchOptions {
  /** Interleaved runs per contender and workload (median over them). */
  runs: number;
  /** Events per run. */
  events: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** The host binary (default: built or reused by `ensureSinspHost`). */
  binary?: string;
}

/** Medians of one contender, or why it has none. */
export interface SinspBenchResult {
  name: string;
  /** Events/s with the filter `dummy.divisible[3] = 1` on every event. */
  filter_events_per_s?: number;
  filter_events_per_s_min?: number;
  filter_events_per_s_max?: number;
  /** Events/s with the 3-field output format on every event. */
  format_events_per_s?: number;
  format_events_per_s_min?: number;
  format_events_per_s_max?: number;
  runs?: number;
  missing?: string;
}

/** The libsinsp workload's part of `results.json`. */
export interface SinspBenchReport {
  libsinsp: string;
  events: number;
  runs: number;
  filter: string;
  format: string;
  results: SinspBenchResult[];
  ratios: Record<string, number | null>;
}

/** The filter: one plugin field, with an index argument. */
export const SINSP_BENCH_FILTER = "dummy.divisible[3] = 1";
/** The output format: three plugin fields. */
export const SINSP_BENCH_FORMAT =
  "%dummy.value %dummy.strvalue %dummy.divisible[3]";

type Workload = "filter" | "format";

/**
 * The libsinsp contenders of `tests/bench/bench.ts`'s dummy contenders:
 * the plugin name libsinsp opens follows from the contender's name
 * (`ts-*`: `dummy_ts`, `go-sdk*`: `dummy`, `native`: `native_dummy`).
 *
 * @param contenders bench.ts's dummy contenders (those without `lib` are left out).
 * @returns The same plugins, named for libsinsp.
 *
 * @example
 * ```ts
 * import { sinspContendersOf } from "./sinsp_bench.ts";
 * const [c] = sinspContendersOf([{ name: "go-sdk", lib: "/x/libdummy.so" }]);
 * console.assert(c.plugin === "dummy");
 * ```
 */
export function sinspContendersOf(
  contenders: { name: string; lib?: string; env?: Record<string, string> }[],
): SinspBenchContender[] {
  const plugin = (name: string) =>
    name.startsWith("ts-")
      ? "dummy_ts"
      : name.startsWith("go-sdk")
      ? "dummy"
      : name === "native"
      ? "native_dummy"
      : undefined;
  return contenders.flatMap((c) =>
    c.lib && plugin(c.name)
      ? [{ name: c.name, lib: c.lib, plugin: plugin(c.name)!, env: c.env }]
      : []
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs the libsinsp workload.
 *
 * @param contenders The plugins (TS per engine, Go dummy in both
 * GOMAXPROCS modes, the native C dummy).
 * @param options Runs, events per run.
 * @returns Medians per contender and the ratios (TS over the faster Go
 * mode, TS over native, Go over native).
 *
 * @example
 * ```ts ignore
 * import { runSinspBench } from "./sinsp_bench.ts";
 * const report = await runSinspBench([
 *   { name: "ts-quickjs", lib: "libdummy.so", plugin: "dummy_ts" },
 * ], { runs: 5, events: 200_000 });
 * console.log(report.ratios);
 * ```
 */
export async function runSinspBench(
  contenders: SinspBenchContender[],
  options: SinspBenchOptions,
): Promise<SinspBenchReport> {
  const log = options.log ?? ((l: string) => console.error(`[sinsp] ${l}`));
  const host = options.binary
    ? { binary: options.binary, version: "" }
    : await ensureSinspHost(log).then((h) => ({
      binary: h.binary,
      version: h.libsinsp.debianVersion,
    }));
  // With jitter 0 the samples are 2..events+1.
  const divisibleBy3 = Math.floor((options.events + 1) / 3);
  const samples = new Map<string, number[]>();
  const failures = new Map<string, string>();
  for (let run = 0; run < options.runs; run++) {
    for (const c of contenders) {
      for (const w of ["filter", "format"] as Workload[]) {
        const key = `${c.name}:${w}`;
        if (failures.has(key)) continue;
        try {
          const r = await runSinspHost(host.binary, {
            sessions: [{
              // Only libsinsp's own calls of get_last_error: the Go SDK's
              // crashes when nothing failed.
              plugins: [{
                path: c.lib,
                config: '{"jitter":0}',
                lastError: false,
              }],
              open: {
                plugin: c.plugin,
                params: JSON.stringify({ start: 1, maxEvents: options.events }),
              },
              ...(w === "filter"
                ? { filters: [SINSP_BENCH_FILTER] }
                : { format: SINSP_BENCH_FORMAT }),
              maxEvents: options.events,
              record: false,
            }],
          }, { env: c.env, timeoutMs: 600_000 });
          const s = r.sessions[0];
          const refused = s.plugins[0]?.registerError ??
            s.plugins[0]?.initError;
          const problem = s.fatal ?? refused ?? s.openError ?? s.formatError ??
            s.filters[0]?.error ??
            (s.counts.events !== options.events
              ? `read ${s.counts.events} of ${options.events} events (${s.end}; ${
                s.errors.slice(0, 2).join("; ")
              })`
              : w === "filter" && s.filters[0].matched !== divisibleBy3
              ? `the filter matched ${
                s.filters[0].matched
              }, expected ${divisibleBy3}`
              : w === "format" && s.counts.outputs !== options.events
              ? `${s.counts.outputs} outputs of ${options.events} events`
              : undefined);
          if (problem) throw new Error(problem);
          const rate = s.counts.events / s.loopSeconds;
          samples.set(key, [...(samples.get(key) ?? []), rate]);
          log(`run ${run + 1} ${key}: ${Math.round(rate)} events/s`);
        } catch (e) {
          failures.set(key, e instanceof Error ? e.message : String(e));
          log(`${key} failed: ${failures.get(key)}`);
        }
      }
    }
  }
  const results: SinspBenchResult[] = contenders.map((c) => {
    const out: SinspBenchResult = { name: c.name };
    const why: string[] = [];
    for (const w of ["filter", "format"] as Workload[]) {
      const xs = samples.get(`${c.name}:${w}`);
      if (!xs?.length) {
        why.push(`${w}: ${failures.get(`${c.name}:${w}`) ?? "no run"}`);
        continue;
      }
      out[`${w}_events_per_s`] = Math.round(median(xs));
      if (xs.length > 1) {
        out[`${w}_events_per_s_min`] = Math.round(Math.min(...xs));
        out[`${w}_events_per_s_max`] = Math.round(Math.max(...xs));
      }
      out.runs = xs.length;
    }
    if (why.length) out.missing = why.join("; ");
    return out;
  });
  const by = (n: string) => results.find((r) => r.name === n);
  const best = (names: string[], k: keyof SinspBenchResult) =>
    Math.max(...names.map((n) => (by(n)?.[k] as number | undefined) ?? 0)) ||
    null;
  const ratio = (a?: number | null, b?: number | null) =>
    a && b ? +(a / b).toFixed(3) : null;
  const goNames = ["go-sdk", "go-sdk-gomaxprocs1"];
  const ratios: Record<string, number | null> = {};
  for (const w of ["filter", "format"] as const) {
    const k = `${w}_events_per_s` as const;
    const go = best(goNames, k);
    const native = by("native")?.[k];
    for (const ts of contenders.filter((c) => c.name.startsWith("ts-"))) {
      const engine = ts.name.slice(3);
      ratios[`sinsp_${w}_${engine}_over_go`] = ratio(by(ts.name)?.[k], go);
      ratios[`sinsp_${w}_${engine}_over_native`] = ratio(
        by(ts.name)?.[k],
        native,
      );
    }
    ratios[`sinsp_${w}_go_over_native`] = ratio(go, native);
  }
  return {
    libsinsp: host.version,
    events: options.events,
    runs: options.runs,
    filter: SINSP_BENCH_FILTER,
    format: SINSP_BENCH_FORMAT,
    results,
    ratios,
  };
}

/**
 * The Go dummy libsinsp 0.20.0 can load: it takes plugin API 3.10, so the
 * dummy is built against plugin-sdk-go declaring 3.10
 * (`tests/hosts/build_go_plugins.sh` explains why that is the same plugin).
 *
 * @example
 * ```ts ignore
 * const lib = await goDummyForSinsp();
 * ```
 *
 * @returns The path of its `.so`.
 */
export async function goDummyForSinsp(): Promise<string> {
  return (await must("bash", [
    "tests/hosts/build_go_plugins.sh",
    "--api-3.10",
    "dummy",
  ])).trim().split("\n").pop()!;
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, {
    args,
    cwd: REPO_ROOT,
    stderr: "inherit",
  })
    .output();
  if (!r.success) throw new Error(`Command "${cmd} ${args.join(" ")}" failed`);
  return new TextDecoder().decode(r.stdout);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "ts-quickjs": { type: "string" },
      "ts-v8": { type: "string" },
      runs: { type: "string", default: "5" },
      events: { type: "string", default: "200000" },
      out: { type: "string" },
    },
  });
  const dir = join(cacheDir(), "bench");
  await Deno.mkdir(dir, { recursive: true });
  const native = join(dir, "libnative_dummy.so");
  await must("gcc", [
    "-O2",
    "-shared",
    "-fPIC",
    "-o",
    native,
    "tests/bench/native_dummy.c",
  ]);
  const goDummy = await goDummyForSinsp();
  const contenders = sinspContendersOf([
    { name: "ts-v8", lib: values["ts-v8"] },
    { name: "ts-quickjs", lib: values["ts-quickjs"] },
    { name: "go-sdk", lib: goDummy },
    { name: "go-sdk-gomaxprocs1", lib: goDummy, env: { GOMAXPROCS: "1" } },
    { name: "native", lib: native },
  ]);
  const report = await runSinspBench(contenders, {
    runs: Number(values.runs),
    events: Number(values.events),
  });
  const text = JSON.stringify(report, null, 2) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, text);
  console.log(text);
}
