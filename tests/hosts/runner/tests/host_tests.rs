//! Host-side tests of a Falco plugin .so: concurrency, bad input, init/destroy
//! cycles with RSS. Run (from the repo root):
//!
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy.so \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml -- --test-threads=1
//!
//! Env:
//!   FALCO_DENO_TEST_PLUGIN   the .so, a packed plugins/dummy.ts (required: the tests
//!                            fail without it)
//!   FALCO_DENO_TEST_CONFIG   valid init config (default {"jitter":0})
//!   FALCO_DENO_TEST_OPEN     open params (default {"start":1,"maxEvents":50}); the plugin
//!                            must behave like the dummy: fields dummy.value, dummy.divisible[n],
//!                            dummy.strvalue, and with jitter 0 value = start + event number
//!   FALCO_DENO_TEST_CYCLES   init/destroy cycles (default 200)
//!   FALCO_DENO_TEST_RSS_MAX_KB  max RSS growth over the cycles after warm-up (default 1536)
//! Output: the usual libtest lines ("test x ... ok", "test result: ok. N passed").
//! Results of measurements go to stderr (run with --nocapture to see them).

use falco_deno_host::raw::{OwnedEvent, RawPlugin, Value};
use falco_deno_host::{rss_kb, run_scenario, test_plugin, ConfigValue, Lib, Scenario};
use std::sync::{Arc, Barrier};

fn config() -> String {
    std::env::var("FALCO_DENO_TEST_CONFIG").unwrap_or_else(|_| r#"{"jitter":0}"#.into())
}
fn open_params(start: u64, max: u64) -> String {
    std::env::var("FALCO_DENO_TEST_OPEN")
        .unwrap_or_else(|_| format!(r#"{{"start":{start},"maxEvents":{max}}}"#))
}
fn u64_of(p: &RawPlugin, e: &OwnedEvent, f: &str) -> u64 {
    match p
        .extract(e, f)
        .unwrap_or_else(|err| panic!("extract {f}: {err:#}"))
    {
        Some(v) if v.len() == 1 => match v[0] {
            Value::U64(x) => x,
            ref o => panic!("{f}: not a uint64: {o:?}"),
        },
        o => panic!("{f}: expected one value, got {o:?}"),
    }
}

/// Reads `n` events and checks the dummy semantics (jitter 0): payload is the
/// decimal value, value = start + num, divisible[3], strvalue.
fn drive_and_check(p: &RawPlugin, start: u64, n: u64) {
    let evs = p
        .read_events(&open_params(start, n), n)
        .expect("read events");
    assert_eq!(evs.len() as u64, n, "event count");
    for (i, e) in evs.iter().enumerate() {
        let v = u64_of(p, e, "dummy.value");
        if std::env::var("FALCO_DENO_TEST_OPEN").is_err() {
            assert_eq!(v, start + 1 + i as u64, "dummy.value of event {}", i + 1);
        }
        assert_eq!(
            u64_of(p, e, "dummy.divisible[3]"),
            v.is_multiple_of(3) as u64
        );
        match p.extract(e, "dummy.strvalue").unwrap() {
            Some(s) => assert_eq!(s, vec![Value::Str(v.to_string())]),
            None => panic!("no strvalue"),
        }
    }
}

#[test]
fn runner_scenario_json() {
    let lib = test_plugin();
    let sc = Scenario {
        name: "s".into(),
        plugin: lib.path.clone(),
        config: ConfigValue::Text(config()),
        open: ConfigValue::Text(open_params(10, 5)),
        max_events: 5,
        fields: vec![
            "dummy.value".into(),
            "dummy.divisible[3]".into(),
            "dummy.strvalue".into(),
        ],
        extractors: vec![],
        timeout_ms: 10_000,
    };
    let r = run_scenario(&sc, false);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.events.len(), 5);
    for (i, e) in r.events.iter().enumerate() {
        assert_eq!(e.num, i as u64 + 1);
        let v = e.fields["dummy.value"][0].as_str().unwrap().to_string();
        assert_eq!(e.fields["dummy.strvalue"][0].as_str().unwrap(), v);
        assert_eq!(e.payload_hex, falco_deno_host::hex(v.as_bytes()));
        if std::env::var("FALCO_DENO_TEST_OPEN").is_err() {
            assert_eq!(v, (11 + i).to_string());
        }
    }
}

/// Several instances initialised and driven from several threads at once.
#[test]
fn concurrent_instances_on_many_threads() {
    let lib = test_plugin();
    const T: usize = 4;
    let barrier = Arc::new(Barrier::new(T));
    let hs: Vec<_> = (0..T)
        .map(|t| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait(); // init at the same time
                let p =
                    RawPlugin::init(lib, &config(), true).unwrap_or_else(|e| panic!("init: {e:?}"));
                b.wait(); // drive at the same time
                for round in 0..5 {
                    drive_and_check(&p, 1000 * t as u64 + round, 200);
                }
                p.destroy();
            })
        })
        .collect();
    for h in hs {
        h.join().expect("thread panicked");
    }
}

/// The same runner scenario run in parallel threads (one falco_plugin_runner per thread).
#[test]
fn concurrent_runners() {
    let lib = test_plugin();
    let path = lib.path.clone();
    let hs: Vec<_> = (0..3)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let sc = Scenario {
                    name: format!("t{t}"),
                    plugin: path,
                    config: ConfigValue::Text(config()),
                    open: ConfigValue::Text(open_params(t * 100, 100)),
                    max_events: 100,
                    fields: vec!["dummy.value".into()],
                    extractors: vec![],
                    timeout_ms: 10_000,
                };
                let r = run_scenario(&sc, false);
                assert!(r.error.is_none(), "{:?}", r.error);
                assert_eq!(r.events.len(), 100);
            })
        })
        .collect();
    for h in hs {
        h.join().expect("thread panicked");
    }
}

/// One plugin state called from different threads in turn (init on one,
/// open/next_batch on another, extract on a third, destroy on a fourth).
#[test]
fn one_plugin_from_threads_in_turn() {
    let lib = test_plugin();
    let p = std::thread::spawn(move || RawPlugin::init(lib, &config(), true).unwrap())
        .join()
        .unwrap();
    let (p, evs) = std::thread::spawn(move || {
        let e = p.read_events(&open_params(7, 30), 30).unwrap();
        (p, e)
    })
    .join()
    .unwrap();
    assert_eq!(evs.len(), 30);
    let mut p = p;
    for chunk in evs.chunks(10) {
        let chunk = chunk.to_vec();
        p = std::thread::spawn(move || {
            for e in &chunk {
                let v = u64_of(&p, e, "dummy.value");
                assert_eq!(
                    u64_of(&p, e, "dummy.divisible[3]"),
                    v.is_multiple_of(3) as u64
                );
            }
            p
        })
        .join()
        .unwrap();
    }
    // a second capture on the same state, from yet another thread
    let p = std::thread::spawn(move || {
        drive_and_check(&p, 3, 20);
        p
    })
    .join()
    .unwrap();
    std::thread::spawn(move || p.destroy()).join().unwrap();
}

/// A bad config must fail init with a non-empty last error, and the host
/// goes on: a good init still works.
fn check_bad_config(lib: &'static Lib, cfg: &str) {
    match RawPlugin::init(lib, cfg, true) {
        Err((rc, e)) => {
            assert!(
                !e.trim().is_empty(),
                "init({cfg:?}) failed rc={rc} with an empty last error"
            );
            eprintln!("init({cfg:?}) -> rc={rc}: {e}");
        }
        Ok(p) => {
            p.destroy();
            panic!("init({cfg:?}) succeeded; a bad config must fail");
        }
    }
    let p = RawPlugin::init(lib, &config(), true).expect("init after a bad config");
    p.destroy();
}

fn drive_and_check_loose(p: &RawPlugin) {
    let evs = p.read_events(&open_params(1, 3), 3).expect("read");
    assert_eq!(evs.len(), 3, "event count");
    for e in &evs {
        assert!(p.extract(e, "dummy.value").expect("extract").is_some());
    }
}

#[test]
fn bad_config_malformed_json() {
    let lib = test_plugin();
    check_bad_config(lib, "{");
    check_bad_config(lib, "not json at all");
}

#[test]
fn bad_config_schema_violation() {
    let lib = test_plugin();
    check_bad_config(lib, r#"{"jitter":"x"}"#);
    check_bad_config(lib, "[1,2,3]");
}

#[test]
fn bad_fields_and_arguments() {
    let lib = test_plugin();
    let p = RawPlugin::init(lib, &config(), true).unwrap();
    let evs = p.read_events(&open_params(1, 2), 2).unwrap();
    let e = &evs[0];
    for (f, want) in [
        ("dummy.nope", "unknown field"),
        ("dummy.divisible", "requires an argument"),
        ("dummy.divisible[x]", "not a number"),
        ("dummy.divisible[3", "malformed"),
        ("dummy.value[1]", "takes no argument"),
    ] {
        let err = p.extract(e, f).expect_err(f).to_string();
        assert!(err.contains(want), "{f}: {err}");
    }
    // the plugin itself: a required argument not passed (arg_present = 0)
    // must give FAILURE plus an error, not a crash. Build the request by hand.
    let r = extract_without_arg(&p, e, "dummy.divisible");
    eprintln!("dummy.divisible without argument -> {r}");
    assert!(
        r.starts_with("rc=") && r.contains("dummy.divisible"),
        "a missing required argument must fail naming the field: {r}"
    );
    // a payload that is not what the plugin expects
    let bogus = falco_deno_host::raw::plugin_event(
        lib.api
            .__bindgen_anon_1
            .get_id
            .map(|f| unsafe { f() })
            .unwrap_or(999),
        b"definitely not a number",
        99,
    );
    // dummy.ts decodes the payload with BigInt(): this one must fail, with
    // an error naming the plugin and what failed.
    let err = p
        .extract(&bogus, "dummy.value")
        .expect_err("a payload that is no number must fail extraction");
    let err = format!("{err:#}");
    eprintln!("bogus payload -> {err}");
    assert!(
        err.contains("dummy_ts") && err.contains("decode of event"),
        "the error does not name the plugin and the failing decode: {err}"
    );
    // and the plugin still works
    assert_eq!(
        u64_of(&p, &evs[1], "dummy.value"),
        u64_of(&p, &evs[0], "dummy.value") + 1
    );
    p.destroy();
}

/// extract_fields for a field that requires an argument, with arg_present=0
/// (the host did not check): returns the error text ("" never).
fn extract_without_arg(p: &RawPlugin, e: &OwnedEvent, name: &str) -> String {
    use falco_plugin_api as api;
    let (id, d) = p
        .fields()
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == name)
        .unwrap();
    let cname = std::ffi::CString::new(name).unwrap();
    let mut req = api::ss_plugin_extract_field {
        res: api::ss_plugin_extract_field__bindgen_ty_1 {
            u64_: std::ptr::null_mut(),
        },
        res_len: 0,
        field_id: id as u32,
        field: cname.as_ptr(),
        arg_key: std::ptr::null(),
        arg_index: 0,
        arg_present: 0,
        ftype: d.ftype,
        flist: 0,
    };
    let rc = p
        .extract_request(e, &mut req)
        .expect("extract_fields exported");
    if rc == api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
        format!(
            "SUCCESS with {} values (plugin tolerated the missing argument)",
            req.res_len
        )
    } else {
        format!("rc={rc}: {}", p.last_error())
    }
}

/// 200 init/destroy cycles (each with a short capture); RSS must settle.
#[test]
fn init_destroy_cycles_rss() {
    let lib = test_plugin();
    let cycles: usize = std::env::var("FALCO_DENO_TEST_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let max_kb: u64 = std::env::var("FALCO_DENO_TEST_RSS_MAX_KB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1536);
    let warm = (cycles / 10).max(5);
    let mut rss_after_warm = 0;
    let t0 = std::time::Instant::now();
    for i in 0..cycles {
        let p = RawPlugin::init(lib, &config(), true)
            .unwrap_or_else(|e| panic!("cycle {i}: init {e:?}"));
        if i % 10 == 0 {
            drive_and_check_loose(&p);
        }
        p.destroy();
        if i + 1 == warm {
            rss_after_warm = rss_kb();
        }
    }
    let rss_end = rss_kb();
    let growth = rss_end.saturating_sub(rss_after_warm);
    eprintln!(
        "init/destroy: {cycles} cycles in {:?} ({:.3} ms/cycle); RSS after {warm} warm-up cycles {rss_after_warm} KiB, \
         at end {rss_end} KiB, growth {growth} KiB",
        t0.elapsed(),
        t0.elapsed().as_secs_f64() * 1000.0 / cycles as f64
    );
    assert!(
        growth <= max_kb,
        "RSS grew by {growth} KiB over {} cycles (max {max_kb})",
        cycles - warm
    );
}
