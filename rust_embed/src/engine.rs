//! The little that differs between the two engines.

use std::sync::Once;

#[cfg(feature = "quickjs")]
pub mod quickjs_heap;

/// Name of the engine this library was built with.
pub const ENGINE: &str = if cfg!(feature = "v8") {
  "v8"
} else {
  "quickjs"
};

/// Whether formatting an error's stack costs memory that is never given
/// back. v8x 149.4.0-rc.4 (QuickJS-ng) keeps 1-6 KiB each time a stack is
/// formatted through deno_core's `prepareStackTrace` hook (measured: 20,000
/// reads of `new Error().stack` grow a bare `JsRuntime` by 270 MiB; creating,
/// throwing, catching and `String(error)` do not grow it).
pub const STACK_FORMAT_LEAKS: bool = cfg!(feature = "quickjs");

/// Process-wide engine settings, applied once before the first runtime.
pub fn prepare_process() {
  static ONCE: Once = Once::new();
  ONCE.call_once(|| {
    // QuickJS-ng (v8x) caches compiled bytecode under $HOME/.cache by
    // default. Falco runs as root on every node: a plugin must not write
    // there, and the bundle is parsed once per instance anyway.
    #[cfg(feature = "quickjs")]
    std::env::set_var("V82JSC_NO_BC_CACHE", "1");
  });
}
