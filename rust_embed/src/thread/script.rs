//! The plugin's script on its instance thread: the runtime (one isolate),
//! the bridge into the bundle, and the memory the host reads until its
//! next call of the same kind.
//!
//! Every entry into JavaScript is a watchdog run ([`super::watchdog`]): a
//! host call's bridge call, each poll of the event loop while a promise is
//! awaited, and each poll between calls.

use super::code_cache::{run_bundle, CompiledBundle, Stage};
use super::heap_guard;
use super::marshal::{self, ResultStores};
use super::request::{Request, Response};
use super::watchdog::{Abandoned, Activity, StopReason, Watchdog};
use super::ThreadSetup;
use crate::bridge::{self, Arg, Bridge, CallError, PromiseOutcome, Returned};
use crate::logger::{Logger, LEVEL_ERROR};
use crate::metrics::Counters;
use crate::prefetch::AheadEvent;
use deno_core::{v8, JsRuntime, PollEventLoopOptions, RuntimeOptions};
use falco_plugin_api::*;
use std::ffi::{c_char, CString};
use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Loading the bundle and `init` may take longer than a per-event callback.
const LOAD_DEADLINE_FLOOR: Duration = Duration::from_secs(10);

/// The deadline of one run of `activity`.
pub fn deadline_of(activity: Activity, callback_deadline: Duration) -> Duration {
  match activity {
    Activity::Call("load" | "init") => callback_deadline.max(LOAD_DEADLINE_FLOOR),
    _ => callback_deadline,
  }
}

/// Field order matters: Rust drops fields in declaration order, and every
/// handle into the engine (`bridge`, `pending_batch`) must be released
/// before the runtime, or QuickJS-ng cannot free its heap (about 11 MiB
/// per instance leaked at each destroy, measured).
pub struct Script {
  bridge: Bridge,
  pending_batch: Option<v8::Global<v8::Promise>>,
  /// The bundle's script until its code is kept, after `init`.
  compiled: Option<CompiledBundle>,
  runtime: JsRuntime,
  watchdog: Arc<Watchdog>,
  counters: Arc<Counters>,
  name: String,
  callback_deadline: Duration,
  batch_deadline: Duration,
  heap_limit: usize,
  /// The callback of the call being served, for error messages.
  callback: &'static str,
  /// The first stop that hit the call being served.
  stopped: Option<StopReason>,
  batch_copy: Vec<u8>,
  batch_events: Vec<*mut ss_plugin_event>,
  fields: ResultStores,
  /// The values of the events extracted ahead, one set per event.
  ahead_fields: Vec<ResultStores>,
  event_text: CString,
  progress_text: CString,
  open_params: CString,
}

impl Script {
  /// Creates the runtime on this thread and evaluates the bundle.
  pub fn new(setup: ThreadSetup, watchdog: Arc<Watchdog>) -> Result<Script, String> {
    let name = format!("file:///{}.bundle.js", setup.plugin_name);
    let mut runtime = JsRuntime::try_new(RuntimeOptions {
      module_loader: Some(std::rc::Rc::new(crate::source_map::BundleSourceMap {
        bundle_name: name.clone(),
        map: setup.source_map,
      })),
      extensions: crate::web::extensions(setup.logger, &setup.grants)
        .map_err(|e| format!("{}: {e}", setup.plugin_name))?,
      create_params: Some(v8::CreateParams::default().heap_limits(0, setup.heap_limit)),
      startup_snapshot: setup.snapshot,
      // The blob's ops stay slow calls until the first lazily loaded
      // extension script (deno_core upgrades them then); binding every op
      // anew would take most of the start-up. The bridge calls no op on
      // its hot paths.
      skip_op_registration: setup.snapshot.is_some(),
      ..Default::default()
    })
    .map_err(|e| format!("cannot create the JavaScript runtime: {e}"))?;
    crate::web::seal(&mut runtime)?;
    crate::engine::offer_shared_buffers(&mut runtime);
    watchdog.watch(runtime.v8_isolate().thread_safe_handle());
    heap_guard::install(&mut runtime, &watchdog);
    let load = Activity::Call("load");
    let abandoned = || format!("{}: loading the plugin was given up on", setup.plugin_name);
    watchdog
      .enter(load, deadline_of(load, setup.callback_deadline))
      .map_err(|_| abandoned())?;
    let loaded = run_bundle(&mut runtime, &name, setup.bundle);
    let stopped = watchdog.leave().map_err(|_| abandoned())?;
    let compiled = match loaded {
      Ok(compiled) => compiled,
      Err(e) => {
        return Err(match stopped {
          Some(StopReason::HeapLimit) => format!(
            "{}: loading the plugin exceeded the heap limit of {} MiB and was stopped",
            setup.plugin_name,
            setup.heap_limit >> 20
          ),
          Some(StopReason::Deadline) => format!(
            "{}: loading the plugin exceeded its deadline of {} ms and was stopped",
            setup.plugin_name,
            deadline_of(load, setup.callback_deadline).as_millis()
          ),
          None => format!(
            "{}: loading the plugin failed: {}",
            setup.plugin_name,
            bridge::describe_js_error(&e)
          ),
        })
      }
    };
    let bridge = Bridge::install(&mut runtime)?;
    Ok(Script {
      bridge,
      pending_batch: None,
      compiled: Some(compiled),
      runtime,
      watchdog,
      counters: setup.counters,
      name: setup.plugin_name,
      callback_deadline: setup.callback_deadline,
      batch_deadline: setup.batch_deadline,
      heap_limit: setup.heap_limit,
      callback: "",
      stopped: None,
      batch_copy: Vec::new(),
      batch_events: Vec::new(),
      fields: ResultStores::default(),
      ahead_fields: Vec::new(),
      event_text: CString::default(),
      progress_text: CString::default(),
      open_params: CString::default(),
    })
  }

  /// Runs one request. A script stopped by the watchdog or the heap guard
  /// becomes a failure naming the callback and the limit, and the instance
  /// stays usable for the next call.
  ///
  /// # Errors
  /// [`Abandoned`]: a caller gave up on this instance; end the thread.
  pub async fn handle(&mut self, request: Request) -> Result<Response, Abandoned> {
    self.callback = request.callback();
    self.stopped = None;
    let response = self.dispatch(request).await?;
    Ok(match self.stopped.take() {
      None => response,
      Some(reason) => self.stopped_response(reason, response),
    })
  }

  fn stopped_response(&mut self, reason: StopReason, response: Response) -> Response {
    let what = self.count_stop(reason, Activity::Call(self.callback));
    match response {
      Response::Failed(_) => Response::Failed(format!(
        "{}: {} {what} and was stopped (set \"{}\" in the init config to change the limit)",
        self.name,
        self.callback,
        bridge::RESERVED_CONFIG_KEY
      )),
      Response::Metrics(report) => {
        self.log_error(&format!(
          "metrics failed: {} {what} and was stopped",
          self.callback
        ));
        Response::Metrics(report)
      }
      // The script had already returned when the stop came: its answer
      // stands.
      other => other,
    }
  }

  /// Counts a stop of a run of `activity`; says what was exceeded.
  fn count_stop(&mut self, reason: StopReason, activity: Activity) -> String {
    match reason {
      StopReason::HeapLimit => {
        Counters::add(&self.counters.heap_limit_hits, 1);
        format!("exceeded the heap limit of {} MiB", self.heap_limit >> 20)
      }
      StopReason::Deadline => {
        Counters::add(&self.counters.deadline_hits, 1);
        format!(
          "exceeded its deadline of {} ms",
          deadline_of(activity, self.callback_deadline).as_millis()
        )
      }
    }
  }

  fn enter(&self, activity: Activity) -> Result<(), Abandoned> {
    self
      .watchdog
      .enter(activity, deadline_of(activity, self.callback_deadline))
  }

  /// Closes the run opened by [`Script::enter`]; a stop is remembered for
  /// the call, and after a heap stop the configured limit is put back.
  fn leave(&mut self) -> Result<Option<StopReason>, Abandoned> {
    let stopped = self.watchdog.leave()?;
    if stopped == Some(StopReason::HeapLimit) {
      heap_guard::restore(&mut self.runtime, &self.watchdog, self.heap_limit);
    }
    Ok(stopped)
  }

  /// Calls one bridge function as a run of the current callback.
  fn call_bridge(
    &mut self,
    pick: impl Fn(&Bridge) -> &v8::Global<v8::Function>,
    args: &[Arg],
  ) -> Result<Result<Returned, CallError>, Abandoned> {
    self.enter(Activity::Call(self.callback))?;
    let returned = self
      .bridge
      .call(&mut self.runtime, pick(&self.bridge), args);
    if let Some(reason) = self.leave()? {
      self.stopped.get_or_insert(reason);
    }
    Ok(returned)
  }

  /// After a panic inside a run: close it, so the watchdog does not judge
  /// the next call by it.
  pub fn after_panic(&mut self) {
    let _ = self.leave();
  }

  async fn dispatch(&mut self, request: Request) -> Result<Response, Abandoned> {
    Ok(match request {
      Request::Init { config } => {
        let response = self.lifecycle(|b| &b.init, &[Arg::Str(&config)]).await?;
        match (&response, &self.compiled) {
          (Response::Done, Some(compiled)) => compiled.keep(&mut self.runtime, Stage::Initialised),
          // Its code would be worth less than that of an instance that ran.
          _ => self.compiled = None,
        }
        response
      }
      Request::Open { params } => {
        self.pending_batch = None;
        self.lifecycle(|b| &b.open, &[Arg::Str(&params)]).await?
      }
      Request::Close => {
        self.pending_batch = None;
        self.lifecycle(|b| &b.close, &[]).await?
      }
      Request::Shutdown => {
        if let Some(compiled) = self.compiled.take() {
          compiled.keep(&mut self.runtime, Stage::Destroyed);
        }
        self.lifecycle(|b| &b.destroy, &[]).await?
      }
      Request::NextBatch => self.next_batch().await?,
      Request::Extract {
        event,
        fields,
        num_fields,
        ahead,
      } => match unsafe { self.extract(&*event, fields, num_fields)? } {
        Ok(()) => {
          // SAFETY: the caller waits, and its prefetch lock keeps the
          // slots to itself until then.
          unsafe { self.extract_ahead(&mut *ahead)? };
          Response::Done
        }
        Err(e) => Response::Failed(e),
      },
      Request::EventToString { event } => match unsafe { self.event_to_string(&*event)? } {
        Ok(p) => Response::Text(p),
        Err(e) => Response::Failed(e),
      },
      Request::Progress => self.progress()?,
      Request::ListOpenParams => match self.call_bridge(|b| &b.list_open_params, &[])? {
        Ok(Returned::String(s)) => {
          self.open_params = CString::new(s).unwrap_or_default();
          Response::Text(self.open_params.as_ptr())
        }
        Ok(_) => Response::Failed("listOpenParams did not return a string".into()),
        Err(e) => Response::Failed(e.describe()),
      },
      Request::Metrics => self.metrics()?,
    })
  }

  /// `init`, `open`, `close`, `destroy`: a result or a promise, awaited
  /// through the event loop for at most the callback deadline.
  async fn lifecycle(
    &mut self,
    pick: impl Fn(&Bridge) -> &v8::Global<v8::Function>,
    args: &[Arg<'_>],
  ) -> Result<Response, Abandoned> {
    let promise = match self.call_bridge(pick, args)? {
      Ok(Returned::Promise(p)) => p,
      Ok(_) => return Ok(Response::Done),
      Err(e) => return Ok(Response::Failed(e.describe())),
    };
    let limit = deadline_of(Activity::Call(self.callback), self.callback_deadline);
    Ok(
      match self.wait_for(&promise, Instant::now() + limit).await? {
        PromiseOutcome::Fulfilled => Response::Done,
        PromiseOutcome::Pending => Response::Failed(format!(
          "{}: {} did not settle within its deadline of {} ms",
          self.name,
          self.callback,
          limit.as_millis()
        )),
        PromiseOutcome::Rejected(e) => Response::Failed(bridge::describe_js_error(&e)),
        PromiseOutcome::RejectedWith(text) => Response::Failed(text),
      },
    )
  }

  async fn next_batch(&mut self) -> Result<Response, Abandoned> {
    let deadline = Instant::now() + self.batch_deadline;
    loop {
      if let Some(promise) = self.pending_batch.clone() {
        match self.wait_for(&promise, deadline).await? {
          PromiseOutcome::Pending => return Ok(Response::Timeout),
          PromiseOutcome::Rejected(e) => {
            self.pending_batch = None;
            return Ok(Response::Failed(bridge::describe_js_error(&e)));
          }
          PromiseOutcome::RejectedWith(text) => {
            self.pending_batch = None;
            return Ok(Response::Failed(text));
          }
          PromiseOutcome::Fulfilled => self.pending_batch = None,
        }
      }
      match self.call_bridge(|b| &b.next_batch, &[])? {
        Ok(Returned::Number(n)) => return Ok(self.finish_batch(n)),
        Ok(Returned::Promise(p)) => {
          self.pending_batch = Some(p);
          if Instant::now() >= deadline {
            return Ok(Response::Timeout);
          }
        }
        Ok(_) => {
          return Ok(Response::Failed(
            "the bridge's nextBatch returned neither a number nor a promise".into(),
          ))
        }
        Err(e) => return Ok(Response::Failed(e.describe())),
      }
    }
  }

  /// Polls the event loop, each poll a run of the current callback, until
  /// `promise` settles or `deadline` passes. A stopped run rejects it.
  async fn wait_for(
    &mut self,
    promise: &v8::Global<v8::Promise>,
    deadline: Instant,
  ) -> Result<PromiseOutcome, Abandoned> {
    let sleep = tokio::time::sleep_until(deadline.into());
    let mut sleep = std::pin::pin!(sleep);
    let activity = Activity::Call(self.callback);
    poll_fn(|cx| {
      if let outcome @ (PromiseOutcome::Fulfilled | PromiseOutcome::Rejected(_)) =
        Bridge::promise_state(&mut self.runtime, promise)
      {
        return Poll::Ready(Ok(outcome));
      }
      if let Err(e) = self.enter(activity) {
        return Poll::Ready(Err(e));
      }
      let looped = self
        .runtime
        .poll_event_loop(cx, PollEventLoopOptions::default());
      match self.leave() {
        Err(e) => return Poll::Ready(Err(e)),
        Ok(Some(reason)) => {
          self.stopped.get_or_insert(reason);
          return Poll::Ready(Ok(PromiseOutcome::RejectedWith(format!(
            "{} was stopped",
            self.callback
          ))));
        }
        Ok(None) => {}
      }
      match Bridge::promise_state(&mut self.runtime, promise) {
        PromiseOutcome::Pending => {}
        outcome => return Poll::Ready(Ok(outcome)),
      }
      if let Poll::Ready(Err(e)) = looped {
        self.log_error(&format!("error in the event loop: {e}"));
      }
      if sleep.as_mut().poll(cx).is_ready() {
        return Poll::Ready(Ok(PromiseOutcome::Pending));
      }
      Poll::Pending
    })
    .await
  }

  /// Polls the event loop once between host calls (timers, I/O, promises)
  /// as a run of its own: a stop there is logged and counted, never
  /// reported against a host call.
  pub fn poll_idle(&mut self, cx: &mut Context) -> Result<(), Abandoned> {
    self.enter(Activity::EventLoop)?;
    let looped = self
      .runtime
      .poll_event_loop(cx, PollEventLoopOptions::default());
    match self.leave()? {
      Some(reason) => {
        let what = self.count_stop(reason, Activity::EventLoop);
        Counters::add(&self.counters.errors, 1);
        self.log_error(&format!(
          "async code in the event loop (timers, I/O callbacks, promises) {what} and was stopped"
        ));
      }
      None => {
        if let Poll::Ready(Err(e)) = looped {
          Counters::add(&self.counters.errors, 1);
          self.log_error(&format!("uncaught error in async code: {e}"));
        }
      }
    }
    Ok(())
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
    let (offsets, end) = match marshal::batch_offsets(batch, count) {
      Ok(v) => v,
      Err(e) => return Response::Failed(e),
    };
    // The host may keep these until the next call: copy out of engine memory.
    self.batch_copy.clear();
    self.batch_copy.extend_from_slice(&batch[..end]);
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

  /// # Safety
  /// `event` and `fields` as the host gives them to `extract_fields`.
  unsafe fn extract(
    &mut self,
    event: &ss_plugin_event_input,
    fields: *mut ss_plugin_extract_field,
    num_fields: u32,
  ) -> Result<Result<(), String>, Abandoned> {
    let n = num_fields as usize;
    if n == 0 {
      return Ok(Ok(()));
    }
    if fields.is_null() {
      return Ok(Err("the host passed no fields to extract".into()));
    }
    let requests = std::slice::from_raw_parts_mut(fields, n);
    {
      let input = self.bridge.input.bytes_mut();
      let max = marshal::max_requests(input.len());
      if n > max {
        return Ok(Err(format!(
          "{n} fields in one call exceed the limit of {max}"
        )));
      }
      let written = marshal::write_event(input, event, n)
        .and_then(|at| marshal::write_requests(input, at, requests));
      if let Err(e) = written {
        return Ok(Err(e));
      }
    }
    if let Err(e) = self.call_bridge(|b| &b.extract, &[])? {
      return Ok(Err(e.describe()));
    }
    Ok(marshal::collect_values(
      self.bridge.output.bytes(),
      &mut self.fields,
      requests,
    ))
  }

  /// Extracts the events planned ahead ([`crate::prefetch`]) as one run of
  /// JavaScript in one scope: a run per event (the watchdog's lock and
  /// clock, a context scope, a try-catch) cost about a sixth of the
  /// instance thread's time on the dummy. An event that fails is left
  /// `ok = false` (the host's own call extracts it again).
  ///
  /// # Safety
  /// The events and requests as [`crate::prefetch`] planned them.
  unsafe fn extract_ahead(&mut self, ahead: &mut [AheadEvent]) -> Result<(), Abandoned> {
    if ahead.is_empty() {
      return Ok(());
    }
    if self.ahead_fields.len() < ahead.len() {
      self
        .ahead_fields
        .resize_with(ahead.len(), ResultStores::default);
    }
    self.enter(Activity::Call(self.callback))?;
    let Script {
      bridge,
      runtime,
      ahead_fields,
      ..
    } = self;
    let input = &bridge.input;
    let output = &bridge.output;
    let max = marshal::max_requests(input.len());
    // Both closures reach the slots: `before` reads slot `i`, then `after`
    // fills it, never at the same time.
    let slots = ahead.as_mut_ptr();
    bridge.call_each(
      runtime,
      &bridge.extract,
      &[],
      ahead.len(),
      |i| {
        // SAFETY: `i` is below `ahead.len()`.
        let next = unsafe { &*slots.add(i) };
        let n = next.requests.len();
        // SAFETY: no JavaScript runs while the input is written.
        let input = unsafe { input.bytes_mut() };
        n != 0
          && n <= max
          && unsafe { marshal::write_event(input, &next.event, n) }
            .and_then(|at| unsafe { marshal::write_requests(input, at, &next.requests) })
            .is_ok()
      },
      |i, returned| {
        // SAFETY: `i` is below `ahead.len()`.
        let next = unsafe { &mut *slots.add(i) };
        // SAFETY: JavaScript returned; the output holds its values.
        next.ok = returned.is_ok()
          && unsafe {
            marshal::collect_values(output.bytes(), &mut ahead_fields[i], &mut next.requests)
          }
          .is_ok();
      },
    );
    if let Some(reason) = self.leave()? {
      self.stopped.get_or_insert(reason);
    }
    Ok(())
  }

  /// # Safety
  /// `event` as the host gives it to `event_to_string`.
  unsafe fn event_to_string(
    &mut self,
    event: &ss_plugin_event_input,
  ) -> Result<Result<*const c_char, String>, Abandoned> {
    if let Err(e) = marshal::write_event(self.bridge.input.bytes_mut(), event, 0) {
      return Ok(Err(e));
    }
    Ok(match self.call_bridge(|b| &b.event_to_string, &[])? {
      Ok(Returned::String(s)) => {
        self.event_text = CString::new(s.replace('\0', "\\0")).unwrap_or_default();
        Ok(self.event_text.as_ptr())
      }
      Ok(_) => Err("eventToString did not return a string".into()),
      Err(e) => Err(e.describe()),
    })
  }

  fn progress(&mut self) -> Result<Response, Abandoned> {
    Ok(match self.call_bridge(|b| &b.progress, &[])? {
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
    })
  }

  /// The heap in use and the script's metrics. A failing `metrics`
  /// callback is logged and counted as an error; the built-in metrics are
  /// still reported.
  fn metrics(&mut self) -> Result<Response, Abandoned> {
    let heap_used = self.heap_used();
    let script = match self.call_bridge(|b| &b.metrics, &[])? {
      Ok(Returned::String(s)) => crate::metrics::parse_script_metrics(&s),
      Ok(Returned::Undefined) => Ok(Vec::new()),
      Ok(_) => Err("the bridge's metrics did not return a string".into()),
      Err(CallError::Terminated) => Ok(Vec::new()),
      Err(e) => Err(e.describe()),
    };
    let script = script.unwrap_or_else(|e| {
      Counters::add(&self.counters.errors, 1);
      self.log_error(&format!("metrics failed: {e}"));
      Vec::new()
    });
    Ok(Response::Metrics(crate::metrics::Report {
      heap_used,
      script,
    }))
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

  /// Logs through the host's logger, prefixed with the plugin's name.
  pub fn log_error(&mut self, message: &str) {
    let msg = format!("{}: {message}", self.name);
    let state = self.runtime.op_state();
    let state = state.borrow();
    state.borrow::<Logger>().log(LEVEL_ERROR, &msg);
  }
}
