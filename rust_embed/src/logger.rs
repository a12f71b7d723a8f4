//! Forwards the script's `console` to Falco's logger (`log_fn` of the init
//! input), or to stderr when the host gave none.

use falco_plugin_api::{
  ss_plugin_log_fn_t, ss_plugin_log_severity, ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_DEBUG,
  ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_ERROR, ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_INFO,
  ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_WARNING, ss_plugin_owner_t,
};
use std::ffi::CString;

/// Levels as the bridge's `console` passes them to `op_falco_log`.
pub const LEVEL_DEBUG: u32 = 0;
pub const LEVEL_INFO: u32 = 1;
pub const LEVEL_WARNING: u32 = 2;
pub const LEVEL_ERROR: u32 = 3;

/// The host's logger for one plugin instance.
pub struct Logger {
  log_fn: ss_plugin_log_fn_t,
  owner: *mut ss_plugin_owner_t,
  component: CString,
}

// SAFETY: the host's `log_fn` is documented as callable from any thread,
// and `owner` is an opaque token the host hands back to it.
unsafe impl Send for Logger {}

impl Logger {
  pub fn new(log_fn: ss_plugin_log_fn_t, owner: *mut ss_plugin_owner_t, component: &str) -> Self {
    let component = CString::new(component.replace('\0', "")).unwrap_or_default();
    Logger {
      log_fn,
      owner,
      component,
    }
  }

  /// Logs one message; NUL bytes become U+FFFD so nothing is cut short.
  pub fn log(&self, level: u32, message: &str) {
    let severity: ss_plugin_log_severity = match level {
      LEVEL_DEBUG => ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_DEBUG,
      LEVEL_WARNING => ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_WARNING,
      LEVEL_ERROR => ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_ERROR,
      _ => ss_plugin_log_severity_SS_PLUGIN_LOG_SEV_INFO,
    };
    match self.log_fn {
      Some(log_fn) => {
        let msg = CString::new(message.replace('\0', "\u{fffd}")).unwrap_or_default();
        // SAFETY: pointers valid for the call; the host copies the strings.
        unsafe { log_fn(self.owner, self.component.as_ptr(), msg.as_ptr(), severity) };
      }
      None => {
        let tag = match level {
          LEVEL_DEBUG => "debug",
          LEVEL_WARNING => "warning",
          LEVEL_ERROR => "error",
          _ => "info",
        };
        eprintln!("[{}] {tag}: {message}", self.component.to_string_lossy());
      }
    }
  }
}
