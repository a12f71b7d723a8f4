//! The identity of one requested field: its id, type and argument. The
//! prefetch ([`crate::prefetch`]) keys its answers by it, and the instance
//! thread keeps one result store per field key
//! ([`crate::thread::marshal::ResultStores`]).

use falco_plugin_api::*;
use std::ffi::{CStr, CString};

/// The identity of one requested field.
#[derive(Clone, PartialEq, Eq)]
pub struct FieldKey {
  field_id: u32,
  ftype: u32,
  arg: Arg,
}

#[derive(Clone, PartialEq, Eq)]
enum Arg {
  None,
  Index(u64),
  Key(CString),
}

impl FieldKey {
  /// # Safety
  /// `arg_key`, when set, must be a C string.
  pub unsafe fn of(field: &ss_plugin_extract_field) -> FieldKey {
    let arg = if field.arg_present == 0 {
      Arg::None
    } else if !field.arg_key.is_null() {
      Arg::Key(CStr::from_ptr(field.arg_key).to_owned())
    } else {
      Arg::Index(field.arg_index)
    };
    FieldKey {
      field_id: field.field_id,
      ftype: field.ftype,
      arg,
    }
  }

  /// Whether `field` asks for this key, without allocating.
  ///
  /// # Safety
  /// As [`FieldKey::of`].
  pub unsafe fn matches(&self, field: &ss_plugin_extract_field) -> bool {
    if self.field_id != field.field_id || self.ftype != field.ftype {
      return false;
    }
    match &self.arg {
      Arg::None => field.arg_present == 0,
      Arg::Index(i) => field.arg_present != 0 && field.arg_key.is_null() && field.arg_index == *i,
      Arg::Key(k) => {
        field.arg_present != 0
          && !field.arg_key.is_null()
          && CStr::from_ptr(field.arg_key) == k.as_c_str()
      }
    }
  }

  /// A request for this key; it borrows `self` for the key string.
  pub fn request(&self) -> ss_plugin_extract_field {
    // SAFETY: an all-zero request is valid (no result, no argument).
    let mut r: ss_plugin_extract_field = unsafe { std::mem::zeroed() };
    r.field_id = self.field_id;
    r.ftype = self.ftype;
    match &self.arg {
      Arg::None => {}
      Arg::Index(i) => {
        r.arg_present = 1;
        r.arg_index = *i;
      }
      Arg::Key(k) => {
        r.arg_present = 1;
        r.arg_key = k.as_ptr();
      }
    }
    r
  }
}

/// Whether two requests ask for the same field, without allocating.
///
/// # Safety
/// As [`FieldKey::of`], for both.
pub unsafe fn same_field(a: &ss_plugin_extract_field, b: &ss_plugin_extract_field) -> bool {
  if a.field_id != b.field_id || a.ftype != b.ftype || (a.arg_present != 0) != (b.arg_present != 0)
  {
    return false;
  }
  if a.arg_present == 0 {
    return true;
  }
  match (a.arg_key.is_null(), b.arg_key.is_null()) {
    (true, true) => a.arg_index == b.arg_index,
    (false, false) => CStr::from_ptr(a.arg_key) == CStr::from_ptr(b.arg_key),
    _ => false,
  }
}
