/**
 * The reference dummy plugin of the Falco project
 * (github.com/falcosecurity/plugins, `plugins/dummy`, v0.11.5), ported.
 *
 * Each event adds `1 + random(0..jitter)` to a sample that starts at
 * `start`; the payload is the sample as a decimal string. With `jitter` 0
 * its events and fields equal the Go plugin's.
 *
 * It uses the id Falco's registry reserves for plugins under development
 * (999) and its own event source, `dummy_ts`: the official plugin already
 * owns `dummy`.
 *
 * @module
 */

import { definePlugin, EOF } from "../mod.ts";

/** Init config of the dummy plugin. */
export interface DummyConfig {
  /** Random amount (0..jitter) added to the sample of each event. */
  jitter: number;
}

/** Events per batch: the Go plugin SDK's default batch size. */
const BATCH_SIZE = 128;

/** An open capture. */
interface Capture {
  /** A number while it is exact in one (below 2^53), then a bigint. */
  sample: number | bigint;
  remaining: number;
}

/** `sample + step`, as exact as the Go plugin's uint64. */
function advance(sample: number | bigint, step: number): number | bigint {
  if (typeof sample === "number" && sample + step <= Number.MAX_SAFE_INTEGER) {
    return sample + step;
  }
  return BigInt(sample) + BigInt(step);
}

function openParam(params: Record<string, unknown>, key: string, def: number) {
  const v = params[key] ?? def;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new TypeError(
      `wrong open params format: "${key}" must be a non-negative integer`,
    );
  }
  return v;
}

export default definePlugin({
  name: "dummy_ts",
  id: 999,
  version: "0.1.0",
  description: "Reference plugin for educational purposes (port of dummy)",
  contact: "github.com/falcosecurity/plugins",
  eventSource: "dummy_ts",
  initSchema: {
    type: "object",
    properties: {
      jitter: {
        type: "integer",
        minimum: 0,
        default: 10,
        title: "Sample jitter",
        description:
          "A random amount added to the sample of each event (Default: 10)",
      },
    },
    additionalProperties: true,
  },
  openParams: [{
    value: '{"start": 1, "maxEvents": 20}',
    desc: "Start value of the sample and number of events",
  }],

  init: (config: DummyConfig) => ({ jitter: config.jitter, opened: 0 }),

  // A counter of its own, published next to the embed's metrics.
  metrics: (state) => ({ captures_opened: state.opened }),

  open(state, params): Capture {
    state.opened++;
    let parsed: Record<string, unknown> = {};
    if (params.length !== 0) {
      parsed = JSON.parse(params);
      if (parsed === null || typeof parsed !== "object") {
        throw new TypeError("wrong open params format: expected an object");
      }
    }
    return {
      sample: openParam(parsed, "start", 1),
      remaining: openParam(parsed, "maxEvents", 20),
    };
  },

  // Like the Go SDK's pull instances, fill a batch of up to 128 events:
  // one hand-off to the host per batch, not per event.
  nextBatch(state, capture) {
    if (capture.remaining <= 0) return EOF;
    const events = [];
    const ts = BigInt(Date.now()) * 1_000_000n;
    for (let i = 0; i < BATCH_SIZE && capture.remaining > 0; i++) {
      capture.remaining--;
      const jitter = Math.floor(Math.random() * (state.jitter + 1));
      capture.sample = advance(capture.sample, 1 + jitter);
      events.push({ payload: String(capture.sample), ts });
    }
    return events;
  },

  eventToString: (_state, event) => `{"sample": "${event.text}"}`,

  // A number while the sample is exact in one (below 2^53): V8 handles
  // numbers much faster than bigints. A bigint past that, as exact as the
  // Go plugin's uint64.
  decode: (_state, event) => {
    const n = Number(event.text);
    return Number.isSafeInteger(n) ? n : BigInt(event.text);
  },

  fields: [
    {
      name: "dummy.divisible",
      type: "uint64",
      desc:
        "Return 1 if the value is divisible by the provided divisor, 0 otherwise",
      index: "required",
      extract({ decoded, index }) {
        if (index === 0) throw new RangeError("divisor must not be 0");
        if (typeof decoded === "number") return decoded % index === 0 ? 1 : 0;
        return decoded % BigInt(index) === 0n ? 1 : 0;
      },
    },
    {
      name: "dummy.value",
      type: "uint64",
      desc: "The sample value in the event",
      extract: ({ decoded }) => decoded,
    },
    {
      name: "dummy.strvalue",
      type: "string",
      desc: "The sample value in the event, as a string",
      extract: ({ event }) => event.text,
    },
  ],
});
