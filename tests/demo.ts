/**
 * `deno task demo`: packs `plugins/dummy.ts` into a `.so` and runs it in
 * `falco_plugin_runner` (the Rust SDK's plugin host, which loads it with
 * `dlopen` like Falco), printing each event with its fields like a Falco
 * output line. The set-up (`tests/prerequisites.ts`) runs first.
 *
 * @module
 */

import { join } from "node:path";
import { buildPlugin } from "../runtime/build_cli.ts";
import { stopBundler } from "../runtime/bundle.ts";
import { cacheDir, REPO_ROOT } from "../runtime/engines.ts";
import { ensurePrerequisites } from "./prerequisites.ts";

await ensurePrerequisites("demo");

const hostsTarget = join(cacheDir(), "target-hosts");
const build = await new Deno.Command("cargo", {
  args: [
    "build",
    "--release",
    "--locked",
    "--quiet",
    "--manifest-path",
    "tests/hosts/runner/Cargo.toml",
  ],
  cwd: REPO_ROOT,
  env: { CARGO_TARGET_DIR: hostsTarget },
}).spawn().status;
if (!build.success) {
  console.error("error: building the plugin host (tests/hosts/runner) failed");
  Deno.exit(1);
}

const outDir = join(cacheDir(), "demo");
await Deno.mkdir(outDir, { recursive: true });
const plugin = await buildPlugin(join(REPO_ROOT, "plugins/dummy.ts"), {
  output: join(outDir, "libdummy_ts.so"),
});
await stopBundler();
console.log(
  `packed ${plugin.path} (${plugin.engine}, ${
    (plugin.bytes / 1048576).toFixed(1)
  } MiB)`,
);
console.log("running it in falco_plugin_runner:\n");

const host = await new Deno.Command(
  join(hostsTarget, "release", "falco-deno-host"),
  {
    args: [
      "--plugin",
      plugin.path,
      "--config",
      '{"jitter": 10}',
      "--open",
      '{"start": 1, "maxEvents": 10}',
      "--field",
      "dummy.value",
      "--field",
      "dummy.strvalue",
      "--field",
      "dummy.divisible[3]",
    ],
  },
).spawn().status;
Deno.exit(host.code);
