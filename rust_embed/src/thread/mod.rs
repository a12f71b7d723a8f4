//! The instance thread: each plugin instance owns one OS thread, which owns
//! the instance's `JsRuntime` (one isolate). Host threads hand it calls
//! through [`crate::handoff`] and wait; no JavaScript ever runs on a host
//! thread.
//!
//! - [`request`]: the calls and answers;
//! - [`serve`]: the thread's loop;
//! - [`script`]: the runtime and bridge on that thread;
//! - [`code_cache`]: the bundle's compiled code, shared by the instances;
//! - [`marshal`]: events and values between host memory and the bridge;
//! - [`watchdog`], [`heap_guard`]: how a runaway script is stopped.

pub mod code_cache;
pub mod heap_guard;
pub mod marshal;
pub mod request;
pub mod script;
pub mod serve;
pub mod watchdog;

use crate::handoff::Handoff;
use crate::logger::Logger;
use request::{Request, Response};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use watchdog::{Activity, Verdict, Watchdog};

/// Stack of the instance thread. QuickJS-ng measures stack overflow from the
/// thread that created the isolate, so deep recursion needs real room.
const STACK_SIZE: usize = 64 * 1024 * 1024;

/// How long a stopped script may take to end before its callers give up on
/// the instance (it is blocked outside JavaScript, where termination cannot
/// reach it).
pub const GRACE: Duration = Duration::from_secs(2);

/// How often a caller waiting for the thread to start checks the watchdog.
const START_CHECK: Duration = Duration::from_millis(5);

/// What the instance thread needs to start.
pub struct ThreadSetup {
  pub plugin_name: String,
  pub bundle: &'static str,
  /// The bundle's source map (JSON text, may be empty).
  pub source_map: &'static str,
  /// The startup snapshot the runtime starts from (V8 only).
  pub snapshot: Option<&'static [u8]>,
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

/// The host side's handle on an instance thread.
pub struct InstanceThread {
  handoff: Arc<Handoff<Request, Response>>,
  thread: Option<JoinHandle<()>>,
  watchdog: Arc<Watchdog>,
  name: String,
}

impl InstanceThread {
  /// Starts the thread, creates the runtime there and evaluates the bundle.
  pub fn start(setup: ThreadSetup) -> Result<InstanceThread, String> {
    let handoff: Arc<Handoff<Request, Response>> = Arc::default();
    let watchdog: Arc<Watchdog> = Arc::default();
    let (started_tx, started_rx) = std::sync::mpsc::sync_channel(1);
    let name = setup.plugin_name.clone();
    let thread = {
      let handoff = handoff.clone();
      let watchdog = watchdog.clone();
      crate::spawner::spawn(
        format!("fdeno-{}", name.chars().take(9).collect::<String>()),
        STACK_SIZE,
        move || serve::run(setup, handoff, watchdog, started_tx),
      )?
    };
    // Loading the bundle runs the plugin's top-level code: watch it too.
    let started = loop {
      match started_rx.recv_timeout(START_CHECK) {
        Ok(result) => break result,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
          break Err("the plugin thread died while starting the JavaScript engine".into())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
          if let Verdict::GiveUp(_) = watchdog.check(Instant::now(), GRACE) {
            // Detached: it ends by itself if it ever returns.
            drop(thread);
            return Err(format!(
              "{name}: loading the plugin was stopped at its deadline but did not end within {} s; the plugin thread was given up on",
              GRACE.as_secs()
            ));
          }
        }
      }
    };
    match started {
      Ok(()) => Ok(InstanceThread {
        handoff,
        thread: Some(thread),
        watchdog,
        name,
      }),
      Err(e) => {
        let _ = thread.join();
        Err(e)
      }
    }
  }

  /// Runs `request` on the instance thread and returns its answer. A
  /// script still running past its deadline is terminated; one that does
  /// not end within [`GRACE`] after that is given up on, and this and every
  /// later call fail.
  pub fn call(&self, request: Request) -> Response {
    let keep_waiting = |now| match self.watchdog.check(now, GRACE) {
      Verdict::Wait => true,
      Verdict::GiveUp(activity) => {
        let what = match activity {
          Activity::Call(callback) => format!("the script's {callback}"),
          Activity::EventLoop => "async code in the event loop".into(),
        };
        self.handoff.close(format!(
          "{what} was stopped at its deadline but did not end within {} s (blocked outside JavaScript); this instance can no longer be used",
          GRACE.as_secs()
        ));
        false
      }
    };
    match self.handoff.call(request, &keep_waiting) {
      Ok(response) => response,
      Err(closed) => Response::Failed(format!("{}: {}", self.name, closed.0)),
    }
  }
}

impl Drop for InstanceThread {
  /// Calls `destroy` and waits for the thread, within a bound: a thread
  /// that was given up on is left to end by itself.
  fn drop(&mut self) {
    if self.handoff.closed().is_none() {
      let _ = self.call(Request::Shutdown);
    }
    if let Some(thread) = self.thread.take() {
      if !self.watchdog.abandoned() {
        let _ = thread.join();
      }
    }
  }
}
