/**
 * Runs `web_probe.ts` through the harness and prints one line per check.
 * Started by `web_test.ts` as
 * `deno run --allow-read=<dir> --allow-env=FALCO_PROBE_PARAMS probe_runner.ts`,
 * so Deno's own permissions decide, with the grants the `.so` gets.
 *
 * @module
 */
import { PluginHarness } from "../../mod.ts";
import probe from "./web_probe.ts";

const h = await PluginHarness.start(probe, { config: "{}" });
await h.open(Deno.env.get("FALCO_PROBE_PARAMS") ?? "{}");
for (const e of await h.collect()) console.log(e.text);
h.destroy();
