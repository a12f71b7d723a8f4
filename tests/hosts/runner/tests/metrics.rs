//! Metrics (issue 6, item 7): `plugin_get_metrics` of the packed dummy
//! plugin. The counters are per instance and move with the calls: events
//! after `next_batch`, `extract_calls` per `extract_fields`, `errors` after
//! a failing extraction, the script's own `captures_opened`.
//!
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy_ts.so \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml --test metrics
//!
//! On QuickJS-ng there is no `heap_used_bytes` (its v8x layer has no heap
//! statistics); with V8 there is, and it is checked to be non-zero.

use falco_deno_host::raw::{Metric, MetricValue, RawPlugin};
use falco_deno_host::test_plugin;
use std::collections::BTreeMap;

const COUNTERS: [&str; 6] = [
    "events_produced",
    "extract_calls",
    "errors",
    "deadline_hits",
    "heap_limit_hits",
    "calls",
];

fn metrics(p: &RawPlugin) -> BTreeMap<String, Metric> {
    let list = p
        .get_metrics()
        .expect("the library exports plugin_get_metrics");
    let map: BTreeMap<String, Metric> = list.iter().map(|m| (m.name.clone(), m.clone())).collect();
    assert_eq!(map.len(), list.len(), "duplicate metric names: {list:?}");
    map
}

fn counter(m: &BTreeMap<String, Metric>, name: &str) -> u64 {
    let metric = m
        .get(name)
        .unwrap_or_else(|| panic!("no metric {name} in {m:?}"));
    assert!(metric.monotonic, "{name} must be monotonic");
    match metric.value {
        MetricValue::U64(v) => v,
        other => panic!("{name} must be a u64, got {other:?}"),
    }
}

fn gauge(m: &BTreeMap<String, Metric>, name: &str) -> f64 {
    let metric = m
        .get(name)
        .unwrap_or_else(|| panic!("no metric {name} in {m:?}"));
    assert!(!metric.monotonic, "{name} must be non-monotonic");
    match metric.value {
        MetricValue::F64(v) => v,
        MetricValue::U64(v) => v as f64,
        other => panic!("{name}: unexpected {other:?}"),
    }
}

#[test]
fn counters_move_with_the_calls() {
    let lib = test_plugin();
    let p = RawPlugin::init(lib, r#"{"jitter":0}"#, true).expect("init");

    let m = metrics(&p);
    for name in COUNTERS {
        assert_eq!(
            counter(&m, name),
            if name == "calls" { 1 } else { 0 },
            "{name} after init (the init call)"
        );
    }
    assert!(gauge(&m, "call_time_avg_us") > 0.0);
    assert_eq!(gauge(&m, "captures_opened"), 0.0, "the script's own metric");
    match m.get("heap_used_bytes") {
        Some(h) => assert!(gauge(&m, "heap_used_bytes") > 0.0, "{h:?}"),
        None => eprintln!("no heap_used_bytes (QuickJS-ng build)"),
    }

    // 130 events: a batch of 128 and one of 2, then EOF.
    let events = p
        .read_events(r#"{"start":1,"maxEvents":130}"#, 1000)
        .expect("read");
    assert_eq!(events.len(), 130);
    let m = metrics(&p);
    assert_eq!(counter(&m, "events_produced"), 130);
    assert_eq!(gauge(&m, "captures_opened"), 1.0);
    // init, open, 3 next_batch (128, 2, EOF), close.
    assert_eq!(counter(&m, "calls"), 6);
    assert_eq!(counter(&m, "extract_calls"), 0);

    for e in &events[..10] {
        p.extract(e, "dummy.value").expect("extract");
    }
    p.extract(&events[0], "dummy.divisible[2]")
        .expect("extract");
    let m = metrics(&p);
    assert_eq!(counter(&m, "extract_calls"), 11);
    assert_eq!(counter(&m, "errors"), 0);

    // dummy.divisible[0] throws a RangeError in the script.
    let err = p
        .extract(&events[0], "dummy.divisible[0]")
        .expect_err("divisor 0 must fail");
    assert!(err.to_string().contains("divisor must not be 0"), "{err}");
    let m = metrics(&p);
    assert_eq!(counter(&m, "extract_calls"), 12);
    assert_eq!(counter(&m, "errors"), 1);
    assert_eq!(counter(&m, "deadline_hits"), 0);
    assert_eq!(counter(&m, "heap_limit_hits"), 0);
    assert_eq!(
        counter(&m, "calls"),
        6 + 12,
        "get_metrics itself is not counted"
    );

    // The previous answer stays valid until the next call; repeated calls
    // give the same counters (the heap in use, a gauge on V8, may move:
    // the metrics call itself runs JavaScript).
    let counters_only = |mut m: BTreeMap<String, Metric>| {
        m.remove("heap_used_bytes");
        m
    };
    assert_eq!(counters_only(metrics(&p)), counters_only(m));
    p.destroy();
}

#[test]
fn instances_count_separately() {
    let lib = test_plugin();
    let a = RawPlugin::init(lib, r#"{"jitter":0}"#, true).expect("init a");
    let b = RawPlugin::init(lib, r#"{"jitter":0}"#, true).expect("init b");
    let evs = a.read_events(r#"{"maxEvents":5}"#, 5).expect("read");
    assert_eq!(evs.len(), 5);
    assert_eq!(counter(&metrics(&a), "events_produced"), 5);
    assert_eq!(counter(&metrics(&b), "events_produced"), 0);
    assert_eq!(gauge(&metrics(&b), "captures_opened"), 0.0);
    a.destroy();
    b.destroy();
}

/// The plugin shared between an event thread and a metrics reader, as
/// Falco does (its web server calls `get_metrics` while events flow): the
/// library serialises calls on one instance itself.
struct Shared(RawPlugin);
unsafe impl Sync for Shared {}

#[test]
fn get_metrics_from_another_thread_while_events_flow() {
    let lib = test_plugin();
    let shared = Shared(RawPlugin::init(lib, r#"{"jitter":0}"#, true).expect("init"));
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut reads = 0u64;
    let sh = &shared;
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..20 {
                let evs = sh.0.read_events(r#"{"maxEvents":3}"#, 3).expect("read");
                assert_eq!(evs.len(), 3);
                sh.0.extract(&evs[2], "dummy.value").expect("extract");
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut last = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let n = counter(&metrics(&shared.0), "events_produced");
            assert!(
                n >= last && n <= 60,
                "events_produced went from {last} to {n}"
            );
            last = n;
            reads += 1;
        }
    });
    let m = metrics(&shared.0);
    assert_eq!(counter(&m, "events_produced"), 60);
    assert_eq!(counter(&m, "extract_calls"), 20);
    assert_eq!(gauge(&m, "captures_opened"), 20.0);
    eprintln!("metrics read {reads} times while events flowed");
    shared.0.destroy();
}
