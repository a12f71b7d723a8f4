//! Two different events under one event number: a host may number events
//! as it likes (libsinsp restarts at 1 per capture, and several sources
//! share numbers), so a value cached for an event number must not be served
//! for other bytes. The plugin's `decode` result and text are cached on the
//! JavaScript side (`runtime/extraction.ts`), keyed like the embed's
//! prefetch (`rust_embed/src/prefetch.rs`): number and bytes. Checked with
//! prefetching on and off, for a source plugin and an extract-only one.
//!
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy.so FALCO_DENO_EXTRACT_PLUGIN=/abs/libdummy_extract.so \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml --test same_number

use falco_deno_host::raw::{plugin_event, RawPlugin, Value};
use falco_deno_host::{plugin_from_env, test_plugin, Lib};

const CONFIGS: [&str; 2] = [r#"{}"#, r#"{"falco_deno":{"prefetchFields":false}}"#];

/// Extracts `fields` from `"12"` and then from `"13"`, both event 7 of the
/// same producer, and checks each against `want(payload)`.
fn check(lib: &'static Lib, plugin_id: u32, fields: &[&str], want: impl Fn(u64, &str) -> Value) {
    for config in CONFIGS {
        let p =
            RawPlugin::init(lib, config, true).unwrap_or_else(|e| panic!("init {config}: {e:?}"));
        for payload in ["12", "13", "12"] {
            let evt = plugin_event(plugin_id, payload.as_bytes(), 7);
            let sample: u64 = payload.parse().unwrap();
            for field in fields {
                let got = p
                    .extract(&evt, field)
                    .unwrap_or_else(|e| panic!("{field} of {payload:?}: {e:#}"));
                assert_eq!(
                    got,
                    Some(vec![want(sample, field)]),
                    "{field} of event 7 with payload {payload:?} (config {config})"
                );
            }
        }
        p.destroy();
    }
}

#[test]
fn a_source_plugin_extracts_fresh_values_for_new_bytes_under_one_number() {
    check(
        test_plugin(),
        999,
        &["dummy.value", "dummy.strvalue"],
        |sample, field| match field {
            "dummy.value" => Value::U64(sample),
            _ => Value::Str(sample.to_string()),
        },
    );
}

#[test]
fn an_extract_only_plugin_extracts_fresh_values_for_new_bytes_under_one_number() {
    let lib = plugin_from_env(
        "FALCO_DENO_EXTRACT_PLUGIN",
        "a packed plugins/dummy_extract.ts",
    );
    check(
        lib,
        3,
        &["dummyx.square", "dummyx.parity"],
        |sample, field| match field {
            "dummyx.square" => Value::U64(sample * sample),
            _ => Value::Str(if sample % 2 == 0 { "even" } else { "odd" }.into()),
        },
    );
}
