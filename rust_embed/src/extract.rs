//! Field extraction. `deno task build` hides these exports for a plugin
//! without fields, so Falco's loader sees no extraction capability.

use crate::manifest::cstr;
use crate::plugin::{guard, Plugin};
use crate::worker::{Request, Response, PLUGIN_EVENT_TYPE};
use falco_plugin_api::*;
use std::ffi::c_char;

static EXTRACT_EVENT_TYPES: [u16; 1] = [PLUGIN_EVENT_TYPE];

#[no_mangle]
pub extern "C" fn plugin_get_fields() -> *const c_char {
  cstr(|m| &m.fields, |u| &u.fields)
}

#[no_mangle]
pub extern "C" fn plugin_get_extract_event_sources() -> *const c_char {
  cstr(|m| &m.extract_event_sources, |u| &u.empty)
}

/// # Safety
/// `numtypes` must be a valid pointer.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_extract_event_types(
  numtypes: *mut u32,
  _s: *mut ss_plugin_t,
) -> *mut u16 {
  if !numtypes.is_null() {
    *numtypes = EXTRACT_EVENT_TYPES.len() as u32;
  }
  EXTRACT_EVENT_TYPES.as_ptr() as *mut u16
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_extract_fields(
  s: *mut ss_plugin_t,
  evt: *const ss_plugin_event_input,
  input: *const ss_plugin_field_extract_input,
) -> ss_plugin_rc {
  if s.is_null() || evt.is_null() || input.is_null() {
    return ss_plugin_rc_SS_PLUGIN_FAILURE;
  }
  let plugin = &*(s as *const Plugin);
  match guard(
    Response::Failed("internal error in extract_fields (panic)".into()),
    || plugin.call(Request::Extract { event: evt, input }),
  ) {
    Response::Done => ss_plugin_rc_SS_PLUGIN_SUCCESS,
    Response::Failed(e) => {
      plugin.set_error(e);
      ss_plugin_rc_SS_PLUGIN_FAILURE
    }
    _ => ss_plugin_rc_SS_PLUGIN_FAILURE,
  }
}
