//! `plugin_get_metrics`.

use super::{guard, instance};
use falco_plugin_api::*;

/// # Safety
/// `s` must come from `plugin_init` (or be NULL); `num_metrics` must be a
/// valid pointer.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_metrics(
  s: *mut ss_plugin_t,
  num_metrics: *mut u32,
) -> *mut ss_plugin_metric {
  if num_metrics.is_null() {
    return std::ptr::null_mut();
  }
  *num_metrics = 0;
  let Some(instance) = instance(s) else {
    return std::ptr::null_mut();
  };
  let mut count = 0u32;
  let array = guard(std::ptr::null_mut(), || instance.metrics(&mut count));
  if !array.is_null() {
    *num_metrics = count;
  }
  array
}
