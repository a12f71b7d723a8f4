import assert from "node:assert/strict";
import { cargoTestCounts, denoTestCounts, goTestCounts } from "./_tally.ts";

Deno.test("tally: deno test counts, with each ignored test named", () => {
  const out = [
    "running 3 tests from ./tests/web/web_test.ts",
    "web probe under Deno ... \x1b[0m\x1b[32mok\x1b[0m (2s)",
    "web probe inside the .so (quickjs) ... \x1b[33mignored\x1b[0m (0ms)",
    "jsonl inside the .so (quickjs) ... ignored (0ms)",
    "",
    "\x1b[0m\x1b[32mok\x1b[0m | 1 passed | 0 failed | 2 ignored \x1b[0m(2s)",
  ].join("\n");
  assert.deepEqual(denoTestCounts(out), {
    passed: 1,
    failed: 0,
    skipped: 2,
    skips: [
      "web probe inside the .so (quickjs) (ignored in its test file)",
      "jsonl inside the .so (quickjs) (ignored in its test file)",
    ],
  });
  assert.deepEqual(
    denoTestCounts("FAILED | 90 passed (3 steps) | 1 failed (12s)"),
    { passed: 90, failed: 1, skipped: 0, skips: [] },
  );
  assert.equal(denoTestCounts("error: Module not found"), undefined);
});

Deno.test("tally: cargo test counts summed over binaries, with ignore reasons", () => {
  const out = [
    "running 2 tests",
    "test leaks_valgrind ... ignored, FALCO_DENO_LEAK_SKIP_VALGRIND=1",
    "test child ... ignored",
    "test cycles ... ok",
    "test result: ok. 1 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out",
    "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
  ].join("\n");
  assert.deepEqual(cargoTestCounts(out), {
    passed: 4,
    failed: 1,
    skipped: 2,
    skips: [
      "leaks_valgrind (FALCO_DENO_LEAK_SKIP_VALGRIND=1)",
      "child (#[ignore] without a reason)",
    ],
  });
  assert.equal(cargoTestCounts("error[E0425]: cannot find value"), undefined);
});

Deno.test("tally: go test -v counts by subtest, with skip reasons", () => {
  const out = [
    "=== RUN   TestInitValid",
    "=== RUN   TestInitValid/dummy_ts",
    "--- PASS: TestInitValid (0.01s)",
    "    --- PASS: TestInitValid/dummy_ts (0.01s)",
    "    --- SKIP: TestInitValid/hello (0.00s)",
    "        loader_test.go:327: no validConfig in spec",
    "    --- FAIL: TestInitValid/jsonl (0.00s)",
    "        loader_test.go:330: Init: bad",
    "    --- SKIP: TestInitValid/poll (0.00s)",
    "FAIL",
  ].join("\n");
  assert.deepEqual(goTestCounts(out), {
    passed: 1,
    failed: 1,
    skipped: 2,
    skips: [
      "TestInitValid/hello (no validConfig in spec)",
      "TestInitValid/poll (no reason printed)",
    ],
  });
  assert.equal(goTestCounts("ok  \tpkg\t0.1s"), undefined);
});
