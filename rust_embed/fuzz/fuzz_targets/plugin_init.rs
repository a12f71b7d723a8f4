//! `plugin_init` with arbitrary config strings (the reserved `falco_deno`
//! member included: see the dictionary). A state that initialises is used
//! a little (open, one next_batch, close) and destroyed; a failed one must
//! carry an error text. Slow by nature: every init starts an isolate.
#![no_main]

use falco_deno_fuzz::*;
use falco_plugin_api as api;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let p = plugin();
  let cfg = c_string(data);
  let Ok(s) = init(&cfg) else { return };
  if let (Some(open), Some(next), Some(close)) = (p.open, p.next_batch, p.close) {
    let mut rc = -1;
    let h = unsafe { open(s, c"".as_ptr(), &mut rc) };
    if rc == api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
      let mut n = 0u32;
      let mut evts = std::ptr::null_mut();
      let r = unsafe { next(s, h, &mut n, &mut evts) };
      if r == api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
        unsafe { touch_batch(n, evts) };
      }
      unsafe { close(s, h) };
    } else {
      assert!(
        !unsafe { last_error(s) }.is_empty(),
        "open FAILURE with an empty error"
      );
    }
  }
  unsafe { (p.destroy)(s) };
});
