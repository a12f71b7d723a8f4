/**
 * Parity of `plugins/k8saudit.ts` with the official Go k8saudit plugin
 * 0.18.0: the Go oracle (`tests/hosts/k8saudit_oracle`, the Go plugin's
 * own parsing and extraction code) dumps, per fixture in
 * `tests/fixtures/k8saudit/`, every event (payload, time) and every
 * (event, field, argument) result; the TypeScript plugin must give the
 * same, through the harness (`deno test`) and through its packed `.so` in
 * the falco_plugin_runner host ({@linkcode k8sauditParity}).
 *
 * @module
 */

import { join } from "node:path";
import { REPO_ROOT } from "../runtime/engines.ts";
import { cacheDir } from "../runtime/paths.ts";
import { PluginHarness } from "../mod.ts";
import k8saudit from "../plugins/k8saudit.ts";

/** The fixtures' directory. */
export const FIXTURE_DIR = join(REPO_ROOT, "tests", "fixtures", "k8saudit");
const ORACLE_DIR = join(REPO_ROOT, "tests", "hosts", "k8saudit_oracle");

/** One event as dumped: payload text, time (ns, decimal), field results. */
export interface DumpEvent {
  payload: string;
  ts: string;
  /** Field with argument (`ka.sourceips[0]`) to its values, or `null`. */
  fields: Record<string, string[] | null>;
}

/** What the Go oracle writes. */
export interface OracleDump {
  /** The Go plugin's `Fields()` (sdk.FieldEntry as JSON). */
  fields: {
    name: string;
    type: string;
    isList: boolean;
    arg: { isRequired: boolean; isIndex: boolean; isKey: boolean };
    desc: string;
  }[];
  /** Every field request dumped, in order. */
  variants: string[];
  /** Fixture file name to its events. */
  fixtures: Record<string, DumpEvent[]>;
}

/**
 * Runs the Go oracle (`go test` in `tests/hosts/k8saudit_oracle`; the Go
 * module proxy must serve k8saudit v0.18.0 and plugin-sdk-go v0.8.3, or
 * the Go module cache hold them).
 *
 * @returns The oracle's dump.
 */
export async function oracleDump(): Promise<OracleDump> {
  const out = join(cacheDir(), "k8saudit_oracle.json");
  await Deno.mkdir(cacheDir(), { recursive: true });
  const r = await new Deno.Command("go", {
    args: ["test", "-count=1", "./..."],
    cwd: ORACLE_DIR,
    env: {
      K8SAUDIT_ORACLE_OUT: out,
      K8SAUDIT_FIXTURES: FIXTURE_DIR,
      // The geraldcombs/fastjson fork the Go plugin replaces fastjson with
      // has no checksum in sum.golang.org; go.sum pins it.
      GOSUMDB: "off",
      GOFLAGS: "-mod=mod",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    const text = new TextDecoder().decode(r.stdout) +
      new TextDecoder().decode(r.stderr);
    throw new Error(`The Go k8saudit oracle failed:\n${text}`);
  }
  return JSON.parse(await Deno.readTextFile(out));
}

/** The fixtures' file names, sorted. */
export async function fixtureNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(FIXTURE_DIR)) {
    if (e.isFile && /\.json/.test(e.name)) names.push(e.name);
  }
  return names.sort();
}

/**
 * The same dump from the TypeScript plugin under the harness.
 *
 * @param fixture A fixture's file name.
 * @param variants The field requests, in the oracle's order.
 * @returns The events.
 */
export async function harnessDump(
  fixture: string,
  variants: string[],
): Promise<DumpEvent[]> {
  const h = await PluginHarness.start(k8saudit, {
    config: { falco_deno: { allowRead: [FIXTURE_DIR] } },
  });
  try {
    await h.open(join(FIXTURE_DIR, fixture));
    const events = await h.collect();
    return events.map((e) => {
      const fields: Record<string, string[] | null> = {};
      for (const v of variants) {
        const r = h.extract(e, v);
        fields[v] = r === undefined
          ? null
          : (Array.isArray(r) ? r : [r]).map(String);
      }
      return { payload: e.text, ts: String(e.ts), fields };
    });
  } finally {
    await h.destroy();
  }
}

/** Pass and fail counts, and the first differences, of one fixture. */
export interface FixtureResult {
  passed: number;
  failed: number;
  /** Up to 10 differences, for the log. */
  diffs: string[];
}

/**
 * Compares dumps, one check per event (payload, and time when both have
 * one) and per (event, field request).
 *
 * @param want The oracle's events.
 * @param got The plugin's events.
 * @param variants The field requests.
 * @returns The counts.
 */
export function compareDumps(
  want: DumpEvent[],
  got: DumpEvent[],
  variants: string[],
): FixtureResult {
  const r: FixtureResult = { passed: 0, failed: 0, diffs: [] };
  const check = (ok: boolean, what: () => string) => {
    if (ok) r.passed++;
    else {
      r.failed++;
      if (r.diffs.length < 10) r.diffs.push(what());
    }
  };
  check(
    want.length === got.length,
    () => `${got.length} events, the Go plugin gives ${want.length}`,
  );
  const short = (s: unknown) => {
    const t = JSON.stringify(s);
    return t.length > 200 ? t.slice(0, 200) + "..." : t;
  };
  for (let i = 0; i < Math.min(want.length, got.length); i++) {
    const w = want[i], g = got[i];
    check(
      w.payload === g.payload,
      () => `event ${i}: payload ${short(g.payload)}, Go ${short(w.payload)}`,
    );
    if (w.ts !== "" && g.ts !== "") {
      check(w.ts === g.ts, () => `event ${i}: ts ${g.ts}, Go ${w.ts}`);
    }
    for (const v of variants) {
      const a = JSON.stringify(w.fields[v] ?? null);
      const b = JSON.stringify(g.fields[v] ?? null);
      check(
        a === b,
        () =>
          `event ${i} ${v}: ${short(g.fields[v])}, Go ${short(w.fields[v])}`,
      );
    }
  }
  return r;
}

const hexToText = (hex: string) => {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return new TextDecoder().decode(bytes);
};

/**
 * The parity suite through the packed `.so`: every fixture read by the
 * plugin in the falco_plugin_runner host (`falco-deno-host --scenarios`),
 * every field request extracted there, compared with the Go oracle. The
 * host reports no event time, so times are compared by the harness test
 * (`plugins/k8saudit_test.ts`).
 *
 * The same run on the Go plugin's own `.so` (tests/hosts/build_go_plugins.sh
 * k8saudit), with `errorsAsNoValue`, checks the oracle against the real
 * plugin: all equal but `long_line.jsonl`, where Go stops at the line over
 * 64 KiB (plugins#639).
 *
 * @param engine The engine the `.so` embeds (for the log).
 * @param soPath The packed k8saudit `.so`.
 * @param options `hostBinary`: the falco-deno-host binary (default: the
 * shared build); `errorsAsNoValue`: count a failed extraction as no value,
 * as libsinsp does (the Go plugin fails where ours gives no value).
 * @returns Pass and fail counts per fixture.
 */
export async function k8sauditParity(
  engine: string,
  soPath: string,
  options: { hostBinary?: string; errorsAsNoValue?: boolean } = {},
): Promise<Record<string, FixtureResult>> {
  const hostBinary = options.hostBinary ??
    join(cacheDir(), "target-hosts", "release", "falco-deno-host");
  const oracle = await oracleDump();
  const names = await fixtureNames();
  const scenarios = names.map((name) => ({
    name,
    plugin: soPath,
    config: JSON.stringify({ falco_deno: { allowRead: [FIXTURE_DIR] } }),
    open: join(FIXTURE_DIR, name),
    maxEvents: 100000,
    fields: oracle.variants,
  }));
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify(scenarios));
  const run = await new Deno.Command(hostBinary, {
    args: ["--scenarios", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  const text = new TextDecoder().decode(run.stdout);
  let actual: Record<
    string,
    {
      events?: {
        payload_hex: string;
        fields: Record<string, unknown>;
      }[];
      end?: string;
      error?: string;
    }
  > = {};
  try {
    actual = JSON.parse(text.slice(text.indexOf("{")));
  } catch {
    console.log(
      `[${engine}] k8saudit parity: falco-deno-host printed no JSON:\n${text}${
        new TextDecoder().decode(run.stderr)
      }`,
    );
  }
  const results: Record<string, FixtureResult> = {};
  for (const name of names) {
    const res = actual[name];
    const got: DumpEvent[] = (res?.events ?? []).map((e) => {
      const fields: Record<string, string[] | null> = {};
      for (const [k, v] of Object.entries(e.fields)) {
        fields[k] = Array.isArray(v) ? v as string[] : null;
        if (v !== null && !Array.isArray(v) && !options.errorsAsNoValue) {
          // An extraction error: shown in the diff as the error text.
          fields[k] = [`<error ${JSON.stringify(v)}>`];
        }
      }
      return { payload: hexToText(e.payload_hex), ts: "", fields };
    });
    const r = compareDumps(oracle.fixtures[name] ?? [], got, oracle.variants);
    if (res?.end !== "eof") {
      r.failed++;
      r.diffs.push(`capture ended with "${res?.end}": ${res?.error ?? ""}`);
    }
    results[name] = r;
    console.log(
      `[${engine}] k8saudit parity ${name}: ${r.passed} passed, ${r.failed} failed${
        r.diffs.map((d) => "\n  " + d).join("")
      }`,
    );
  }
  return results;
}

// deno run -A tests/k8saudit_parity.ts <libk8saudit.so> [--go]
// (--go: the Go plugin's own .so, failed extractions counted as no value)
if (import.meta.main) {
  const [so, flag] = Deno.args;
  const r = await k8sauditParity(flag === "--go" ? "go" : "so", so, {
    errorsAsNoValue: flag === "--go",
  });
  Deno.exit(Object.values(r).some((x) => x.failed > 0) ? 1 : 0);
}
