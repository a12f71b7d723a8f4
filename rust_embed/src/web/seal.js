// falco-deno: run on every new runtime, after deno_core has started it and
// before the plugin's bundle. Plugin code must not reach deno_core's raw
// ops: some abort the process when called with bad arguments (a Rust panic
// inside an op cannot unwind into the engine). `bootstrap.js` captured what
// it needs.
delete globalThis.__bootstrap;
delete globalThis.Deno.core;
