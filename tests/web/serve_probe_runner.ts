/**
 * Runs `serve_probe.ts` through the harness and prints one line per check.
 * Started by `http_test.ts` as `deno run --allow-net=127.0.0.1:<port>,...
 * --allow-read=/proc/self/fd,<test certificates> --allow-env=FALCO_PROBE_PARAMS
 * serve_probe_runner.ts`, so Deno's own permissions decide, and the harness
 * gets the grants the `.so` gets (`falco_deno.allowNet`, `allowRead`).
 *
 * @module
 */
import { PluginHarness } from "../../mod.ts";
import probe from "./serve_probe.ts";

const params = Deno.env.get("FALCO_PROBE_PARAMS") ?? "{}";
const { port, tls, outsidePort } = JSON.parse(params);
const h = await PluginHarness.start(probe, {
  config: {
    falco_deno: {
      allowNet: [`127.0.0.1:${port}`, `127.0.0.1:${outsidePort}`],
      allowRead: ["/proc/self/fd", tls],
    },
  },
});
await h.open(params);
for (const e of await h.collect()) console.log(e.text);
await h.destroy();
