//! `plugin_open` with arbitrary params on one long-lived state; an open
//! capture gets up to three `next_batch` calls (every returned event is
//! read whole) and is closed.
#![no_main]

use falco_deno_fuzz::*;
use falco_plugin_api as api;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let p = plugin();
  let (Some(open), Some(next), Some(close)) = (p.open, p.next_batch, p.close) else {
    return;
  };
  let s = shared_state();
  let params = c_string(data);
  let mut rc = -1;
  let h = unsafe { open(s, params.as_ptr(), &mut rc) };
  if rc != api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
    assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE, "open rc {rc}");
    assert!(
      !unsafe { last_error(s) }.is_empty(),
      "open FAILURE with an empty error"
    );
    return;
  }
  for _ in 0..3 {
    let mut n = 0u32;
    let mut evts = std::ptr::null_mut();
    let r = unsafe { next(s, h, &mut n, &mut evts) };
    match r {
      api::ss_plugin_rc_SS_PLUGIN_SUCCESS | api::ss_plugin_rc_SS_PLUGIN_TIMEOUT => {
        unsafe { touch_batch(n, evts) };
      }
      api::ss_plugin_rc_SS_PLUGIN_EOF => break,
      _ => {
        assert_eq!(r, api::ss_plugin_rc_SS_PLUGIN_FAILURE, "next_batch rc {r}");
        assert!(
          !unsafe { last_error(s) }.is_empty(),
          "next_batch FAILURE with an empty error"
        );
        break;
      }
    }
  }
  unsafe { close(s, h) };
});
