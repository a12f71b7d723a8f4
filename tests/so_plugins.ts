/**
 * The example plugins that `deno task test` packs into `.so` files, with
 * what Falco's loader must see in each (the spec format of
 * `tests/hosts/go_loader/loader_test.go`).
 *
 * @module
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildManifest } from "../runtime/manifest.ts";
import { REPO_ROOT } from "../runtime/engines.ts";
import type { Plugin } from "../runtime/types.ts";

/** One example plugin to pack and test. */
export interface SoPlugin {
  /** Repository-relative source path. */
  plugin: string;
  /** A config `init` must accept. */
  validConfig: string;
  /** Configs `init` must refuse: malformed JSON and schema violations. */
  invalidConfigs: string[];
  /** The loader spec, computed from the plugin's manifest. */
  loaderSpec(): Promise<Record<string, unknown>>;
}

function soPlugin(
  plugin: string,
  validConfig: string,
  invalidConfigs: string[],
): SoPlugin {
  return {
    plugin,
    validConfig,
    invalidConfigs,
    async loaderSpec() {
      const mod = await import(pathToFileURL(join(REPO_ROOT, plugin)).href);
      const manifest = buildManifest(mod.default as Plugin);
      const capabilities = [];
      if (manifest.capabilities.sourcing) capabilities.push("sourcing");
      if (manifest.capabilities.extraction) capabilities.push("extraction");
      return {
        name: manifest.name,
        capabilities,
        ...(manifest.capabilities.sourcing
          ? { id: manifest.id, eventSource: manifest.eventSource }
          : {}),
        ...(manifest.capabilities.extraction
          ? {
            extractEventSources: JSON.parse(manifest.extractEventSources),
            fields: JSON.parse(manifest.fields).map((f: { name: string }) =>
              f.name
            ),
          }
          : {}),
        requiredApiVersion: manifest.requiredApiVersion,
        validConfig,
        invalidConfigs,
        selfValidates: true,
      };
    },
  };
}

/** Every example plugin. */
export const SO_PLUGINS: SoPlugin[] = [
  soPlugin("plugins/dummy.ts", '{"jitter":10}', [
    "{",
    '{"jitter":"x"}',
    '{"jitter":-1}',
    '{"jitter":1,"falco_deno":{"heapLimitMb":1}}',
    '{"falco_deno":{"noSuchOption":1}}',
  ]),
  soPlugin("plugins/dummy_extract.ts", "{}", ["[", '{"threshold":"ten"}']),
  // additionalProperties: false, yet the embed's own member passes Falco's
  // schema check: the served schema declares it.
  soPlugin(
    "plugins/showcase.ts",
    '{"count":3,"falco_deno":{"callbackDeadlineMs":500}}',
    [
      "{,}",
      '{"count":3,"unknown":true}',
    ],
  ),
  soPlugin("plugins/hello.ts", "", ['{"count":"three"}', "not json"]),
  soPlugin("plugins/jsonl.ts", "{}", ["{", '{"start":"x"}', '{"pollMs":1}']),
  soPlugin("plugins/webhook.ts", "{}", ["{", '{"maxBodyBytes":0}']),
  soPlugin("plugins/poll.ts", "{}", ["{", '{"intervalMs":1}']),
  // Unknown keys are accepted, as by the Go plugin (additionalProperties).
  soPlugin("plugins/k8saudit.ts", "{}", [
    "{",
    '{"maxEventSize":"big"}',
    '{"maxEventSize":-1}',
    '{"useAsync":"yes"}',
  ]),
];
