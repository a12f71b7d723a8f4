/**
 * The independent host the `.so` conformance tests run plugins in, and the
 * engine they pack for.
 *
 * @module
 */

import { join } from "node:path";
import { cacheDir } from "../../runtime/engines.ts";

/** `falco-deno-host`, built by `deno task test` from tests/hosts/runner. */
export const HOST = join(
  cacheDir(),
  "target-hosts",
  "release",
  "falco-deno-host",
);

/** Whether the host binary is there (the `.so` tests are skipped otherwise). */
export const hostPresent = (() => {
  try {
    return Deno.statSync(HOST).isFile;
  } catch {
    return false;
  }
})();

/** The engine the tests pack for (`FALCO_DENO_ENGINE`, default quickjs). */
export const ENGINE = Deno.env.get("FALCO_DENO_ENGINE") ?? "quickjs";
