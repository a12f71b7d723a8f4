//! The symbols every plugin exports: identity, init, destroy, errors, schema.

use super::{guard, instance, put, rc};
use crate::instance::Instance;
use crate::logger::Logger;
use crate::manifest::{self, cstr};
use falco_plugin_api::*;
use std::ffi::c_char;

#[no_mangle]
pub extern "C" fn plugin_get_required_api_version() -> *const c_char {
  cstr(|m| &m.required_api_version, |u| &u.required_api_version)
}

#[no_mangle]
pub extern "C" fn plugin_get_version() -> *const c_char {
  cstr(|m| &m.version, |u| &u.empty)
}

#[no_mangle]
pub extern "C" fn plugin_get_name() -> *const c_char {
  cstr(|m| &m.name, |u| &u.name)
}

#[no_mangle]
pub extern "C" fn plugin_get_description() -> *const c_char {
  cstr(|m| &m.description, |u| &u.empty)
}

#[no_mangle]
pub extern "C" fn plugin_get_contact() -> *const c_char {
  cstr(|m| &m.contact, |u| &u.empty)
}

/// # Safety
/// `schema_type` must be a valid pointer, as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_init_schema(
  schema_type: *mut ss_plugin_schema_type,
) -> *const c_char {
  let has_schema = matches!(manifest::get(), Ok(m) if !m.json.init_schema.is_empty());
  if !schema_type.is_null() {
    *schema_type = if has_schema {
      ss_plugin_schema_type_SS_PLUGIN_SCHEMA_JSON
    } else {
      ss_plugin_schema_type_SS_PLUGIN_SCHEMA_NONE
    };
  }
  cstr(|m| &m.init_schema, |u| &u.empty)
}

/// # Safety
/// `input` is NULL or a valid init input; `rc` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn plugin_init(
  input: *const ss_plugin_init_input,
  rc_out: *mut ss_plugin_rc,
) -> *mut ss_plugin_t {
  let instance = guard(
    Instance::failed("internal error in plugin_init (panic)".into()),
    || {
      let manifest = match manifest::get() {
        Ok(m) => m,
        Err(u) => return Instance::failed(u.reason.clone()),
      };
      let (config, log_fn, owner) = match input.as_ref() {
        None => (String::new(), None, std::ptr::null_mut()),
        Some(input) => (super::string_arg(input.config), input.log_fn, input.owner),
      };
      Instance::start(
        manifest,
        &config,
        Logger::new(log_fn, owner, &manifest.json.name),
      )
    },
  );
  put(rc_out, rc(instance.thread.is_some()));
  Box::into_raw(Box::new(instance)) as *mut ss_plugin_t
}

/// # Safety
/// `s` is NULL or came from `plugin_init`, and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn plugin_destroy(s: *mut ss_plugin_t) {
  if s.is_null() {
    return;
  }
  guard((), || drop(Box::from_raw(s as *mut Instance)));
}

/// # Safety
/// `s` is NULL or came from `plugin_init`.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_last_error(s: *mut ss_plugin_t) -> *const c_char {
  match instance(s) {
    Some(instance) => instance.last_error_ptr(),
    None => c"no plugin state (the handle is NULL)".as_ptr(),
  }
}
