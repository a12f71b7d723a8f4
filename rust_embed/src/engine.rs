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
