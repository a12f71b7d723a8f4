/**
 * The smallest useful plugin: a source that says hello `count` times, and
 * one field. Quoted by the README's author guide.
 *
 * @module
 */

import { definePlugin, EOF } from "../mod.ts";

export default definePlugin({
  name: "hello",
  id: 999, // reserved by Falco for plugins under development
  version: "0.1.0",
  description: "Says hello",
  contact: "https://example.com/hello",
  eventSource: "hello",
  initSchema: {
    type: "object",
    properties: { count: { type: "integer", minimum: 0, default: 3 } },
  },

  init: (config: { count: number }) => config,

  open: (state) => ({ left: state.count }),

  nextBatch: (_state, capture) =>
    capture.left-- > 0 ? [`hello ${capture.left}`] : EOF,

  fields: [{
    name: "hello.word",
    type: "string",
    desc: "The first word of the event",
    extract: ({ event }) => event.text.split(" ")[0],
  }],
});
