//! `ss_plugin_t`: what the host holds for one plugin instance.

use crate::manifest::Manifest;
use crate::metrics::{Counters, Published};
use crate::prefetch::Prefetch;
use crate::worker::{Request, Response, Worker};
use std::ffi::{c_char, CString};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options the operator sets under the reserved `falco_deno` member of the
/// init config.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbedOptions {
  /// How long `next_batch` waits for an async `nextBatch` before TIMEOUT.
  #[serde(default = "default_batch_deadline_ms")]
  pub batch_deadline_ms: u64,
  /// How long one script callback may run before it is terminated.
  #[serde(default = "default_callback_deadline_ms")]
  pub callback_deadline_ms: u64,
  /// The instance's JavaScript heap limit.
  #[serde(default = "default_heap_limit_mb")]
  pub heap_limit_mb: u64,
  /// Permission grants, as `deno test --allow-read=...` etc. (see
  /// [`crate::web::permissions`]); nothing is granted by default.
  #[serde(default)]
  pub allow_read: Option<crate::web::Grant>,
  #[serde(default)]
  pub allow_write: Option<crate::web::Grant>,
  #[serde(default)]
  pub allow_net: Option<crate::web::Grant>,
  #[serde(default)]
  pub allow_env: Option<crate::web::Grant>,
  /// Extract the fields asked for on the previous event along with the
  /// first field of each event (see [`crate::prefetch`]).
  #[serde(default = "default_prefetch_fields")]
  pub prefetch_fields: bool,
}

fn default_prefetch_fields() -> bool {
  true
}

fn default_batch_deadline_ms() -> u64 {
  50
}

fn default_callback_deadline_ms() -> u64 {
  1000
}

fn default_heap_limit_mb() -> u64 {
  128
}

impl Default for EmbedOptions {
  fn default() -> Self {
    EmbedOptions {
      batch_deadline_ms: default_batch_deadline_ms(),
      callback_deadline_ms: default_callback_deadline_ms(),
      heap_limit_mb: default_heap_limit_mb(),
      allow_read: None,
      allow_write: None,
      allow_net: None,
      allow_env: None,
      prefetch_fields: default_prefetch_fields(),
    }
  }
}

/// Splits the reserved `falco_deno` member off the init config. A config
/// that is not a JSON object goes to the plugin unchanged, which reports it.
pub fn split_config(raw: &str) -> Result<(String, EmbedOptions), String> {
  let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(raw)
  else {
    return Ok((raw.to_string(), EmbedOptions::default()));
  };
  let Some(reserved) = map.remove(crate::bridge::RESERVED_CONFIG_KEY) else {
    return Ok((raw.to_string(), EmbedOptions::default()));
  };
  let key = crate::bridge::RESERVED_CONFIG_KEY;
  let options: EmbedOptions = serde_json::from_value(reserved)
    .map_err(|e| format!("invalid \"{key}\" member of the init config: {e}"))?;
  if options.callback_deadline_ms == 0 || options.heap_limit_mb < 8 {
    return Err(format!(
      "invalid \"{key}\" member of the init config: callbackDeadlineMs must be > 0 and heapLimitMb >= 8"
    ));
  }
  Ok((serde_json::Value::Object(map).to_string(), options))
}

/// One plugin instance as the host sees it.
pub struct Plugin {
  pub manifest: Option<&'static Manifest>,
  pub worker: Option<Worker>,
  last_error: Mutex<CString>,
  /// Counters behind `plugin_get_metrics`, shared with the instance thread.
  pub counters: Arc<Counters>,
  /// The last `plugin_get_metrics` answer.
  pub published: Mutex<Published>,
  /// Field values extracted ahead of the host's calls; `None` when the
  /// operator turned prefetching off.
  pub prefetch: Option<Mutex<Prefetch>>,
}

impl Plugin {
  /// An instance that only carries an error (a failed `plugin_init`).
  pub fn failed(message: String) -> Plugin {
    let p = Plugin {
      manifest: None,
      worker: None,
      last_error: Mutex::new(CString::default()),
      counters: Arc::default(),
      published: Mutex::default(),
      prefetch: None,
    };
    p.set_error(message);
    p
  }

  /// Starts the instance thread and calls the script's `init`.
  pub fn start(manifest: &'static Manifest, config: &str, logger: crate::logger::Logger) -> Plugin {
    let (config, options) = match split_config(config) {
      Ok(v) => v,
      Err(e) => return Plugin::failed(format!("{}: {e}", manifest.json.name)),
    };
    let counters: Arc<Counters> = Arc::default();
    let worker = match Worker::start(crate::worker::WorkerSetup {
      plugin_name: manifest.json.name.clone(),
      bundle: &manifest.bundle,
      source_map: &manifest.json.source_map,
      logger,
      batch_deadline: Duration::from_millis(options.batch_deadline_ms),
      callback_deadline: Duration::from_millis(options.callback_deadline_ms),
      heap_limit: (options.heap_limit_mb as usize) << 20,
      grants: options.grants(),
      counters: counters.clone(),
    }) {
      Ok(w) => w,
      Err(e) => return Plugin::failed(e),
    };
    let plugin = Plugin {
      manifest: Some(manifest),
      worker: Some(worker),
      last_error: Mutex::new(CString::default()),
      counters,
      published: Mutex::default(),
      prefetch: options.prefetch_fields.then(Mutex::default),
    };
    if let Response::Failed(e) = plugin.call(Request::Init { config }) {
      plugin.set_error(e);
      return Plugin {
        worker: None,
        ..plugin
      };
    }
    plugin
  }

  /// Hands a call to the instance thread; a failure is recorded as the
  /// last error. Counts calls, their wall time, events, extractions and
  /// failures for `plugin_get_metrics` (whose own calls are not counted).
  pub fn call(&self, request: Request) -> Response {
    self.call_reporting(request, true)
  }

  /// As [`Plugin::call`]; with `report` false a failure is neither counted
  /// nor recorded (a speculative extraction that will be retried).
  pub fn call_reporting(&self, request: Request, report: bool) -> Response {
    let Some(worker) = &self.worker else {
      return Response::Failed(self.error_text());
    };
    let counted = !matches!(request, Request::Metrics);
    let extract = matches!(request, Request::Extract { .. });
    if let Some(prefetch) = &self.prefetch {
      if request.may_change_state() {
        prefetch.lock().unwrap_or_else(|e| e.into_inner()).forget();
      }
    }
    let started = Instant::now();
    let response = worker.call(request);
    let failed = matches!(response, Response::Failed(_));
    if counted && (report || !failed) {
      self.count_call(started, extract);
      if let Response::Batch { count, .. } = &response {
        Counters::add(&self.counters.events, *count as u64);
      }
    }
    if let (Response::Failed(e), true) = (&response, report) {
      Counters::add(&self.counters.errors, 1);
      self.set_error(e.clone());
    }
    response
  }

  /// Counts one host call that took since `started`.
  pub fn count_call(&self, started: Instant, extract: bool) {
    let c = &self.counters;
    Counters::add(&c.call_time_ns, started.elapsed().as_nanos() as u64);
    Counters::add(&c.calls, 1);
    if extract {
      Counters::add(&c.extract_calls, 1);
    }
  }

  pub fn set_error(&self, message: String) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = text;
  }

  fn error_text(&self) -> String {
    let e = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
    if e.as_bytes().is_empty() {
      "the plugin is not initialised".into()
    } else {
      e.to_string_lossy().into_owned()
    }
  }

  /// Valid until the next failing call on this instance.
  pub fn last_error_ptr(&self) -> *const c_char {
    self
      .last_error
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .as_ptr()
  }
}

/// Runs `f` and turns a panic into `fallback`: no unwinding crosses the ABI.
pub fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
  std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn split_config_strips_the_reserved_member() {
    let (rest, options) =
      split_config(r#"{"jitter":1,"falco_deno":{"callbackDeadlineMs":5,"heapLimitMb":16}}"#)
        .unwrap();
    assert_eq!(rest, r#"{"jitter":1}"#);
    assert_eq!(options.callback_deadline_ms, 5);
    assert_eq!(options.heap_limit_mb, 16);
    assert_eq!(options.batch_deadline_ms, 50);
  }

  #[test]
  fn split_config_passes_other_configs_through() {
    for raw in ["", "{", "[1]", r#"{"jitter":1}"#] {
      let (rest, options) = split_config(raw).unwrap();
      assert_eq!(rest, raw);
      assert_eq!(options.heap_limit_mb, 128);
    }
  }

  #[test]
  fn split_config_rejects_bad_options() {
    let e = split_config(r#"{"falco_deno":{"heapLimitMb":1}}"#).unwrap_err();
    assert!(e.contains("heapLimitMb >= 8"), "{e}");
    let e = split_config(r#"{"falco_deno":{"unknown":1}}"#).unwrap_err();
    assert!(e.contains("unknown field"), "{e}");
  }
}
