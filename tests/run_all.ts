/**
 * `deno task test`: every suite of the repository, on every engine built.
 *
 * 0. The set-up (`tests/prerequisites.ts`): every tool used below is
 *    checked and, when missing, installed or asked for, before any build.
 * 1. `deno test`: the author API, the runtime, the example plugins, the
 *    scenarios through the harness (all but the `.so` tests of
 *    `tests/web/`, which need the host and run in 3).
 * 2. `cargo test` of `rust_embed` (its own unit tests).
 * 3. For each engine (QuickJS-ng always; V8 when its archive is present):
 *    pack every example plugin, then test the `.so` files in hosts we did
 *    not write: Falco's C loader (Go SDK `pkg/loader`), the
 *    `falco_plugin_runner` host (the shared scenarios, compared with the
 *    harness's results; concurrency, bad input, init/destroy cycles), the
 *    web platform tests, k8saudit against the Go plugin's own code and
 *    under what breaks the Go plugin, the official k8saudit rules file in
 *    libsinsp against the Go plugin, and a smoke run of the bench host.
 *
 * The last line is the total: `N passed, N failed, N skipped`; every skip
 * is listed with its reason in the summary above it.
 *
 * @module
 */

import { join } from "node:path";
import { buildPlugin } from "../runtime/build_cli.ts";
import { stopBundler } from "../runtime/bundle.ts";
import {
  cacheDir,
  chooseEngine,
  type Engine,
  findV8Archive,
  genericLibrary,
  REPO_ROOT,
  snapshotKey,
  sourceHash,
  V8_ARCHIVE_NAME,
  V8_VERSION,
} from "../runtime/engines.ts";
import { preparePatchedCrates } from "../runtime/patched_crates.ts";
import { ensurePrerequisites } from "./prerequisites.ts";
import {
  cargoTestCounts,
  denoTestCounts,
  goTestCounts,
  type Tally,
} from "./_tally.ts";
import { k8sauditParity } from "./k8saudit_parity.ts";
import { k8sauditRobustness } from "./k8saudit_robustness.ts";
import { k8sauditRules } from "./k8saudit_rules.ts";
import { canonicalJson, runScenarios, scenarios } from "./scenarios.ts";
import { SO_PLUGINS } from "./so_plugins.ts";
import { runSinspSuites } from "./sinsp_suite.ts";

const total: Tally = { passed: 0, failed: 0, skipped: 0 };
const summary: string[] = [];

function record(suite: string, t: Tally, note = "") {
  total.passed += t.passed;
  total.failed += t.failed;
  total.skipped += t.skipped;
  const skips = t.skips ?? [];
  // A skip the suite did not explain is still listed, as unexplained.
  for (let i = skips.length; i < t.skipped; i++) {
    skips.push("(the suite gave no name or reason)");
  }
  const line = `${suite}: ${t.passed} passed, ${t.failed} failed` +
    (t.skipped ? `, ${t.skipped} skipped` : "") + (note ? ` (${note})` : "");
  summary.push(line, ...skips.map((s) => `    skipped: ${s}`));
  console.log(`\n== ${line}\n`);
}

/**
 * A suite run in this process whose result is pass and fail counts per
 * part; a thrown error, or no check at all, is one failed check.
 */
async function countedSuite(
  name: string,
  f: () => Promise<Record<string, { passed: number; failed: number }>>,
) {
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  try {
    for (const r of Object.values(await f())) {
      t.passed += r.passed;
      t.failed += r.failed;
    }
    if (t.passed + t.failed === 0) throw new Error("no check ran");
  } catch (e) {
    console.log(`${name} failed: ${e instanceof Error ? e.stack : e}`);
    t.failed++;
  }
  record(name, t);
}

/** Runs a command, streaming its output, and returns the whole output. */
async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; output: string }> {
  console.log(`\n$ ${cmd} ${args.join(" ")}`);
  let child;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    const msg = `cannot run ${cmd}: ${e instanceof Error ? e.message : e}`;
    console.log(msg);
    return { code: 127, output: msg };
  }
  let output = "";
  const decoder = new TextDecoder();
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    to: typeof Deno.stdout,
  ) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await to.write(chunk);
    }
  };
  await Promise.all([
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  const { code } = await child.status;
  return { code, output };
}

/** A suite whose counts come from its output; a crash counts as a failure. */
async function suite(
  name: string,
  cmd: string,
  args: string[],
  parse: (output: string) => Tally | undefined,
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const { code, output } = await run(cmd, args, options);
  const parsed = parse(output);
  const counts = parsed ??
    { passed: code === 0 ? 1 : 0, failed: 0, skipped: 0 };
  if (code !== 0 && counts.failed === 0) {
    counts.failed = 1;
    record(name, counts, `exited with code ${code} without a failing test`);
  } else {
    record(name, counts);
  }
}

/**
 * The test files (`*_test.ts`) under `dirs`, but those under `skip` (Deno's
 * `--ignore` is not applied when several paths are given).
 */
async function testFiles(dirs: string[], skip: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    if (skip.includes(dir)) return;
    for await (const entry of Deno.readDir(join(REPO_ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && entry.name !== "target") await walk(path);
      else if (entry.isFile && entry.name.endsWith("_test.ts")) {
        found.push(path);
      }
    }
  };
  for (const dir of dirs) await walk(dir);
  return found.sort();
}

async function step(name: string, f: () => Promise<void>): Promise<boolean> {
  try {
    await f();
    record(name, { passed: 1, failed: 0, skipped: 0 });
    return true;
  } catch (e) {
    console.log(`${name} failed: ${e instanceof Error ? e.stack : e}`);
    record(name, { passed: 0, failed: 1, skipped: 0 });
    return false;
  }
}

// 0. Everything used below, before any long build.
await ensurePrerequisites("test");

const cache = cacheDir();
const hostsTarget = join(cache, "target-hosts");
const hostBinary = join(hostsTarget, "release", "falco-deno-host");

// 1. The TypeScript side; the `.so` tests of tests/web/ run per engine
// below, once the host and the library are built.
await suite(
  "deno test (author API, runtime, plugins, scenarios through the harness)",
  Deno.execPath(),
  [
    "test",
    "-A",
    "--quiet",
    "mod.ts",
    "mod_test.ts",
    ...await testFiles(["runtime", "plugins", "tests"], ["tests/web"]),
  ],
  denoTestCounts,
);

// 2. The embed's own unit tests, on the patched crates it builds with.
await step("patch the crates the embed builds with", async () => {
  await preparePatchedCrates((l) => console.log(l));
});
await suite(
  "cargo test rust_embed (quickjs)",
  "cargo",
  [
    "test",
    "--release",
    "--locked",
    "--no-default-features",
    "--features",
    "quickjs",
    "--lib",
  ],
  cargoTestCounts,
  {
    cwd: join(REPO_ROOT, "rust_embed"),
    env: { CARGO_TARGET_DIR: join(cache, "target-quickjs") },
  },
);

// 3. The independent hosts.
const hostsReady = await step("build the independent hosts", async () => {
  const build = await run("cargo", [
    "build",
    "--release",
    "--locked",
    "--manifest-path",
    "tests/hosts/runner/Cargo.toml",
  ], { env: { CARGO_TARGET_DIR: hostsTarget } });
  if (build.code !== 0) throw new Error("building falco-deno-host failed");
});

const engines: Engine[] = ["quickjs"];
const archive = findV8Archive();
if (archive) engines.push("v8");
const engineNote = archive
  ? `engines: quickjs and v8 (V8 archive: ${archive.path})`
  : `engines: quickjs only — no V8 archive (RUSTY_V8_ARCHIVE unset, none in ../shared/v8/${V8_VERSION}/ or ${
    join(cache, "v8", V8_VERSION)
  }/${V8_ARCHIVE_NAME}); every .so test below ran on QuickJS-ng only`;
console.log(`\n${engineNote}\n${chooseEngine().reason}`);
if (!archive) {
  record("[v8] every .so suite", {
    passed: 0,
    failed: 0,
    skipped: 1,
    skips: [
      `the V8 engine (no V8 archive: set RUSTY_V8_ARCHIVE to ${V8_ARCHIVE_NAME}, see README)`,
    ],
  });
}

// Without the V8 archive nothing can link against V8, but the embed's V8
// build can still be type-checked (cargo check never links): a stand-in
// archive keeps the v8 crate's build script from downloading.
if (!archive) {
  const standIn = join(cache, "v8-check", V8_ARCHIVE_NAME);
  await Deno.mkdir(join(cache, "v8-check"), { recursive: true });
  await Deno.writeFile(
    standIn,
    new Uint8Array([
      0x1f,
      0x8b,
      8,
      0,
      0,
      0,
      0,
      0,
      0,
      3,
      3,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]),
  );
  await suite(
    "[v8] cargo check of the embed with the v8 feature (no archive: type-check only)",
    "cargo",
    [
      "check",
      "--release",
      "--locked",
      "--no-default-features",
      "--features",
      "v8",
      "--lib",
    ],
    () => undefined,
    {
      cwd: join(REPO_ROOT, "rust_embed"),
      env: {
        CARGO_TARGET_DIR: join(cache, "target-v8check"),
        RUSTY_V8_ARCHIVE: standIn,
      },
    },
  );
}

const expected = await runScenarios();
const packedByEngine = new Map<Engine, Map<string, string>>();

for (const engine of engines) {
  const outDir = join(cache, "test-plugins", engine);
  await Deno.mkdir(outDir, { recursive: true });
  const packed = new Map<string, string>();
  const libraryReady = await step(
    `build the generic ${engine} library`,
    async () => {
      await genericLibrary(engine, (l) => console.log(l));
    },
  );
  if (!libraryReady) continue;
  if (engine === "v8") {
    await step(
      "[v8] the generic library carries its startup snapshot, keyed to these sources",
      async () => {
        const key = await snapshotKey(await genericLibrary(engine));
        const hash = await sourceHash();
        if (key !== hash) {
          throw new Error(
            `snapshot key ${JSON.stringify(key)}, sources ${hash}`,
          );
        }
      },
    );
  }
  for (
    const p of [
      ...SO_PLUGINS,
      { plugin: "tests/fixtures/sandbox_probe.ts" },
      { plugin: "tests/fixtures/engine_probe.ts" },
      { plugin: "tests/fixtures/hardening_probe.ts" },
    ]
  ) {
    await step(`[${engine}] pack ${p.plugin}`, async () => {
      const r = await buildPlugin(join(REPO_ROOT, p.plugin), {
        engine,
        output: join(
          outDir,
          `lib${p.plugin.replace(/^.*\/|\.ts$/g, "")}.so`,
        ),
        log: (l) => console.log(l),
      });
      packed.set(p.plugin, r.path);
    });
  }

  // Rebuilding a plugin while a host has it loaded.
  await step(
    `[${engine}] a rebuild replaces the .so and leaves a loaded copy intact`,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "fdeno-rebuild-" });
      const output = join(dir, "libplugin.so");
      const quiet = { engine, output, log: () => {} };
      await buildPlugin(join(REPO_ROOT, "plugins/dummy.ts"), quiet);
      const first = await Deno.readFile(output);
      // What a host that dlopen()ed it holds: the file it opened.
      using loaded = await Deno.open(output);
      await buildPlugin(join(REPO_ROOT, "plugins/hello.ts"), quiet);
      const second = await Deno.readFile(output);
      if (
        first.length === second.length && first.every((b, i) => b === second[i])
      ) {
        throw new Error("the two builds are identical: the test shows nothing");
      }
      const held = new Uint8Array(first.length + 1);
      let read = 0;
      for (let n; (n = await loaded.read(held.subarray(read))) !== null;) {
        read += n;
      }
      if (read !== first.length || first.some((b, i) => b !== held[i])) {
        throw new Error(
          "the loaded file changed under its reader: the build rewrote it in place",
        );
      }
      await Deno.remove(dir, { recursive: true });
    },
  );

  // Falco's own loader.
  const specs = [];
  for (const p of SO_PLUGINS) {
    const path = packed.get(p.plugin);
    if (path) specs.push({ ...(await p.loaderSpec()), path });
  }
  const specFile = join(outDir, "loader-specs.json");
  await Deno.writeTextFile(specFile, JSON.stringify(specs, null, 2));
  await suite(
    `[${engine}] Falco's C plugin loader (plugin-sdk-go pkg/loader)`,
    "go",
    ["test", "-count=1", "-v", "./..."],
    goTestCounts,
    {
      cwd: join(REPO_ROOT, "tests/hosts/go_loader"),
      env: { FALCO_DENO_PLUGINS: `@${specFile}` },
    },
  );

  // libsinsp itself: Falco's plugin framework loads, drives, filters and
  // formats the .so files (tests/sinsp_suite.ts).
  packedByEngine.set(engine, packed);
  const other = [...packedByEngine].find(([e]) => e !== engine);
  await runSinspSuites(engine, packed, record, {
    otherEngine: other && { engine: other[0], packed: other[1] },
  });

  // The official k8saudit rules file in libsinsp: every field it names, and
  // each rule compiled and fired on the fixtures as with the Go plugin.
  const k8sSo = packed.get("plugins/k8saudit.ts");
  const needK8sSo = () => {
    if (!k8sSo) throw new Error("plugins/k8saudit.ts was not packed");
    return k8sSo;
  };
  await countedSuite(
    `[${engine}] k8saudit: the official rules file in libsinsp (fields; each rule compiles and fires as with the Go plugin)`,
    () => k8sauditRules(engine, needK8sSo()),
  );

  if (!hostsReady) continue;

  // The web platform and HTTP tests of the .so (and their Deno halves),
  // for this engine, now that the host and the library exist.
  await suite(
    `[${engine}] web platform and HTTP: the same answers under Deno and in the .so`,
    Deno.execPath(),
    ["test", "-A", "--quiet", "tests/web/"],
    denoTestCounts,
    { env: { FALCO_DENO_ENGINE: engine } },
  );

  // The Kubernetes audit plugin through its .so: the Go plugin's events and
  // values on every fixture, and what stops or crashes the Go plugin.
  await countedSuite(
    `[${engine}] k8saudit: the Go plugin's events and field values (Go oracle)`,
    () => k8sauditParity(engine, needK8sSo(), { hostBinary }),
  );
  await countedSuite(
    `[${engine}] k8saudit robustness: long lines, large bodies, close under load, https`,
    () => k8sauditRobustness(engine, needK8sSo(), hostBinary),
  );

  // The shared scenarios in falco_plugin_runner, against the harness.
  const hostScenarios = scenarios.filter((s) => packed.has(s.plugin)).map((
    s,
  ) => ({
    ...s,
    plugin: packed.get(s.plugin),
  }));
  const scenarioFile = join(outDir, "scenarios.json");
  await Deno.writeTextFile(
    scenarioFile,
    JSON.stringify(hostScenarios, null, 2),
  );
  const hostRun = await run(hostBinary, ["--scenarios", scenarioFile]);
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  let actual: Record<string, unknown> = {};
  try {
    actual = JSON.parse(hostRun.output.slice(hostRun.output.indexOf("{")));
  } catch {
    console.log("falco-deno-host printed no JSON");
  }
  for (const s of hostScenarios) {
    const want = canonicalJson(expected[s.name]?.events);
    const got = canonicalJson(
      (actual[s.name] as { events?: unknown })?.events,
    );
    if (want === got) t.passed++;
    else {
      t.failed++;
      console.log(
        `scenario ${s.name} differs:\n  harness: ${want}\n  .so:     ${got}`,
      );
    }
  }
  record(
    `[${engine}] scenarios: falco_plugin_runner vs the deno test harness`,
    t,
  );

  // Concurrency, bad input, init/destroy cycles, stress, leaks, sandbox,
  // fuzzing: with the dummy plugin (and the sandbox probe).
  const dummy = packed.get("plugins/dummy.ts");
  // Both engines must stay flat, and valgrind runs with no suppression. On
  // QuickJS-ng that takes our v8x patch (templates freed with their thread:
  // before it, 200 KiB per cycle) and rust_embed/src/engine/quickjs_heap.rs
  // (the JS heap released whole with its runtime: before it, 1.0 MiB).
  // Limits near the figures measured on QuickJS-ng (2026-12-03, 2 shared
  // cores), with the margin stated:
  // - RSS per init/open/next_batch/close/destroy cycle over 100 cycles
  //   (leaks/run.sh): 0.4, 1.2, 1.2 and 4.8 KiB; limit 12 KiB, 2.5x the
  //   worst.
  const leakKbPerCycle = 12;
  // - RSS growth over host_tests' 200 init/destroy cycles: 544 and 552 KiB;
  //   limit 1.5 MiB, 2.8x.
  const hostCyclesRssMaxKb = 1536;
  // - valgrind "definitely lost" over run.sh's 20 valgrind cycles plus the
  //   host tests: 1,200 bytes each time (about 45 bytes per instance, left
  //   by v8x's isolate and module set-up); limit 2,048 bytes, 1.7x.
  const leakMaxDefiniteBytes = 2048;
  const runner = (test: string, extra: string[] = []) => [
    "test",
    "--release",
    "--locked",
    "--manifest-path",
    "tests/hosts/runner/Cargo.toml",
    "--test",
    test,
    "--",
    "--test-threads=1",
    ...extra,
  ];
  const runnerEnv = (plugin: string, more: Record<string, string> = {}) => ({
    CARGO_TARGET_DIR: hostsTarget,
    FALCO_DENO_TEST_PLUGIN: plugin,
    FALCO_DENO_HOST_QUIET: "1",
    FALCO_DENO_TEST_RSS_MAX_KB: String(hostCyclesRssMaxKb),
    ...more,
  });
  if (dummy) {
    await suite(
      `[${engine}] falco_plugin_runner host tests (dummy)`,
      "cargo",
      runner("host_tests"),
      cargoTestCounts,
      { env: runnerEnv(dummy) },
    );
    await suite(
      `[${engine}] errors name the plugin's source line`,
      "cargo",
      runner("errors"),
      cargoTestCounts,
      { env: runnerEnv(dummy) },
    );
    await suite(
      `[${engine}] metrics (plugin_get_metrics)`,
      "cargo",
      runner("metrics"),
      cargoTestCounts,
      { env: runnerEnv(dummy) },
    );
    await suite(
      `[${engine}] fields extracted ahead: same values, no foreign errors`,
      "cargo",
      runner("prefetch"),
      cargoTestCounts,
      { env: runnerEnv(dummy) },
    );
    await suite(
      `[${engine}] two events under one number: fresh values (source and extract-only)`,
      "cargo",
      runner("same_number"),
      cargoTestCounts,
      {
        env: runnerEnv(dummy, {
          FALCO_DENO_EXTRACT_PLUGIN: packed.get("plugins/dummy_extract.ts") ??
            "",
        }),
      },
    );
    await suite(
      `[${engine}] stress: 8 instances, 4 host threads, random operations (short)`,
      "cargo",
      runner("stress", ["--nocapture"]),
      cargoTestCounts,
      { env: runnerEnv(dummy, { FALCO_DENO_STRESS_SECS: "5" }) },
    );
    await suite(
      `[${engine}] leaks: RSS over init/open/next_batch/close/destroy cycles, valgrind`,
      "bash",
      ["tests/hosts/leaks/run.sh", "100", "3"],
      cargoTestCounts,
      {
        env: {
          FALCO_DENO_TEST_PLUGIN: dummy,
          FALCO_DENO_LEAK_MAX_KB_PER_CYCLE: String(leakKbPerCycle),
          FALCO_DENO_LEAK_MAX_DEFINITE: String(leakMaxDefiniteBytes),
        },
      },
    );
  }
  const probe = packed.get("tests/fixtures/sandbox_probe.ts");
  if (probe) {
    await suite(
      `[${engine}] sandbox: what a script can reach, watchdog, heap limit`,
      "cargo",
      runner("sandbox"),
      cargoTestCounts,
      { env: runnerEnv(dummy ?? probe, { FALCO_DENO_SANDBOX_PLUGIN: probe }) },
    );
  }
  // Hardening and links out of a grant: each test fails without its .so.
  const hardening = {
    FALCO_DENO_HARDENING_PLUGIN:
      packed.get("tests/fixtures/hardening_probe.ts") ?? "",
    FALCO_DENO_JSONL_PLUGIN: packed.get("plugins/jsonl.ts") ?? "",
  };
  await suite(
    `[${engine}] hardening: late stops, runaway timers, host input, NULL handles`,
    "cargo",
    runner("hardening"),
    cargoTestCounts,
    { env: runnerEnv(dummy ?? "", hardening) },
  );
  await suite(
    `[${engine}] links out of a read grant are refused (files, directories, followFile)`,
    "cargo",
    runner("symlinks"),
    cargoTestCounts,
    { env: runnerEnv(dummy ?? "", hardening) },
  );
  if (dummy) {
    for (const target of ["extract_fields", "open", "plugin_init"]) {
      await suite(
        `[${engine}] fuzz ${target} (short run)`,
        "bash",
        ["rust_embed/fuzz/run.sh", target, "15"],
        cargoTestCounts,
        { env: { FALCO_DENO_FUZZ_PLUGIN: dummy } },
      );
    }
  }

  // A packed .so must not need this build tree: Falco hosts have no cargo
  // registry and no rust_embed/. Hide both in a private mount namespace.
  if (dummy) {
    await step(
      `[${engine}] the .so runs without the build tree (cargo registry and rust_embed/ hidden)`,
      async () => {
        const cargoHome = Deno.env.get("CARGO_HOME") ??
          join(Deno.env.get("HOME") ?? "/root", ".cargo");
        const script = [
          `mount -t tmpfs none "${join(cargoHome, "registry")}"`,
          `mount -t tmpfs none "${join(REPO_ROOT, "rust_embed")}"`,
          `"${hostBinary}" --plugin "${dummy}" --config '{"jitter":0}' --open '{"start":1,"maxEvents":3}' --max-events 3 --json --field dummy.value`,
        ].join(" && ");
        const r = await run("unshare", ["-m", "sh", "-c", script]);
        let values: unknown[] = [];
        try {
          const out = JSON.parse(r.output.slice(r.output.indexOf("{")));
          values = out.events.map((e: { fields: Record<string, string[]> }) =>
            e.fields["dummy.value"]?.[0]
          );
        } catch {
          // reported below
        }
        if (r.code !== 0 || values.join(",") !== "2,3,4") {
          throw new Error(
            `the .so failed without the build tree (exit ${r.code})`,
          );
        }
      },
    );
  }

  // QuickJS-ng (v8x) caches bytecode on disk unless told not to; Falco runs
  // as root, so a plugin must write nothing under $HOME or the temp dir.
  if (dummy && engine === "quickjs") {
    await step(`[${engine}] no bytecode cache is written`, async () => {
      const home = await Deno.makeTempDir({ prefix: "fdeno-home-" });
      const r = await run(hostBinary, [
        "--plugin",
        dummy,
        "--config",
        '{"jitter":0}',
        "--max-events",
        "5",
        "--field",
        "dummy.value",
      ], {
        env: { HOME: home, XDG_CACHE_HOME: join(home, "xdg"), TMPDIR: home },
      });
      const written: string[] = [];
      for await (const entry of Deno.readDir(home)) written.push(entry.name);
      await Deno.remove(home, { recursive: true });
      if (r.code !== 0) throw new Error(`the host failed (exit ${r.code})`);
      if (written.length) {
        throw new Error(`the plugin wrote ${written.join(", ")} under $HOME`);
      }
    });
  }

  // What a plugin author sees differ between the engines (README,
  // "Engines"), pinned per engine.
  const engineProbe = packed.get("tests/fixtures/engine_probe.ts");
  if (engineProbe) {
    const expected: Record<string, Record<Engine, string>> = {
      "intl.number": { quickjs: "1234.5", v8: "1.234,5" },
      "intl.date": { quickjs: "1/1/1970 AD, 00:00:00", v8: "1/1/1970" },
      "intl.collator": { quickjs: "abC", v8: "abC" },
      "error.null_property": {
        quickjs: "Cannot read properties of null (reading 'x')",
        v8: "Cannot read properties of null (reading 'x')",
      },
      "wasm.add": { quickjs: "5", v8: "5" },
      "wasm.simd": { quickjs: "refused: CompileError", v8: "1" },
      "lang.bigint": {
        quickjs: "18446744073709551616",
        v8: "18446744073709551616",
      },
      "lang.regexp_named": { quickjs: "2026", v8: "2026" },
      "lang.array_at": { quickjs: "3", v8: "3" },
      "lang.structured_clone": { quickjs: "1", v8: "1" },
    };
    const r = await run(hostBinary, [
      "--plugin",
      engineProbe,
      "--max-events",
      "1",
      "--json",
      ...Object.keys(expected).flatMap((
        k,
      ) => ["--field", `engine.probe[${k}]`]),
    ]);
    const t: Tally = { passed: 0, failed: 0, skipped: 0 };
    let fields: Record<string, string[] | null> = {};
    try {
      fields =
        JSON.parse(r.output.slice(r.output.indexOf("{"))).events[0].fields;
    } catch {
      console.log("the engine probe printed no JSON");
    }
    for (const [probe, want] of Object.entries(expected)) {
      const got = fields[`engine.probe[${probe}]`]?.[0];
      if (got === want[engine]) t.passed++;
      else {
        t.failed++;
        console.log(
          `engine probe ${probe}: expected ${
            JSON.stringify(want[engine])
          }, got ${JSON.stringify(got)}`,
        );
      }
    }
    record(
      `[${engine}] engine differences a plugin can see (Intl, errors, WebAssembly, language)`,
      t,
    );
  }

  // A few thousand events through the bench host: the dummy workload, the
  // audit file read by jsonl.ts and Go k8saudit, the webhook under load,
  // k8saudit.ts against Go k8saudit (file, webhook, three fields alone).
  const jsonl = packed.get("plugins/jsonl.ts");
  const webhook = packed.get("plugins/webhook.ts");
  if (dummy) {
    await suite(
      `[${engine}] bench smoke run`,
      Deno.execPath(),
      [
        "run",
        "-A",
        "tests/bench/bench.ts",
        "--quick",
        "--engines",
        engine,
        `--ts-${engine}`,
        dummy,
        ...(jsonl ? [`--ts-json-${engine}`, jsonl] : ["--skip-k8s"]),
        ...(webhook ? [`--ts-webhook-${engine}`, webhook] : ["--skip-webhook"]),
        ...(k8sSo ? [`--ts-k8saudit-${engine}`, k8sSo] : ["--skip-k8saudit"]),
      ],
      // One check: every contender of every workload gave figures.
      (out) =>
        /^bench: ok/m.test(out)
          ? { passed: 1, failed: 0, skipped: 0 }
          : { passed: 0, failed: 1, skipped: 0 },
    );
  }
}

await stopBundler();
console.log("\n== summary");
console.log(engineNote);
for (const line of summary) console.log(`  ${line}`);
console.log(
  `${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`,
);
Deno.exit(total.failed ? 1 : 0);
