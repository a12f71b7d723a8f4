/**
 * Benchmark of `plugins/k8saudit.ts` against the official Go k8saudit
 * 0.18.0, in one run, through `bench_host` (tests/bench/bench_host.c), with
 * the same config, open params and fields on both sides:
 *
 * - **file**: an audit log of one `Event` per line (gen_k8s_audit.ts), read
 *   to its end with the plain-path open form (events/s), then
 *   `ka.user.name`, `ka.verb`, `ka.target.resource` extracted (extracts/s);
 * - **webhook**: C keep-alive clients POST one event per request to
 *   `http://127.0.0.1:PORT/k8s-audit` (requests/s until the last event
 *   came out of next_batch);
 * - **per field**: each of the 100 fields alone (the required-argument ones
 *   with an argument), extracted on the events of
 *   `tests/fixtures/k8saudit/pods_and_rbac_compact.jsonl` (compact, as the
 *   plugin writes payloads; extracts/s). A failed extraction counts as no
 *   value, as in libsinsp (Go fails `ka.req.pod.containers.name` and a few
 *   more on containers that lack the key).
 *
 * Contenders run interleaved (A B A B ...), each run a fresh bench_host
 * process; medians over runs. Run by tests/bench/bench.ts (its k8saudit
 * workload: `deno task bench`, options there).
 *
 * @module
 */

import { join } from "node:path";
import { writeAuditFile } from "./gen_k8s_audit.ts";
import k8saudit from "../../plugins/k8saudit.ts";

/** What {@linkcode benchK8saudit} needs. */
export interface K8sauditBenchOptions {
  /** The bench_host binary. */
  benchHost: string;
  /** Packed TS k8saudit per engine (`{ quickjs: "/x/libk8saudit.so" }`). */
  ts: Record<string, string>;
  /** The Go k8saudit `.so` (tests/hosts/build_go_plugins.sh k8saudit). */
  go: string;
  /** Scratch directory for the audit file. */
  dir: string;
  /** Interleaved runs of the file and webhook workloads (default 3; 0: per field only). */
  runs?: number;
  /** Events in the audit file (default 20000). */
  k8sEvents?: number;
  /** Webhook requests per run (default 5000). */
  webhookRequests?: number;
  /** Webhook clients (default 8). */
  concurrency?: number;
  /** Passes over the fixture events per field (default 100). */
  fieldRounds?: number;
  /** The field requests timed alone (default: all 100 fields). */
  fields?: string[];
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** Medians per contender (`ts-quickjs`, `go-k8saudit`, ...). */
export interface K8sauditBenchResult {
  file: Record<
    string,
    { events_per_s: number | null; extracts_per_s: number | null }
  >;
  webhook: Record<
    string,
    { requests_per_s: number | null; latency_ms_avg: number | null }
  >;
  /** Field request to contender to extracts/s. */
  fields: Record<string, Record<string, number | null>>;
  /**
   * TS over the faster Go mode, per engine: file events/s, file
   * extracts/s, webhook requests/s, per-field median, min and max.
   */
  ratios: Record<string, Record<string, number | null>>;
  failures: Record<string, string>;
}

const FILE_FIELDS = ["ka.user.name", "ka.verb", "ka.target.resource"];
const ARG_FOR: Record<string, string> = {
  "ka.uri.param": "ka.uri.param[command]",
  "ka.req.binding.subject.has_name": "ka.req.binding.subject.has_name[x]",
  "ka.req.volume.hostpath": "ka.req.volume.hostpath[/var/run/docker.sock]",
};

const median = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function host(
  bin: string,
  args: string[],
): Promise<Record<string, number> | string> {
  const r = await new Deno.Command(bin, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ??
    "";
  if (!r.success) {
    return (new TextDecoder().decode(r.stderr) || out || "failed").trim()
      .split("\n").slice(0, 3).join(" | ");
  }
  try {
    return JSON.parse(out);
  } catch {
    return `no JSON: ${out.slice(0, 200)}`;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Every field of the plugin as one extraction request, those that require
 * an argument with one.
 *
 * @returns The field requests, in the plugin's order.
 *
 * @example
 * ```ts
 * import { k8sauditFieldRequests } from "./k8saudit_bench.ts";
 * console.assert(k8sauditFieldRequests().includes("ka.uri.param[command]"));
 * ```
 */
export function k8sauditFieldRequests(): string[] {
  return k8saudit.definition.fields!.map((f) => ARG_FOR[f.name] ?? f.name);
}

/**
 * Runs the three workloads on every contender.
 *
 * @param o Paths and sizes.
 * @returns Medians, ratios and failures.
 *
 * @example
 * ```ts ignore
 * import { benchK8saudit } from "./k8saudit_bench.ts";
 * const r = await benchK8saudit({
 *   benchHost: "/tmp/bench_host",
 *   ts: { quickjs: "/tmp/libk8saudit.so" },
 *   go: "/tmp/go/libk8saudit.so",
 *   dir: "/tmp",
 * });
 * console.log(r.ratios.quickjs);
 * ```
 */
export async function benchK8saudit(
  o: K8sauditBenchOptions,
): Promise<K8sauditBenchResult> {
  const log = o.log ?? ((l: string) => console.error(`[k8saudit bench] ${l}`));
  const runs = o.runs ?? 3;
  const k8sEvents = o.k8sEvents ?? 20000;
  const requests = o.webhookRequests ?? 5000;
  const concurrency = o.concurrency ?? 8;
  const rounds = o.fieldRounds ?? 100;
  // Go runs as Falco ships it (useAsync: true, the SDK's spinning
  // extraction thread) and with useAsync: false; ratios take the faster.
  const contenders: [string, string, boolean, string][] = [
    ...Object.entries(o.ts).map(([e, lib]) =>
      [`ts-${e}`, lib, true, "{}"] as [string, string, boolean, string]
    ),
    ["go-k8saudit", o.go, false, "{}"],
    ["go-k8saudit-sync", o.go, false, '{"useAsync":false}'],
  ];
  const auditFile = join(o.dir, `k8saudit_bench_${k8sEvents}.jsonl`);
  await writeAuditFile(auditFile, k8sEvents);
  const oneLine = join(o.dir, "k8saudit_bench_posts.jsonl");
  await writeAuditFile(oneLine, 1000);
  const fixtures = new URL(
    "../fixtures/k8saudit/pods_and_rbac_compact.jsonl",
    import.meta.url,
  )
    .pathname;
  const fieldNames = o.fields ?? k8sauditFieldRequests();
  const failures: Record<string, string> = {};
  const file: Record<string, [number[], number[]]> = {};
  const hook: Record<string, [number[], number[]]> = {};
  const fields: Record<string, Record<string, number[]>> = {};

  for (let run = 0; run < runs; run++) {
    log(`run ${run + 1}/${runs}`);
    for (const [name, lib, ts, goConfig] of contenders) {
      const f = await host(o.benchHost, [
        "--plugin",
        lib,
        "--config",
        ts
          ? JSON.stringify({ falco_deno: { allowRead: [auditFile] } })
          : goConfig,
        "--open",
        auditFile,
        "--events",
        String(k8sEvents),
        "--extract-events",
        String(Math.min(k8sEvents, 5000)),
        "--max-seconds",
        "120",
        ...FILE_FIELDS.flatMap((x) => ["--field", x]),
      ]);
      if (typeof f === "string" || f.events !== k8sEvents) {
        failures[`file:${name}`] = typeof f === "string"
          ? f
          : `read ${f.events} events of ${k8sEvents}`;
      } else {
        (file[name] ??= [[], []])[0].push(f.events_per_s);
        file[name][1].push(f.extracts_per_s);
      }
      const port = freePort();
      const w = await host(o.benchHost, [
        "--plugin",
        lib,
        "--config",
        ts
          ? JSON.stringify({ falco_deno: { allowNet: [`127.0.0.1:${port}`] } })
          : goConfig,
        "--open",
        `http://127.0.0.1:${port}/k8s-audit`,
        "--post-port",
        String(port),
        "--post-path",
        "/k8s-audit",
        "--payloads",
        oneLine,
        "--requests",
        String(requests),
        "--concurrency",
        String(concurrency),
        "--max-seconds",
        "120",
      ]);
      if (typeof w === "string") failures[`webhook:${name}`] = w;
      else {
        (hook[name] ??= [[], []])[0].push(w.requests_per_s);
        hook[name][1].push(w.latency_ms_avg);
      }
    }
  }
  log(`per field: ${fieldNames.length} fields`);
  for (const field of fieldNames) {
    for (const [name, lib, , config] of contenders) {
      const x = await host(o.benchHost, [
        "--plugin",
        lib,
        "--config",
        config,
        "--payloads",
        fixtures,
        "--plugin-id",
        "1",
        "--source",
        "k8s_audit",
        "--rounds",
        String(rounds),
        "--field",
        field,
        // Go fails some fields where ours gives no value; libsinsp counts
        // both as no value.
        "--errors-as-no-value",
      ]);
      if (typeof x === "string") failures[`field:${field}:${name}`] = x;
      else ((fields[field] ??= {})[name] ??= []).push(x.extracts_per_s);
    }
  }

  const result: K8sauditBenchResult = {
    file: {},
    webhook: {},
    fields: {},
    ratios: {},
    failures,
  };
  for (const [name, [e, x]] of Object.entries(file)) {
    result.file[name] = { events_per_s: median(e), extracts_per_s: median(x) };
  }
  for (const [name, [r, l]] of Object.entries(hook)) {
    result.webhook[name] = {
      requests_per_s: median(r),
      latency_ms_avg: median(l),
    };
  }
  for (const [field, by] of Object.entries(fields)) {
    result.fields[field] = {};
    for (const [name, xs] of Object.entries(by)) {
      result.fields[field][name] = median(xs);
    }
  }
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a && b ? Math.round((a / b) * 1000) / 1000 : null;
  /** The faster Go mode's figure. */
  const best = (get: (name: string) => number | null | undefined) =>
    Math.max(get("go-k8saudit") ?? 0, get("go-k8saudit-sync") ?? 0) || null;
  for (const engine of Object.keys(o.ts)) {
    const t = `ts-${engine}`;
    const perField = fieldNames
      .map((f) =>
        ratio(result.fields[f]?.[t], best((g) => result.fields[f]?.[g]))
      )
      .filter((r): r is number => r !== null);
    result.ratios[engine] = {
      file_events: ratio(
        result.file[t]?.events_per_s,
        best((g) => result.file[g]?.events_per_s),
      ),
      file_extracts: ratio(
        result.file[t]?.extracts_per_s,
        best((g) => result.file[g]?.extracts_per_s),
      ),
      webhook_requests: ratio(
        result.webhook[t]?.requests_per_s,
        best((g) => result.webhook[g]?.requests_per_s),
      ),
      field_extracts_median: median(perField),
      field_extracts_min: perField.length ? Math.min(...perField) : null,
      field_extracts_max: perField.length ? Math.max(...perField) : null,
    };
  }
  return result;
}
