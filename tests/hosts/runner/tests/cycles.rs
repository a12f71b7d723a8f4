//! Leaks (issue 6): full init/open/next_batch/close/destroy cycles; resident
//! memory must stay flat. Each cycle: init `{"jitter":0}`, open a capture of
//! 5 events, read them all (checking `dummy.value = start + k` on the last),
//! close, destroy.
//!
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy_ts.so FALCO_DENO_LEAK_CYCLES=1000 FALCO_DENO_HOST_QUIET=1 \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml --test cycles -- --nocapture
//!
//! Env: FALCO_DENO_LEAK_CYCLES (default 100; the long figure is 1000),
//! FALCO_DENO_LEAK_MAX_KB_PER_CYCLE (default 12: allowed RSS growth per
//! cycle after warm-up, averaged), FALCO_DENO_LEAK_THREADED=1 (each cycle
//! on a new host thread, as a host that spawns threads would).
//! Output: libtest lines; on stderr one line
//! `cycles: N cycles in S s (M ms/cycle); RSS start A KiB, after W warm-up B KiB, end C KiB; growth G KiB (P KiB/cycle)`
//! and the RSS every tenth of the run.

use falco_deno_host::raw::{plugin_payload, RawPlugin, Value};
use falco_deno_host::{rss_kb, test_plugin};

fn env_num(name: &str, def: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(def)
}

fn cycle(lib: &'static falco_deno_host::Lib, i: u64) {
    let p = RawPlugin::init(lib, r#"{"jitter":0}"#, true)
        .unwrap_or_else(|e| panic!("cycle {i}: init {e:?}"));
    let evs = p
        .read_events(&format!(r#"{{"start":{i},"maxEvents":5}}"#), 5)
        .expect("read");
    assert_eq!(evs.len(), 5, "cycle {i}: events");
    let last = evs.last().unwrap();
    assert_eq!(
        plugin_payload(&last.bytes).unwrap(),
        (i + 5).to_string().as_bytes()
    );
    match p.extract(last, "dummy.value").expect("extract") {
        Some(v) => assert_eq!(v, vec![Value::U64(i + 5)]),
        None => panic!("no value"),
    }
    p.destroy();
}

#[test]
fn init_open_batch_close_destroy_cycles_keep_rss_flat() {
    let lib = test_plugin();
    let n = env_num("FALCO_DENO_LEAK_CYCLES", 100).max(20);
    let per_cycle_max = env_num("FALCO_DENO_LEAK_MAX_KB_PER_CYCLE", 12);
    let threaded = std::env::var("FALCO_DENO_LEAK_THREADED")
        .map(|v| v == "1")
        .unwrap_or(false);
    let warm = (n / 10).max(10);
    let rss_start = rss_kb();
    let mut rss_warm = 0;
    let t0 = std::time::Instant::now();
    for i in 0..n {
        if threaded {
            std::thread::spawn(move || cycle(lib, i))
                .join()
                .expect("cycle thread");
        } else {
            cycle(lib, i);
        }
        if i + 1 == warm {
            rss_warm = rss_kb();
        }
        if (i + 1) % (n / 10).max(1) == 0 {
            eprintln!("cycles: after {} cycles RSS {} KiB", i + 1, rss_kb());
        }
    }
    let el = t0.elapsed();
    let rss_end = rss_kb();
    let growth = rss_end.saturating_sub(rss_warm);
    let per = growth as f64 / (n - warm) as f64;
    eprintln!(
        "cycles: {n} cycles in {:.1} s ({:.1} ms/cycle){}; RSS start {rss_start} KiB, after {warm} warm-up {rss_warm} KiB, \
         end {rss_end} KiB; growth {growth} KiB ({per:.1} KiB/cycle)",
        el.as_secs_f64(),
        el.as_secs_f64() * 1000.0 / n as f64,
        if threaded { ", one host thread per cycle" } else { "" }
    );
    assert!(
        per <= per_cycle_max as f64,
        "RSS grows by {per:.1} KiB per cycle (max {per_cycle_max}): {growth} KiB over {} cycles",
        n - warm
    );
}
