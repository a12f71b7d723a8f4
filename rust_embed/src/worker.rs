//! The plugin instance's own thread: it owns the `JsRuntime` (one isolate),
//! serves the calls handed over by [`crate::handoff`], and keeps polling the
//! event loop between calls so timers and async work make progress.

#![allow(non_upper_case_globals)]

use crate::bridge::{self, Arg, Bridge, PromiseOutcome, Returned};
use crate::handoff::{Handoff, PURE_SPINS, WORKER_SPIN};
use crate::logger::{Logger, LEVEL_ERROR};
use deno_core::{v8, JsRuntime, PollEventLoopOptions, RuntimeOptions};
use falco_plugin_api::*;
use std::ffi::{c_char, CString};
use std::future::{poll_fn, Future};
use std::hint::spin_loop;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Stack of the instance thread. QuickJS-ng measures stack overflow from the
/// thread that created the isolate, so deep recursion needs real room.
const STACK_SIZE: usize = 64 * 1024 * 1024;
/// Size of a scap event header plus the two u32 parameter lengths.
const PLUGIN_EVENT_HEADER: usize = 26 + 8;
/// scap event type of a plugin event.
pub const PLUGIN_EVENT_TYPE: u16 = 322;

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
  Extract {
    event: *const ss_plugin_event_input,
    input: *const ss_plugin_field_extract_input,
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

/// What the instance thread needs to start.
pub struct WorkerSetup {
  pub plugin_name: String,
  pub bundle: &'static str,
  /// The bundle's source map (JSON text, may be empty).
  pub source_map: &'static str,
  pub logger: Logger,
  pub batch_deadline: Duration,
  pub callback_deadline: Duration,
  pub heap_limit: usize,
  /// Permissions granted in the reserved config member.
  pub grants: crate::web::Grants,
  /// The instance's metrics counters (deadline and heap-limit hits are
  /// counted here).
  pub counters: Arc<crate::metrics::Counters>,
}

const STOP_NONE: u8 = 0;
const STOP_DEADLINE: u8 = 1;
const STOP_HEAP: u8 = 2;

/// Stops a runaway script from outside its thread, and remembers why.
#[derive(Default)]
pub struct Watchdog {
  isolate: Mutex<Option<v8::IsolateHandle>>,
  reason: AtomicU8,
}

impl Watchdog {
  fn stop(&self, reason: u8) {
    self.reason.store(reason, Ordering::SeqCst);
    if let Some(handle) = self
      .isolate
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .as_ref()
    {
      handle.terminate_execution();
    }
  }

  fn take_reason(&self) -> u8 {
    self.reason.swap(STOP_NONE, Ordering::SeqCst)
  }
}

/// The host side's handle on an instance thread.
pub struct Worker {
  handoff: Arc<Handoff<Request, Response>>,
  thread: Option<JoinHandle<()>>,
  watchdog: Arc<Watchdog>,
  callback_deadline: Duration,
  batch_deadline: Duration,
}

impl Worker {
  /// Starts the thread, creates the runtime there and evaluates the bundle.
  pub fn start(setup: WorkerSetup) -> Result<Worker, String> {
    let handoff: Arc<Handoff<Request, Response>> = Arc::default();
    let watchdog: Arc<Watchdog> = Arc::default();
    let (started_tx, started_rx) = std::sync::mpsc::sync_channel(1);
    let callback_deadline = setup.callback_deadline;
    let batch_deadline = setup.batch_deadline;
    let plugin_name = setup.plugin_name.clone();
    let thread = {
      let handoff = handoff.clone();
      let watchdog = watchdog.clone();
      std::thread::Builder::new()
        .name(format!(
          "fdeno-{}",
          setup.plugin_name.chars().take(9).collect::<String>()
        ))
        .stack_size(STACK_SIZE)
        .spawn(move || run(setup, handoff, watchdog, started_tx))
        .map_err(|e| format!("cannot start the plugin thread: {e}"))?
    };
    // Loading the bundle runs the plugin's top-level code: watch it too.
    let load_deadline = callback_deadline.max(Duration::from_secs(10));
    let started = match started_rx.recv_timeout(load_deadline) {
      Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
        watchdog.stop(STOP_DEADLINE);
        started_rx.recv().map(|r| {
          r.map_err(|_| {
            format!(
              "{plugin_name}: loading the plugin exceeded its deadline of {} ms and was stopped",
              load_deadline.as_millis()
            )
          })
        })
      }
      other => other.map_err(|_| std::sync::mpsc::RecvError),
    };
    match started {
      Ok(Ok(())) => Ok(Worker {
        handoff,
        thread: Some(thread),
        watchdog,
        callback_deadline,
        batch_deadline,
      }),
      Ok(Err(e)) => {
        let _ = thread.join();
        Err(e)
      }
      Err(_) => {
        let _ = thread.join();
        Err("the plugin thread died while starting the JavaScript engine".into())
      }
    }
  }

  /// Runs `request` on the instance thread and returns its answer. A
  /// script still running past its deadline is terminated.
  pub fn call(&self, request: Request) -> Response {
    let deadline = match request {
      Request::NextBatch => self.callback_deadline + self.batch_deadline,
      Request::Init { .. } => self.callback_deadline.max(Duration::from_secs(10)),
      _ => self.callback_deadline,
    };
    let stop = || self.watchdog.stop(STOP_DEADLINE);
    self.handoff.call(request, Some((deadline, &stop)))
  }
}

impl Drop for Worker {
  fn drop(&mut self) {
    if let Some(thread) = self.thread.take() {
      let _ = self.handoff.call(Request::Shutdown, None);
      let _ = thread.join();
    }
  }
}

fn run(
  setup: WorkerSetup,
  handoff: Arc<Handoff<Request, Response>>,
  watchdog: Arc<Watchdog>,
  started: std::sync::mpsc::SyncSender<Result<(), String>>,
) {
  crate::engine::prepare_process();
  let tokio = match tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
  {
    Ok(t) => t,
    Err(e) => {
      let _ = started.send(Err(format!("cannot start the plugin's event loop: {e}")));
      return;
    }
  };
  let _guard = tokio.enter();
  let instance = match Instance::new(setup, watchdog) {
    Ok(i) => i,
    Err(e) => {
      let _ = started.send(Err(e));
      return;
    }
  };
  let _ = started.send(Ok(()));
  tokio.block_on(serve(instance, handoff));
}

/// Storage for one extracted field's values, reused from call to call.
#[derive(Default)]
struct FieldValues {
  u64s: Vec<u64>,
  u32s: Vec<u32>,
  bytes: Vec<u8>,
  spans: Vec<(usize, usize)>,
  strings: Vec<*const c_char>,
  buffers: Vec<ss_plugin_byte_buffer>,
}

/// Field order matters: Rust drops fields in declaration order, and every
/// handle into the engine (`bridge`, `pending_batch`) must be released
/// before the runtime, or QuickJS-ng cannot free its heap (about 11 MiB
/// per instance leaked at each destroy, measured).
struct Instance {
  bridge: Bridge,
  pending_batch: Option<v8::Global<v8::Promise>>,
  runtime: JsRuntime,
  watchdog: Arc<Watchdog>,
  counters: Arc<crate::metrics::Counters>,
  callback_deadline: Duration,
  heap_limit: usize,
  logger_name: String,
  batch_deadline: Duration,
  batch_copy: Vec<u8>,
  batch_events: Vec<*mut ss_plugin_event>,
  fields: Vec<FieldValues>,
  event_text: CString,
  progress_text: CString,
  open_params: CString,
}

impl Instance {
  fn new(setup: WorkerSetup, watchdog: Arc<Watchdog>) -> Result<Instance, String> {
    let name = format!("file:///{}.bundle.js", setup.plugin_name);
    let mut runtime = JsRuntime::try_new(RuntimeOptions {
      module_loader: Some(std::rc::Rc::new(crate::source_map::BundleSourceMap {
        bundle_name: name.clone(),
        map: setup.source_map,
      })),
      extensions: crate::web::extensions(setup.logger, &setup.grants)
        .map_err(|e| format!("{}: {e}", setup.plugin_name))?,
      create_params: Some(v8::CreateParams::default().heap_limits(0, setup.heap_limit)),
      ..Default::default()
    })
    .map_err(|e| format!("cannot create the JavaScript runtime: {e}"))?;
    *watchdog.isolate.lock().unwrap() = Some(runtime.v8_isolate().thread_safe_handle());
    install_heap_guard(&mut runtime, &watchdog);
    if let Err(e) = runtime.execute_script(name, setup.bundle.to_string()) {
      runtime.v8_isolate().cancel_terminate_execution();
      return Err(match watchdog.take_reason() {
        STOP_HEAP => format!(
          "{}: loading the plugin exceeded the heap limit of {} MiB and was stopped",
          setup.plugin_name,
          setup.heap_limit >> 20
        ),
        _ => format!(
          "{}: loading the plugin failed: {}",
          setup.plugin_name,
          bridge::describe_js_error(&e)
        ),
      });
    }
    let bridge = Bridge::install(&mut runtime)?;
    Ok(Instance {
      runtime,
      bridge,
      watchdog,
      counters: setup.counters,
      callback_deadline: setup.callback_deadline,
      heap_limit: setup.heap_limit,
      logger_name: setup.plugin_name,
      batch_deadline: setup.batch_deadline,
      pending_batch: None,
      batch_copy: Vec::new(),
      batch_events: Vec::new(),
      fields: Vec::new(),
      event_text: CString::default(),
      progress_text: CString::default(),
      open_params: CString::default(),
    })
  }

  /// Runs one request; a script stopped by the watchdog or the heap guard
  /// becomes a failure naming the callback and the limit, and the instance
  /// stays usable for the next call.
  async fn handle(&mut self, request: Request) -> Response {
    let callback = request.callback();
    let response = self.dispatch(request).await;
    let reason = self.watchdog.take_reason();
    if reason == STOP_NONE {
      if self.runtime.v8_isolate().is_execution_terminating() {
        self.runtime.v8_isolate().cancel_terminate_execution();
      }
      return response;
    }
    self.runtime.v8_isolate().cancel_terminate_execution();
    if reason == STOP_HEAP {
      install_heap_guard(&mut self.runtime, &self.watchdog);
    }
    use crate::metrics::Counters;
    match reason {
      STOP_HEAP => Counters::add(&self.counters.heap_limit_hits, 1),
      _ => Counters::add(&self.counters.deadline_hits, 1),
    }
    let what = match reason {
      STOP_HEAP => format!("exceeded the heap limit of {} MiB", self.heap_limit >> 20),
      _ => format!(
        "exceeded its deadline of {} ms",
        self.callback_deadline.as_millis()
      ),
    };
    match response {
      Response::Failed(_) => Response::Failed(format!(
        "{}: {callback} {what} and was stopped (set \"{}\" in the init config to change the limit)",
        self.logger_name,
        bridge::RESERVED_CONFIG_KEY
      )),
      Response::Metrics(report) => {
        self.log_metrics_error(&format!("{callback} {what} and was stopped"));
        Response::Metrics(report)
      }
      other => other,
    }
  }

  /// The heap in use and the script's metrics. A failing `metrics`
  /// callback is logged and counted as an error; the built-in metrics are
  /// still reported.
  fn metrics(&mut self) -> Response {
    let heap_used = self.heap_used();
    let script = match self
      .bridge
      .call(&mut self.runtime, &self.bridge.metrics, &[])
    {
      Ok(Returned::String(s)) => crate::metrics::parse_script_metrics(&s),
      Ok(Returned::Undefined) => Ok(Vec::new()),
      Ok(_) => Err("the bridge's metrics did not return a string".into()),
      Err(bridge::CallError::Terminated) => Ok(Vec::new()),
      Err(e) => Err(e.describe()),
    };
    let script = script.unwrap_or_else(|e| {
      self.log_metrics_error(&e);
      Vec::new()
    });
    Response::Metrics(crate::metrics::Report { heap_used, script })
  }

  fn log_metrics_error(&mut self, error: &str) {
    crate::metrics::Counters::add(&self.counters.errors, 1);
    let msg = format!("{}: metrics failed: {error}", self.logger_name);
    let state = self.runtime.op_state();
    let state = state.borrow();
    state.borrow::<Logger>().log(LEVEL_ERROR, &msg);
  }

  /// Bytes of JavaScript heap in use. QuickJS-ng's v8x layer leaves
  /// `GetHeapStatistics` unimplemented (it panics): no figure there.
  #[cfg(feature = "v8")]
  fn heap_used(&mut self) -> Option<u64> {
    let stats = self.runtime.v8_isolate().get_heap_statistics();
    Some(stats.used_heap_size() as u64)
  }

  #[cfg(not(feature = "v8"))]
  fn heap_used(&mut self) -> Option<u64> {
    None
  }

  async fn dispatch(&mut self, request: Request) -> Response {
    match request {
      Request::Init { config } => self.simple(|b| &b.init, &[Arg::Str(&config)]),
      Request::Open { params } => {
        self.pending_batch = None;
        self.simple(|b| &b.open, &[Arg::Str(&params)])
      }
      Request::Close => {
        self.pending_batch = None;
        self.simple(|b| &b.close, &[])
      }
      Request::NextBatch => self.next_batch().await,
      Request::Extract { event, input } => match unsafe { self.extract(&*event, &*input) } {
        Ok(()) => Response::Done,
        Err(e) => Response::Failed(e),
      },
      Request::EventToString { event } => match unsafe { self.event_to_string(&*event) } {
        Ok(p) => Response::Text(p),
        Err(e) => Response::Failed(e),
      },
      Request::Progress => self.progress(),
      Request::ListOpenParams => {
        match self
          .bridge
          .call(&mut self.runtime, &self.bridge.list_open_params, &[])
        {
          Ok(Returned::String(s)) => {
            self.open_params = CString::new(s).unwrap_or_default();
            Response::Text(self.open_params.as_ptr())
          }
          Ok(_) => Response::Failed("listOpenParams did not return a string".into()),
          Err(e) => Response::Failed(e.describe()),
        }
      }
      Request::Metrics => self.metrics(),
      Request::Shutdown => self.simple(|b| &b.destroy, &[]),
    }
  }

  fn simple(
    &mut self,
    pick: impl Fn(&Bridge) -> &v8::Global<v8::Function>,
    args: &[Arg],
  ) -> Response {
    let f = pick(&self.bridge).clone();
    match self.bridge.call(&mut self.runtime, &f, args) {
      Ok(_) => Response::Done,
      Err(e) => Response::Failed(e.describe()),
    }
  }

  async fn next_batch(&mut self) -> Response {
    let deadline = Instant::now() + self.batch_deadline;
    loop {
      if let Some(promise) = self.pending_batch.clone() {
        match self.wait_for(&promise, deadline).await {
          PromiseOutcome::Pending => return Response::Timeout,
          PromiseOutcome::Rejected(e) => {
            self.pending_batch = None;
            return Response::Failed(bridge::describe_js_error(&e));
          }
          PromiseOutcome::RejectedWith(text) => {
            self.pending_batch = None;
            return Response::Failed(text);
          }
          PromiseOutcome::Fulfilled => self.pending_batch = None,
        }
      }
      match self
        .bridge
        .call(&mut self.runtime, &self.bridge.next_batch, &[])
      {
        Ok(Returned::Number(n)) => return self.finish_batch(n),
        Ok(Returned::Promise(p)) => {
          if Instant::now() >= deadline {
            self.pending_batch = Some(p);
            return Response::Timeout;
          }
          self.pending_batch = Some(p);
        }
        Ok(_) => {
          return Response::Failed(
            "the bridge's nextBatch returned neither a number nor a promise".into(),
          )
        }
        Err(e) => return Response::Failed(e.describe()),
      }
    }
  }

  /// Polls the event loop until `promise` settles or `deadline` passes.
  async fn wait_for(
    &mut self,
    promise: &v8::Global<v8::Promise>,
    deadline: Instant,
  ) -> PromiseOutcome {
    let sleep = tokio::time::sleep_until(deadline.into());
    let mut sleep = std::pin::pin!(sleep);
    let runtime = &mut self.runtime;
    let logger_name = &self.logger_name;
    poll_fn(|cx| {
      if let outcome @ (PromiseOutcome::Fulfilled | PromiseOutcome::Rejected(_)) =
        Bridge::promise_state(runtime, promise)
      {
        return Poll::Ready(outcome);
      }
      let looped = runtime.poll_event_loop(cx, PollEventLoopOptions::default());
      match Bridge::promise_state(runtime, promise) {
        PromiseOutcome::Pending => {}
        outcome => return Poll::Ready(outcome),
      }
      if let Poll::Ready(Err(e)) = looped {
        eprintln!("[{logger_name}] error in the event loop: {e}");
      }
      if sleep.as_mut().poll(cx).is_ready() {
        return Poll::Ready(PromiseOutcome::Pending);
      }
      Poll::Pending
    })
    .await
  }

  fn finish_batch(&mut self, n: f64) -> Response {
    if n == bridge::BATCH_EOF as f64 {
      return Response::Eof;
    }
    if n == bridge::BATCH_TIMEOUT as f64 || n.is_nan() {
      return Response::Timeout;
    }
    if n < 0.0 || n.fract() != 0.0 || n > u32::MAX as f64 {
      return Response::Failed(format!(
        "the bridge's nextBatch returned an invalid count {n}"
      ));
    }
    let count = n as usize;
    // SAFETY: JavaScript is not running.
    let batch = unsafe { self.bridge.batch.bytes() };
    let mut offsets = Vec::with_capacity(count);
    let mut at = 0usize;
    for i in 0..count {
      if at + PLUGIN_EVENT_HEADER > batch.len() {
        return Response::Failed(format!(
          "event {i} of the batch lies outside the batch buffer"
        ));
      }
      let len = u32::from_le_bytes(batch[at + 16..at + 20].try_into().unwrap()) as usize;
      if len < PLUGIN_EVENT_HEADER || at + len > batch.len() {
        return Response::Failed(format!(
          "event {i} of the batch has an invalid length {len}"
        ));
      }
      offsets.push(at);
      at += len;
    }
    // The host may keep these until the next call: copy out of engine memory.
    self.batch_copy.clear();
    self.batch_copy.extend_from_slice(&batch[..at]);
    self.batch_events.clear();
    let base = self.batch_copy.as_mut_ptr();
    self.batch_events.extend(
      offsets
        .iter()
        .map(|&o| unsafe { base.add(o) } as *mut ss_plugin_event),
    );
    Response::Batch {
      count: count as u32,
      events: self.batch_events.as_mut_ptr(),
    }
  }

  /// Writes the event header and payload into `input`; returns where the
  /// bytes after the payload start.
  unsafe fn write_event(
    &self,
    event: &ss_plugin_event_input,
    requests: usize,
  ) -> Result<usize, String> {
    let input = self.bridge.input.bytes_mut();
    let evt = event.evt as *const u8;
    if evt.is_null() {
      return Err("the host passed no event".into());
    }
    let header = std::slice::from_raw_parts(evt, 26);
    let ts = u64::from_le_bytes(header[0..8].try_into().unwrap());
    let len = u32::from_le_bytes(header[16..20].try_into().unwrap()) as usize;
    let etype = u16::from_le_bytes(header[20..22].try_into().unwrap());
    let nparams = u32::from_le_bytes(header[22..26].try_into().unwrap()) as usize;
    let (plugin_id, payload): (u32, &[u8]) =
      if etype == PLUGIN_EVENT_TYPE && nparams >= 2 && len >= PLUGIN_EVENT_HEADER {
        let whole = std::slice::from_raw_parts(evt, len);
        let lens_end = 26 + 4 * nparams;
        if len < lens_end {
          return Err(format!(
            "the event is too short ({len} bytes) for {nparams} parameters"
          ));
        }
        let l0 = u32::from_le_bytes(whole[26..30].try_into().unwrap()) as usize;
        let l1 = u32::from_le_bytes(whole[30..34].try_into().unwrap()) as usize;
        if l0 != 4 || lens_end + l0 + l1 > len {
          return Err("the plugin event's parameters do not fit its length".into());
        }
        let id = u32::from_le_bytes(whole[lens_end..lens_end + 4].try_into().unwrap());
        (id, &whole[lens_end + 4..lens_end + 4 + l1])
      } else {
        (0, &[])
      };
    let payload_at = bridge::INPUT_HEADER_SIZE + requests * bridge::REQUEST_SIZE;
    if payload_at + payload.len() > input.len() {
      return Err(format!(
        "the event payload of {} bytes exceeds the extraction buffer of {} bytes",
        payload.len(),
        input.len()
      ));
    }
    input[0..8].copy_from_slice(&event.evtnum.to_le_bytes());
    input[8..16].copy_from_slice(&ts.to_le_bytes());
    input[16..20].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    input[20..24].copy_from_slice(&(payload_at as u32).to_le_bytes());
    input[24..28].copy_from_slice(&(requests as u32).to_le_bytes());
    input[28..32].copy_from_slice(&plugin_id.to_le_bytes());
    input[32..36].copy_from_slice(&(etype as u32).to_le_bytes());
    input[36..40].copy_from_slice(&0u32.to_le_bytes());
    input[payload_at..payload_at + payload.len()].copy_from_slice(payload);
    Ok(payload_at + payload.len())
  }

  unsafe fn extract(
    &mut self,
    event: &ss_plugin_event_input,
    input: &ss_plugin_field_extract_input,
  ) -> Result<(), String> {
    let n = input.num_fields as usize;
    if n == 0 {
      return Ok(());
    }
    if input.fields.is_null() {
      return Err("the host passed no fields to extract".into());
    }
    let requests = std::slice::from_raw_parts_mut(input.fields, n);
    let max_requests = (self.bridge.input.len() - bridge::INPUT_HEADER_SIZE) / bridge::REQUEST_SIZE;
    if n > max_requests {
      return Err(format!(
        "{n} fields in one call exceed the limit of {max_requests}"
      ));
    }
    let mut at = self.write_event(event, n)?;
    let buf = self.bridge.input.bytes_mut();
    for (i, req) in requests.iter().enumerate() {
      let (kind, index, key_at, key_len) = if req.arg_present == 0 {
        (bridge::ARG_NONE, 0u64, 0usize, 0usize)
      } else if !req.arg_key.is_null() {
        let key = std::ffi::CStr::from_ptr(req.arg_key).to_bytes();
        if at + key.len() > buf.len() {
          return Err("the field arguments exceed the extraction buffer".into());
        }
        buf[at..at + key.len()].copy_from_slice(key);
        let r = (bridge::ARG_KEY, 0u64, at, key.len());
        at += key.len();
        r
      } else {
        (bridge::ARG_INDEX, req.arg_index, 0, 0)
      };
      let r = bridge::INPUT_HEADER_SIZE + i * bridge::REQUEST_SIZE;
      buf[r..r + 4].copy_from_slice(&req.field_id.to_le_bytes());
      buf[r + 4..r + 8].copy_from_slice(&kind.to_le_bytes());
      buf[r + 8..r + 16].copy_from_slice(&index.to_le_bytes());
      buf[r + 16..r + 20].copy_from_slice(&(key_at as u32).to_le_bytes());
      buf[r + 20..r + 24].copy_from_slice(&(key_len as u32).to_le_bytes());
    }
    if let Err(e) = self
      .bridge
      .call(&mut self.runtime, &self.bridge.extract, &[])
    {
      return Err(e.describe());
    }
    self.collect_values(requests)
  }

  /// Copies the values out of `output` into instance-owned storage and
  /// points the host's result fields at it.
  unsafe fn collect_values(
    &mut self,
    requests: &mut [ss_plugin_extract_field],
  ) -> Result<(), String> {
    let out = self.bridge.output.bytes();
    if self.fields.len() < requests.len() {
      self
        .fields
        .resize_with(requests.len(), FieldValues::default);
    }
    let mut at = 0usize;
    let read_u32 = |at: &mut usize| -> Result<u32, String> {
      let v = out
        .get(*at..*at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .ok_or_else(|| "the extracted values run past the output buffer".to_string())?;
      *at += 4;
      Ok(v)
    };
    for (req, store) in requests.iter_mut().zip(self.fields.iter_mut()) {
      store.u64s.clear();
      store.u32s.clear();
      store.bytes.clear();
      store.spans.clear();
      store.strings.clear();
      store.buffers.clear();
      let count = read_u32(&mut at)? as usize;
      for _ in 0..count {
        let len = read_u32(&mut at)? as usize;
        let value = out
          .get(at..at + len)
          .ok_or("the extracted values run past the output buffer")?;
        at += len;
        match req.ftype {
          ss_plugin_field_type_FTYPE_UINT64
          | ss_plugin_field_type_FTYPE_RELTIME
          | ss_plugin_field_type_FTYPE_ABSTIME => {
            let v: [u8; 8] = value
              .try_into()
              .map_err(|_| format!("field id {} expected 8 bytes, got {len}", req.field_id))?;
            store.u64s.push(u64::from_le_bytes(v));
          }
          ss_plugin_field_type_FTYPE_BOOL => {
            let v: [u8; 4] = value
              .try_into()
              .map_err(|_| format!("field id {} expected 4 bytes, got {len}", req.field_id))?;
            store.u32s.push(u32::from_le_bytes(v));
          }
          ss_plugin_field_type_FTYPE_STRING => {
            let start = store.bytes.len();
            store.bytes.extend_from_slice(value);
            store.bytes.push(0);
            store.spans.push((start, len));
          }
          _ => {
            let start = store.bytes.len();
            store.bytes.extend_from_slice(value);
            store.spans.push((start, len));
          }
        }
      }
      req.res_len = count as u64;
      match req.ftype {
        ss_plugin_field_type_FTYPE_UINT64
        | ss_plugin_field_type_FTYPE_RELTIME
        | ss_plugin_field_type_FTYPE_ABSTIME => {
          req.res.u64_ = store.u64s.as_mut_ptr();
        }
        ss_plugin_field_type_FTYPE_BOOL => req.res.u32_ = store.u32s.as_mut_ptr(),
        ss_plugin_field_type_FTYPE_STRING => {
          let base = store.bytes.as_ptr();
          store.strings.extend(
            store
              .spans
              .iter()
              .map(|&(s, _)| base.add(s) as *const c_char),
          );
          req.res.str_ = store.strings.as_mut_ptr();
        }
        _ => {
          let base = store.bytes.as_ptr();
          store
            .buffers
            .extend(store.spans.iter().map(|&(s, l)| ss_plugin_byte_buffer {
              len: l as u32,
              ptr: base.add(s) as *const _,
            }));
          req.res.buf = store.buffers.as_mut_ptr();
        }
      }
    }
    Ok(())
  }

  unsafe fn event_to_string(
    &mut self,
    event: &ss_plugin_event_input,
  ) -> Result<*const c_char, String> {
    self.write_event(event, 0)?;
    match self
      .bridge
      .call(&mut self.runtime, &self.bridge.event_to_string, &[])
    {
      Ok(Returned::String(s)) => {
        self.event_text = CString::new(s.replace('\0', "\\0")).unwrap_or_default();
        Ok(self.event_text.as_ptr())
      }
      Ok(_) => Err("eventToString did not return a string".into()),
      Err(e) => Err(e.describe()),
    }
  }

  fn progress(&mut self) -> Response {
    match self
      .bridge
      .call(&mut self.runtime, &self.bridge.progress, &[])
    {
      Ok(Returned::Pair(pct, text)) => {
        self.progress_text = CString::new(text.replace('\0', "")).unwrap_or_default();
        Response::Progress {
          pct: pct.clamp(0.0, 10000.0) as u32,
          text: self.progress_text.as_ptr(),
        }
      }
      Ok(_) => {
        self.progress_text = CString::default();
        Response::Progress {
          pct: 0,
          text: self.progress_text.as_ptr(),
        }
      }
      Err(e) => Response::Failed(e.describe()),
    }
  }

  fn log_event_loop_error(&mut self, error: &dyn std::fmt::Display) {
    let msg = format!(
      "{}: uncaught error in async code: {error}",
      self.logger_name
    );
    let state = self.runtime.op_state();
    let state = state.borrow();
    state.borrow::<Logger>().log(LEVEL_ERROR, &msg);
  }
}

/// Terminates the script when the heap nears its limit, instead of letting
/// the engine abort the process; the limit is raised a little so the
/// script can unwind.
fn install_heap_guard(runtime: &mut JsRuntime, watchdog: &Arc<Watchdog>) {
  let watchdog = watchdog.clone();
  runtime.add_near_heap_limit_callback(move |current, _initial| {
    watchdog.stop(STOP_HEAP);
    current + current / 4
  });
}

async fn serve(mut instance: Instance, handoff: Arc<Handoff<Request, Response>>) {
  let mut last_poll = Instant::now();
  loop {
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
      if let Some(request) = handoff.take_request() {
        let shutdown = matches!(request, Request::Shutdown);
        let handled = std::panic::AssertUnwindSafe(instance.handle(request));
        let response = match catch_unwind_future(handled).await {
          Ok(r) => r,
          Err(_) => Response::Failed("internal error in the plugin thread (panic)".into()),
        };
        handoff.answer(response);
        if shutdown {
          return;
        }
        // Let timers and I/O move even when the host never pauses.
        if last_poll.elapsed() > Duration::from_millis(1) {
          poll_once(&mut instance).await;
          last_poll = Instant::now();
        }
        idle_since = Instant::now();
        spins = 0;
        continue;
      }
      spins = spins.saturating_add(1);
      if spins < PURE_SPINS {
        spin_loop();
        continue;
      }
      if idle_since.elapsed() > WORKER_SPIN {
        break;
      }
      std::thread::yield_now();
    }
    poll_fn(|cx| {
      if handoff.prepare_sleep(cx.waker()) {
        return Poll::Ready(());
      }
      if let Poll::Ready(Err(e)) = instance
        .runtime
        .poll_event_loop(cx, PollEventLoopOptions::default())
      {
        instance.log_event_loop_error(&e);
      }
      if handoff.has_request() {
        return Poll::Ready(());
      }
      Poll::Pending
    })
    .await;
    handoff.woke();
    last_poll = Instant::now();
  }
}

async fn poll_once(instance: &mut Instance) {
  poll_fn(|cx| {
    if let Poll::Ready(Err(e)) = instance
      .runtime
      .poll_event_loop(cx, PollEventLoopOptions::default())
    {
      instance.log_event_loop_error(&e);
    }
    Poll::Ready(())
  })
  .await
}

async fn catch_unwind_future<F: Future>(f: AssertUnwindSafe<F>) -> std::thread::Result<F::Output> {
  let mut f = std::pin::pin!(f.0);
  poll_fn(
    move |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
      Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
      Ok(Poll::Pending) => Poll::Pending,
      Err(e) => Poll::Ready(Err(e)),
    },
  )
  .await
}
