//! The embed cannot hang, crash or blame the wrong call (issue 15), through
//! the packed `.so` of `tests/fixtures/hardening_probe.ts`
//! (`FALCO_DENO_HARDENING_PLUGIN`) and of `plugins/dummy.ts`
//! (`FALCO_DENO_TEST_PLUGIN`). Both must be set: a test that cannot run
//! fails.
//!
//!   FALCO_DENO_HARDENING_PLUGIN=/abs/libhardening_probe.so \
//!   FALCO_DENO_TEST_PLUGIN=/abs/libdummy.so \
//!   cargo test --release --test hardening -- --test-threads=1

use falco_deno_host::raw::{plugin_event, OwnedEvent, RawPlugin, Value};
use falco_deno_host::{load, Lib};
use falco_plugin_api as api;
use std::time::{Duration, Instant};

fn required(var: &str) -> &'static Lib {
    falco_deno_host::plugin_from_env(var, "the .so named in this file's header")
}

fn probe() -> &'static Lib {
    required("FALCO_DENO_HARDENING_PLUGIN")
}

fn event() -> OwnedEvent {
    plugin_event(1, b"payload", 1)
}

fn init(lib: &'static Lib, config: &str) -> RawPlugin {
    RawPlugin::init(lib, config, true).unwrap_or_else(|e| panic!("init {config}: {e:?}"))
}

fn text(p: &RawPlugin, field: &str) -> Result<String, String> {
    match p.extract(&event(), field) {
        Ok(Some(v)) => Ok(match &v[0] {
            Value::Str(s) => s.clone(),
            Value::U64(n) => n.to_string(),
            other => format!("{other:?}"),
        }),
        Ok(None) => Ok(String::new()),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `f` on another thread; `None` if it did not finish within `limit`
/// (the thread is left behind: the test fails anyway).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

fn field_id(p: &RawPlugin, name: &str) -> u32 {
    p.fields()
        .iter()
        .position(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}")) as u32
}

fn metric(p: &RawPlugin, name: &str) -> f64 {
    let metrics = p.get_metrics().expect("plugin_get_metrics");
    let m = metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"));
    match m.value {
        falco_deno_host::raw::MetricValue::U64(v) => v as f64,
        falco_deno_host::raw::MetricValue::S64(v) => v as f64,
        falco_deno_host::raw::MetricValue::F64(v) => v,
    }
}

/// A call that answers right around its deadline is either stopped or not,
/// but a stop never lands later, on the next call. (Before: the caller
/// checked the clock after the answer had come and terminated anyway; the
/// termination hit whatever JavaScript ran next.)
#[test]
fn a_call_answered_at_its_deadline_is_never_stopped_later() {
    let p = init(probe(), r#"{"falco_deno": {"callbackDeadlineMs": 40}}"#);
    let mut stopped = 0;
    for us in (36_000..=44_000).step_by(250) {
        if text(&p, &format!("harden.busy[{us}]")).is_err() {
            stopped += 1;
        }
        assert_eq!(
            text(&p, "harden.ok"),
            Ok("ok".to_string()),
            "the call after harden.busy[{us}] was hit by a stop meant for it"
        );
    }
    eprintln!("{stopped} of 33 calls around the deadline were stopped");
    p.destroy();
}

/// A runaway timer is stopped in the event loop, on its own account: the
/// next call still gets its whole deadline, so a call that runs away too is
/// stopped at its own deadline. (Before: the first call's single deadline
/// was spent stopping the timer, and nothing watched the call itself.)
#[test]
fn a_runaway_timer_is_stopped_on_its_own_account() {
    let p = init(probe(), r#"{"falco_deno": {"callbackDeadlineMs": 200}}"#);
    assert_eq!(text(&p, "harden.later[0]"), Ok("scheduled".to_string()));
    std::thread::sleep(Duration::from_millis(50));
    let (p, took, outcome) = within(Duration::from_secs(20), move || {
        let t0 = Instant::now();
        let o = text(&p, "harden.busy[10000000]");
        (p, t0.elapsed(), o)
    })
    .expect("a call behind a runaway timer was not stopped within 20 s");
    let e = outcome.expect_err("a 10 s spin with a 200 ms deadline returned a value");
    assert!(e.contains("extract exceeded its deadline of 200 ms"), "{e}");
    assert!(took < Duration::from_secs(2), "stopped only after {took:?}");
    assert_eq!(text(&p, "harden.ok"), Ok("ok".to_string()));
    assert!(
        metric(&p, "deadline_hits") >= 2.0,
        "the timer and the call are both counted"
    );
    p.destroy();
}

/// Each heap stop raises the limit so the script can unwind; the configured
/// limit must come back, or a plugin that hits it repeatedly gets more and
/// more (before: 1.25x per hit, 16 MiB became 61 MiB after 6 hits).
#[test]
fn the_heap_limit_does_not_grow_with_each_stop() {
    let p = init(
        probe(),
        r#"{"falco_deno": {"heapLimitMb": 16, "callbackDeadlineMs": 30000}}"#,
    );
    assert!(text(&p, "harden.hold[2]").is_ok(), "2 MiB fit in 16");
    for attempt in 1..=8 {
        let e = text(&p, "harden.hold[40]")
            .expect_err(&format!("attempt {attempt}: 40 MiB fit in a 16 MiB heap"));
        assert!(e.contains("heap limit of 16 MiB"), "attempt {attempt}: {e}");
        assert!(
            text(&p, "harden.hold[2]").is_ok(),
            "attempt {attempt}: no recovery"
        );
    }
    p.destroy();
}

/// A call blocked outside JavaScript (a synchronous read of a FIFO nobody
/// writes to) cannot be terminated: after its deadline and a grace period
/// the caller gives up with a clear error, later calls fail at once, and
/// destroy returns. (Before: the call, and destroy, waited forever.)
#[test]
fn a_call_blocked_outside_javascript_is_given_up_on() {
    let dir = tempdir("blocked");
    let fifo = dir.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    // A writer that never writes keeps the reader blocked.
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    let config = format!(
        r#"{{"falco_deno": {{"callbackDeadlineMs": 200, "allowRead": ["{}"]}}}}"#,
        dir.display()
    );
    let p = init(probe(), &config);
    let field = format!("harden.read[{}]", fifo.display());
    let (p, took, outcome) = within(Duration::from_secs(30), move || {
        let t0 = Instant::now();
        let o = text(&p, &field);
        (p, t0.elapsed(), o)
    })
    .expect("the blocked call never returned");
    let e = outcome.expect_err("a read of a silent FIFO returned");
    assert!(e.contains("did not end within"), "{e}");
    assert!(took < Duration::from_secs(5), "gave up only after {took:?}");
    let t0 = Instant::now();
    let again = text(&p, "harden.ok").expect_err("a given-up instance answered");
    assert!(again.contains("can no longer be used"), "{again}");
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "a later call waited"
    );
    let t0 = Instant::now();
    within(Duration::from_secs(5), move || p.destroy()).expect("destroy did not return");
    assert!(t0.elapsed() < Duration::from_secs(1));
    drop(writer);
    // The host goes on with a new instance.
    let q = init(probe(), "{}");
    assert_eq!(text(&q, "harden.ok"), Ok("ok".to_string()));
    q.destroy();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nothing is written into the host process's environment (Falco's): the
/// QuickJS-ng bytecode cache used to be switched off with `set_var`.
#[test]
fn the_embed_changes_no_environment_variable() {
    let before: Vec<_> = std::env::vars_os().collect();
    let p = init(probe(), "{}");
    assert_eq!(text(&p, "harden.ok"), Ok("ok".to_string()));
    p.destroy();
    let after: Vec<_> = std::env::vars_os().collect();
    assert_eq!(before, after);
}

/// A request whose type or list flag is not the field's declared one would
/// be read by the host as something it is not: it fails, naming both.
#[test]
fn a_request_of_another_type_than_declared_fails_naming_both() {
    let p = init(probe(), "{}");
    let ok_id = field_id(&p, "harden.ok");
    for (ftype, flist, asked) in [(8, 0, "uint64"), (9, 1, "string list")] {
        let mut req: api::ss_plugin_extract_field = unsafe { std::mem::zeroed() };
        req.field_id = ok_id;
        req.field = c"harden.ok".as_ptr();
        req.ftype = ftype;
        req.flist = flist;
        let rc = p.extract_request(&event(), &mut req).unwrap();
        assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE, "asked as {asked}");
        let e = p.last_error();
        assert!(
            e.contains(&format!(
                "\"harden.ok\" as {asked}, but it is declared as string"
            )),
            "{e}"
        );
    }
    assert_eq!(text(&p, "harden.ok"), Ok("ok".to_string()));
    p.destroy();
}

/// NULL where the host should pass a handle: an error, never a crash.
#[test]
fn null_handles_are_errors_not_crashes() {
    let dummy = required("FALCO_DENO_TEST_PLUGIN");
    let null: *mut api::ss_plugin_t = std::ptr::null_mut();
    let no_capture: *mut api::ss_instance_t = std::ptr::null_mut();
    unsafe {
        let src = &dummy.api.__bindgen_anon_1;
        let mut rc = 0;
        assert!((src.open.unwrap())(null, c"{}".as_ptr(), &mut rc).is_null());
        assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE);
        (src.close.unwrap())(null, no_capture);
        let (mut n, mut evts) = (7u32, std::ptr::null_mut());
        let batch_rc = (src.next_batch.unwrap())(null, no_capture, &mut n, &mut evts);
        assert_eq!((batch_rc, n), (api::ss_plugin_rc_SS_PLUGIN_FAILURE, 0));
        let mut pct = 7u32;
        assert!(!(src.get_progress.unwrap())(null, no_capture, &mut pct).is_null());
        assert_eq!(pct, 0);
        let e = event();
        let input = api::ss_plugin_event_input {
            evt: e.bytes.as_ptr() as *const api::ss_plugin_event,
            evtnum: 1,
            evtsrc: c"dummy".as_ptr(),
        };
        assert!(!(src.event_to_string.unwrap())(null, &input).is_null());
        assert!(!(src.list_open_params.unwrap())(null, &mut rc).is_null());
        let ext = &dummy.api.__bindgen_anon_2;
        let mut req: api::ss_plugin_extract_field = std::mem::zeroed();
        let fields = api::ss_plugin_field_extract_input {
            owner: std::ptr::null_mut(),
            get_owner_last_error: None,
            num_fields: 1,
            fields: &mut req,
            table_reader: std::mem::zeroed(),
            table_reader_ext: std::ptr::null_mut(),
            value_offsets: std::ptr::null_mut(),
        };
        let rc = (ext.extract_fields.unwrap())(null, &input, &fields);
        assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE);
        let text = falco_deno_host::cstr_opt((dummy.api.get_last_error.unwrap())(null));
        assert!(text.is_some_and(|t| !t.is_empty()));
        let mut count = 7u32;
        assert!((dummy.api.get_metrics.unwrap())(null, &mut count).is_null());
        assert_eq!(count, 0);
        (dummy.api.destroy.unwrap())(null);
        // And a real instance, with NULL out-pointers.
        let p = init(dummy, r#"{"jitter":0}"#);
        let h = p.open(r#"{"start":1,"maxEvents":3}"#).unwrap();
        let rc =
            (src.next_batch.unwrap())(p.state, h.0, std::ptr::null_mut(), std::ptr::null_mut());
        assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE);
        assert!(!(src.get_progress.unwrap())(p.state, h.0, std::ptr::null_mut()).is_null());
        p.close(h);
        p.destroy();
    }
}

/// A host of an older API passes a shorter `ss_plugin_field_extract_input`
/// (no table reader, no value offsets): only `num_fields` and `fields` may
/// be read. The struct is placed at the very end of a page whose next page
/// is unmapped, so a read past it faults.
#[test]
fn an_older_hosts_extract_input_is_not_read_past_its_end() {
    let p = init(probe(), "{}");
    let ok_id = field_id(&p, "harden.ok");
    const OLD_LEN: usize = 32; // owner, get_owner_last_error, num_fields, fields
    unsafe {
        let page = 4096;
        let base = libc::mmap(
            std::ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        assert_ne!(base as *mut libc::c_void, libc::MAP_FAILED);
        assert_eq!(
            libc::mprotect(base.add(page) as *mut _, page, libc::PROT_NONE),
            0
        );
        let mut req: api::ss_plugin_extract_field = std::mem::zeroed();
        req.field_id = ok_id;
        req.field = c"harden.ok".as_ptr();
        req.ftype = 9;
        let at = base.add(page - OLD_LEN);
        std::ptr::write_bytes(at, 0, OLD_LEN);
        (at.add(16) as *mut u32).write(1);
        (at.add(24) as *mut *mut api::ss_plugin_extract_field).write(&mut req);
        let e = event();
        let input = api::ss_plugin_event_input {
            evt: e.bytes.as_ptr() as *const api::ss_plugin_event,
            evtnum: 1,
            evtsrc: c"dummy".as_ptr(),
        };
        let ext = p.lib.api.__bindgen_anon_2.extract_fields.unwrap();
        for _ in 0..3 {
            let rc = ext(
                p.state,
                &input,
                at as *const api::ss_plugin_field_extract_input,
            );
            assert_eq!(
                rc,
                api::ss_plugin_rc_SS_PLUGIN_SUCCESS,
                "{}",
                p.last_error()
            );
            assert_eq!(req.res_len, 1);
            assert_eq!(
                falco_deno_host::cstr_opt(*req.res.str_).as_deref(),
                Some("ok")
            );
        }
        libc::munmap(base as *mut _, 2 * page);
    }
    p.destroy();
}

/// A packed file whose trailer claims lengths that overflow is refused
/// with an error, before anything is allocated for them.
#[test]
fn a_corrupt_trailer_is_refused() {
    let source = std::env::var("FALCO_DENO_HARDENING_PLUGIN").expect("FALCO_DENO_HARDENING_PLUGIN");
    let dir = tempdir("trailer");
    let path = dir.join("libcorrupt.so");
    let mut bytes = std::fs::read(&source).unwrap();
    let n = bytes.len();
    assert_eq!(&bytes[n - 8..], b"FDENOPK1");
    bytes[n - 24..n - 16].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
    bytes[n - 16..n - 8].copy_from_slice(&50u64.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let lib = load(path.to_str().unwrap()).unwrap();
    let name = unsafe { falco_deno_host::cstr_opt((lib.api.get_name.unwrap())()) };
    assert_eq!(name.as_deref(), Some("falco_deno_unpacked"));
    let e = RawPlugin::init(lib, "{}", true)
        .err()
        .expect("init of a corrupt file succeeded");
    assert!(e.1.contains("corrupt falco-deno trailer"), "{}", e.1);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fdeno-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
