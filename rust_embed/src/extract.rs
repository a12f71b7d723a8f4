//! Field extraction. `deno task build` hides these exports for a plugin
//! without fields, so Falco's loader sees no extraction capability.

use crate::manifest::cstr;
use crate::plugin::{guard, Plugin};
use crate::prefetch::{Plan, Prefetch};
use crate::worker::{Request, Response, PLUGIN_EVENT_TYPE};
use falco_plugin_api::*;
use std::ffi::c_char;
use std::time::Instant;

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
    || extract(plugin, evt, input),
  ) {
    Response::Done => ss_plugin_rc_SS_PLUGIN_SUCCESS,
    Response::Failed(e) => {
      plugin.set_error(e);
      ss_plugin_rc_SS_PLUGIN_FAILURE
    }
    _ => ss_plugin_rc_SS_PLUGIN_FAILURE,
  }
}

/// Answers from the fields extracted ahead when it can, else extracts the
/// asked-for fields together with the likely next ones.
unsafe fn extract(
  plugin: &Plugin,
  evt: *const ss_plugin_event_input,
  input: *const ss_plugin_field_extract_input,
) -> Response {
  let asked = &*input;
  let (Some(prefetch), false, false) = (
    &plugin.prefetch,
    asked.fields.is_null(),
    asked.num_fields == 0,
  ) else {
    return plugin.call(Request::Extract { event: evt, input });
  };
  let started = Instant::now();
  let fields = std::slice::from_raw_parts_mut(asked.fields, asked.num_fields as usize);
  let mut prefetch = prefetch.lock().unwrap_or_else(|e| e.into_inner());
  let mut requests = match prefetch.plan(&*evt, fields) {
    Plan::Answered => {
      plugin.count_call(started, true);
      return Response::Done;
    }
    Plan::Extract(requests) => requests,
  };
  let speculative = requests.len() > fields.len();
  // One hop for `requests` (the asked-for fields first); the answers are
  // kept for the calls that follow.
  let hop = |requests: &mut [ss_plugin_extract_field],
             report: bool,
             prefetch: &mut Prefetch,
             fields: &mut [ss_plugin_extract_field]| {
    let mut combined = *asked;
    combined.num_fields = requests.len() as u32;
    combined.fields = requests.as_mut_ptr();
    let request = Request::Extract {
      event: evt,
      input: &combined,
    };
    let response = plugin.call_reporting(request, report);
    if let Response::Done = response {
      prefetch.keep(fields, requests);
    }
    response
  };
  match hop(&mut requests, !speculative, &mut prefetch, fields) {
    Response::Failed(_) if speculative => {
      // A guessed field may be what failed: ask again for what the host
      // asked, and report only that.
      let mut asked_only = fields.to_vec();
      hop(&mut asked_only, true, &mut prefetch, fields)
    }
    other => other,
  }
}
