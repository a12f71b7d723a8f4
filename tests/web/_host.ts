/**
 * The independent host the `.so` conformance tests run plugins in, and the
 * engine they pack for.
 *
 * @module
 */

import { join } from "node:path";
import { cacheDir, REPO_ROOT } from "../../runtime/engines.ts";

/** `falco-deno-host`, built by `deno task test` from tests/hosts/runner. */
export const HOST = join(
  cacheDir(),
  "target-hosts",
  "release",
  "falco-deno-host",
);

/** The engine the tests pack for (`FALCO_DENO_ENGINE`, default quickjs). */
export const ENGINE = Deno.env.get("FALCO_DENO_ENGINE") ?? "quickjs";

const packed = new Map<string, Promise<string>>();

/**
 * Packs `src` (a path in the repository) into `lib<name>.so` for
 * {@linkcode ENGINE} with `deno task build`'s command line, once per test
 * process. Every `.so` test starts here, so this is where a test without
 * its host fails: `deno task test` builds {@linkcode HOST} before it runs
 * these tests.
 *
 * @example
 * ```ts ignore
 * const so = await packPlugin("plugins/webhook.ts", "webhook");
 * ```
 */
export function packPlugin(src: string, name: string): Promise<string> {
  try {
    Deno.statSync(HOST);
  } catch {
    return Promise.reject(
      new Error(
        `The plugin host "${HOST}" is not built: run \`deno task test\` (it builds the host first, then runs these tests)`,
      ),
    );
  }
  let so = packed.get(name);
  if (so === undefined) {
    so = (async () => {
      const out = await Deno.makeTempDir({ prefix: "fdweb-so" });
      const path = join(out, `lib${name}.so`);
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(REPO_ROOT, "runtime/build_cli.ts"),
          join(REPO_ROOT, src),
          "--engine",
          ENGINE,
          "-o",
          path,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (r.code !== 0) {
        throw new Error(
          `packing ${src} failed: ${new TextDecoder().decode(r.stderr)}`,
        );
      }
      return path;
    })();
    packed.set(name, so);
  }
  return so;
}
