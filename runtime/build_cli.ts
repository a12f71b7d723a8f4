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
import { replaceFile } from "./replace_file.ts";
import { RESERVED_CONFIG_KEY } from "./_bridge_abi.ts";
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
      initSchema: schema ? JSON.stringify(withEmbedOptions(schema)) : "",
      sourceMap: bundle.sourceMap,
      description:
        `${manifest.description} [falco-deno ${FALCO_DENO_VERSION}, ${engine}]`,
      engine,
    },
  });
  const output = options.output ?? `lib${manifest.name}.so`;
  // A running Falco maps the .so it loaded: rewriting that file in place
  // would change its code under it (it crashed a fuzzer here).
  await replaceFile(output, packed, 0o755);
  return {
    path: resolve(output),
    engine,
    bytes: packed.length,
    bundleBytes: bundle.bytes,
    name: manifest.name,
  };
}

const GRANT_SCHEMA = {
  description:
    "Deno --allow-* strings (absolute paths, host:port, names), or true for all",
  oneOf: [{ type: "boolean" }, { type: "array", items: { type: "string" } }],
};

/** JSON Schema of the reserved `falco_deno` init config member. */
export const EMBED_OPTIONS_SCHEMA = {
  type: "object",
  description:
    "Options of the falco-deno embed (limits and permissions); the plugin never sees them",
  properties: {
    callbackDeadlineMs: {
      type: "integer",
      minimum: 1,
      default: 1000,
      description: "A script callback running longer is terminated",
    },
    batchDeadlineMs: {
      type: "integer",
      minimum: 0,
      default: 50,
      description: "How long next_batch waits for an async nextBatch",
    },
    heapLimitMb: {
      type: "integer",
      minimum: 8,
      default: 128,
      description: "JavaScript heap limit of one instance",
    },
    prefetchFields: {
      type: "boolean",
      default: true,
      description:
        "Extract the fields asked for on the previous event together with the first field of each event",
    },
    allowRead: GRANT_SCHEMA,
    allowWrite: GRANT_SCHEMA,
    allowNet: GRANT_SCHEMA,
    allowEnv: GRANT_SCHEMA,
  },
  additionalProperties: false,
};

/**
 * The init schema the `.so` serves: the plugin's own, plus the reserved
 * `falco_deno` member, so that Falco's own schema check accepts the embed's
 * options even when the plugin forbids additional properties.
 *
 * @param schema The plugin's init schema.
 * @returns The schema with the `falco_deno` property added.
 *
 * @example
 * ```ts
 * import { withEmbedOptions } from "./build_cli.ts";
 * const s = withEmbedOptions({ type: "object", additionalProperties: false });
 * console.assert("falco_deno" in (s.properties as object));
 * ```
 */
export function withEmbedOptions(
  schema: Record<string, unknown>,
): Record<string, unknown> {
  if (schema.type !== "object") return schema;
  return {
    ...schema,
    properties: {
      ...(schema.properties as Record<string, unknown> | undefined),
      [RESERVED_CONFIG_KEY]: EMBED_OPTIONS_SCHEMA,
    },
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
