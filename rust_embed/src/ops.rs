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
  middleware = disable_unsafe_core_ops,
  state = |state, options| {
    state.put(options.logger);
  },
);

/// deno_core's own ops that a plugin script could use against its host:
/// `op_panic` and `op_destructure_error` (on a non-error) abort the process,
/// `op_print` writes to Falco's stdout (forged alert lines). A disabled op
/// throws when called.
fn disable_unsafe_core_ops(op: deno_core::OpDecl) -> deno_core::OpDecl {
  match op.name {
    "op_panic" | "op_destructure_error" | "op_print" => op.disable(),
    _ => op,
  }
}
