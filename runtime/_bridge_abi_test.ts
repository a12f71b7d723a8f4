// The bridge's constants are written twice, here for JavaScript and in
// rust_embed/src for the embed; this test reads the Rust sources and ties
// each pair, so neither side can change alone.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as abi from "./_bridge_abi.ts";
import { PACK_MAGIC } from "./pack.ts";
import { SNAPSHOT_MAGIC } from "./engines.ts";
import { REPO_ROOT } from "./paths.ts";

const rust = (file: string) =>
  Deno.readTextFileSync(join(REPO_ROOT, "rust_embed", "src", file));

/** The value of `pub const NAME: T = value;` in a Rust source. */
function rustConst(source: string, name: string): string {
  const m = new RegExp(`pub const ${name}: [^=]+= ([^;]+);`).exec(source);
  assert.ok(m, `no pub const ${name} in the Rust source`);
  return m[1].trim();
}

/** The body of a Rust `fn name() -> T { body }` with a literal body. */
function rustDefault(source: string, name: string): string {
  const m = new RegExp(`fn ${name}\\(\\) -> \\w+ \\{\\s*([^}]+?)\\s*\\}`)
    .exec(source);
  assert.ok(m, `no fn ${name} in the Rust source`);
  return m[1];
}

Deno.test("the shared buffer hook is the embed's (rust_embed/src/engine.rs)", () => {
  assert.equal(
    rustConst(rust("engine.rs"), "SHARED_BUFFER_HOOK"),
    `"${abi.SHARED_BUFFER_HOOK}"`,
  );
});

Deno.test("bridge constants are the embed's (rust_embed/src/bridge.rs)", () => {
  const bridge = rust("bridge.rs");
  assert.equal(rustConst(bridge, "BRIDGE_GLOBAL"), `"${abi.BRIDGE_GLOBAL}"`);
  assert.equal(
    rustConst(bridge, "RESERVED_CONFIG_KEY"),
    `"${abi.RESERVED_CONFIG_KEY}"`,
  );
  for (
    const name of [
      "BATCH_TIMEOUT",
      "BATCH_EOF",
      "INPUT_HEADER_SIZE",
      "REQUEST_SIZE",
      "ARG_NONE",
      "ARG_INDEX",
      "ARG_KEY",
    ] as const
  ) {
    assert.equal(Number(rustConst(bridge, name)), abi[name], name);
  }
});

Deno.test("built-in metric names are the embed's (rust_embed/src/metrics.rs)", () => {
  const names = rustConst(rust("metrics.rs"), "BUILTIN_METRICS")
    .match(/"[^"]+"/g)!.map((s) => s.slice(1, -1));
  assert.deepEqual(names, [...abi.BUILTIN_METRICS]);
});

Deno.test("deadlines are the embed's (config.rs, thread/script.rs)", () => {
  const config = rust("config.rs");
  assert.equal(
    Number(rustDefault(config, "default_callback_deadline_ms")),
    abi.DEFAULT_CALLBACK_DEADLINE_MS,
  );
  assert.equal(
    Number(rustDefault(config, "default_batch_deadline_ms")),
    abi.DEFAULT_BATCH_DEADLINE_MS,
  );
  const floor = /LOAD_DEADLINE_FLOOR: Duration = Duration::from_secs\((\d+)\)/
    .exec(rust("thread/script.rs"));
  assert.ok(floor, "no LOAD_DEADLINE_FLOOR in thread/script.rs");
  assert.equal(Number(floor[1]) * 1000, abi.MIN_INIT_DEADLINE_MS);
});

Deno.test("the pack trailer's magic is the embed's (manifest.rs)", () => {
  assert.equal(rustConst(rust("manifest.rs"), "MAGIC"), `b"${PACK_MAGIC}"`);
});

Deno.test("the snapshot section's magic is the embed's (snapshot.rs)", () => {
  assert.equal(
    rustConst(rust("snapshot.rs"), "SNAPSHOT_MAGIC"),
    `b"${SNAPSHOT_MAGIC}"`,
  );
});
