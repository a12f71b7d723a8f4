//! The generic falco-deno plugin library.
//!
//! One build of this crate serves every TypeScript plugin: `deno task build`
//! appends a plugin's bundle and manifest to a copy of the library and hides
//! the exports of capabilities the plugin does not have. Falco then loads the
//! copy like any native plugin.
//!
//! Layout, after the Rust plugin SDK:
//! - [`ffi`]: every `extern "C"` export, one module per ABI capability, each
//!   behind a panic guard and null checks; raw ABI types come from
//!   `falco_plugin_api`;
//! - [`instance`]: what `ss_plugin_t` points to, on the host's side;
//! - [`thread`]: the instance's own thread, where the JavaScript engine
//!   runs, and how a host call reaches it ([`handoff`]);
//! - [`config`]: what the operator sets for the embed in the init config;
//! - [`manifest`]: the plugin's static metadata, read from the library file;
//! - [`bridge`], [`ops`], [`web`]: the JavaScript side as Rust sees it.

#[cfg(all(feature = "v8", feature = "quickjs"))]
compile_error!("features `v8` and `quickjs` are mutually exclusive");
#[cfg(not(any(feature = "v8", feature = "quickjs")))]
compile_error!("enable exactly one engine feature: `v8` or `quickjs`");

pub mod bridge;
pub mod config;
pub mod engine;
pub mod ffi;
pub mod field_key;
pub mod handoff;
pub mod instance;
pub mod logger;
pub mod manifest;
pub mod metrics;
pub mod ops;
pub mod prefetch;
pub mod scap;
pub mod snapshot;
pub mod source_map;
pub mod spawner;
pub mod thread;
pub mod web;
