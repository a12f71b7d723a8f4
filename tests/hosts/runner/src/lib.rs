//! falco-deno-host: an independent Falco plugin host for the tests, built on
//! `falco_plugin_runner` 0.5.1 (pure-Rust host from the official Rust SDK)
//! plus a raw `dlopen` driver (`raw`) for what the runner cannot do (its
//! runner is `!Send`, it passes NULL open params, and it hides `ss_plugin_t`).
//!
//! Build/run: see src/main.rs (binary) and tests/host_tests.rs (cargo test).

use anyhow::{anyhow, bail, Context, Result};
use falco_plugin_api as api;
use falco_plugin_runner::{ExtractedField, PluginRunner, ScapStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod raw;

/// A plugin library opened like Falco does (`dlopen(RTLD_NOW | RTLD_LOCAL)`),
/// never closed (Go c-shared libraries must not be unloaded), with the
/// `plugin_api` vtable read from its `plugin_*` symbols.
pub struct Lib {
    pub path: String,
    pub api: api::plugin_api,
}

unsafe impl Send for Lib {}
unsafe impl Sync for Lib {}

fn libs() -> &'static Mutex<HashMap<String, &'static Lib>> {
    static L: OnceLock<Mutex<HashMap<String, &'static Lib>>> = OnceLock::new();
    L.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The packed plugin the tests run (`FALCO_DENO_TEST_PLUGIN`), loaded. A
/// test that cannot run fails: it panics when the variable is not set.
pub fn test_plugin() -> &'static Lib {
    plugin_from_env("FALCO_DENO_TEST_PLUGIN", "a packed plugins/dummy.ts")
}

/// The plugin `.so` named by the environment variable `var` (`what` says
/// which plugin it must be), loaded; panics when it is not set or does not
/// load, so that a test without its plugin fails instead of passing.
pub fn plugin_from_env(var: &str, what: &str) -> &'static Lib {
    let path = std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: point it at {what} (`deno task test` does)"));
    load(&path).unwrap_or_else(|e| panic!("{var}: {e:#}"))
}

/// Loads (once per path) and returns the library.
pub fn load(path: &str) -> Result<&'static Lib> {
    let mut m = libs().lock().unwrap();
    if let Some(l) = m.get(path) {
        return Ok(l);
    }
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .with_context(|| format!("dlopen({path})"))?;
    let handle = lib.into_raw();
    let sym = |name: &str| -> *mut c_void {
        let c = CString::new(name).unwrap();
        unsafe { libc_dlsym(handle, c.as_ptr()) }
    };
    macro_rules! s {
        ($name:literal) => {
            unsafe { std::mem::transmute_copy(&sym($name)) }
        };
    }
    let mut a: api::plugin_api = unsafe { std::mem::zeroed() };
    a.get_required_api_version = s!("plugin_get_required_api_version");
    a.get_init_schema = s!("plugin_get_init_schema");
    a.init = s!("plugin_init");
    a.destroy = s!("plugin_destroy");
    a.get_last_error = s!("plugin_get_last_error");
    a.get_name = s!("plugin_get_name");
    a.get_description = s!("plugin_get_description");
    a.get_contact = s!("plugin_get_contact");
    a.get_version = s!("plugin_get_version");
    a.__bindgen_anon_1.get_id = s!("plugin_get_id");
    a.__bindgen_anon_1.get_event_source = s!("plugin_get_event_source");
    a.__bindgen_anon_1.open = s!("plugin_open");
    a.__bindgen_anon_1.close = s!("plugin_close");
    a.__bindgen_anon_1.list_open_params = s!("plugin_list_open_params");
    a.__bindgen_anon_1.get_progress = s!("plugin_get_progress");
    a.__bindgen_anon_1.event_to_string = s!("plugin_event_to_string");
    a.__bindgen_anon_1.next_batch = s!("plugin_next_batch");
    a.__bindgen_anon_2.get_extract_event_types = s!("plugin_get_extract_event_types");
    a.__bindgen_anon_2.get_extract_event_sources = s!("plugin_get_extract_event_sources");
    a.__bindgen_anon_2.get_fields = s!("plugin_get_fields");
    a.__bindgen_anon_2.extract_fields = s!("plugin_extract_fields");
    a.__bindgen_anon_3.get_parse_event_types = s!("plugin_get_parse_event_types");
    a.__bindgen_anon_3.get_parse_event_sources = s!("plugin_get_parse_event_sources");
    a.__bindgen_anon_3.parse_event = s!("plugin_parse_event");
    a.__bindgen_anon_4.get_async_event_sources = s!("plugin_get_async_event_sources");
    a.__bindgen_anon_4.get_async_events = s!("plugin_get_async_events");
    a.__bindgen_anon_4.set_async_event_handler = s!("plugin_set_async_event_handler");
    a.__bindgen_anon_4.dump_state = s!("plugin_dump_state");
    a.set_config = s!("plugin_set_config");
    a.get_metrics = s!("plugin_get_metrics");
    a.__bindgen_anon_5.capture_open = s!("plugin_capture_open");
    a.__bindgen_anon_5.capture_close = s!("plugin_capture_close");
    if a.init.is_none() || a.get_name.is_none() {
        bail!("{path}: not a Falco plugin (no plugin_init / plugin_get_name)");
    }
    let l: &'static Lib = Box::leak(Box::new(Lib {
        path: path.to_string(),
        api: a,
    }));
    m.insert(path.to_string(), l);
    Ok(l)
}

extern "C" {
    #[link_name = "dlsym"]
    fn libc_dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// The text of a C string the plugin returned, `None` for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for
/// the call.
pub unsafe fn cstr_opt(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

impl Lib {
    pub fn name(&self) -> String {
        self.api
            .get_name
            .and_then(|f| unsafe { cstr_opt(f()) })
            .unwrap_or_default()
    }
    pub fn required_api_version(&self) -> String {
        self.api
            .get_required_api_version
            .and_then(|f| unsafe { cstr_opt(f()) })
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// Shim around falco_plugin_runner: it wants `&'static plugin_api` and passes
// NULL open params (`src/plugin/source.rs`: `// TODO`). We give it a copy of
// the vtable whose `init`, `open` and `next_batch` are trampolines: `init`
// records the state it returns (so we can call get_last_error ourselves),
// `open` passes the scenario's open params, `next_batch` see below.
// States are keyed by the ss_plugin_t value; only source plugins are keyed
// (two source libraries returning the same small integer handle, as Go SDK
// cgo handles are, in one process would collide: one source per scenario).

struct Registered {
    lib: &'static Lib,
    open_params: CString,
    /// EOF returned by the plugin together with events, replayed next call
    pending_eof: bool,
}
unsafe impl Send for Registered {}

fn states() -> &'static Mutex<HashMap<usize, Registered>> {
    static S: OnceLock<Mutex<HashMap<usize, Registered>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(HashMap::new()))
}

thread_local! {
    static CURRENT_LIB: std::cell::Cell<Option<&'static Lib>> = const { std::cell::Cell::new(None) };
    static LAST_STATE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

unsafe extern "C-unwind" fn tramp_init(
    input: *const api::ss_plugin_init_input,
    rc: *mut api::ss_plugin_rc,
) -> *mut api::ss_plugin_t {
    let lib = CURRENT_LIB
        .with(|c| c.get())
        .expect("tramp_init outside register");
    let s = unsafe { (lib.api.init.unwrap())(input, rc) };
    LAST_STATE.with(|c| c.set(s as usize));
    s
}

unsafe extern "C-unwind" fn tramp_open(
    s: *mut api::ss_plugin_t,
    params: *const c_char,
    rc: *mut api::ss_plugin_rc,
) -> *mut api::ss_instance_t {
    let m = states().lock().unwrap();
    let r = m.get(&(s as usize)).expect("open on an unknown state");
    let p = if params.is_null() {
        r.open_params.as_ptr()
    } else {
        params
    };
    let open = r.lib.api.__bindgen_anon_1.open.unwrap();
    drop(m);
    unsafe { open(s, p, rc) }
}

/// falco_plugin_runner 0.5.1 drops the events of a batch returned with
/// TIMEOUT or EOF (`src/plugin/source.rs`); libscap delivers them, and the Go
/// SDK returns its partial/last batches that way. This trampoline makes the
/// runner behave like libscap: such a batch is returned as SUCCESS and the
/// EOF is returned by the next call.
unsafe extern "C-unwind" fn tramp_next_batch(
    s: *mut api::ss_plugin_t,
    h: *mut api::ss_instance_t,
    nevts: *mut u32,
    evts: *mut *mut *mut api::ss_plugin_event,
) -> api::ss_plugin_rc {
    let mut m = states().lock().unwrap();
    let r = m
        .get_mut(&(s as usize))
        .expect("next_batch on an unknown state");
    if r.pending_eof {
        r.pending_eof = false;
        unsafe { *nevts = 0 };
        return api::ss_plugin_rc_SS_PLUGIN_EOF;
    }
    let nb = r.lib.api.__bindgen_anon_1.next_batch.unwrap();
    drop(m);
    let rc = unsafe { nb(s, h, nevts, evts) };
    let n = unsafe { *nevts };
    if n > 0 && rc == api::ss_plugin_rc_SS_PLUGIN_EOF {
        states()
            .lock()
            .unwrap()
            .get_mut(&(s as usize))
            .unwrap()
            .pending_eof = true;
        return api::ss_plugin_rc_SS_PLUGIN_SUCCESS;
    }
    if n > 0 && rc == api::ss_plugin_rc_SS_PLUGIN_TIMEOUT {
        return api::ss_plugin_rc_SS_PLUGIN_SUCCESS;
    }
    rc
}

fn shim_api(lib: &'static Lib) -> &'static api::plugin_api {
    static SHIMS: OnceLock<Mutex<HashMap<usize, &'static api::plugin_api>>> = OnceLock::new();
    let mut m = SHIMS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap();
    m.entry(lib as *const Lib as usize).or_insert_with(|| {
        let mut a = lib.api;
        a.init = Some(tramp_init);
        if a.__bindgen_anon_1.open.is_some() {
            a.__bindgen_anon_1.open = Some(tramp_open);
        }
        if a.__bindgen_anon_1.next_batch.is_some() {
            a.__bindgen_anon_1.next_batch = Some(tramp_next_batch);
        }
        Box::leak(Box::new(a))
    })
}

/// A plugin registered in a runner: its library and state, for
/// get_last_error.
#[derive(Clone, Copy)]
pub struct Handle {
    pub lib: &'static Lib,
    pub state: usize,
}

impl Handle {
    pub fn last_error(&self) -> String {
        match self.lib.api.get_last_error {
            Some(f) if self.state != 0 => {
                unsafe { cstr_opt(f(self.state as *mut api::ss_plugin_t)) }.unwrap_or_default()
            }
            _ => String::new(),
        }
    }
}

/// Registers `lib` with `config` (and `open` params for a source) in the
/// runner. Errors carry the plugin's last error.
pub fn register(
    runner: &mut PluginRunner,
    lib: &'static Lib,
    config: &str,
    open: &str,
) -> Result<Handle> {
    let shim = shim_api(lib);
    let cfg = CString::new(config).context("config contains NUL")?;
    CURRENT_LIB.with(|c| c.set(Some(lib)));
    LAST_STATE.with(|c| c.set(0));
    // register before init returns: open params must be known by state,
    // but the state is only known after init; open is called later anyway.
    let res = runner.register_plugin(shim, &cfg);
    let state = LAST_STATE.with(|c| c.get());
    CURRENT_LIB.with(|c| c.set(None));
    res.map_err(|e| anyhow!("plugin_init failed ({}): {e:#}", lib.path))?;
    if lib.api.__bindgen_anon_1.open.is_none() {
        return Ok(Handle { lib, state });
    }
    states().lock().unwrap().insert(
        state,
        Registered {
            lib,
            open_params: CString::new(open).context("open params contain NUL")?,
            pending_eof: false,
        },
    );
    Ok(Handle { lib, state })
}

// ---------------------------------------------------------------------------
// Canonical results

/// One scenario (also the shape of `--scenarios` entries).
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    #[serde(default)]
    pub name: String,
    pub plugin: String,
    #[serde(default)]
    pub config: ConfigValue,
    #[serde(default)]
    pub open: ConfigValue,
    #[serde(default = "default_max")]
    pub max_events: u64,
    #[serde(default)]
    pub fields: Vec<String>,
    /// Extra extract-only plugins registered after the source plugin.
    #[serde(default)]
    pub extractors: Vec<Extractor>,
    /// Give up after this long without events (TIMEOUT loop), ms.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_max() -> u64 {
    20
}
fn default_timeout() -> u64 {
    10_000
}

#[derive(Deserialize, Clone, Debug)]
pub struct Extractor {
    pub plugin: String,
    #[serde(default)]
    pub config: ConfigValue,
}

/// A config or open-params value: a JSON string is passed as is, any other
/// JSON value is serialised.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(untagged)]
pub enum ConfigValue {
    #[default]
    Empty,
    Text(String),
    Json(serde_json::Value),
}

impl ConfigValue {
    pub fn text(&self) -> String {
        match self {
            ConfigValue::Empty => String::new(),
            ConfigValue::Text(s) => s.clone(),
            ConfigValue::Json(v) => v.to_string(),
        }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct EventResult {
    pub num: u64,
    pub payload_hex: String,
    /// field -> list of canonical values; JSON null when the field has no
    /// value; `{"error": "..."}` when extraction failed.
    pub fields: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, Debug, Clone, Default)]
pub struct ScenarioResult {
    pub events: Vec<EventResult>,
    /// why the event loop ended: "maxEvents", "eof", or an error
    pub end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// evt.plugininfo (plugin_event_to_string) per event, text mode only
    #[serde(skip)]
    pub info: Vec<String>,
    #[serde(skip)]
    pub ts: Vec<u64>,
}

pub fn canonical(v: &ExtractedField) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        ExtractedField::None => J::Null,
        ExtractedField::Vec(items) => J::Array(items.iter().map(canonical_one).collect()),
        other => J::Array(vec![canonical_one(other)]),
    }
}

fn canonical_one(v: &ExtractedField) -> serde_json::Value {
    use serde_json::Value as J;
    J::String(match v {
        ExtractedField::None => return J::Null,
        ExtractedField::U64(x) => x.to_string(),
        ExtractedField::Bool(b) => b.to_string(),
        ExtractedField::RelTime(d) => d.as_nanos().to_string(),
        ExtractedField::AbsTime(t) => t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos().to_string())
            .unwrap_or_else(|_| "0".into()),
        ExtractedField::String(s) => s.to_string_lossy().into_owned(),
        ExtractedField::IpAddr(a) => a.to_string(),
        // falco_plugin_runner 0.5.1 decodes only the address of an ipnet
        // (no prefix length): printed as the address alone
        ExtractedField::IpNet(n) => n.0.to_string(),
        ExtractedField::Vec(_) => return canonical(v),
    })
}

/// Splits a scap plugin event (type 322) into (header, payload). For other
/// types the payload is all parameter bytes.
///
/// # Safety
/// `evt` points to a whole event: its header and the `len` bytes it gives.
pub unsafe fn event_payload(evt: *const api::ss_plugin_event) -> (u16, u64, Vec<u8>) {
    let e = unsafe { std::ptr::read_unaligned(evt) };
    let base = evt as *const u8;
    let len = e.len as usize;
    let all = unsafe { std::slice::from_raw_parts(base, len) };
    let np = e.nparams as usize;
    let hdr = 26;
    let lens: Vec<usize> = (0..np)
        .map(|i| u32::from_le_bytes(all[hdr + 4 * i..hdr + 4 * i + 4].try_into().unwrap()) as usize)
        .collect();
    let data = hdr + 4 * np;
    let payload = if e.type_ == 322 && np >= 2 {
        all[data + lens[0]..data + lens[0] + lens[1]].to_vec()
    } else {
        all[data..].to_vec()
    };
    (e.type_, e.ts, payload)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs one scenario through falco_plugin_runner.
pub fn run_scenario(sc: &Scenario, want_info: bool) -> ScenarioResult {
    let mut out = ScenarioResult::default();
    if let Err(e) = run_scenario_inner(sc, want_info, &mut out) {
        out.end = "error".into();
        out.error = Some(format!("{e:#}"));
    }
    out
}

fn run_scenario_inner(sc: &Scenario, want_info: bool, out: &mut ScenarioResult) -> Result<()> {
    let lib = load(&sc.plugin)?;
    let mut runner = PluginRunner::new();
    let mut handles = vec![register(
        &mut runner,
        lib,
        &sc.config.text(),
        &sc.open.text(),
    )?];
    for x in &sc.extractors {
        let l = load(&x.plugin)?;
        handles.push(register(&mut runner, l, &x.config.text(), "")?);
    }
    // start_capture consumes the runner: on failure the plugins are already
    // destroyed, so their last error must not be read here (the runner's
    // error carries it).
    let mut cap = runner
        .start_capture()
        .map_err(|e| anyhow!("open failed: {e:#}"))?;
    let mut idle_since = Instant::now();
    while (out.events.len() as u64) < sc.max_events {
        let evt = match cap.next_event() {
            Ok(e) => e,
            Err(e) => match e.downcast_ref::<ScapStatus>() {
                Some(ScapStatus::Eof) => {
                    out.end = "eof".into();
                    break;
                }
                Some(ScapStatus::Timeout) => {
                    if idle_since.elapsed() > Duration::from_millis(sc.timeout_ms) {
                        bail!(
                            "no event for {} ms (next_batch kept returning TIMEOUT)",
                            sc.timeout_ms
                        );
                    }
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
                _ => bail!(
                    "next_batch failed: {e:#}; last error: {:?}",
                    handles[0].last_error()
                ),
            },
        };
        idle_since = Instant::now();
        let (_ty, ts, payload) = unsafe { event_payload(evt.buf) };
        let mut fields = BTreeMap::new();
        for f in &sc.fields {
            // Check the request ourselves first: the runner answers its own
            // argument errors with a bare FAILURE, and calling get_last_error
            // when the plugin set no error crashes Go SDK plugins (nil error).
            if let Err(e) = check_field(&handles, f) {
                fields.insert(f.clone(), serde_json::json!({"error": e}));
                continue;
            }
            let v = match cap.extract_field(&evt, f) {
                None => {
                    serde_json::json!({"error": format!("no registered plugin extracts '{f}' from this event (its extract event sources/types do not match)")})
                }
                Some(Ok(v)) => canonical(&v),
                Some(Err(rc)) => {
                    let le: Vec<String> = handles
                        .iter()
                        .map(|h| h.last_error())
                        .filter(|s| !s.is_empty())
                        .collect();
                    serde_json::json!({"error": format!(
                        "extract_fields failed (rc {rc}) for '{f}'{}",
                        if le.is_empty() { " (bad or missing argument?)".to_string() } else { format!(": {}", le.join("; ")) })})
                }
            };
            fields.insert(f.clone(), v);
        }
        if want_info {
            let info = match cap.extract_field(&evt, "evt.plugininfo") {
                Some(Ok(ExtractedField::String(s))) => s.to_string_lossy().into_owned(),
                _ => String::new(),
            };
            out.info.push(info);
            out.ts.push(ts);
        }
        out.events.push(EventResult {
            num: evt.evt_num.unwrap_or(0),
            payload_hex: hex(&payload),
            fields,
        });
    }
    if out.end.is_empty() {
        out.end = "maxEvents".into();
    }
    let runner = cap
        .stop_capture()
        .map_err(|e| anyhow!("close failed: {e:#}"))?;
    drop(runner); // destroys every plugin
    Ok(())
}

/// Checks `name` / `name[arg]` against the fields of the registered plugins.
pub fn check_field(handles: &[Handle], field: &str) -> std::result::Result<(), String> {
    let (name, arg) = match field.find('[') {
        Some(i) if field.ends_with(']') => (&field[..i], Some(&field[i + 1..field.len() - 1])),
        Some(_) => return Err(format!("malformed field '{field}' (expected name[arg])")),
        None => (field, None),
    };
    for h in handles {
        let Some(gf) = h.lib.api.__bindgen_anon_2.get_fields else {
            continue;
        };
        let txt = unsafe { cstr_opt(gf()) }.unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_str(&txt).map_err(|e| format!("get_fields is not JSON: {e}"))?;
        for f in v.as_array().into_iter().flatten() {
            if f["name"].as_str() != Some(name) {
                continue;
            }
            let a = &f["arg"];
            let (req, idx, key) = (
                a["isRequired"].as_bool().unwrap_or(false),
                a["isIndex"].as_bool().unwrap_or(false),
                a["isKey"].as_bool().unwrap_or(false),
            );
            return match arg {
                None if req => Err(format!("field '{name}' requires an argument")),
                Some(x) if idx && x.parse::<u64>().is_err() => Err(format!(
                    "field '{name}': index argument '{x}' is not a number"
                )),
                Some(_) if !idx && !key => Err(format!("field '{name}' takes no argument")),
                _ => Ok(()),
            };
        }
    }
    Err(format!(
        "unknown field '{name}' (no registered plugin provides it)"
    ))
}

/// Prints a scenario's events as Falco-like output lines.
pub fn print_text(sc: &Scenario, r: &ScenarioResult) {
    for (i, e) in r.events.iter().enumerate() {
        let ts = r.ts.get(i).copied().unwrap_or(0);
        let t = if ts == u64::MAX || ts == 0 {
            "-".to_string()
        } else {
            format!("{}.{:09}", ts / 1_000_000_000, ts % 1_000_000_000)
        };
        let mut line = format!(
            "{t}: #{} {}",
            e.num,
            r.info.get(i).cloned().unwrap_or_default()
        );
        if r.info.get(i).map(|s| s.is_empty()).unwrap_or(true) {
            let p = hex_to_text(&e.payload_hex);
            line.push_str(&format!("payload={p:?}"));
        }
        for f in &sc.fields {
            let v = &e.fields[f];
            let s = match v {
                serde_json::Value::Null => "<NA>".to_string(),
                serde_json::Value::Array(a) if a.len() == 1 => {
                    a[0].as_str().unwrap_or("").to_string()
                }
                serde_json::Value::Array(a) => format!(
                    "({})",
                    a.iter()
                        .map(|x| x.as_str().unwrap_or("<NA>").to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                serde_json::Value::Object(o) => {
                    format!("<ERROR: {}>", o["error"].as_str().unwrap_or(""))
                }
                other => other.to_string(),
            };
            line.push_str(&format!(" {f}={s}"));
        }
        println!("{line}");
    }
    match &r.error {
        Some(e) => eprintln!("error: {e}"),
        None => eprintln!("{} events ({})", r.events.len(), r.end),
    }
}

fn hex_to_text(h: &str) -> String {
    let b: Vec<u8> = (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(b'?'))
        .collect();
    String::from_utf8_lossy(&b).into_owned()
}

/// Resident set size of this process in KiB (from /proc/self/statm).
pub fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// Runs `cycle` `warmup` times, then `cycles` times, and returns by how
/// many KiB per cycle the lowest RSS of the last `window` cycles exceeds
/// the lowest of the first `window`.
///
/// It first fixes glibc's mmap threshold at its default of 128 KiB, for
/// the whole process: glibc otherwise raises it to the size of each large
/// block freed, and keeps later ones of that size in its heap, now and
/// then for many cycles. On QuickJS-ng the bridge's 4 MiB buffers are such
/// blocks (V8 maps its own), and the resident set rose and fell by 4 MiB
/// between instances. Floors, not two samples: memory held at one moment
/// and given back at the next moves a sample but not a floor; a leak raises
/// the floor.
///
/// # Panics
/// When `cycles` is not larger than `2 * window`.
pub fn rss_floor_growth_kb(warmup: u64, cycles: u64, window: u64, mut cycle: impl FnMut()) -> u64 {
    assert!(
        cycles > 2 * window,
        "{cycles} cycles cannot hold two windows of {window}"
    );
    // SAFETY: mallopt only sets a parameter of the allocator.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    for _ in 0..warmup {
        cycle();
    }
    let (mut first, mut last) = (u64::MAX, u64::MAX);
    for i in 0..cycles {
        cycle();
        let rss = rss_kb();
        if i < window {
            first = first.min(rss);
        } else if i >= cycles - window {
            last = last.min(rss);
        }
    }
    last.saturating_sub(first) / (cycles - window)
}
