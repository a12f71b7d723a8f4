//! The instance thread's loop: serve the calls handed over by
//! [`crate::handoff`], and keep polling the event loop between them so
//! timers and async work make progress.

use super::request::{Request, Response};
use super::script::Script;
use super::watchdog::{Abandoned, Watchdog};
use super::ThreadSetup;
use crate::handoff::{Handoff, PURE_SPINS, WORKER_SPIN};
use std::any::Any;
use std::future::{poll_fn, Future};
use std::hint::spin_loop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// While the host keeps calling, poll the event loop at least this often.
const BUSY_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// The body of an instance thread: create the script, say so on `started`,
/// then serve calls until `destroy`. However the thread ends, the handoff
/// closes, so no caller waits for an answer that will not come.
pub fn run(
  setup: ThreadSetup,
  handoff: Arc<Handoff<Request, Response>>,
  watchdog: Arc<Watchdog>,
  started: std::sync::mpsc::SyncSender<Result<(), String>>,
) {
  let closes = ClosesOnExit(&handoff);
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
  let _entered = tokio.enter();
  let script = match Script::new(setup, watchdog) {
    Ok(s) => s,
    Err(e) => {
      let _ = started.send(Err(e));
      return;
    }
  };
  let _ = started.send(Ok(()));
  if let Some(why) = tokio.block_on(serve(script, &handoff)) {
    closes.0.close(why);
  }
}

/// Runs a call, telling the handoff while it waits on the event loop (a
/// pending poll: the thread is about to block on I/O or a timer), so that
/// the caller parks soon instead of spinning through the wait.
async fn flag_waits<F: Future>(handoff: &Handoff<Request, Response>, call: F) -> F::Output {
  let mut call = std::pin::pin!(call);
  poll_fn(|cx| {
    handoff.worker_waits(false);
    let polled = call.as_mut().poll(cx);
    if polled.is_pending() {
      handoff.worker_waits(true);
    }
    polled
  })
  .await
}

/// Closes the handoff when the thread ends, by a return or a panic.
struct ClosesOnExit<'a>(&'a Handoff<Request, Response>);

impl Drop for ClosesOnExit<'_> {
  fn drop(&mut self) {
    self.0.close(if std::thread::panicking() {
      "the plugin thread stopped on an internal error (panic)".into()
    } else {
      "the plugin thread has ended".into()
    });
  }
}

/// Serves calls; returns why the thread stops early, if it does.
async fn serve(mut script: Script, handoff: &Handoff<Request, Response>) -> Option<String> {
  let mut last_poll = Instant::now();
  loop {
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
      if let Some(request) = handoff.take_request() {
        let shutdown = matches!(request, Request::Shutdown);
        let handled = flag_waits(
          handoff,
          catch_unwind_future(AssertUnwindSafe(script.handle(request))),
        )
        .await;
        let response = match handled {
          Ok(Ok(response)) => response,
          Ok(Err(Abandoned)) => return Some(abandoned()),
          Err(panic) => {
            script.after_panic();
            Response::Failed(format!(
              "internal error in the plugin thread (panic: {})",
              panic_text(&panic)
            ))
          }
        };
        handoff.answer(response);
        if shutdown {
          return None;
        }
        // Let timers and I/O move even when the host never pauses.
        if last_poll.elapsed() > BUSY_POLL_INTERVAL {
          if let Err(why) = poll_once(&mut script).await {
            return Some(why);
          }
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
    let slept = poll_fn(|cx| {
      if handoff.prepare_sleep(cx.waker()) {
        return Poll::Ready(Ok(()));
      }
      if let Err(why) = poll_guarded(&mut script, cx) {
        return Poll::Ready(Err(why));
      }
      if handoff.has_request() {
        return Poll::Ready(Ok(()));
      }
      Poll::Pending
    })
    .await;
    handoff.woke();
    if let Err(why) = slept {
      return Some(why);
    }
    last_poll = Instant::now();
  }
}

/// One poll of the event loop between calls. A panic there (in deno_core
/// or an op's future) leaves the runtime in an unknown state: the thread
/// stops, and every later call fails with the reason.
fn poll_guarded(script: &mut Script, cx: &mut std::task::Context) -> Result<(), String> {
  match catch_unwind(AssertUnwindSafe(|| script.poll_idle(cx))) {
    Ok(Ok(())) => Ok(()),
    Ok(Err(Abandoned)) => Err(abandoned()),
    Err(panic) => {
      script.after_panic();
      let why = format!(
        "the plugin thread stopped on an internal error in its event loop (panic: {})",
        panic_text(&panic)
      );
      script.log_error(&why);
      Err(why)
    }
  }
}

async fn poll_once(script: &mut Script) -> Result<(), String> {
  poll_fn(|cx| Poll::Ready(poll_guarded(script, cx))).await
}

fn abandoned() -> String {
  "the plugin thread was given up on".into()
}

fn panic_text(panic: &Box<dyn Any + Send>) -> String {
  panic
    .downcast_ref::<&str>()
    .map(|s| s.to_string())
    .or_else(|| panic.downcast_ref::<String>().cloned())
    .unwrap_or_else(|| "no message".into())
}

async fn catch_unwind_future<F: Future>(f: AssertUnwindSafe<F>) -> std::thread::Result<F::Output> {
  let mut f = std::pin::pin!(f.0);
  poll_fn(
    move |cx| match catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
      Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
      Ok(Poll::Pending) => Poll::Pending,
      Err(e) => Poll::Ready(Err(e)),
    },
  )
  .await
}
