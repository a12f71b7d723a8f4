//! The ops a plugin bundle may call. Kept few and small: the hot paths
//! (batches, extraction) go through shared buffers, not ops.

use crate::logger::Logger;
use deno_core::op2;
use deno_core::OpState;

/// `console.*` inside the plugin: one message at one level.
#[op2(fast)]
fn op_falco_log(state: &mut OpState, level: u32, #[string] message: &str) {
  state.borrow::<Logger>().log(level, message);
}

deno_core::extension!(
  falco_deno,
  ops = [op_falco_log],
  options = { logger: Logger },
  state = |state, options| {
    state.put(options.logger);
  },
);
