/**
 * Runs `serve_probe.ts` through the harness and prints one line per check.
 * Started by `http_test.ts` as `deno run --allow-net=127.0.0.1:<port>,...
 * --allow-read=/proc/self/fd,<test certificates> --allow-env=FALCO_PROBE_PARAMS
 * serve_probe_runner.ts`, so Deno's own permissions decide, with the grants
 * the `.so` gets.
 *
 * @module
 */
import { PluginHarness } from "../../mod.ts";
import probe from "./serve_probe.ts";

const h = await PluginHarness.start(probe, { config: "{}" });
await h.open(Deno.env.get("FALCO_PROBE_PARAMS") ?? "{}");
for (const e of await h.collect()) console.log(e.text);
h.destroy();
