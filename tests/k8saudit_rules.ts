/**
 * The official rules file of the k8saudit plugin (`rules/k8s_audit_rules.yaml`
 * of the Go module `github.com/falcosecurity/plugins/plugins/k8saudit`
 * v0.18.0, taken from the Go module cache and checked against its sha256)
 * works with `plugins/k8saudit.ts` as with the Go plugin:
 *
 * - fields: every field a condition or an output names exists, in our
 *   `.so` (as libsinsp reads it) with the Go plugin's type, list flag and
 *   argument form, or in the Go `json` plugin (`jevt.*`); the argument and
 *   the operator each use gives fit the field;
 * - rules: each rule, its macros and lists expanded (`tests/falco_rules.ts`),
 *   compiles in libsinsp 0.20.0 (condition and output) with our `.so` and
 *   the Go `json` plugin loaded, and fires on the same events, with the same
 *   output text, as with the Go k8saudit plugin's own `.so`: over our
 *   fixtures (`tests/fixtures/k8saudit/`) and Falco's own k8s audit trace
 *   files (`tests/fixtures/k8saudit_falco_traces/`, the files Falco's rule
 *   tests ran on).
 *
 * The Go plugins are the official ones built unchanged for plugin API 3.10
 * (`tests/hosts/build_go_plugins.sh --api-3.10`: libsinsp 0.20.0 refuses
 * plugin-sdk-go v0.8.3's API 3.11). On `long_line.jsonl` the Go plugin stops
 * at the line over 64 KiB (plugins#639): events after it are compared with
 * nothing, and listed.
 *
 * CLI: `deno run -A tests/k8saudit_rules.ts <libk8saudit.so>`.
 *
 * @module
 */

import { join } from "node:path";
import { cacheDir, REPO_ROOT } from "../runtime/paths.ts";
import {
  conditionFields,
  expandCondition,
  type FieldUse,
  loadRules,
  outputFields,
} from "./falco_rules.ts";
import { FIXTURE_DIR } from "./k8saudit_parity.ts";
import { ensureSinspHost } from "./hosts/sinsp/setup.ts";
import {
  runSinspHost,
  type SinspFieldInfo,
  type SinspRuleSpec,
  type SinspSessionResult,
} from "./hosts/sinsp/run_host.ts";

/** The Go module the rules file comes from. */
export const RULES_MODULE = "github.com/falcosecurity/plugins/plugins/k8saudit";
/** Its version (pinned in tests/hosts/go_plugins/go.sum). */
export const RULES_VERSION = "v0.18.0";
/** sha256 of `rules/k8s_audit_rules.yaml` in that module (36,035 bytes). */
export const RULES_SHA256 =
  "fa53280e337db6edaeb44cf49fbd1be4349f3c48e3cd0017c2575097df901a1e";

const GO_PLUGINS_DIR = join(REPO_ROOT, "tests", "hosts", "go_plugins");

/** Falco's k8s audit trace files (see the README there). */
export const FALCO_TRACES_DIR = join(
  REPO_ROOT,
  "tests",
  "fixtures",
  "k8saudit_falco_traces",
);

/** The event files the rules run on: `[directory, file name]`, sorted. */
async function eventFiles(): Promise<[string, string][]> {
  const files: [string, string][] = [];
  for (const dir of [FIXTURE_DIR, FALCO_TRACES_DIR]) {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".jsonl")) names.push(e.name);
    }
    files.push(...names.sort().map((n) => [dir, n] as [string, string]));
  }
  return files;
}

async function command(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  const r = await new Deno.Command(cmd, {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${out}${
        new TextDecoder().decode(r.stderr)
      }`,
    );
  }
  return out;
}

/**
 * The official rules file, from the Go module cache (downloaded from the Go
 * module proxy when missing), checked against {@linkcode RULES_SHA256}.
 *
 * @returns Its text.
 *
 * @example
 * ```ts ignore
 * import { officialRulesFile } from "./k8saudit_rules.ts";
 * console.log((await officialRulesFile()).length); // 36035
 * ```
 */
export async function officialRulesFile(): Promise<string> {
  const info = JSON.parse(
    await command("go", [
      "mod",
      "download",
      "-json",
      `${RULES_MODULE}@${RULES_VERSION}`,
    ], GO_PLUGINS_DIR),
  );
  const bytes = await Deno.readFile(
    join(info.Dir, "rules", "k8s_audit_rules.yaml"),
  );
  const digest = [
    ...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
  ].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (digest !== RULES_SHA256) {
    throw new Error(
      `k8s_audit_rules.yaml has sha256 "${digest}", expected "${RULES_SHA256}"`,
    );
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The official Go `json` and `k8saudit` plugins built for plugin API 3.10.
 *
 * @returns Their `.so` paths.
 *
 * @example
 * ```ts ignore
 * import { goPluginsForLibsinsp } from "./k8saudit_rules.ts";
 * const { json, k8saudit } = await goPluginsForLibsinsp();
 * ```
 */
export async function goPluginsForLibsinsp(): Promise<
  { json: string; k8saudit: string }
> {
  const out = await command("nice", [
    "-n",
    "10",
    "bash",
    join(REPO_ROOT, "tests", "hosts", "build_go_plugins.sh"),
    "--api-3.10",
    "json",
    "k8saudit",
  ], REPO_ROOT);
  const lines = out.trim().split("\n");
  const find = (name: string) => {
    const path = lines.find((l) => l.endsWith(`/lib${name}.so`));
    if (!path) throw new Error(`build_go_plugins.sh built no lib${name}.so`);
    return path;
  };
  return { json: find("json"), k8saudit: find("k8saudit") };
}

/**
 * Filters that use a field, then another, then the first again (the
 * pattern of `Attach/Exec Pod`: `ka.target.subresource exists ... and
 * ka.target.subresource in (exec, attach)`).
 */
const CACHED_VALUE_FILTERS = [
  "ka.target.subresource exists and ka.verb=create and ka.target.subresource = exec",
  "ka.target.resource exists and ka.verb exists and ka.target.resource = pods",
  "ka.verb = create and ka.target.subresource exists and ka.target.subresource in (exec)",
];

/** Operators a list field takes in libsinsp 0.20.0. */
const LIST_OPERATORS = new Set(["in", "intersects", "exists", "output"]);

/**
 * Why one field use does not fit its field, or `undefined`.
 *
 * @param use How a rule uses the field.
 * @param field The field as libsinsp read it from its plugin.
 * @returns The problem, or `undefined` when the use fits.
 *
 * @example
 * ```ts
 * import { fieldUseProblem } from "./k8saudit_rules.ts";
 * const list = { name: "l", type: "CHARBUF", isList: true, argRequired: false,
 *   argAllowed: true, argIndex: true, argKey: false };
 * console.assert(fieldUseProblem({ field: "l", operator: "=" }, list) !== undefined);
 * console.assert(fieldUseProblem({ field: "l", operator: "in" }, list) === undefined);
 * ```
 */
export function fieldUseProblem(
  use: FieldUse,
  field: SinspFieldInfo | undefined,
): string | undefined {
  if (field === undefined) return "no plugin has this field";
  if (use.arg === undefined && field.argRequired) {
    return "the field requires an argument";
  }
  if (use.arg !== undefined) {
    if (!field.argRequired && !field.argAllowed) {
      return "the field takes no argument";
    }
    if (field.argIndex && !field.argKey && !/^\d+$/.test(use.arg)) {
      return `the field takes an index, not "${use.arg}"`;
    }
  }
  if (field.isList && !LIST_OPERATORS.has(use.operator)) {
    return `"${use.operator}" does not apply to a list field`;
  }
  return undefined;
}

/** Pass and fail counts of one part of the suite. */
export interface PartResult {
  passed: number;
  failed: number;
}

const same = (a: unknown, b: unknown) =>
  JSON.stringify(a) === JSON.stringify(b);

/**
 * The suite, on one packed k8saudit `.so`.
 *
 * @param engine The engine the `.so` embeds (for the log and the record).
 * @param soPath The packed k8saudit `.so`.
 * @param options `log`: progress and failure lines.
 * @returns Pass and fail counts: `fields` (one check per distinct field
 * use), `rules` (one check per rule: compiles and fires as with Go),
 * `fixtures` (per fixture: the same events, no error), `firing` (some
 * rule fires at all), `cachedValues` (a field reused in one filter after
 * another field was extracted gives the value it had).
 *
 * @example
 * ```ts ignore
 * import { k8sauditRules } from "./k8saudit_rules.ts";
 * const parts = await k8sauditRules("quickjs", "/tmp/libk8saudit.so");
 * console.log(parts.rules); // { passed: 48, failed: 0 }
 * ```
 */
export async function k8sauditRules(
  engine: string,
  soPath: string,
  options: { log?: (line: string) => void } = {},
): Promise<Record<string, PartResult>> {
  const log = options.log ?? ((l: string) => console.log(l));
  const ruleset = loadRules([await officialRulesFile()]);
  const go = await goPluginsForLibsinsp();
  const { binary } = await ensureSinspHost(log);
  const rules: SinspRuleSpec[] = [...ruleset.rules.values()]
    .filter((r) => r.enabled && r.source === "k8s_audit")
    .map((r) => ({
      name: r.name,
      condition: expandCondition(ruleset, r.condition),
      output: r.output,
    }));
  if (rules.length !== ruleset.rules.size) {
    throw new Error(
      `${
        ruleset.rules.size - rules.length
      } rules are disabled or not k8s_audit`,
    );
  }
  const files = await eventFiles();
  const fixtures = files.map(([dir, name]) =>
    `${dir === FIXTURE_DIR ? "k8saudit" : "k8saudit_falco_traces"}/${name}`
  );
  const sessionsFor = (k8saudit: string, config: string) =>
    files.map(([dir, f]) => ({
      plugins: [
        // The Go SDK's get_last_error dereferences a nil error when
        // nothing failed: libsinsp alone decides when to call it.
        { path: k8saudit, config, lastError: false },
        { path: go.json, config: "", lastError: false },
      ],
      open: { plugin: "k8saudit", params: join(dir, f) },
      rules,
      maxEvents: 100000,
    }));
  // libsinsp's filter cache (on by default, as in Falco) keeps the
  // pointers of a field's first extraction on an event and reuses them for
  // the field's later uses in the same filter, after other fields were
  // extracted; the Go SDK keeps one result buffer per field, so they stay
  // valid. Each filter must match as with Go on the one event of
  // exec_pod.jsonl (all match there), with the cache (libsinsp's default)
  // and, as a control, without it.
  const cacheSession = (
    k8saudit: string,
    config: string,
    filterCache: boolean,
  ) => ({
    plugins: [
      { path: k8saudit, config, lastError: false },
      { path: go.json, config: "", lastError: false },
    ],
    open: {
      plugin: "k8saudit",
      params: join(FALCO_TRACES_DIR, "exec_pod.jsonl"),
    },
    filters: CACHED_VALUE_FILTERS,
    filterCache,
  });
  const run = async (k8saudit: string, config: string) => {
    const r = await runSinspHost(binary, {
      sessions: [
        ...sessionsFor(k8saudit, config),
        cacheSession(k8saudit, config, true),
        cacheSession(k8saudit, config, false),
      ],
    }, { timeoutMs: 300_000 });
    if (r.code !== 0) {
      throw new Error(
        `The libsinsp host exited with ${r.code} (signal ${r.signal}): ${
          r.stderr.slice(-2000)
        }`,
      );
    }
    return r.sessions;
  };
  const ours = await run(
    soPath,
    JSON.stringify({
      falco_deno: { allowRead: [FIXTURE_DIR, FALCO_TRACES_DIR] },
    }),
  );
  const theirs = await run(go.k8saudit, "{}");

  const cachedPart: PartResult = { passed: 0, failed: 0 };
  const [oursNoCache, goNoCache] = [ours.pop()!, theirs.pop()!];
  const [oursCache, goCache] = [ours.pop()!, theirs.pop()!];
  for (
    const [how, o, g] of [
      ["with libsinsp's filter cache", oursCache, goCache],
      ["without the filter cache", oursNoCache, goNoCache],
    ] as const
  ) {
    for (const [k, filter] of CACHED_VALUE_FILTERS.entries()) {
      const om = o.events.map((e) => e.matches[k]);
      const gm = g.events.map((e) => e.matches[k]);
      const error = o.filters[k]?.error ?? g.filters[k]?.error;
      if (!error && gm.length > 0 && same(om, gm)) cachedPart.passed++;
      else {
        cachedPart.failed++;
        log(
          `[${engine}] k8saudit rules: a field reused after another in one filter, ${how}: "${filter}" matches ${
            JSON.stringify(om)
          }, Go ${JSON.stringify(gm)}${error ? ` (${error})` : ""}`,
        );
      }
    }
  }

  // Fields: what every rule names, against what libsinsp read from the
  // plugins.
  const fieldsPart: PartResult = { passed: 0, failed: 0 };
  const loadedFields = (s: SinspSessionResult, i: number) =>
    new Map((s.plugins[i].fieldInfo ?? []).map((f) => [f.name, f]));
  const oursFields = loadedFields(ours[0], 0);
  const goFields = loadedFields(theirs[0], 0);
  const jsonFields = loadedFields(ours[0], 1);
  const uses = new Map<string, FieldUse>();
  for (const r of ruleset.rules.values()) {
    for (
      const u of [
        ...conditionFields(expandCondition(ruleset, r.condition)),
        ...outputFields(r.output),
      ]
    ) {
      uses.set(`${u.field}[${u.arg ?? ""}] ${u.operator}`, u);
    }
  }
  for (const [key, use] of [...uses].sort()) {
    const field = oursFields.get(use.field) ?? jsonFields.get(use.field);
    let problem = fieldUseProblem(use, field);
    if (!problem && use.field.startsWith("ka.")) {
      const want = goFields.get(use.field);
      if (!same(field, want)) {
        problem = `ours ${JSON.stringify(field)}, Go ${JSON.stringify(want)}`;
      }
    }
    if (problem) {
      fieldsPart.failed++;
      log(`[${engine}] k8saudit rules: field use ${key}: ${problem}`);
    } else fieldsPart.passed++;
  }
  log(
    `[${engine}] k8saudit rules: ${uses.size} field uses (${
      new Set([...uses.values()].map((u) => u.field)).size
    } fields) checked`,
  );

  // Fixtures: the same events, and nothing failed but where Go stops.
  const fixturesPart: PartResult = { passed: 0, failed: 0 };
  const compared: number[] = [];
  for (const [i, name] of fixtures.entries()) {
    const o = ours[i], g = theirs[i];
    const problems: string[] = [];
    for (const [who, s] of [["ours", o], ["Go", g]] as const) {
      if (s.fatal) problems.push(`${who}: ${s.fatal}`);
      for (const p of s.plugins) {
        if (p.registerError || p.initError) {
          problems.push(`${who}: ${p.registerError ?? p.initError}`);
        }
      }
      if (s.openError) problems.push(`${who}: open: ${s.openError}`);
      const thrown = s.errors.filter((e) => !e.startsWith("next:"));
      if (thrown.length) problems.push(`${who}: ${thrown.join("; ")}`);
    }
    if (o.end !== "eof") problems.push(`ours ended with "${o.end}"`);
    const goStopped = g.end !== "eof";
    if (goStopped && name !== "k8saudit/long_line.jsonl") {
      problems.push(`Go ended with "${g.end}": ${g.errors.join("; ")}`);
    }
    const n = Math.min(o.events.length, g.events.length);
    if (!goStopped && o.events.length !== g.events.length) {
      problems.push(`${o.events.length} events, Go ${g.events.length}`);
    }
    for (let e = 0; e < n; e++) {
      if (o.events[e].payloadHex !== g.events[e].payloadHex) {
        problems.push(`event ${e}: payloads differ`);
        break;
      }
    }
    compared.push(n);
    if (goStopped && o.events.length > n) {
      log(
        `[${engine}] k8saudit rules ${name}: Go stopped after ${n} events (${
          g.errors.join("; ")
        }); our ${o.events.length - n} later events fire ${
          JSON.stringify(
            o.events.slice(n).map((e) =>
              (e.fired ?? []).map((f) => rules[f.rule].name)
            ),
          )
        }, compared with nothing`,
      );
    }
    if (problems.length) {
      fixturesPart.failed++;
      log(`[${engine}] k8saudit rules ${name}: ${problems.join("\n  ")}`);
    } else fixturesPart.passed++;
  }

  // Rules: compiled on both sides, fired on the same events with the same
  // output.
  const rulesPart: PartResult = { passed: 0, failed: 0 };
  const matches: Record<string, Record<string, number[]>> = {};
  let firedAtAll = 0;
  for (const [r, rule] of rules.entries()) {
    const problems: string[] = [];
    for (const [who, s] of [["ours", ours[0]], ["Go", theirs[0]]] as const) {
      const res = s.rules?.[r];
      if (!res) problems.push(`${who}: not run`);
      else {
        if (res.conditionError) {
          problems.push(`${who}: condition: ${res.conditionError}`);
        }
        if (res.outputError) {
          problems.push(`${who}: output: ${res.outputError}`);
        }
      }
    }
    matches[rule.name] = {};
    for (const [i, name] of fixtures.entries()) {
      const firedIn = (s: SinspSessionResult) =>
        s.events.slice(0, compared[i]).flatMap((e, index) =>
          (e.fired ?? []).filter((f) => f.rule === r).map((f) => ({
            index,
            output: f.output,
          }))
        );
      const o = firedIn(ours[i]), g = firedIn(theirs[i]);
      if (!same(o, g)) {
        problems.push(
          `${name}: fired ${JSON.stringify(o)}, Go ${JSON.stringify(g)}`,
        );
      }
      if (o.length) matches[rule.name][name] = o.map((x) => x.index);
    }
    if (Object.keys(matches[rule.name]).length) firedAtAll++;
    if (problems.length) {
      rulesPart.failed++;
      log(
        `[${engine}] k8saudit rule "${rule.name}":\n  ${problems.join("\n  ")}`,
      );
    } else rulesPart.passed++;
  }
  // Equal but empty would show nothing: some rules must fire.
  const firing: PartResult = firedAtAll > 0
    ? { passed: 1, failed: 0 }
    : { passed: 0, failed: 1 };
  const file = join(cacheDir(), `k8saudit_rules_matches.${engine}.json`);
  await Deno.writeTextFile(file, JSON.stringify(matches, null, 2));
  log(
    `[${engine}] k8saudit rules: ${rules.length} rules, ${firedAtAll} fire on the fixtures (rule -> fixture -> event indexes: ${file})`,
  );
  for (const [rule, where] of Object.entries(matches)) {
    if (Object.keys(where).length) {
      log(`  ${rule}: ${JSON.stringify(where)}`);
    }
  }
  return {
    fields: fieldsPart,
    fixtures: fixturesPart,
    rules: rulesPart,
    firing,
    cachedValues: cachedPart,
  };
}

// deno run -A tests/k8saudit_rules.ts <libk8saudit.so> [engine]
if (import.meta.main) {
  const [so, engine] = Deno.args;
  const r = await k8sauditRules(engine ?? "so", so);
  for (const [part, t] of Object.entries(r)) {
    console.log(`${part}: ${t.passed} passed, ${t.failed} failed`);
  }
  Deno.exit(Object.values(r).some((x) => x.failed > 0) ? 1 : 0);
}
