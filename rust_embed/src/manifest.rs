//! The plugin's static metadata and bundle, read from the library file.
//!
//! `deno task build` appends to the generic library:
//! `bundle | manifest JSON | u64 bundle length | u64 manifest length | MAGIC`.
//! The dynamic loader ignores bytes past the ELF sections, so the packed file
//! is still a valid shared object. Everything here is read once, on the first
//! ABI call, and lives as long as the library: the pointers the getters hand
//! out stay valid until `dlclose`.

use serde::Deserialize;
use std::ffi::{c_char, CString};
use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

/// Marks the end of a packed library.
pub const MAGIC: &[u8; 8] = b"FDENOPK1";
const TRAILER_LEN: u64 = 24;

/// The manifest as `runtime/manifest.ts` writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestJson {
  pub name: String,
  pub version: String,
  pub description: String,
  pub contact: String,
  pub id: u32,
  pub event_source: String,
  pub extract_event_sources: String,
  pub fields: String,
  pub init_schema: String,
  pub open_params: String,
  pub required_api_version: String,
  pub capabilities: Capabilities,
  #[serde(default)]
  pub engine: String,
  /// Source map of the bundle (JSON text), to report plugin source lines.
  #[serde(default)]
  pub source_map: String,
}

/// Which ABI capabilities the plugin has.
#[derive(Debug, Deserialize, Clone, Copy)]
pub struct Capabilities {
  pub sourcing: bool,
  pub extraction: bool,
}

/// Manifest strings as C strings owned by the library.
pub struct Manifest {
  pub json: ManifestJson,
  pub bundle: String,
  pub name: CString,
  pub version: CString,
  pub description: CString,
  pub contact: CString,
  pub event_source: CString,
  pub extract_event_sources: CString,
  pub fields: CString,
  pub init_schema: CString,
  pub required_api_version: CString,
}

/// What the library answers when it carries no plugin (the generic build).
pub struct Unpacked {
  pub reason: String,
  pub empty: CString,
  pub name: CString,
  pub required_api_version: CString,
  pub fields: CString,
}

static LOADED: OnceLock<Result<Manifest, Unpacked>> = OnceLock::new();

/// The manifest of this library, or why there is none.
pub fn get() -> &'static Result<Manifest, Unpacked> {
  LOADED.get_or_init(|| {
    load().map_err(|reason| Unpacked {
      reason,
      empty: CString::default(),
      name: c"falco_deno_unpacked".into(),
      required_api_version: c"3.4.0".into(),
      fields: c"[]".into(),
    })
  })
}

/// A library-owned C string for the getters, whatever was loaded.
pub fn cstr(
  pick: impl Fn(&Manifest) -> &CString,
  fallback: impl Fn(&Unpacked) -> &CString,
) -> *const c_char {
  match get() {
    Ok(m) => pick(m).as_ptr(),
    Err(u) => fallback(u).as_ptr(),
  }
}

fn own_path() -> Result<std::path::PathBuf, String> {
  let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
  let addr = own_path as *const libc::c_void;
  // SAFETY: dladdr only reads the address and fills `info`.
  if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
    return Err("cannot find the path of the plugin library (dladdr failed)".into());
  }
  let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
  Ok(std::path::PathBuf::from(
    name.to_string_lossy().into_owned(),
  ))
}

fn load() -> Result<Manifest, String> {
  let path = own_path()?;
  let mut file = std::fs::File::open(&path)
    .map_err(|e| format!("cannot read the plugin library \"{}\": {e}", path.display()))?;
  let size = file.metadata().map_err(|e| e.to_string())?.len();
  let not_packed = || {
    format!(
      "\"{}\" is the generic falco-deno library with no plugin in it; pack one with `deno task build <plugin.ts>`",
      path.display()
    )
  };
  if size < TRAILER_LEN {
    return Err(not_packed());
  }
  let mut trailer = [0u8; TRAILER_LEN as usize];
  file
    .seek(SeekFrom::End(-(TRAILER_LEN as i64)))
    .map_err(|e| e.to_string())?;
  file.read_exact(&mut trailer).map_err(|e| e.to_string())?;
  if &trailer[16..24] != MAGIC {
    return Err(not_packed());
  }
  let bundle_len = u64::from_le_bytes(trailer[0..8].try_into().unwrap());
  let manifest_len = u64::from_le_bytes(trailer[8..16].try_into().unwrap());
  let start = size
    .checked_sub(TRAILER_LEN + bundle_len + manifest_len)
    .ok_or_else(|| format!("\"{}\" has a corrupt falco-deno trailer", path.display()))?;
  file
    .seek(SeekFrom::Start(start))
    .map_err(|e| e.to_string())?;
  let mut bundle = vec![0u8; bundle_len as usize];
  file.read_exact(&mut bundle).map_err(|e| e.to_string())?;
  let mut manifest = vec![0u8; manifest_len as usize];
  file.read_exact(&mut manifest).map_err(|e| e.to_string())?;
  let bundle =
    String::from_utf8(bundle).map_err(|_| "the plugin bundle is not UTF-8".to_string())?;
  let json: ManifestJson = serde_json::from_slice(&manifest)
    .map_err(|e| format!("the plugin manifest is malformed: {e}"))?;
  from_json(json, bundle)
}

/// Builds the C strings of a manifest.
pub fn from_json(json: ManifestJson, bundle: String) -> Result<Manifest, String> {
  let c = |what: &str, s: &str| {
    CString::new(s).map_err(|_| format!("manifest member \"{what}\" contains a NUL byte"))
  };
  Ok(Manifest {
    name: c("name", &json.name)?,
    version: c("version", &json.version)?,
    description: c("description", &json.description)?,
    contact: c("contact", &json.contact)?,
    event_source: c("eventSource", &json.event_source)?,
    extract_event_sources: c("extractEventSources", &json.extract_event_sources)?,
    fields: c("fields", &json.fields)?,
    init_schema: c("initSchema", &json.init_schema)?,
    required_api_version: c("requiredApiVersion", &json.required_api_version)?,
    json,
    bundle,
  })
}
