//! Fields extracted ahead (`rust_embed/src/prefetch.rs`): the first
//! `extract_fields` call of an event also extracts the fields asked for on
//! the event before, and the calls that follow are answered without a hop.
//! The host must not be able to tell, except by speed: same values as with
//! `prefetchFields: false`, in any order and subset, no error reported for a
//! field it did not ask for, and no stale value for an event number reused
//! with other bytes. While an instance is open, the events of its last
//! batch that follow the asked-for one are extracted in the same hop: the
//! host must not be able to tell either, however it numbers or orders them.
//!
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy_ts.so \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml --test prefetch

use falco_deno_host::raw::{MetricValue, OwnedEvent, RawPlugin};
use falco_deno_host::test_plugin;

const FIELDS: [&str; 5] = [
    "dummy.value",
    "dummy.strvalue",
    "dummy.divisible[3]",
    "dummy.divisible[7]",
    "dummy.divisible[2]",
];

fn plugins() -> (RawPlugin, RawPlugin) {
    let lib = test_plugin();
    let ahead = RawPlugin::init(lib, r#"{"jitter":10}"#, true).expect("init");
    let plain = RawPlugin::init(
        lib,
        r#"{"jitter":10,"falco_deno":{"prefetchFields":false}}"#,
        true,
    )
    .expect("init without prefetch");
    (ahead, plain)
}

fn errors(p: &RawPlugin) -> u64 {
    let metrics = p.get_metrics().expect("plugin_get_metrics");
    match metrics.iter().find(|m| m.name == "errors").map(|m| m.value) {
        Some(MetricValue::U64(v)) => v,
        other => panic!("errors metric: {other:?}"),
    }
}

#[test]
fn values_match_without_prefetch_in_any_order_and_subset() {
    let (ahead, plain) = plugins();
    let events = ahead
        .read_events(r#"{"start":1,"maxEvents":60}"#, 60)
        .expect("events");
    assert_eq!(events.len(), 60);
    let mut checked = 0;
    for (i, evt) in events.iter().enumerate() {
        // Rotate the order, and drop or repeat fields now and then, so the
        // guesses are sometimes right, sometimes partly, sometimes wrong.
        let mut asked: Vec<&str> = (0..FIELDS.len())
            .map(|k| FIELDS[(i + k) % FIELDS.len()])
            .collect();
        asked.truncate(1 + i % FIELDS.len());
        if i % 4 == 0 {
            asked.push(asked[0]);
        }
        for field in asked {
            let got = ahead.extract(evt, field).expect("extract with prefetch");
            let want = plain.extract(evt, field).expect("extract without prefetch");
            assert_eq!(got, want, "event {} field {field}", evt.num);
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked}");
    assert_eq!(errors(&ahead), 0);
    ahead.destroy();
    plain.destroy();
}

#[test]
fn a_failing_guess_is_not_reported_and_a_reused_number_is_not_stale() {
    let (ahead, plain) = plugins();
    let events = ahead
        .read_events(r#"{"start":1,"maxEvents":4}"#, 4)
        .expect("events");
    // Event 0: the host asks for a field that throws (divisor 0): reported.
    assert!(ahead
        .extract(&events[0], "dummy.value")
        .expect("value")
        .is_some());
    ahead
        .extract(&events[0], "dummy.divisible[0]")
        .expect_err("divisor 0 must fail");
    assert_eq!(errors(&ahead), 1);
    // Event 1: dummy.divisible[0] is among the guesses and throws again, but
    // the host only asks for dummy.value: it gets it, and no error counts.
    let want = plain.extract(&events[1], "dummy.value").expect("value");
    assert_eq!(
        ahead
            .extract(&events[1], "dummy.value")
            .expect("value after a failing guess"),
        want
    );
    assert_eq!(
        errors(&ahead),
        1,
        "an error in a field nobody asked for was reported"
    );
    // Asked for, it fails as it should.
    ahead
        .extract(&events[1], "dummy.divisible[0]")
        .expect_err("divisor 0 must fail");
    assert_eq!(errors(&ahead), 2);
    // The number of event 2 with the bytes of event 3: the answer kept for
    // event 2 must not be served (tests/hosts/runner/tests/same_number.rs
    // checks the plugin's own `decode` cache the same way).
    let kept = ahead
        .extract(&events[2], "dummy.strvalue")
        .expect("strvalue");
    let renumbered = OwnedEvent {
        bytes: events[3].bytes.clone(),
        num: events[2].num,
    };
    let want = plain
        .extract(&events[3], "dummy.strvalue")
        .expect("event 3");
    assert_ne!(kept, want, "events 2 and 3 must differ for this check");
    assert_eq!(
        ahead
            .extract(&renumbered, "dummy.strvalue")
            .expect("renumbered"),
        want
    );
    ahead.destroy();
    plain.destroy();
}

#[test]
fn events_of_the_open_batch_are_answered_as_without_prefetch() {
    let (ahead, plain) = plugins();
    let h = ahead.open(r#"{"start":1,"maxEvents":300}"#).expect("open");
    let mut checked = 0;
    // Batch 1 in order and numbered one after the other (answered ahead);
    // batch 2 numbered with gaps; batch 3 with an event skipped and one
    // taken twice.
    for (round, numbering) in [(0, 1u64), (1, 10), (2, 1)].into_iter() {
        let batch = ahead
            .next_batch(&h, 1 + round * 1000)
            .expect("next_batch")
            .expect("a batch");
        assert!(batch.len() > 10, "batch of {}", batch.len());
        let mut order: Vec<usize> = (0..batch.len()).collect();
        if round == 2 {
            order.remove(5);
            order.insert(20, 20);
        }
        for i in order {
            let evt = OwnedEvent {
                bytes: batch[i].bytes.clone(),
                num: 1 + round * 1000 + i as u64 * numbering,
            };
            for field in &FIELDS[..3] {
                let got = ahead.extract(&evt, field).expect("extract");
                let want = plain
                    .extract(&evt, field)
                    .expect("extract without prefetch");
                assert_eq!(got, want, "round {round}, event {i}, {field}");
                checked += 1;
            }
        }
    }
    assert!(checked > 90);
    assert_eq!(errors(&ahead), 0);
    ahead.close(h);
    ahead.destroy();
    plain.destroy();
}
