import assert from "node:assert/strict";
import {
  installCommand,
  missingFor,
  planSetup,
  type Probe,
  type Requirement,
  REQUIREMENTS,
} from "./prerequisites.ts";

const ROOT = { root: true, aptGet: true };
const USER = { root: false, aptGet: true };

function named(...names: string[]): Requirement[] {
  return names.map((n) => {
    const r = REQUIREMENTS.find((r) => r.name === n);
    assert.ok(r, `no requirement "${n}"`);
    return r;
  });
}

/** A machine with exactly these commands and files. */
function machineWith(commands: string[], files: string[] = []): Probe {
  return {
    has: (c) => commands.includes(c),
    exists: (p) => files.includes(p),
    succeeds: (c, args) =>
      Promise.resolve(
        (c === "rustup" && args.includes("nightly") &&
          commands.includes("rustup+nightly")) ||
          (c === "dpkg" && commands.includes("libsinsp-deps")),
      ),
  };
}

const EVERYTHING = [
  "cargo",
  "cc",
  "c++",
  "gcc",
  "make",
  "cmake",
  "git",
  "tar",
  "go",
  "openssl",
  "valgrind",
  "unshare",
  "bc",
  "rustup+nightly",
  "libsinsp-deps",
  "cargo-fuzz",
];

Deno.test("prerequisites: nothing missing, nothing to do", async () => {
  const probe = machineWith(EVERYTHING, ["/usr/include/stdio.h"]);
  assert.deepEqual(await missingFor("test", probe), []);
  assert.deepEqual(planSetup([], ROOT), { apt: [], installs: [] });
});

Deno.test("prerequisites: each task checks what it uses", async () => {
  const bare = machineWith([]);
  const demo = (await missingFor("demo", bare)).map((r) => r.name);
  const test = (await missingFor("test", bare)).map((r) => r.name);
  assert.deepEqual(demo, [
    "cargo",
    "C and C++ compilers, make, C headers",
    "cmake",
    "git",
    "tar",
  ]);
  for (const n of demo) assert.ok(test.includes(n), n);
  for (
    const n of [
      "go",
      "openssl",
      "valgrind",
      "unshare",
      "bc",
      "Rust nightly toolchain",
      "cargo-fuzz",
    ]
  ) {
    assert.ok(test.includes(n), n);
    assert.ok(!demo.includes(n), n);
  }
  const noHeaders = machineWith(EVERYTHING);
  assert.deepEqual((await missingFor("demo", noHeaders)).map((r) => r.name), [
    "C and C++ compilers, make, C headers",
  ]);
});

Deno.test("prerequisites: root with apt-get installs packages, then the cargo tools", () => {
  const plan = planSetup(
    named(
      "cmake",
      "valgrind",
      "unshare",
      "Rust nightly toolchain",
      "cargo-fuzz",
    ),
    ROOT,
  );
  assert.equal(plan.stop, undefined);
  assert.deepEqual(plan.apt, ["cmake", "valgrind", "util-linux"]);
  assert.deepEqual(plan.installs, [
    ["rustup", "toolchain", "install", "nightly", "--profile", "minimal"],
    ["cargo", "install", "--locked", "cargo-fuzz@0.13.2"],
  ]);
});

Deno.test("prerequisites: the cargo tools need no root", () => {
  const plan = planSetup(named("cargo-fuzz"), USER);
  assert.equal(plan.stop, undefined);
  assert.deepEqual(plan.installs, [[
    "cargo",
    "install",
    "--locked",
    "cargo-fuzz@0.13.2",
  ]]);
});

Deno.test("prerequisites: without root a package stops at once with one sudo command", () => {
  const plan = planSetup(named("valgrind", "cargo-fuzz"), USER);
  assert.deepEqual(plan.apt, []);
  assert.deepEqual(plan.installs, []);
  assert.equal(
    plan.stop,
    "sudo apt-get update && sudo apt-get install -y valgrind && cargo install --locked cargo-fuzz@0.13.2",
  );
});

Deno.test("prerequisites: without apt-get the packages are named", () => {
  const plan = planSetup(named("openssl"), { root: true, aptGet: false });
  assert.match(plan.stop!, /install the Debian packages openssl/);
});

Deno.test("prerequisites: what only the user can install stops at once, even as root", () => {
  const plan = planSetup(named("go", "valgrind"), ROOT);
  assert.deepEqual(plan.apt, []);
  assert.match(plan.stop!, /^curl -sSfL https:\/\/go\.dev\/dl\/go1\.24\.0\./);
  assert.match(
    plan.stop!,
    / && apt-get update && apt-get install -y valgrind$/,
  );
  const rust = installCommand(named("cargo", "cargo-fuzz"), ROOT);
  assert.match(rust, /^curl .*sh\.rustup\.rs .* && cargo install --locked/);
});
