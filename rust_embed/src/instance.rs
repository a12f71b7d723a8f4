//! `ss_plugin_t`: one plugin instance as the host holds it. Its calls go to
//! the instance's own thread ([`crate::thread`]); its last error, metrics
//! counters and fields extracted ahead live here, on the host's side.

use crate::config::split_config;
use crate::manifest::Manifest;
use crate::metrics::{Counters, Published};
use crate::prefetch::{Plan, Prefetch};
use crate::thread::request::{Request, Response};
use crate::thread::{InstanceThread, ThreadSetup};
use falco_plugin_api::*;
use std::ffi::{c_char, CString};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One plugin instance.
pub struct Instance {
  pub manifest: Option<&'static Manifest>,
  pub thread: Option<InstanceThread>,
  last_error: Mutex<CString>,
  /// Counters behind `plugin_get_metrics`, shared with the instance thread.
  pub counters: Arc<Counters>,
  /// The last `plugin_get_metrics` answer.
  pub published: Mutex<Published>,
  /// Field values extracted ahead of the host's calls; `None` when the
  /// operator turned prefetching off.
  prefetch: Option<Mutex<Prefetch>>,
}

impl Instance {
  /// An instance that only carries an error (a failed `plugin_init`).
  pub fn failed(message: String) -> Instance {
    let instance = Instance {
      manifest: None,
      thread: None,
      last_error: Mutex::new(CString::default()),
      counters: Arc::default(),
      published: Mutex::default(),
      prefetch: None,
    };
    instance.set_error(message);
    instance
  }

  /// Starts the instance thread and calls the script's `init`.
  pub fn start(
    manifest: &'static Manifest,
    config: &str,
    logger: crate::logger::Logger,
  ) -> Instance {
    let (config, options) = match split_config(config) {
      Ok(v) => v,
      Err(e) => return Instance::failed(format!("{}: {e}", manifest.json.name)),
    };
    let counters: Arc<Counters> = Arc::default();
    let thread = match InstanceThread::start(ThreadSetup {
      plugin_name: manifest.json.name.clone(),
      bundle: &manifest.bundle,
      source_map: &manifest.json.source_map,
      snapshot: manifest.snapshot,
      logger,
      batch_deadline: Duration::from_millis(options.batch_deadline_ms),
      callback_deadline: Duration::from_millis(options.callback_deadline_ms),
      heap_limit: (options.heap_limit_mb as usize) << 20,
      grants: options.grants(),
      counters: counters.clone(),
    }) {
      Ok(t) => t,
      Err(e) => return Instance::failed(e),
    };
    let instance = Instance {
      manifest: Some(manifest),
      thread: Some(thread),
      last_error: Mutex::new(CString::default()),
      counters,
      published: Mutex::default(),
      prefetch: options.prefetch_fields.then(Mutex::default),
    };
    if let Response::Failed(e) = instance.call(Request::Init { config }) {
      instance.set_error(e);
      return Instance {
        thread: None,
        ..instance
      };
    }
    instance
  }

  /// Hands a call to the instance thread; a failure is recorded as the
  /// last error. Counts calls, their wall time, events, extractions and
  /// failures for `plugin_get_metrics` (whose own calls are not counted).
  pub fn call(&self, request: Request) -> Response {
    self.call_reporting(request, true)
  }

  /// As [`Instance::call`]; with `report` false a failure is neither
  /// counted nor recorded (a speculative extraction that will be retried).
  pub fn call_reporting(&self, request: Request, report: bool) -> Response {
    let Some(thread) = &self.thread else {
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
    let response = thread.call(request);
    if let (Some(prefetch), Response::Batch { count, events }) = (&self.prefetch, &response) {
      // SAFETY: the batch stays valid until the next call that may change
      // state, and every such call makes the prefetch forget it first.
      unsafe {
        prefetch
          .lock()
          .unwrap_or_else(|e| e.into_inner())
          .set_batch(*events, *count)
      };
    }
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

  /// Extracts `fields` of `event`: from the fields extracted ahead when it
  /// can, else together with the likely next ones in one hop. A request
  /// whose type or list flag is not the field's declared one fails, naming
  /// both.
  ///
  /// # Safety
  /// `event` and `fields` as the host gives them to `extract_fields`.
  pub unsafe fn extract(
    &self,
    event: *const ss_plugin_event_input,
    fields: &mut [ss_plugin_extract_field],
  ) -> Response {
    if let Some(manifest) = self.manifest {
      if let Err(e) = fields.iter().try_for_each(|f| manifest.check_request(f)) {
        let e = format!("{}: {e}", manifest.json.name);
        Counters::add(&self.counters.errors, 1);
        self.set_error(e.clone());
        return Response::Failed(e);
      }
    }
    let Some(prefetch) = self.prefetch.as_ref().filter(|_| !fields.is_empty()) else {
      return self.call(Request::Extract {
        event,
        fields: fields.as_mut_ptr(),
        num_fields: fields.len() as u32,
        ahead: &mut [][..],
      });
    };
    let started = Instant::now();
    let mut prefetch = prefetch.lock().unwrap_or_else(|e| e.into_inner());
    let mut requests = match prefetch.plan(&*event, fields) {
      Plan::Answered => {
        self.count_call(started, true);
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
      let request = Request::Extract {
        event,
        fields: requests.as_mut_ptr(),
        num_fields: requests.len() as u32,
        ahead: prefetch.ahead_mut(),
      };
      let response = self.call_reporting(request, report);
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
        prefetch.drop_ahead();
        hop(&mut asked_only, true, &mut prefetch, fields)
      }
      other => other,
    }
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
