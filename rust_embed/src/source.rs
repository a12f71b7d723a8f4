//! Event sourcing: `open`, `next_batch`, `close` and their companions.
//! `deno task build` hides these exports for a plugin without an event
//! source, so Falco's loader sees no sourcing capability.

use crate::manifest::{self, cstr};
use crate::plugin::{guard, Plugin};
use crate::worker::{Request, Response};
use falco_plugin_api::*;
use std::ffi::{c_char, CStr};

/// The one capture an instance has open; its address is the handle.
struct Capture;

#[no_mangle]
pub extern "C" fn plugin_get_id() -> u32 {
  match manifest::get() {
    Ok(m) => m.json.id,
    Err(_) => 0,
  }
}

#[no_mangle]
pub extern "C" fn plugin_get_event_source() -> *const c_char {
  cstr(|m| &m.event_source, |u| &u.empty)
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_open(
  s: *mut ss_plugin_t,
  params: *const c_char,
  rc: *mut ss_plugin_rc,
) -> *mut ss_instance_t {
  let plugin = &*(s as *const Plugin);
  let params = if params.is_null() {
    String::new()
  } else {
    CStr::from_ptr(params).to_string_lossy().into_owned()
  };
  let ok = guard(false, || {
    matches!(plugin.call(Request::Open { params }), Response::Done)
  });
  if !rc.is_null() {
    *rc = if ok {
      ss_plugin_rc_SS_PLUGIN_SUCCESS
    } else {
      ss_plugin_rc_SS_PLUGIN_FAILURE
    };
  }
  if ok {
    Box::into_raw(Box::new(Capture)) as *mut ss_instance_t
  } else {
    std::ptr::null_mut()
  }
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_close(s: *mut ss_plugin_t, h: *mut ss_instance_t) {
  let plugin = &*(s as *const Plugin);
  guard((), || {
    plugin.call(Request::Close);
  });
  if !h.is_null() {
    drop(Box::from_raw(h as *mut Capture));
  }
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_next_batch(
  s: *mut ss_plugin_t,
  _h: *mut ss_instance_t,
  nevts: *mut u32,
  evts: *mut *mut *mut ss_plugin_event,
) -> ss_plugin_rc {
  let plugin = &*(s as *const Plugin);
  *nevts = 0;
  let response = guard(
    Response::Failed("internal error in next_batch (panic)".into()),
    || plugin.call(Request::NextBatch),
  );
  match response {
    Response::Batch { count, events } => {
      *nevts = count;
      *evts = events;
      ss_plugin_rc_SS_PLUGIN_SUCCESS
    }
    Response::Timeout => ss_plugin_rc_SS_PLUGIN_TIMEOUT,
    Response::Eof => ss_plugin_rc_SS_PLUGIN_EOF,
    Response::Failed(e) => {
      plugin.set_error(e);
      ss_plugin_rc_SS_PLUGIN_FAILURE
    }
    _ => ss_plugin_rc_SS_PLUGIN_FAILURE,
  }
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_progress(
  s: *mut ss_plugin_t,
  _h: *mut ss_instance_t,
  progress_pct: *mut u32,
) -> *const c_char {
  let plugin = &*(s as *const Plugin);
  match guard(Response::Failed("panic".into()), || {
    plugin.call(Request::Progress)
  }) {
    Response::Progress { pct, text } => {
      if !progress_pct.is_null() {
        *progress_pct = pct;
      }
      text
    }
    _ => {
      if !progress_pct.is_null() {
        *progress_pct = 0;
      }
      c"".as_ptr()
    }
  }
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_event_to_string(
  s: *mut ss_plugin_t,
  evt: *const ss_plugin_event_input,
) -> *const c_char {
  let plugin = &*(s as *const Plugin);
  match guard(Response::Failed("panic".into()), || {
    plugin.call(Request::EventToString { event: evt })
  }) {
    Response::Text(t) => t,
    _ => c"".as_ptr(),
  }
}

/// # Safety
/// Pointers as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_list_open_params(
  s: *mut ss_plugin_t,
  rc: *mut ss_plugin_rc,
) -> *const c_char {
  let plugin = &*(s as *const Plugin);
  let response = guard(Response::Failed("panic".into()), || {
    plugin.call(Request::ListOpenParams)
  });
  let (ok, text) = match response {
    Response::Text(t) => (true, t),
    _ => (false, c"".as_ptr()),
  };
  if !rc.is_null() {
    *rc = if ok {
      ss_plugin_rc_SS_PLUGIN_SUCCESS
    } else {
      ss_plugin_rc_SS_PLUGIN_FAILURE
    };
  }
  text
}
