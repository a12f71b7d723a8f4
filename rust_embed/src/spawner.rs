//! One long-lived thread per process starts the engine and spawns every
//! instance thread; a host thread never does.
//!
//! On CPUs with memory protection keys (`pku`), V8 with deno_core's
//! protected platform lets a thread run JavaScript only if it descends from
//! the thread that initialised V8: a new thread inherits its creator's
//! key rights, and V8 grants them on the initialising thread. Falco calls
//! `plugin_init` from whichever thread it likes, and may call it again from
//! another one, so an instance thread spawned by the caller would not
//! descend from the first instance's thread and would fault. Spawning them
//! all from here keeps that lineage on both engines (QuickJS-ng does not
//! need it; one layout is simpler to reason about than two).

use std::sync::mpsc::{sync_channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

/// The spawning thread's queue; the thread lives as long as the process.
fn queue() -> Result<&'static Mutex<Sender<Job>>, String> {
  static QUEUE: OnceLock<Result<Mutex<Sender<Job>>, String>> = OnceLock::new();
  QUEUE
    .get_or_init(|| {
      let (jobs, incoming) = std::sync::mpsc::channel::<Job>();
      std::thread::Builder::new()
        .name("fdeno-spawner".into())
        .spawn(move || {
          start_engine();
          for job in incoming {
            job();
          }
        })
        .map(|_| Mutex::new(jobs))
        .map_err(|e| format!("cannot start the engine's spawning thread: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Process-wide engine set-up, on the spawning thread, before any instance.
fn start_engine() {
  #[cfg(feature = "v8")]
  {
    // V8 15.0's mid-tier compiler (Maglev) deoptimised the bridge's
    // `extract` over and over when extractors return both small integers
    // and heap values (613 "Smi" deopts in 200 k events of the dummy's 3
    // fields, with its background threads compiling throughout and taking
    // cores from the plugin): 0.3 M extractions/s with it, 0.8-1.2 M
    // without, and TurboFan still optimises. These flags are this
    // library's own V8 copy, not Falco's.
    deno_core::v8::V8::set_flags_from_string("--no-maglev");
    deno_core::JsRuntime::init_platform(None);
  }
}

/// Spawns an instance thread named `name` with `stack_size` bytes of stack,
/// from the spawning thread, and returns its handle.
///
/// # Errors
/// When a thread cannot be created (the message says which one).
pub fn spawn<T: Send + 'static>(
  name: String,
  stack_size: usize,
  body: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, String> {
  let (handle_tx, handle_rx) = sync_channel(1);
  let job: Job = Box::new(move || {
    let spawned = std::thread::Builder::new()
      .name(name)
      .stack_size(stack_size)
      .spawn(body)
      .map_err(|e| format!("cannot start the plugin thread: {e}"));
    let _ = handle_tx.send(spawned);
  });
  queue()?
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .send(job)
    .map_err(|_| "the engine's spawning thread is gone".to_string())?;
  handle_rx
    .recv()
    .map_err(|_| "the engine's spawning thread is gone".to_string())?
}
