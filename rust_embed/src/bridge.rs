//! The JavaScript side of a plugin instance, as seen from Rust: the bridge
//! object that the bundle installs (see `runtime/_bridge_abi.ts`, which this
//! file mirrors), its functions and its three shared buffers.

use deno_core::error::JsError;
use deno_core::v8;
use deno_core::JsRuntime;
use std::cell::Cell;
use std::time::{Duration, Instant};

pub const BRIDGE_GLOBAL: &str = "__falcoDenoBridge";
pub const RESERVED_CONFIG_KEY: &str = "falco_deno";
pub const BATCH_TIMEOUT: i64 = 0;
pub const BATCH_EOF: i64 = -1;
pub const INPUT_HEADER_SIZE: usize = 40;
pub const REQUEST_SIZE: usize = 24;
pub const ARG_NONE: u32 = 0;
pub const ARG_INDEX: u32 = 1;
pub const ARG_KEY: u32 = 2;

/// A buffer allocated by the engine and written by both sides (never at
/// the same time: JavaScript runs only while Rust waits for it). Allocated
/// in the engine because QuickJS-ng copies Rust-allocated backing stores.
pub struct SharedBuffer {
  _store: v8::SharedRef<v8::BackingStore>,
  ptr: *mut u8,
  len: usize,
}

impl SharedBuffer {
  pub fn len(&self) -> usize {
    self.len
  }
  pub fn is_empty(&self) -> bool {
    self.len == 0
  }
  /// # Safety
  /// No JavaScript may run while the slice is alive.
  pub unsafe fn bytes(&self) -> &[u8] {
    std::slice::from_raw_parts(self.ptr, self.len)
  }
  /// # Safety
  /// No JavaScript may run while the slice is alive, and no other slice of
  /// the buffer may be alive.
  #[allow(clippy::mut_from_ref)]
  pub unsafe fn bytes_mut(&self) -> &mut [u8] {
    std::slice::from_raw_parts_mut(self.ptr, self.len)
  }
}

/// Handles to the bridge's functions.
pub struct Bridge {
  object: v8::Global<v8::Object>,
  pub init: v8::Global<v8::Function>,
  pub open: v8::Global<v8::Function>,
  pub close: v8::Global<v8::Function>,
  pub next_batch: v8::Global<v8::Function>,
  pub extract: v8::Global<v8::Function>,
  pub event_to_string: v8::Global<v8::Function>,
  pub progress: v8::Global<v8::Function>,
  pub list_open_params: v8::Global<v8::Function>,
  pub metrics: v8::Global<v8::Function>,
  pub destroy: v8::Global<v8::Function>,
  pub batch: SharedBuffer,
  pub input: SharedBuffer,
  pub output: SharedBuffer,
}

/// What a bridge call returned, reduced to what the embed needs.
pub enum Returned {
  Undefined,
  Number(f64),
  String(String),
  Promise(v8::Global<v8::Promise>),
  /// `[number, string]`, as `progress()` returns.
  Pair(f64, String),
  Other,
}

/// An argument of a bridge call.
pub enum Arg<'a> {
  Str(&'a str),
}

impl Bridge {
  /// Reads the bridge object that evaluating the bundle installed.
  pub fn install(runtime: &mut JsRuntime) -> Result<Bridge, String> {
    deno_core::scope!(scope, runtime);
    let global = scope.get_current_context().global(scope);
    let key = v8::String::new(scope, BRIDGE_GLOBAL).unwrap();
    let object = global
      .get(scope, key.into())
      .and_then(|v| v8::Local::<v8::Object>::try_from(v).ok())
      .ok_or_else(|| format!("the bundle did not install globalThis.{BRIDGE_GLOBAL}"))?;
    let function =
      |scope: &mut v8::PinScope, name: &str| -> Result<v8::Global<v8::Function>, String> {
        let key = v8::String::new(scope, name).unwrap();
        object
          .get(scope, key.into())
          .and_then(|v| v8::Local::<v8::Function>::try_from(v).ok())
          .map(|f| v8::Global::new(scope, f))
          .ok_or_else(|| format!("the bridge has no function \"{name}\""))
      };
    let buffer = |scope: &mut v8::PinScope, name: &str| -> Result<SharedBuffer, String> {
      let key = v8::String::new(scope, name).unwrap();
      let ab = object
        .get(scope, key.into())
        .and_then(|v| v8::Local::<v8::ArrayBuffer>::try_from(v).ok())
        .ok_or_else(|| format!("the bridge has no ArrayBuffer \"{name}\""))?;
      let store = ab.get_backing_store();
      let len = store.byte_length();
      let ptr = store
        .data()
        .map(|p| p.as_ptr() as *mut u8)
        .ok_or_else(|| format!("the bridge buffer \"{name}\" has no memory"))?;
      Ok(SharedBuffer {
        _store: store,
        ptr,
        len,
      })
    };
    Ok(Bridge {
      init: function(scope, "init")?,
      open: function(scope, "open")?,
      close: function(scope, "close")?,
      next_batch: function(scope, "nextBatch")?,
      extract: function(scope, "extract")?,
      event_to_string: function(scope, "eventToString")?,
      progress: function(scope, "progress")?,
      list_open_params: function(scope, "listOpenParams")?,
      metrics: function(scope, "metrics")?,
      destroy: function(scope, "destroy")?,
      batch: buffer(scope, "batch")?,
      input: buffer(scope, "input")?,
      output: buffer(scope, "output")?,
      object: v8::Global::new(scope, object),
    })
  }

  /// Calls one bridge function with `this` = the bridge.
  pub fn call(
    &self,
    runtime: &mut JsRuntime,
    function: &v8::Global<v8::Function>,
    args: &[Arg],
  ) -> Result<Returned, CallError> {
    let mut result = Err(CallError::Internal("the call was not made".into()));
    self.call_each(runtime, function, args, 1, |_| true, |_, r| result = r);
    result
  }

  /// Calls one bridge function with `args`, `count` times in one scope:
  /// `before(i)` readies call `i` (false skips it) and `after(i, r)` takes
  /// its result. A terminated call ends the loop.
  pub fn call_each(
    &self,
    runtime: &mut JsRuntime,
    function: &v8::Global<v8::Function>,
    args: &[Arg],
    count: usize,
    mut before: impl FnMut(usize) -> bool,
    mut after: impl FnMut(usize, Result<Returned, CallError>),
  ) {
    deno_core::scope!(scope, runtime);
    v8::tc_scope!(let tc, scope);
    let f = v8::Local::new(tc, function);
    let this: v8::Local<v8::Value> = v8::Local::new(tc, &self.object).into();
    let mut locals: smallvec::SmallVec<[v8::Local<v8::Value>; 2]> = smallvec::SmallVec::new();
    for arg in args {
      match arg {
        Arg::Str(s) => match v8::String::new(tc, s) {
          Some(s) => locals.push(s.into()),
          None => {
            after(
              0,
              Err(CallError::Internal("string argument too long".into())),
            );
            return;
          }
        },
      }
    }
    for i in 0..count {
      if !before(i) {
        continue;
      }
      let returned = match f.call(tc, this, &locals) {
        Some(value) => Ok(reduce(tc, value)),
        None if tc.is_execution_terminating() || tc.has_terminated() => {
          after(i, Err(CallError::Terminated));
          return;
        }
        None => match tc.exception() {
          Some(exception) => Err(js_error(tc, exception)),
          None => Err(CallError::Internal(
            "the call failed without an exception".into(),
          )),
        },
      };
      after(i, returned);
      tc.reset();
    }
  }

  /// The state of a promise returned by `nextBatch()`.
  pub fn promise_state(
    runtime: &mut JsRuntime,
    promise: &v8::Global<v8::Promise>,
  ) -> PromiseOutcome {
    deno_core::scope!(scope, runtime);
    let p = v8::Local::new(scope, promise);
    match p.state() {
      v8::PromiseState::Pending => PromiseOutcome::Pending,
      v8::PromiseState::Fulfilled => PromiseOutcome::Fulfilled,
      v8::PromiseState::Rejected => {
        let reason = p.result(scope);
        match js_error(scope, reason) {
          CallError::Js(e) => PromiseOutcome::Rejected(e),
          other => PromiseOutcome::RejectedWith(other.describe()),
        }
      }
    }
  }
}

pub enum PromiseOutcome {
  Pending,
  Fulfilled,
  Rejected(Box<JsError>),
  /// Rejected with something that is not an error object.
  RejectedWith(String),
}

/// Converts a thrown value. deno_core's conversion expects an object whose
/// properties can be read; a plugin may throw anything (a symbol, a proxy
/// that throws), which must not take the instance thread down.
fn js_error<'s>(
  scope: &mut v8::PinScope<'s, '_>,
  exception: v8::Local<'s, v8::Value>,
) -> CallError {
  if exception.is_native_error() && may_format_stack() {
    let converted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
      JsError::from_v8_exception(scope, exception)
    }));
    if let Ok(e) = converted {
      return CallError::Js(e);
    }
  }
  let text = if exception.is_symbol() || exception.is_proxy() {
    "a value that is not an Error".to_string()
  } else {
    exception
      .to_string(scope)
      .map(|s| s.to_rust_string_lossy(scope))
      .unwrap_or_else(|| "a value that is not an Error".to_string())
  };
  if exception.is_native_error() {
    // An Error whose stack is not formatted (see `may_format_stack`).
    return CallError::Internal(format!(
      "{text} (source location left out: too many errors)"
    ));
  }
  CallError::Internal(format!("uncaught exception: {text}"))
}

/// Errors of one instance whose stack is formatted (for the source line in
/// the error text) before the rate limit starts.
const LOCATED_ERRORS: u32 = 100;
/// After that, one error per this interval gets its source line.
const LOCATED_INTERVAL: Duration = Duration::from_secs(60);

/// Whether this error may be converted with its stack. Always on V8; on an
/// engine where formatting a stack leaks ([`crate::engine::STACK_FORMAT_LEAKS`])
/// a plugin that throws on every event would grow the host without bound,
/// so past [`LOCATED_ERRORS`] only one error per [`LOCATED_INTERVAL`] is.
/// Each instance runs on its own thread, so a thread-local budget is the
/// instance's.
fn may_format_stack() -> bool {
  if !crate::engine::STACK_FORMAT_LEAKS {
    return true;
  }
  thread_local! {
    static LOCATED: Cell<(u32, Option<Instant>)> = const { Cell::new((0, None)) };
  }
  LOCATED.with(|located| {
    let (count, last) = located.get();
    let now = Instant::now();
    let allowed =
      count < LOCATED_ERRORS || last.is_none_or(|t| now.duration_since(t) >= LOCATED_INTERVAL);
    if allowed {
      located.set((count.saturating_add(1), Some(now)));
    }
    allowed
  })
}

/// Why a bridge call failed.
pub enum CallError {
  Js(Box<JsError>),
  Terminated,
  Internal(String),
}

impl CallError {
  /// One line for `plugin_get_last_error`: the message and where it came from.
  pub fn describe(&self) -> String {
    match self {
      CallError::Js(e) => describe_js_error(e),
      CallError::Terminated => "the script was terminated".into(),
      CallError::Internal(s) => s.clone(),
    }
  }
}

/// `message (at file:line:col)`, without the engine's "Uncaught " prefix.
pub fn describe_js_error(e: &JsError) -> String {
  let message = e
    .exception_message
    .strip_prefix("Uncaught ")
    .unwrap_or(&e.exception_message);
  let message = message.strip_prefix("(in promise) ").unwrap_or(message);
  match plugin_frame(e) {
    Some(at) => format!("{message} (at {at})"),
    None => message.to_string(),
  }
}

/// Where the plugin's own code threw: the first frame outside the falco-deno
/// runtime, looking at the innermost cause first (the runtime wraps a
/// plugin's error in a `PluginError` whose cause is the original). Frames
/// are mapped back to the plugin's `.ts` through the bundle's source map.
fn plugin_frame(e: &JsError) -> Option<String> {
  if let Some(cause) = &e.cause {
    if let Some(at) = plugin_frame(cause) {
      return Some(at);
    }
  }
  e.frames.iter().find_map(|frame| {
    let file = frame.file_name.as_deref()?;
    if file.contains("/runtime/") || file.starts_with("ext:") || file.contains(".bundle.js") {
      return None;
    }
    let file = file.strip_prefix("file:///").unwrap_or(file);
    let line = frame.line_number.unwrap_or(0);
    let column = frame.column_number.unwrap_or(0);
    Some(match &frame.function_name {
      Some(f) if !f.is_empty() => format!("{f} {file}:{line}:{column}"),
      _ => format!("{file}:{line}:{column}"),
    })
  })
}

fn reduce<'s>(scope: &mut v8::PinScope<'s, '_>, value: v8::Local<'s, v8::Value>) -> Returned {
  if value.is_undefined() {
    Returned::Undefined
  } else if value.is_number() {
    Returned::Number(value.number_value(scope).unwrap_or(f64::NAN))
  } else if value.is_string() {
    Returned::String(value.to_rust_string_lossy(scope))
  } else if value.is_promise() {
    let p = v8::Local::<v8::Promise>::try_from(value).unwrap();
    Returned::Promise(v8::Global::new(scope, p))
  } else if value.is_array() {
    let a = v8::Local::<v8::Array>::try_from(value).unwrap();
    let first = a.get_index(scope, 0);
    let second = a.get_index(scope, 1);
    match (first, second) {
      (Some(n), Some(s)) if n.is_number() => {
        let n = n.number_value(scope).unwrap_or(0.0);
        Returned::Pair(n, s.to_rust_string_lossy(scope))
      }
      _ => Returned::Other,
    }
  } else {
    Returned::Other
  }
}
