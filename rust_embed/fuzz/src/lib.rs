//! Shared harness of the fuzz targets: the packed plugin `.so` named by
//! `FALCO_DENO_FUZZ_PLUGIN`, opened like Falco opens it
//! (`dlopen(RTLD_NOW | RTLD_LOCAL)`), and its `plugin_*` exports called with
//! raw `falco_plugin_api` 0.5.1 types. libFuzzer instruments this harness
//! only; the point is that nothing the host may legally pass crashes the
//! embed. Inputs stay inside the ABI contract where the contract is the
//! host's duty (e.g. an event's `len` equals its buffer), and are arbitrary
//! everywhere else.

use falco_plugin_api as api;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::OnceLock;

/// The plugin's exports.
pub struct Plugin {
  pub init: unsafe extern "C-unwind" fn(
    *const api::ss_plugin_init_input,
    *mut api::ss_plugin_rc,
  ) -> *mut api::ss_plugin_t,
  pub destroy: unsafe extern "C-unwind" fn(*mut api::ss_plugin_t),
  pub get_last_error: unsafe extern "C-unwind" fn(*mut api::ss_plugin_t) -> *const c_char,
  pub get_fields: Option<unsafe extern "C-unwind" fn() -> *const c_char>,
  pub extract_fields: Option<
    unsafe extern "C-unwind" fn(
      *mut api::ss_plugin_t,
      *const api::ss_plugin_event_input,
      *const api::ss_plugin_field_extract_input,
    ) -> api::ss_plugin_rc,
  >,
  pub event_to_string: Option<
    unsafe extern "C-unwind" fn(
      *mut api::ss_plugin_t,
      *const api::ss_plugin_event_input,
    ) -> *const c_char,
  >,
  pub open: Option<
    unsafe extern "C-unwind" fn(
      *mut api::ss_plugin_t,
      *const c_char,
      *mut api::ss_plugin_rc,
    ) -> *mut api::ss_instance_t,
  >,
  pub close: Option<unsafe extern "C-unwind" fn(*mut api::ss_plugin_t, *mut api::ss_instance_t)>,
  pub next_batch: Option<
    unsafe extern "C-unwind" fn(
      *mut api::ss_plugin_t,
      *mut api::ss_instance_t,
      *mut u32,
      *mut *mut *mut api::ss_plugin_event,
    ) -> api::ss_plugin_rc,
  >,
  pub get_id: Option<unsafe extern "C-unwind" fn() -> u32>,
  /// (name, ftype, is_list) of each field, in id order.
  pub fields: Vec<(CString, u32, bool)>,
}

pub const FTYPES: [u32; 7] = [
  api::ss_plugin_field_type_FTYPE_UINT64,
  api::ss_plugin_field_type_FTYPE_STRING,
  api::ss_plugin_field_type_FTYPE_BOOL,
  api::ss_plugin_field_type_FTYPE_RELTIME,
  api::ss_plugin_field_type_FTYPE_ABSTIME,
  api::ss_plugin_field_type_FTYPE_IPADDR,
  api::ss_plugin_field_type_FTYPE_IPNET,
];

fn ftype_of(s: &str) -> u32 {
  match s {
    "string" => api::ss_plugin_field_type_FTYPE_STRING,
    "bool" => api::ss_plugin_field_type_FTYPE_BOOL,
    "reltime" => api::ss_plugin_field_type_FTYPE_RELTIME,
    "abstime" => api::ss_plugin_field_type_FTYPE_ABSTIME,
    "ipaddr" => api::ss_plugin_field_type_FTYPE_IPADDR,
    "ipnet" => api::ss_plugin_field_type_FTYPE_IPNET,
    _ => api::ss_plugin_field_type_FTYPE_UINT64,
  }
}

/// (name, ftype, is_list) of each field of the `get_fields` JSON.
fn parse_fields(json: &str) -> Vec<(CString, u32, bool)> {
  let v: serde_json::Value = serde_json::from_str(json).expect("get_fields is not JSON");
  v.as_array()
    .expect("get_fields is not a JSON array")
    .iter()
    .map(|f| {
      (
        CString::new(f["name"].as_str().unwrap_or("")).unwrap(),
        ftype_of(f["type"].as_str().unwrap_or("")),
        f["isList"].as_bool().unwrap_or(false),
      )
    })
    .collect()
}

// `req!`/`opt!` transmute each symbol to the type of the field it fills.
#[allow(clippy::missing_transmute_annotations)]
pub fn plugin() -> &'static Plugin {
  static P: OnceLock<Plugin> = OnceLock::new();
  P.get_or_init(|| {
    let path = std::env::var("FALCO_DENO_FUZZ_PLUGIN")
      .expect("set FALCO_DENO_FUZZ_PLUGIN to a packed plugin .so (e.g. libdummy_ts.so)");
    let c = CString::new(path.clone()).unwrap();
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen({path}) failed: {:?}", unsafe {
      CStr::from_ptr(libc::dlerror())
    });
    let sym = |name: &str| -> *mut c_void {
      let n = CString::new(name).unwrap();
      unsafe { libc::dlsym(h, n.as_ptr()) }
    };
    macro_rules! req {
      ($n:literal) => {{
        let p = sym($n);
        assert!(!p.is_null(), "{} missing", $n);
        unsafe { std::mem::transmute::<*mut c_void, _>(p) }
      }};
    }
    macro_rules! opt {
      ($n:literal) => {{
        let p = sym($n);
        if p.is_null() {
          None
        } else {
          Some(unsafe { std::mem::transmute::<*mut c_void, _>(p) })
        }
      }};
    }
    let mut p = Plugin {
      init: req!("plugin_init"),
      destroy: req!("plugin_destroy"),
      get_last_error: req!("plugin_get_last_error"),
      get_fields: opt!("plugin_get_fields"),
      extract_fields: opt!("plugin_extract_fields"),
      event_to_string: opt!("plugin_event_to_string"),
      open: opt!("plugin_open"),
      close: opt!("plugin_close"),
      next_batch: opt!("plugin_next_batch"),
      get_id: opt!("plugin_get_id"),
      fields: vec![],
    };
    if let Some(gf) = p.get_fields {
      let s = unsafe { CStr::from_ptr(gf()) }
        .to_string_lossy()
        .into_owned();
      p.fields = parse_fields(&s);
    }
    p
  })
}

/// `plugin_init` with `config`; Ok(state) or Err(last error) (the failed
/// state is destroyed, as libsinsp does).
pub fn init(config: &CStr) -> Result<*mut api::ss_plugin_t, String> {
  let p = plugin();
  let input = api::ss_plugin_init_input {
    config: config.as_ptr(),
    owner: std::ptr::null_mut(),
    get_owner_last_error: None,
    tables: std::ptr::null(),
    log_fn: None,
  };
  let mut rc = -1;
  let s = unsafe { (p.init)(&input, &mut rc) };
  if rc == api::ss_plugin_rc_SS_PLUGIN_SUCCESS {
    assert!(!s.is_null(), "init: SUCCESS with a NULL state");
    return Ok(s);
  }
  assert_eq!(rc, api::ss_plugin_rc_SS_PLUGIN_FAILURE, "init: rc {rc}");
  assert!(
    !s.is_null(),
    "failed init must return a state to read the error from"
  );
  let e = unsafe { last_error(s) };
  assert!(!e.is_empty(), "failed init with an empty error");
  unsafe { (p.destroy)(s) };
  Err(e)
}

/// The plugin's last error text.
///
/// # Safety
/// `s` is a live state of the plugin, or the state a failed init returned.
pub unsafe fn last_error(s: *mut api::ss_plugin_t) -> String {
  let e = unsafe { (plugin().get_last_error)(s) };
  assert!(!e.is_null(), "get_last_error returned NULL");
  unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
}

/// One long-lived state for the targets that do not fuzz init
/// (config from FALCO_DENO_FUZZ_CONFIG, default `{}`).
pub fn shared_state() -> *mut api::ss_plugin_t {
  struct S(*mut api::ss_plugin_t);
  unsafe impl Send for S {}
  unsafe impl Sync for S {}
  static STATE: OnceLock<S> = OnceLock::new();
  STATE
    .get_or_init(|| {
      let cfg =
        CString::new(std::env::var("FALCO_DENO_FUZZ_CONFIG").unwrap_or_else(|_| "{}".into()))
          .unwrap();
      S(init(&cfg).unwrap_or_else(|e| panic!("init of the shared state failed: {e}")))
    })
    .0
}

/// A CString from arbitrary bytes (NULs dropped: a C string cannot hold them).
pub fn c_string(bytes: &[u8]) -> CString {
  CString::new(
    bytes
      .iter()
      .copied()
      .filter(|&b| b != 0)
      .collect::<Vec<u8>>(),
  )
  .unwrap()
}

/// Reads every byte a batch points to (a bad pointer or length crashes here).
///
/// # Safety
/// `evts` is what a successful `next_batch` returned with `n`.
pub unsafe fn touch_batch(n: u32, evts: *mut *mut api::ss_plugin_event) -> u64 {
  let mut sum = 0u64;
  for i in 0..n as usize {
    let e = unsafe { *evts.add(i) } as *const u8;
    assert!(!e.is_null());
    let len =
      u32::from_le_bytes(unsafe { std::ptr::read_unaligned(e.add(16) as *const [u8; 4]) }) as usize;
    assert!(len >= 26, "event of {len} bytes");
    let b = unsafe { std::slice::from_raw_parts(e, len) };
    sum = sum.wrapping_add(b.iter().map(|&x| x as u64).sum::<u64>());
  }
  sum
}
