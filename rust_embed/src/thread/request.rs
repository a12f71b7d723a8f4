//! The calls a host thread hands to an instance thread, and the answers.

use falco_plugin_api::*;
use std::ffi::c_char;

/// A call handed to the instance thread. Raw pointers point into the
/// caller's memory, which stays valid because the caller waits.
pub enum Request {
  Init {
    config: String,
  },
  Open {
    params: String,
  },
  Close,
  NextBatch,
  /// Only the requests are passed on, not the host's whole
  /// `ss_plugin_field_extract_input`, whose size depends on the host's
  /// API version.
  Extract {
    event: *const ss_plugin_event_input,
    fields: *mut ss_plugin_extract_field,
    num_fields: u32,
    /// Events of the batch to extract too ([`crate::prefetch`]); may be
    /// empty.
    ahead: *mut [crate::prefetch::AheadEvent],
  },
  EventToString {
    event: *const ss_plugin_event_input,
  },
  Progress,
  ListOpenParams,
  /// The heap in use and the script's own metrics (`plugin_get_metrics`).
  Metrics,
  Shutdown,
}

/// The instance thread's answer. Pointers point into memory the instance
/// owns until the next call of the same kind.
pub enum Response {
  Done,
  Failed(String),
  Batch {
    count: u32,
    events: *mut *mut ss_plugin_event,
  },
  Timeout,
  Eof,
  Text(*const c_char),
  Progress {
    pct: u32,
    text: *const c_char,
  },
  Metrics(crate::metrics::Report),
}

// SAFETY: see the doc comments: the pointed-to memory outlives the call.
unsafe impl Send for Request {}
unsafe impl Send for Response {}

impl Request {
  /// The script callback this request runs, for error messages.
  pub fn callback(&self) -> &'static str {
    match self {
      Request::Init { .. } => "init",
      Request::Open { .. } => "open",
      Request::Close => "close",
      Request::NextBatch => "nextBatch",
      Request::Extract { .. } => "extract",
      Request::EventToString { .. } => "eventToString",
      Request::Progress => "progress",
      Request::ListOpenParams => "openParams",
      Request::Metrics => "metrics",
      Request::Shutdown => "destroy",
    }
  }

  /// Whether the call may change what an extraction returns, so field
  /// values extracted ahead ([`crate::prefetch`]) must be forgotten.
  pub fn may_change_state(&self) -> bool {
    !matches!(
      self,
      Request::Extract { .. }
        | Request::EventToString { .. }
        | Request::Progress
        | Request::ListOpenParams
        | Request::Metrics
    )
  }
}
