/**
 * The counts of one suite of `deno task test` (`tests/run_all.ts`), read
 * from the output of the tool that ran it, with a name and a reason for
 * every skipped test.
 *
 * @module
 */

/** Passed, failed and skipped tests of one suite. */
export interface Tally {
  /** Tests that passed. */
  passed: number;
  /** Tests that failed. */
  failed: number;
  /** Tests that did not run. */
  skipped: number;
  /** One line per skipped test: its name and why it was skipped. */
  skips?: string[];
}

// deno-lint-ignore no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/**
 * The counts of a `deno test` run: its closing line, and the name of each
 * test it ignored.
 *
 * @param output What `deno test` printed.
 * @returns The counts, or `undefined` without a closing line.
 *
 * @example
 * ```ts
 * import { denoTestCounts } from "./_tally.ts";
 * console.log(denoTestCounts("ok | 3 passed | 0 failed | 1 ignored"));
 * ```
 */
export function denoTestCounts(output: string): Tally | undefined {
  const text = stripAnsi(output);
  const m =
    /(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/
      .exec(text);
  if (!m) return undefined;
  // `ignore:` in a test file; Deno prints no reason.
  const skips = [...text.matchAll(/^(.+) \.\.\. ignored/gm)].map((i) =>
    `${i[1]} (ignored in its test file)`
  );
  return { passed: +m[2], failed: +m[3], skipped: +(m[4] ?? 0), skips };
}

/**
 * The counts of a `cargo test` run (every `test result:` line summed), and
 * the name and reason of each ignored test.
 *
 * @param output What `cargo test` printed.
 * @returns The counts, or `undefined` without a `test result:` line.
 *
 * @example
 * ```ts
 * import { cargoTestCounts } from "./_tally.ts";
 * console.log(cargoTestCounts("test result: ok. 2 passed; 0 failed; 0 ignored"));
 * ```
 */
export function cargoTestCounts(output: string): Tally | undefined {
  const text = stripAnsi(output);
  const re = /test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g;
  let found = false;
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  for (const m of text.matchAll(re)) {
    found = true;
    t.passed += +m[1];
    t.failed += +m[2];
    t.skipped += +m[3];
  }
  // libtest: `test name ... ignored` or `test name ... ignored, reason`.
  t.skips = [...text.matchAll(/^test (\S+) \.\.\. ignored(?:, (.*))?$/gm)]
    .map((i) => `${i[1]} (${i[2] ?? "#[ignore] without a reason"})`);
  return found ? t : undefined;
}

/**
 * The counts of a `go test -v` run, by subtest, with the reason each
 * skipped one printed.
 *
 * @param output What `go test -v` printed.
 * @returns The counts, or `undefined` without a subtest line.
 *
 * @example
 * ```ts
 * import { goTestCounts } from "./_tally.ts";
 * console.log(goTestCounts("    --- PASS: TestA/x (0.00s)"));
 * ```
 */
export function goTestCounts(output: string): Tally | undefined {
  const t: Tally = { passed: 0, failed: 0, skipped: 0, skips: [] };
  let found = false;
  const lines = output.split("\n");
  for (const [i, line] of lines.entries()) {
    const m = /^\s+--- (PASS|FAIL|SKIP): (\S+)/.exec(line);
    if (!m) continue;
    found = true;
    if (m[1] === "PASS") t.passed++;
    else if (m[1] === "FAIL") t.failed++;
    else {
      t.skipped++;
      // The line after `--- SKIP` is `file.go:N: <the reason>`.
      const why = /^\s+\S+\.go:\d+: (.*)/.exec(lines[i + 1] ?? "")?.[1];
      t.skips!.push(`${m[2]} (${why ?? "no reason printed"})`);
    }
  }
  return found ? t : undefined;
}
