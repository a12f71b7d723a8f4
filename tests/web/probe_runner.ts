/**
 * Runs `web_probe.ts` through the harness and prints one line per check.
 * Started by `web_test.ts` as
 * `deno run --allow-read=<dir> --allow-env=FALCO_PROBE_PARAMS probe_runner.ts`,
 * so Deno's own permissions decide, and the harness gets the grants the
 * `.so` gets (`falco_deno.allowRead`).
 *
 * @module
 */
import { PluginHarness } from "../../mod.ts";
import probe from "./web_probe.ts";

const params = Deno.env.get("FALCO_PROBE_PARAMS") ?? "{}";
const { dir } = JSON.parse(params);
const h = await PluginHarness.start(probe, {
  config: { falco_deno: { allowRead: [dir] } },
});
await h.open(params);
for (const e of await h.collect()) console.log(e.text);
await h.destroy();
