//! Stops a script whose heap nears its limit, instead of letting the engine
//! abort the process.

use super::watchdog::Watchdog;
use deno_core::JsRuntime;
use std::sync::Arc;

/// Arms the guard: near the limit, the current run is stopped and the
/// limit raised by a quarter so the script can unwind.
pub fn install(runtime: &mut JsRuntime, watchdog: &Arc<Watchdog>) {
  let watchdog = watchdog.clone();
  runtime.add_near_heap_limit_callback(move |current, _initial| {
    watchdog.stop_for_heap();
    current + current / 4
  });
}

/// After a heap stop: collects the stopped script's garbage and puts the
/// configured `limit` back (the guard raised it), so a plugin that hits the
/// limit again and again never gets more than its limit.
pub fn restore(runtime: &mut JsRuntime, watchdog: &Arc<Watchdog>, limit: usize) {
  runtime.v8_isolate().low_memory_notification();
  runtime.remove_near_heap_limit_callback(limit);
  install(runtime, watchdog);
}
