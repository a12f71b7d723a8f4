//! Event sourcing: `open`, `next_batch`, `close` and their companions.

use super::{guard, instance, put, rc, string_arg};
use crate::manifest::{self, cstr};
use crate::thread::request::{Request, Response};
use falco_plugin_api::*;
use std::ffi::c_char;

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
/// `s` is NULL or from `plugin_init`; `params` NULL or a C string; `rc_out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn plugin_open(
  s: *mut ss_plugin_t,
  params: *const c_char,
  rc_out: *mut ss_plugin_rc,
) -> *mut ss_instance_t {
  let ok = instance(s).is_some_and(|instance| {
    let params = string_arg(params);
    guard(false, || {
      matches!(instance.call(Request::Open { params }), Response::Done)
    })
  });
  put(rc_out, rc(ok));
  if ok {
    Box::into_raw(Box::new(Capture)) as *mut ss_instance_t
  } else {
    std::ptr::null_mut()
  }
}

/// # Safety
/// `s` is NULL or from `plugin_init`; `h` NULL or from `plugin_open`.
#[no_mangle]
pub unsafe extern "C" fn plugin_close(s: *mut ss_plugin_t, h: *mut ss_instance_t) {
  if let Some(instance) = instance(s) {
    guard((), || {
      instance.call(Request::Close);
    });
  }
  if !h.is_null() {
    drop(Box::from_raw(h as *mut Capture));
  }
}

/// # Safety
/// `s` is NULL or from `plugin_init`; `nevts` and `evts` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn plugin_next_batch(
  s: *mut ss_plugin_t,
  _h: *mut ss_instance_t,
  nevts: *mut u32,
  evts: *mut *mut *mut ss_plugin_event,
) -> ss_plugin_rc {
  put(nevts, 0);
  let Some(instance) = instance(s) else {
    return ss_plugin_rc_SS_PLUGIN_FAILURE;
  };
  if nevts.is_null() || evts.is_null() {
    instance.set_error("next_batch was given no place for the events".into());
    return ss_plugin_rc_SS_PLUGIN_FAILURE;
  }
  let response = guard(
    Response::Failed("internal error in next_batch (panic)".into()),
    || instance.call(Request::NextBatch),
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
      instance.set_error(e);
      ss_plugin_rc_SS_PLUGIN_FAILURE
    }
    _ => ss_plugin_rc_SS_PLUGIN_FAILURE,
  }
}

/// # Safety
/// `s` is NULL or from `plugin_init`; `progress_pct` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_progress(
  s: *mut ss_plugin_t,
  _h: *mut ss_instance_t,
  progress_pct: *mut u32,
) -> *const c_char {
  put(progress_pct, 0);
  let Some(instance) = instance(s) else {
    return c"".as_ptr();
  };
  match guard(Response::Failed("panic".into()), || {
    instance.call(Request::Progress)
  }) {
    Response::Progress { pct, text } => {
      put(progress_pct, pct);
      text
    }
    _ => c"".as_ptr(),
  }
}

/// # Safety
/// `s` is NULL or from `plugin_init`; `evt` NULL or an event input.
#[no_mangle]
pub unsafe extern "C" fn plugin_event_to_string(
  s: *mut ss_plugin_t,
  evt: *const ss_plugin_event_input,
) -> *const c_char {
  let Some(instance) = instance(s) else {
    return c"".as_ptr();
  };
  if evt.is_null() {
    return c"".as_ptr();
  }
  match guard(Response::Failed("panic".into()), || {
    instance.call(Request::EventToString { event: evt })
  }) {
    Response::Text(t) => t,
    _ => c"".as_ptr(),
  }
}

/// # Safety
/// `s` is NULL or from `plugin_init`; `rc_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn plugin_list_open_params(
  s: *mut ss_plugin_t,
  rc_out: *mut ss_plugin_rc,
) -> *const c_char {
  let response = match instance(s) {
    Some(instance) => guard(Response::Failed("panic".into()), || {
      instance.call(Request::ListOpenParams)
    }),
    None => Response::Failed("no plugin state".into()),
  };
  let (ok, text) = match response {
    Response::Text(t) => (true, t),
    _ => (false, c"".as_ptr()),
  };
  put(rc_out, rc(ok));
  text
}
