//! `plugin_get_metrics`: per-instance counters kept on the host side, the
//! heap in use (V8 only), and the counters the script publishes through its
//! optional `metrics(state)` callback.
//!
//! libsinsp calls `get_metrics` from its event thread and from Falco's web
//! server thread; the answer (array and names) is owned by the instance and
//! stays valid until the next `get_metrics` on it.

use crate::instance::Instance;
use crate::thread::request::{Request, Response};
use falco_plugin_api::*;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters of one instance, updated by the host side of each
/// call ([`Instance::call`]) and by the instance thread's watchdog handling.
#[derive(Default)]
pub struct Counters {
  /// Events returned by `next_batch`.
  pub events: AtomicU64,
  /// `extract_fields` calls.
  pub extract_calls: AtomicU64,
  /// Calls that failed (an exception, a stopped script, a bad result).
  pub errors: AtomicU64,
  /// Scripts stopped for running past their deadline.
  pub deadline_hits: AtomicU64,
  /// Scripts stopped near the heap limit.
  pub heap_limit_hits: AtomicU64,
  /// Calls handed to the instance thread (`get_metrics` itself excluded).
  pub calls: AtomicU64,
  /// Wall time of those calls, as the calling host thread saw it.
  pub call_time_ns: AtomicU64,
}

impl Counters {
  pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
  }
}

/// Names of the built-in metrics; a script metric may not reuse one
/// (mirrored by `BUILTIN_METRICS` in `runtime/_bridge_abi.ts`).
pub const BUILTIN_METRICS: [&str; 8] = [
  "events_produced",
  "extract_calls",
  "errors",
  "deadline_hits",
  "heap_limit_hits",
  "calls",
  "call_time_avg_us",
  "heap_used_bytes",
];

/// What the instance thread reports for one `get_metrics`.
pub struct Report {
  /// Bytes of JavaScript heap in use; `None` on QuickJS-ng, whose v8x
  /// layer does not implement heap statistics.
  pub heap_used: Option<u64>,
  /// The script's own metrics, in name order.
  pub script: Vec<(String, f64)>,
}

/// The last answer of `get_metrics`, owned by the instance.
#[derive(Default)]
pub struct Published {
  names: Vec<CString>,
  metrics: Vec<ss_plugin_metric>,
}

// SAFETY: the raw name pointers point into `names` (or static strings).
unsafe impl Send for Published {}

fn metric(
  name: &CStr,
  monotonic: bool,
  value: ss_plugin_metric_value,
  kind: u32,
) -> ss_plugin_metric {
  ss_plugin_metric {
    name: name.as_ptr(),
    type_: if monotonic {
      ss_plugin_metric_type_SS_PLUGIN_METRIC_TYPE_MONOTONIC
    } else {
      ss_plugin_metric_type_SS_PLUGIN_METRIC_TYPE_NON_MONOTONIC
    },
    value,
    value_type: kind,
  }
}

fn counter(name: &'static CStr, c: &AtomicU64) -> ss_plugin_metric {
  metric(
    name,
    true,
    ss_plugin_metric_value {
      u64_: c.load(Ordering::Relaxed),
    },
    ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U64,
  )
}

/// Parses the bridge's `metrics()` text: a JSON object of finite numbers,
/// or an empty string when the plugin publishes none.
pub fn parse_script_metrics(text: &str) -> Result<Vec<(String, f64)>, String> {
  if text.is_empty() {
    return Ok(Vec::new());
  }
  let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
    .map_err(|e| format!("the bridge's metrics returned bad JSON: {e}"))?;
  let mut out = Vec::with_capacity(map.len());
  for (name, value) in map {
    let v = value
      .as_f64()
      .ok_or_else(|| format!("metric \"{name}\" is not a number"))?;
    if name.is_empty() || name.contains('\0') || BUILTIN_METRICS.contains(&name.as_str()) {
      return Err(format!("metric name \"{name}\" is empty or reserved"));
    }
    out.push((name, v));
  }
  // Sorted by name whatever the map's order, so the host sees a stable list.
  out.sort_by(|a, b| a.0.cmp(&b.0));
  Ok(out)
}

impl Instance {
  /// Builds the metrics array; valid until the next call on this instance.
  pub fn metrics(&self, count: &mut u32) -> *mut ss_plugin_metric {
    let report = match self.thread {
      Some(_) => match self.call(Request::Metrics) {
        Response::Metrics(r) => Some(r),
        _ => None,
      },
      None => None,
    };
    let c = &self.counters;
    let mut out = self.published.lock().unwrap_or_else(|e| e.into_inner());
    let out = &mut *out;
    out.names.clear();
    out.metrics.clear();
    let calls = c.calls.load(Ordering::Relaxed);
    let avg_us = if calls == 0 {
      0.0
    } else {
      c.call_time_ns.load(Ordering::Relaxed) as f64 / calls as f64 / 1000.0
    };
    out.metrics.extend([
      counter(c"events_produced", &c.events),
      counter(c"extract_calls", &c.extract_calls),
      counter(c"errors", &c.errors),
      counter(c"deadline_hits", &c.deadline_hits),
      counter(c"heap_limit_hits", &c.heap_limit_hits),
      counter(c"calls", &c.calls),
      metric(
        c"call_time_avg_us",
        false,
        ss_plugin_metric_value { d: avg_us },
        ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_D,
      ),
    ]);
    if let Some(report) = report {
      if let Some(bytes) = report.heap_used {
        out.metrics.push(metric(
          c"heap_used_bytes",
          false,
          ss_plugin_metric_value { u64_: bytes },
          ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_U64,
        ));
      }
      // CString buffers do not move when `names` grows.
      for (name, value) in report.script {
        let Ok(name) = CString::new(name) else {
          continue;
        };
        out.metrics.push(metric(
          &name,
          false,
          ss_plugin_metric_value { d: value },
          ss_plugin_metric_value_type_SS_PLUGIN_METRIC_VALUE_TYPE_D,
        ));
        out.names.push(name);
      }
    }
    *count = out.metrics.len() as u32;
    out.metrics.as_mut_ptr()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn script_metrics_parse_and_reject_reserved_names() {
    assert!(parse_script_metrics("").unwrap().is_empty());
    let m = parse_script_metrics(r#"{"b":2,"a":1.5}"#).unwrap();
    assert_eq!(m, vec![("a".into(), 1.5), ("b".into(), 2.0)]);
    assert!(parse_script_metrics(r#"{"errors":1}"#).is_err());
    assert!(parse_script_metrics(r#"{"a":"x"}"#).is_err());
    assert!(parse_script_metrics("[1]").is_err());
  }
}
