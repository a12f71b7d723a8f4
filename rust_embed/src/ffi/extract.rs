//! Field extraction: `get_fields`, `extract_fields` and their companions.

use super::{guard, instance};
use crate::manifest::cstr;
use crate::scap::PLUGIN_EVENT_TYPE;
use crate::thread::request::Response;
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
/// `numtypes` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_extract_event_types(
  numtypes: *mut u32,
  _s: *mut ss_plugin_t,
) -> *mut u16 {
  super::put(numtypes, EXTRACT_EVENT_TYPES.len() as u32);
  EXTRACT_EVENT_TYPES.as_ptr() as *mut u16
}

/// # Safety
/// `s` is NULL or from `plugin_init`; `evt` and `input` NULL or as the ABI
/// describes them. Of `input`, only `num_fields` and `fields` are read:
/// they are at the same place in every version of the struct, which grew
/// with the API (an older host's is shorter than ours).
#[no_mangle]
pub unsafe extern "C" fn plugin_extract_fields(
  s: *mut ss_plugin_t,
  evt: *const ss_plugin_event_input,
  input: *const ss_plugin_field_extract_input,
) -> ss_plugin_rc {
  let Some(instance) = instance(s) else {
    return ss_plugin_rc_SS_PLUGIN_FAILURE;
  };
  if evt.is_null() || input.is_null() {
    instance.set_error("extract_fields was given no event or no input".into());
    return ss_plugin_rc_SS_PLUGIN_FAILURE;
  }
  let num_fields = std::ptr::addr_of!((*input).num_fields).read() as usize;
  let fields = std::ptr::addr_of!((*input).fields).read();
  if num_fields == 0 {
    return ss_plugin_rc_SS_PLUGIN_SUCCESS;
  }
  if fields.is_null() {
    instance.set_error("extract_fields was given no fields".into());
    return ss_plugin_rc_SS_PLUGIN_FAILURE;
  }
  let fields = std::slice::from_raw_parts_mut(fields, num_fields);
  match guard(
    Response::Failed("internal error in extract_fields (panic)".into()),
    || instance.extract(evt, fields),
  ) {
    Response::Done => ss_plugin_rc_SS_PLUGIN_SUCCESS,
    Response::Failed(e) => {
      instance.set_error(e);
      ss_plugin_rc_SS_PLUGIN_FAILURE
    }
    _ => ss_plugin_rc_SS_PLUGIN_FAILURE,
  }
}
