/**
 * An extract-only plugin: it has no event source of its own and adds fields
 * to the events of the dummy plugins (the official `dummy` source and this
 * repository's `dummy_ts`).
 *
 * @module
 */

import { definePlugin } from "../mod.ts";

/** Init config. */
export interface DummyExtractConfig {
  /** `dummyx.big` is true above this sample. */
  threshold: number;
}

export default definePlugin({
  name: "dummy_extract",
  version: "0.1.0",
  description: "Extra fields over the events of the dummy plugins",
  contact: "https://github.com/falcosecurity",
  extractEventSources: ["dummy", "dummy_ts"],
  initSchema: {
    type: "object",
    properties: { threshold: { type: "integer", minimum: 0, default: 10 } },
  },

  init: (config: DummyExtractConfig) => config,

  decode: (_state, event) => BigInt(event.text),

  fields: [
    {
      name: "dummyx.parity",
      type: "string",
      desc: '"even" or "odd"',
      extract: ({ decoded }) => decoded % 2n === 0n ? "even" : "odd",
    },
    {
      name: "dummyx.square",
      type: "uint64",
      desc: "The sample squared (u64)",
      extract: ({ decoded }) => decoded * decoded,
    },
    {
      name: "dummyx.digits",
      type: "uint64",
      list: true,
      desc: "The decimal digits of the sample",
      extract: ({ event }) => [...event.text].map(Number),
    },
    {
      name: "dummyx.big",
      type: "bool",
      desc: "Whether the sample is above the configured threshold",
      extract: ({ decoded, state }) => decoded > BigInt(state.threshold),
    },
  ],
});
