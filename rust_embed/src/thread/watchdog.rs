//! Stops a runaway script from outside its thread, and knows which run of
//! JavaScript it stopped.
//!
//! Each time the instance thread enters JavaScript (a host call, or the
//! event loop polled between calls) it opens a *run* with a deadline, and
//! closes it when JavaScript returns. Opening, closing and every stop
//! happen under one lock, so a stop lands only on the run it was meant for:
//! a run that ended just before its deadline is not terminated late (the
//! termination would otherwise land on the next call or timer), and a stop
//! is never blamed on another call. A caller whose run was stopped but does
//! not end (blocked outside JavaScript, where termination cannot reach)
//! gives up on the instance after a grace period: the run is *abandoned*,
//! and the instance thread, if it ever returns, touches no host memory and
//! ends.

use deno_core::v8;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What a run of JavaScript is doing, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
  /// A host call into the named script callback.
  Call(&'static str),
  /// The event loop, polled between host calls (timers, I/O, promises).
  EventLoop,
}

/// Why a run was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
  Deadline,
  HeapLimit,
}

/// The instance was given up on; the thread must touch no host memory.
#[derive(Debug)]
pub struct Abandoned;

/// What a waiting caller should do.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
  Wait,
  /// The run was stopped `grace` ago and has not ended: stop waiting.
  GiveUp(Activity),
}

struct Run {
  activity: Activity,
  deadline: Instant,
  stopped: Option<(StopReason, Instant)>,
}

#[derive(Default)]
struct State {
  run: Option<Run>,
  abandoned: bool,
}

/// One per instance, shared by the instance thread and its callers.
#[derive(Default)]
pub struct Watchdog {
  state: Mutex<State>,
  isolate: OnceLock<v8::IsolateHandle>,
}

impl Watchdog {
  /// The isolate to terminate; set once, when the runtime exists.
  pub fn watch(&self, isolate: v8::IsolateHandle) {
    let _ = self.isolate.set(isolate);
  }

  fn lock(&self) -> std::sync::MutexGuard<'_, State> {
    self.state.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// Instance thread: JavaScript is about to run for at most `limit`.
  pub fn enter(&self, activity: Activity, limit: Duration) -> Result<(), Abandoned> {
    let mut state = self.lock();
    if state.abandoned {
      return Err(Abandoned);
    }
    state.run = Some(Run {
      activity,
      deadline: Instant::now() + limit,
      stopped: None,
    });
    Ok(())
  }

  /// Instance thread: JavaScript returned. Says whether the run was
  /// stopped, and cancels a termination that has not landed yet, so it
  /// cannot hit later code.
  pub fn leave(&self) -> Result<Option<StopReason>, Abandoned> {
    let mut state = self.lock();
    if state.abandoned {
      return Err(Abandoned);
    }
    let stopped = state.run.take().and_then(|r| r.stopped).map(|(r, _)| r);
    if stopped.is_some() {
      if let Some(isolate) = self.isolate.get() {
        isolate.cancel_terminate_execution();
      }
    }
    Ok(stopped)
  }

  /// Instance thread, inside JavaScript: the heap is near its limit.
  pub fn stop_for_heap(&self) {
    let mut state = self.lock();
    if let Some(run) = state.run.as_mut() {
      run
        .stopped
        .get_or_insert((StopReason::HeapLimit, Instant::now()));
      if let Some(isolate) = self.isolate.get() {
        isolate.terminate_execution();
      }
    }
  }

  /// A waiting caller: stops the current run if it is past its deadline,
  /// and gives up on the instance when a stopped run has not ended within
  /// `grace`.
  pub fn check(&self, now: Instant, grace: Duration) -> Verdict {
    let mut state = self.lock();
    let Some(run) = state.run.as_mut() else {
      return Verdict::Wait;
    };
    match run.stopped {
      None if now >= run.deadline => {
        run.stopped = Some((StopReason::Deadline, now));
        if let Some(isolate) = self.isolate.get() {
          isolate.terminate_execution();
        }
        Verdict::Wait
      }
      Some((_, at)) if now.duration_since(at) >= grace => {
        let activity = run.activity;
        state.abandoned = true;
        Verdict::GiveUp(activity)
      }
      _ => Verdict::Wait,
    }
  }

  /// Whether a caller gave up on the instance.
  pub fn abandoned(&self) -> bool {
    self.lock().abandoned
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const GRACE: Duration = Duration::from_secs(1);

  #[test]
  fn a_run_that_ended_is_never_stopped_late() {
    let w = Watchdog::default();
    w.enter(Activity::Call("extract"), Duration::ZERO).unwrap();
    assert_eq!(w.leave().unwrap(), None);
    assert_eq!(w.check(Instant::now() + GRACE * 2, GRACE), Verdict::Wait);
    w.enter(Activity::EventLoop, Duration::from_secs(60))
      .unwrap();
    assert_eq!(
      w.leave().unwrap(),
      None,
      "no stop left over for the next run"
    );
  }

  #[test]
  fn an_overdue_run_is_stopped_then_given_up_on() {
    let w = Watchdog::default();
    w.enter(Activity::Call("nextBatch"), Duration::ZERO)
      .unwrap();
    let now = Instant::now();
    assert_eq!(w.check(now, GRACE), Verdict::Wait, "first the stop");
    assert_eq!(w.check(now + GRACE / 2, GRACE), Verdict::Wait);
    assert_eq!(
      w.check(now + GRACE, GRACE),
      Verdict::GiveUp(Activity::Call("nextBatch"))
    );
    assert!(w.leave().is_err(), "an abandoned run touches nothing");
    assert!(w.enter(Activity::EventLoop, GRACE).is_err());
  }

  #[test]
  fn a_stopped_run_that_ends_reports_why() {
    let w = Watchdog::default();
    w.enter(Activity::Call("init"), Duration::from_secs(60))
      .unwrap();
    w.stop_for_heap();
    assert_eq!(w.leave().unwrap(), Some(StopReason::HeapLimit));
    w.enter(Activity::Call("open"), Duration::ZERO).unwrap();
    let _ = w.check(Instant::now(), GRACE);
    assert_eq!(w.leave().unwrap(), Some(StopReason::Deadline));
  }

  #[test]
  fn a_heap_stop_outside_javascript_is_ignored() {
    let w = Watchdog::default();
    w.stop_for_heap();
    w.enter(Activity::EventLoop, Duration::from_secs(60))
      .unwrap();
    assert_eq!(w.leave().unwrap(), None);
  }
}
