//! The symbols every plugin exports: identity, init, destroy, errors, schema.

use crate::logger::Logger;
use crate::manifest::{self, cstr};
use crate::plugin::{guard, Plugin};
use falco_plugin_api::*;
use std::ffi::{c_char, CStr};

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
/// `input` and `rc` must be valid pointers, as the ABI requires.
#[no_mangle]
pub unsafe extern "C" fn plugin_init(
  input: *const ss_plugin_init_input,
  rc: *mut ss_plugin_rc,
) -> *mut ss_plugin_t {
  let plugin = guard(
    Plugin::failed("internal error in plugin_init (panic)".into()),
    || {
      let manifest = match manifest::get() {
        Ok(m) => m,
        Err(u) => return Plugin::failed(u.reason.clone()),
      };
      let (config, log_fn, owner) = if input.is_null() {
        (String::new(), None, std::ptr::null_mut())
      } else {
        let input = &*input;
        let config = if input.config.is_null() {
          String::new()
        } else {
          CStr::from_ptr(input.config).to_string_lossy().into_owned()
        };
        (config, input.log_fn, input.owner)
      };
      Plugin::start(
        manifest,
        &config,
        Logger::new(log_fn, owner, &manifest.json.name),
      )
    },
  );
  let ok = plugin.worker.is_some();
  if !rc.is_null() {
    *rc = if ok {
      ss_plugin_rc_SS_PLUGIN_SUCCESS
    } else {
      ss_plugin_rc_SS_PLUGIN_FAILURE
    };
  }
  Box::into_raw(Box::new(plugin)) as *mut ss_plugin_t
}

/// # Safety
/// `s` must come from `plugin_init` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn plugin_destroy(s: *mut ss_plugin_t) {
  if s.is_null() {
    return;
  }
  guard((), || drop(Box::from_raw(s as *mut Plugin)));
}

/// # Safety
/// `s` must come from `plugin_init`.
#[no_mangle]
pub unsafe extern "C" fn plugin_get_last_error(s: *mut ss_plugin_t) -> *const c_char {
  if s.is_null() {
    return c"no plugin state".as_ptr();
  }
  (*(s as *const Plugin)).last_error_ptr()
}
