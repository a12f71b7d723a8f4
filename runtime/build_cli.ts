/**
 * `deno task build <plugin.ts> [-o lib<name>.so] [--engine v8|quickjs]`:
 * bundles a plugin, writes its manifest and packs the one `.so` to ship.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { bundlePlugin, stopBundler } from "./bundle.ts";
import { chooseEngine, type Engine, genericLibrary } from "./engines.ts";
import { buildManifest } from "./manifest.ts";
import { packLibrary } from "./pack.ts";
import type { Plugin } from "./types.ts";

/** Version of the falco-deno tooling. */
export const FALCO_DENO_VERSION = "0.1.0";

/** Options of {@linkcode buildPlugin}. */
export interface BuildOptions {
  /** Output path (default `lib<name>.so` in the current directory). */
  output?: string;
  /** Engine (default: V8 when its archive is present, else QuickJS-ng). */
  engine?: Engine;
  /** A prebuilt generic library to pack instead of building one. */
  library?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What {@linkcode buildPlugin} produced. */
export interface BuildResult {
  /** The packed `.so`. */
  path: string;
  /** The engine inside it. */
  engine: Engine;
  /** Size of the `.so` in bytes. */
  bytes: number;
  /** Size of the bundle in bytes. */
  bundleBytes: number;
  /** The plugin's name. */
  name: string;
}

/**
 * Builds one plugin `.so`.
 *
 * @param pluginPath The plugin's `.ts` file.
 * @param options Output, engine and library.
 * @returns What was written.
 *
 * @example Build the dummy plugin
 * ```ts ignore
 * const { path } = await buildPlugin("plugins/dummy.ts", { engine: "quickjs" });
 * ```
 */
export async function buildPlugin(
  pluginPath: string,
  options: BuildOptions = {},
): Promise<BuildResult> {
  const log = options.log ?? ((l: string) => console.error(l));
  const absolute = isAbsolute(pluginPath)
    ? pluginPath
    : resolve(Deno.cwd(), pluginPath);
  const module = await import(pathToFileURL(absolute).href);
  const plugin = module.default as Plugin | undefined;
  if (!plugin || typeof plugin !== "object") {
    throw new Error(
      `"${pluginPath}" has no default export: export default definePlugin({...})`,
    );
  }
  const manifest = buildManifest(plugin);
  const { engine, reason } = chooseEngine(options.engine);
  log(`engine: ${engine} (${reason})`);
  const library = options.library ?? await genericLibrary(engine, log);
  const schema = manifest.initSchema
    ? JSON.parse(manifest.initSchema)
    : undefined;
  const bundle = await bundlePlugin(absolute, schema);
  const packed = packLibrary({
    library: await Deno.readFile(library),
    bundle: bundle.code,
    manifest: {
      ...manifest,
      description:
        `${manifest.description} [falco-deno ${FALCO_DENO_VERSION}, ${engine}]`,
      engine,
    },
  });
  const output = options.output ?? `lib${manifest.name}.so`;
  await Deno.writeFile(output, packed, { mode: 0o755 });
  return {
    path: resolve(output),
    engine,
    bytes: packed.length,
    bundleBytes: bundle.bytes,
    name: manifest.name,
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      engine: { type: "string" },
      library: { type: "string" },
      version: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.version) {
    console.log(`falco-deno ${FALCO_DENO_VERSION}`);
    console.log(
      `engine by default: ${chooseEngine().engine} (${chooseEngine().reason})`,
    );
    Deno.exit(0);
  }
  if (values.help || positionals.length !== 1) {
    console.error(
      "usage: deno task build <plugin.ts> [-o lib<name>.so] [--engine v8|quickjs] [--library generic.so]",
    );
    Deno.exit(values.help ? 0 : 2);
  }
  try {
    const result = await buildPlugin(positionals[0], {
      output: values.output,
      engine: values.engine as Engine | undefined,
      library: values.library,
    });
    console.log(
      `wrote ${result.path} (${result.name}, ${result.engine}, ${
        (result.bytes / 1048576).toFixed(1)
      } MiB, bundle ${(result.bundleBytes / 1024).toFixed(1)} KiB)`,
    );
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    Deno.exitCode = 1;
  } finally {
    await stopBundler();
  }
}
