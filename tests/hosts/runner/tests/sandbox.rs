//! The script sandbox (issue 6): what a plugin script can reach inside the
//! `.so`. Drives `tests/fixtures/sandbox_probe.ts`, packed, through the raw
//! ABI: every attempt to reach files, network, environment, subprocesses,
//! module loading or engine internals must fail cleanly (FAILURE plus a
//! non-empty `get_last_error`) or find nothing (`undefined`), and the plugin
//! and the host go on.
//!
//!   deno task build tests/fixtures/sandbox_probe.ts --engine quickjs -o /abs/libsandbox_probe.so
//!   FALCO_DENO_SANDBOX_PLUGIN=/abs/libsandbox_probe.so FALCO_DENO_HOST_QUIET=1 \
//!   CARGO_TARGET_DIR=${FALCO_DENO_CACHE:-$HOME/.cache/falco-deno}/target-hosts \
//!   cargo test --release --manifest-path tests/hosts/runner/Cargo.toml --test sandbox -- --test-threads=1
//!
//! Without FALCO_DENO_SANDBOX_PLUGIN the tests fail.
//! The watchdog and heap-limit tests configure their limits under the
//! reserved `falco_deno` init-config member.
//! Output: libtest lines; the table of probe outcomes goes to stderr
//! (`--nocapture`).

use falco_deno_host::raw::{plugin_event, OwnedEvent, RawPlugin, Value};
use falco_deno_host::{plugin_from_env, Lib};
use std::time::{Duration, Instant};

/// The packed probe; a test without it fails.
fn probe_plugin() -> &'static Lib {
    plugin_from_env(
        "FALCO_DENO_SANDBOX_PLUGIN",
        "a packed tests/fixtures/sandbox_probe.ts",
    )
}

fn event() -> OwnedEvent {
    plugin_event(999, b"x", 1)
}

/// What one attempt gave.
#[derive(Debug, Clone)]
enum Outcome {
    /// FAILURE, with the last error text.
    Failed(String),
    /// SUCCESS with this value (the probe's `describe` text).
    Value(String),
}

fn extract_text(p: &RawPlugin, field: &str) -> Outcome {
    match p.extract(&event(), field) {
        Err(e) => {
            let s = format!("{e:#}");
            // raw.rs formats "extract_fields('f') rc=1: <last error>"
            let text = s.split_once(": ").map(|(_, t)| t.to_string()).unwrap_or(s);
            Outcome::Failed(text)
        }
        Ok(Some(v)) => match &v[..] {
            [Value::Str(s)] => Outcome::Value(s.clone()),
            other => Outcome::Value(format!("{other:?}")),
        },
        Ok(None) => Outcome::Value("(no value)".into()),
    }
}

/// The async path: open `{"probe": name}` and read the one event.
fn batch_text(p: &RawPlugin, name: &str) -> Outcome {
    let params = serde_json::json!({ "probe": name }).to_string();
    let h = match p.open(&params) {
        Ok(h) => h,
        Err(e) => return Outcome::Failed(format!("open: {e:#}")),
    };
    let start = Instant::now();
    let out = loop {
        match p.next_batch(&h, 1) {
            Err(e) => {
                let s = format!("{e:#}");
                break Outcome::Failed(s.split_once(": ").map(|(_, t)| t.to_string()).unwrap_or(s));
            }
            Ok(None) => break Outcome::Value("(EOF)".into()),
            Ok(Some(b)) if b.is_empty() => {
                if start.elapsed() > Duration::from_secs(10) {
                    break Outcome::Failed("(test) TIMEOUT for 10 s".into());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(Some(b)) => {
                let e = &b[0].bytes;
                // payload after the 26-byte header, 2 lengths and the plugin id
                break Outcome::Value(String::from_utf8_lossy(&e[26 + 8 + 4..]).into_owned());
            }
        }
    };
    p.close(h);
    out
}

/// What a probe is expected to give.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Must not reach anything: FAILURE with a non-empty error, or a value
    /// of `undefined` (the thing does not exist).
    Denied,
    /// Works, and is not an escape: the value must be exactly this.
    Works(&'static str),
}
use Expect::*;

/// Every probe of the fixture, with its expectation. The README's sandbox
/// section is written from this table.
const PROBES: &[(&str, Expect)] = &[
    ("Deno.readFile", Denied),
    ("Deno.readTextFileSync", Denied),
    ("Deno.open", Denied),
    ("Deno.writeTextFileSync", Denied),
    ("Deno.readDir", Denied),
    ("Deno.cwd", Denied),
    ("op_read(rid 0)", Denied),
    ("op_write(rid 1)", Denied),
    ("op_write_sync(rid 2)", Denied),
    ("op_read_sync(rid 0)", Denied),
    ("op_fs_read_file_sync", Denied),
    ("op_readfile", Denied),
    ("Deno.env", Denied),
    ("Deno.pid", Denied),
    ("Deno.exit", Denied),
    ("Deno.args", Denied),
    ("process.env", Denied),
    ("process.exit", Denied),
    ("op_env", Denied),
    ("op_exit", Denied),
    ("Deno.Command", Denied),
    ("Deno.run", Denied),
    ("child_process", Denied),
    ("op_spawn_sync", Denied),
    ("fetch", Denied),
    ("XMLHttpRequest", Denied),
    ("WebSocket", Denied),
    ("Deno.connect", Denied),
    ("Deno.listen", Denied),
    ("op_net_connect_tcp", Denied),
    ("require", Denied),
    ("import(file)", Denied),
    ("import(node:fs)", Denied),
    ("import(http)", Denied),
    ("import(data)", Denied),
    ("importScripts", Denied),
    // evalContext evaluates the given source text; the URL only names it
    ("Deno.core.evalContext", Denied),
    ("op_import_sync", Denied),
    ("op_eval_context", Denied),
    ("op_load_module(file)", Denied),
    ("WebAssembly(no imports)", Denied),
    ("WebAssembly(empty wasi)", Denied),
    ("WebAssembly.compileStreaming", Denied),
    ("Worker", Denied),
    ("Deno.dlopen", Denied),
    ("op_ffi_load", Denied),
    ("Deno.core.shutdown(rid 0)", Denied),
    ("op_load_ext_script", Denied),
    ("throw 0", Denied),
    ("throw undefined", Denied),
    ("throw null", Denied),
    ("throw symbol", Denied),
    ("throw object", Denied),
    ("throw proxy", Denied),
    ("reject 0", Denied),
    ("op_destructure_error(Error)", Denied),
    ("op_pipe", Denied),
    // a 1 ms wait on a word that holds the expected value times out
    ("SharedArrayBuffer+Atomics.wait", Works("string:timed-out")),
    ("op_resources", Denied),
    ("eval", Works("number:42")),
    ("Function", Works("number:42")),
    ("Date.now", Works("string:number")),
    ("Math.random", Works("string:number")),
    ("setTimeout", Works("string:function")),
    // these would terminate the instance's script for good (deno_core takes
    // the exception as fatal), were Deno.core reachable
    ("reportUnhandledException", Denied),
    ("op_dispatch_exception", Denied),
    ("Deno.core.print", Denied),
];

fn acceptable(expect: Expect, o: &Outcome) -> bool {
    match (expect, o) {
        (Denied, Outcome::Failed(e)) => !e.trim().is_empty(),
        (Denied, Outcome::Value(v)) => v == "undefined" || v == "promise",
        (Works(want), Outcome::Value(v)) => v == want,
        (Works(_), Outcome::Failed(_)) => false,
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Outcome::Failed(e) => format!("FAILURE: {e}"),
        Outcome::Value(v) => format!("value {v}"),
    }
}

fn check_all(label: &str, lib: &'static Lib, run: impl Fn(&RawPlugin, &str) -> Outcome) {
    let p = RawPlugin::init(lib, "{}", true).unwrap_or_else(|e| panic!("init: {e:?}"));
    let mut bad = vec![];
    eprintln!("| probe ({label}) | outcome |\n| --- | --- |");
    for &(name, expect) in PROBES {
        let o = run(&p, name);
        let ok = acceptable(expect, &o);
        eprintln!(
            "| `{name}` | {}{} |",
            show(&o).replace('|', "\\|"),
            if ok { "" } else { "  **UNEXPECTED**" }
        );
        if !ok {
            bad.push(format!("{name}: expected {expect:?}, got {}", show(&o)));
        }
        // the plugin goes on after every attempt
        match extract_text(&p, "probe.ok") {
            Outcome::Value(v) if v == "ok" => {}
            o => bad.push(format!("after {name}: probe.ok gave {}", show(&o))),
        }
    }
    p.destroy();
    assert!(
        !std::path::Path::new("/tmp/falco-deno-sandbox-leak").exists(),
        "a probe wrote a file"
    );
    assert!(
        bad.is_empty(),
        "{label}: {} unexpected outcome(s):\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Each probe run synchronously inside `extract_fields`.
#[test]
fn probes_in_extract_fail_cleanly() {
    let lib = probe_plugin();
    check_all("extract", lib, |p, name| {
        extract_text(p, &format!("probe.run[{name}]"))
    });
}

/// Each probe awaited inside an async `nextBatch` (dynamic `import()` and
/// `fetch` return promises: their rejections are seen here).
#[test]
fn probes_in_async_next_batch_fail_cleanly() {
    let lib = probe_plugin();
    check_all("nextBatch", lib, |p, name| {
        match batch_text(p, name) {
            // the async path reports the value as the event payload
            Outcome::Value(v) if v == "promise" => Outcome::Value("promise (unresolved)".into()),
            o => o,
        }
    });
}

/// What the script's world contains, printed for the README; ops that would
/// reach the outside must not be there at all.
#[test]
fn inventory_has_no_outside_ops() {
    let lib = probe_plugin();
    let p = RawPlugin::init(lib, "{}", true).unwrap();
    let list = |what: &str| -> Vec<String> {
        match extract_text(&p, &format!("probe.inventory[{what}]")) {
            Outcome::Value(v) => serde_json::from_str(&v).unwrap(),
            Outcome::Failed(e) => panic!("inventory {what}: {e}"),
        }
    };
    let globals = list("globals");
    let deno = list("deno");
    let core = list("core");
    let ops = list("ops");
    eprintln!("globals ({}): {}", globals.len(), globals.join(" "));
    eprintln!("Deno ({}): {}", deno.len(), deno.join(" "));
    eprintln!("Deno.core ({}): {}", core.len(), core.join(" "));
    eprintln!("Deno.core.ops ({}): {}", ops.len(), ops.join(" "));
    for g in [
        "process",
        "require",
        "XMLHttpRequest",
        "WebSocket",
        "Worker",
        "importScripts",
    ] {
        assert!(!globals.iter().any(|x| x == g), "global {g} exists");
    }
    // The Deno namespace holds the sanctioned APIs only; deno_core's raw
    // ops (`Deno.core`) are out of the plugin's reach.
    let allowed = [
        "FsFile",
        "HttpClient",
        "SeekMode",
        "build",
        "createHttpClient",
        "env",
        "errors",
        "lstat",
        "open",
        "readDir",
        "readFile",
        "readTextFile",
        "readTextFileSync",
        "serve",
        "stat",
    ];
    let extra: Vec<_> = deno
        .iter()
        .filter(|d| !allowed.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "Deno has more than the sanctioned APIs: {extra:?}"
    );
    assert!(
        core.is_empty() && ops.is_empty(),
        "Deno.core is reachable: {core:?}"
    );
    let outside = [
        "fs_", "net_", "spawn", "env", "exit", "ffi", "process", "file", "dlopen", "http", "fetch",
        "tls", "kill",
    ];
    let found: Vec<_> = ops
        .iter()
        .filter(|o| outside.iter().any(|w| o.contains(w)))
        .collect();
    assert!(
        found.is_empty(),
        "ops that may reach the outside: {found:?}"
    );
    p.destroy();
}

/// Probes that aborted the whole process when found (a Rust panic inside an
/// op called from JavaScript cannot unwind through the engine's C frames:
/// "panic in a function that cannot unwind", SIGABRT). Each one runs in a
/// child process, the `falco-deno-host` binary of this crate, which must
/// exit cleanly with a clean outcome for the probe, and the plugin must
/// still answer `probe.ok` after it.
fn check_in_child(probe: &str) {
    let field = format!("probe.run[{probe}]");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_falco-deno-host"))
        .args(["--plugin", &probe_plugin().path, "--config", "{}"])
        .args(["--max-events", "1", "--json"])
        .args(["--field", &field, "--field", "probe.ok"])
        .env("FALCO_DENO_HOST_QUIET", "1")
        .output()
        .expect("spawn falco-deno-host");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{probe}: child {}: {stdout}", out.status);
    assert!(
        out.status.success(),
        "probe {probe} killed the host process ({}): {}",
        out.status,
        stderr
            .lines()
            .filter(|l| l.contains("panicked") || l.contains("error"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("probe {probe}: the host printed no JSON ({e}): {stdout}"));
    let fields = &json["events"][0]["fields"];
    // With Deno.core hidden the op is unreachable: the probe fails cleanly
    // before calling it (or, where reachable, the disabled op throws).
    let error = fields[&field]["error"].as_str().unwrap_or("");
    assert!(
        !error.trim().is_empty(),
        "probe {probe}: expected a failure with an error text, got {}",
        fields[&field]
    );
    assert_eq!(
        fields["probe.ok"],
        serde_json::json!(["ok"]),
        "probe {probe}: the plugin does not answer after it"
    );
}

/// `Deno.core.ops.op_panic(msg)`: deno_core's built-in op panics in Rust.
#[test]
fn op_panic_does_not_kill_the_host() {
    check_in_child("op_panic");
}

/// `Deno.core.ops.op_destructure_error(0)`: a non-Error argument makes
/// `JsError::from_v8_exception` unwrap a None (on QuickJS-ng) inside the op.
#[test]
fn op_destructure_error_does_not_kill_the_host() {
    check_in_child("op_destructure_error(0)");
}

/// Every op of `Deno.core.ops` (but the two above) called with assorted bad
/// arguments, inside extract: none may take the process down.
#[test]
fn every_op_with_bad_arguments_leaves_the_host_alive() {
    let lib = probe_plugin();
    let p = RawPlugin::init(lib, "{}", true).unwrap();
    let ops: Vec<String> = match extract_text(&p, "probe.inventory[ops]") {
        Outcome::Value(v) => serde_json::from_str(&v).unwrap(),
        o => panic!("inventory: {o:?}"),
    };
    p.destroy();
    let skip = ["op_panic", "op_destructure_error"];
    let mut n = 0;
    for op in ops.iter().filter(|o| !skip.contains(&o.as_str())) {
        // a fresh instance per op: some (op_dispatch_exception) terminate the script
        let p = RawPlugin::init(lib, "{}", true).unwrap();
        let o = extract_text(&p, &format!("probe.opcall[{op}]"));
        if let Outcome::Failed(e) = &o {
            assert!(!e.trim().is_empty(), "{op}: FAILURE with an empty error");
        }
        p.destroy();
        n += 1;
    }
    eprintln!(
        "called {n} ops with {} argument lists each; the host is alive",
        12
    );
}

/// Runs `f` on another thread; None if it did not finish within `limit`
/// (the thread is left behind: the test fails anyway).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

/// `while (true) {}` in extract is stopped by the callback deadline: the
/// call returns FAILURE with an error naming the callback and the deadline,
/// and the instance recovers: the next call runs normally.
#[test]
fn endless_loop_in_extract_is_stopped_by_the_watchdog() {
    let lib = probe_plugin();
    let p = RawPlugin::init(lib, r#"{"falco_deno": {"callbackDeadlineMs": 300}}"#, true)
        .unwrap_or_else(|e| panic!("init with callbackDeadlineMs: {e:?}"));
    let t0 = Instant::now();
    let (p, o) = within(Duration::from_secs(20), move || {
        let o = extract_text(&p, "probe.spin");
        (p, o)
    })
    .expect("the endless loop was not stopped within 20 s");
    let took = t0.elapsed();
    eprintln!("probe.spin -> {} after {took:?}", show(&o));
    let Outcome::Failed(e) = &o else {
        panic!("probe.spin returned {o:?}")
    };
    assert!(took < Duration::from_secs(5), "stopped only after {took:?}");
    assert!(
        e.contains("extract"),
        "error does not name the callback: {e}"
    );
    assert!(e.contains("300"), "error does not name the deadline: {e}");
    // The README promises recovery: the next call runs normally.
    match extract_text(&p, "probe.ok") {
        Outcome::Value(v) => assert_eq!(v, "ok"),
        Outcome::Failed(e) => panic!("after the deadline the instance did not recover: {e}"),
    }
    p.destroy();
    // the host goes on: a new instance works
    let q = RawPlugin::init(lib, "{}", true).unwrap();
    assert!(matches!(extract_text(&q, "probe.ok"), Outcome::Value(v) if v == "ok"));
    q.destroy();
}

/// An ever-growing array in extract hits the heap limit: FAILURE with a
/// clear error, the process is not aborted, and the instance recovers.
#[test]
fn unbounded_allocation_in_extract_hits_the_heap_limit() {
    let lib = probe_plugin();
    let p = RawPlugin::init(
        lib,
        r#"{"falco_deno": {"heapLimitMb": 64, "callbackDeadlineMs": 30000}}"#,
        true,
    )
    .unwrap_or_else(|e| panic!("init with heapLimitMb: {e:?}"));
    let rss0 = falco_deno_host::rss_kb();
    let t0 = Instant::now();
    let (p, o) = within(Duration::from_secs(60), move || {
        let o = extract_text(&p, "probe.grow");
        (p, o)
    })
    .expect("the allocation was not stopped within 60 s");
    let rss1 = falco_deno_host::rss_kb();
    eprintln!(
        "probe.grow -> {} after {:?}; RSS {rss0} -> {rss1} KiB",
        show(&o),
        t0.elapsed()
    );
    let Outcome::Failed(e) = &o else {
        panic!("probe.grow returned {o:?}")
    };
    let lower = e.to_lowercase();
    assert!(
        lower.contains("heap") || lower.contains("memory"),
        "error does not mention the heap: {e}"
    );
    assert!(
        rss1.saturating_sub(rss0) < 512 * 1024,
        "RSS grew by more than 512 MiB"
    );
    // The README promises recovery: the next call runs normally.
    match extract_text(&p, "probe.ok") {
        Outcome::Value(v) => assert_eq!(v, "ok"),
        Outcome::Failed(e) => panic!("after the heap limit the instance did not recover: {e}"),
    }
    p.destroy();
    let q = RawPlugin::init(lib, "{}", true).unwrap();
    assert!(matches!(extract_text(&q, "probe.ok"), Outcome::Value(v) if v == "ok"));
    q.destroy();
}
