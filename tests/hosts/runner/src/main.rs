//! falco-deno-host: runs a Falco plugin .so in falco_plugin_runner 0.5.1 (the
//! official Rust SDK's pure-Rust host), loaded with dlopen(RTLD_NOW|RTLD_LOCAL).
//!
//! Build: CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!          cargo build --release --manifest-path tests/hosts/runner/Cargo.toml
//! Binary: $CARGO_TARGET_DIR/release/falco-deno-host
//!
//! One scenario:
//!   falco-deno-host --plugin lib.so [--config '{..}'] [--open '{..}'] [--max-events N]
//!       [--field dummy.value --field 'dummy.divisible[3]' ...]
//!       [--extractor libjson.so [--extractor-config '{}']] [--json]
//!   text: one Falco-like line per event ("<ts>: #<num> <evt.plugininfo> f=v ..."),
//!   summary on stderr; --json: {"events":[{"num":1,"payload_hex":"..","fields":{"f":["v"]}}],"end":"eof|maxEvents"}
//! Many scenarios:
//!   falco-deno-host --scenarios file.json      (file: [{"name","plugin","config","open","maxEvents","fields"}])
//!   prints {"<name>": {"events":[...],"end":..,"error"?:..}, ...}
//! Field values: list of canonical strings (decimal for uint64/reltime/abstime
//! (ns), true/false, strings as is, ip text); null = no value;
//! {"error": "..."} = extraction failed. Exit code 1 if any scenario errored.

use falco_deno_host::{print_text, run_scenario, ConfigValue, Extractor, Scenario};
use std::collections::BTreeMap;

fn usage() -> ! {
    eprintln!(
        "usage: falco-deno-host --plugin lib.so [--config JSON] [--open PARAMS] [--max-events N] \
         [--field NAME]... [--extractor lib.so [--extractor-config JSON]]... [--json]\n       \
         falco-deno-host --scenarios file.json"
    );
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut sc = Scenario {
        name: "main".into(),
        plugin: String::new(),
        config: ConfigValue::Empty,
        open: ConfigValue::Empty,
        max_events: 20,
        fields: vec![],
        extractors: vec![],
        timeout_ms: 10_000,
    };
    let mut json = false;
    let mut scenarios: Option<String> = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--plugin" => sc.plugin = val(),
            "--config" => sc.config = ConfigValue::Text(val()),
            "--open" => sc.open = ConfigValue::Text(val()),
            "--max-events" => sc.max_events = val().parse().unwrap_or_else(|_| usage()),
            "--field" => sc.fields.push(val()),
            "--extractor" => sc.extractors.push(Extractor {
                plugin: val(),
                config: ConfigValue::Empty,
            }),
            "--extractor-config" => {
                let v = val();
                match sc.extractors.last_mut() {
                    Some(x) => x.config = ConfigValue::Text(v),
                    None => usage(),
                }
            }
            "--timeout-ms" => sc.timeout_ms = val().parse().unwrap_or_else(|_| usage()),
            "--json" => json = true,
            "--scenarios" => scenarios = Some(val()),
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument {a}");
                usage()
            }
        }
    }
    if let Some(file) = scenarios {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            eprintln!("cannot read {file}: {e}");
            std::process::exit(2)
        });
        let list: Vec<Scenario> = serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!("{file}: not a JSON list of scenarios: {e}");
            std::process::exit(2)
        });
        let mut out = BTreeMap::new();
        let mut failed = false;
        for (i, s) in list.iter().enumerate() {
            let r = run_scenario(s, false);
            failed |= r.error.is_some();
            let name = if s.name.is_empty() {
                format!("scenario{i}")
            } else {
                s.name.clone()
            };
            out.insert(name, r);
        }
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        std::process::exit(failed as i32);
    }
    if sc.plugin.is_empty() {
        usage()
    }
    let r = run_scenario(&sc, !json);
    if json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap());
        if let Some(e) = &r.error {
            eprintln!("error: {e}");
        }
    } else {
        print_text(&sc, &r);
    }
    std::process::exit(r.error.is_some() as i32);
}
