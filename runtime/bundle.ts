/**
 * Bundling: one plugin `.ts` file and the runtime's bridge become one
 * classic script (esbuild, `format: "iife"`) that the embed evaluates.
 *
 * The init config validator is generated from the plugin's schema at build
 * time (Ajv standalone code) and bundled in, so the engine never compiles a
 * schema and Ajv itself stays out of the bundle. Imports that only make
 * sense under Deno (`npm:`, `jsr:`, `node:`) resolve to a module that
 * throws when used: the harness pulls them in through `mod.ts`, and
 * tree-shaking drops them unless the plugin really calls them.
 *
 * @module
 */

import * as esbuild from "esbuild";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileConfigValidator } from "./config_schema.ts";
import denoConfig from "../deno.json" with { type: "json" };

const RUNTIME_DIR = dirname(fileURLToPath(import.meta.url));
/** Deno-only imports: URL schemes, and the bare names of deno.json's import map. */
const DENO_ONLY_IMPORTS = new RegExp(
  "^(npm|jsr|node|https?):|^(" +
    Object.keys(denoConfig.imports).map((k) =>
      k.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
    )
      .join("|") +
    ")(/|$)",
);
const VALIDATOR_MODULE = "falco-deno:config-validator";
const UNAVAILABLE_NAMESPACE = "falco-deno-unavailable";

/** A bundled plugin. */
export interface Bundle {
  /** The script the embed evaluates. */
  code: string;
  /** Its size in bytes. */
  bytes: number;
  /**
   * Source map of the script (JSON text): the embed maps stack frames back
   * to the plugin's `.ts` lines with it.
   */
  sourceMap: string;
}

/**
 * Bundles a plugin file for the embed.
 *
 * @param pluginPath Path of the plugin's `.ts` file.
 * @param initSchema The plugin's init schema, if any.
 * @returns The bundle.
 *
 * @example Bundle the dummy plugin
 * ```ts ignore
 * const { code } = await bundlePlugin("plugins/dummy.ts", schema);
 * ```
 */
export async function bundlePlugin(
  pluginPath: string,
  initSchema?: Record<string, unknown>,
): Promise<Bundle> {
  const absolute = isAbsolute(pluginPath)
    ? pluginPath
    : resolve(Deno.cwd(), pluginPath);
  const validatorSource = initSchema
    ? compileConfigValidator(initSchema)
    : "export default undefined;";
  const entry = [
    `import plugin from ${JSON.stringify(absolute)};`,
    `import { installBridge } from ${
      JSON.stringify(join(RUNTIME_DIR, "embed_bridge.ts"))
    };`,
    `import validateConfig from ${JSON.stringify(VALIDATOR_MODULE)};`,
    `installBridge(plugin, validateConfig);`,
  ].join("\n");
  const result = await esbuild.build({
    stdin: {
      contents: entry,
      resolveDir: dirname(absolute),
      sourcefile: "falco-deno-entry.ts",
      loader: "ts",
    },
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    treeShaking: true,
    legalComments: "none",
    sourcemap: "external",
    sourcesContent: false,
    // Sources in the map are relative to this (never written) file: the
    // plugin's own file maps to its bare name.
    outfile: join(dirname(absolute), "falco-deno.bundle.js"),
    logLevel: "silent",
    plugins: [{
      name: "falco-deno",
      setup(build) {
        build.onResolve({ filter: /^falco-deno:config-validator$/ }, () => ({
          path: VALIDATOR_MODULE,
          namespace: "falco-deno-validator",
        }));
        build.onLoad(
          { filter: /.*/, namespace: "falco-deno-validator" },
          () => ({ contents: validatorSource, loader: "js" }),
        );
        build.onResolve(
          { filter: DENO_ONLY_IMPORTS },
          (args) => ({ path: args.path, namespace: UNAVAILABLE_NAMESPACE }),
        );
        build.onLoad(
          { filter: /.*/, namespace: UNAVAILABLE_NAMESPACE },
          (args) => ({
            contents: `const unavailable = () => { throw new Error(${
              JSON.stringify(
                `"${args.path}" is not available inside the plugin library`,
              )
            }); };
export default new Proxy({}, { get: unavailable });
export const Ajv = unavailable;
export const AsyncLocalStorage = unavailable;`,
            loader: "js",
          }),
        );
      },
    }],
  });
  const script = result.outputFiles.find((f) => f.path.endsWith(".js"))!;
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  return {
    code: script.text,
    bytes: script.contents.length,
    sourceMap: map?.text ?? "",
  };
}

/** Stops esbuild's service so the process can exit. */
export async function stopBundler(): Promise<void> {
  await esbuild.stop();
}
