//! The generic falco-deno plugin library.
//!
//! One build of this crate serves every TypeScript plugin: `deno task build`
//! appends a plugin's bundle and manifest to a copy of the library and hides
//! the exports of capabilities the plugin does not have. Falco then loads the
//! copy like any native plugin.
//!
//! Layout, after the Rust plugin SDK: the `extern "C"` entry points live in
//! one module per ABI capability ([`common`], [`source`], [`extract`]) and
//! only convert arguments and hand the call to the plugin's own thread
//! ([`worker`]), where the JavaScript engine runs. Raw ABI types come from
//! `falco_plugin_api`.

#[cfg(all(feature = "v8", feature = "quickjs"))]
compile_error!("features `v8` and `quickjs` are mutually exclusive");
#[cfg(not(any(feature = "v8", feature = "quickjs")))]
compile_error!("enable exactly one engine feature: `v8` or `quickjs`");

pub mod bridge;
pub mod common;
pub mod engine;
pub mod extract;
pub mod handoff;
pub mod logger;
pub mod manifest;
pub mod metrics;
pub mod ops;
pub mod plugin;
pub mod prefetch;
pub mod source;
pub mod source_map;
pub mod web;
pub mod worker;
