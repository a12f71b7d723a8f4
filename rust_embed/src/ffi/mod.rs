//! Every `extern "C"` export of the library, one module per ABI capability
//! as in the Rust plugin SDK. Each export checks its pointers, converts
//! its arguments and calls the safe layer ([`crate::instance`]) behind a
//! panic guard: nothing unwinds into the host, and a NULL handle is an
//! error, never a crash. `deno task build` hides the exports of the
//! capabilities a plugin does not have.

pub mod common;
pub mod extract;
pub mod metrics;
pub mod source;

use crate::instance::Instance;
use falco_plugin_api::*;
use std::ffi::{c_char, CStr};

/// Runs `f` and turns a panic into `fallback`: no unwinding crosses the ABI.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
  std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The instance behind a handle from `plugin_init`; `None` for NULL.
///
/// # Safety
/// `s` is NULL or came from `plugin_init` and was not destroyed.
unsafe fn instance<'a>(s: *mut ss_plugin_t) -> Option<&'a Instance> {
  (s as *const Instance).as_ref()
}

/// Stores `value` where the host asked for it, if it gave a place.
///
/// # Safety
/// `out` is NULL or valid for writes.
unsafe fn put<T>(out: *mut T, value: T) {
  if !out.is_null() {
    *out = value;
  }
}

/// `SUCCESS` or `FAILURE`.
fn rc(ok: bool) -> ss_plugin_rc {
  if ok {
    ss_plugin_rc_SS_PLUGIN_SUCCESS
  } else {
    ss_plugin_rc_SS_PLUGIN_FAILURE
  }
}

/// An owned copy of a C string argument; empty for NULL.
///
/// # Safety
/// `s` is NULL or a C string.
unsafe fn string_arg(s: *const c_char) -> String {
  if s.is_null() {
    String::new()
  } else {
    CStr::from_ptr(s).to_string_lossy().into_owned()
  }
}
