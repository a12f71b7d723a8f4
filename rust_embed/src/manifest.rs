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
  /// Type and list flag of each field, by field id.
  pub declared: Vec<DeclaredField>,
  /// The startup snapshot found before the bundle ([`crate::snapshot`]).
  pub snapshot: Option<&'static [u8]>,
}

/// What a field is declared as in `get_fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredField {
  pub name: String,
  pub ftype: u32,
  pub is_list: bool,
}

/// The `ss_plugin_field_type` of a type name in `get_fields`.
pub fn field_type(name: &str) -> Option<u32> {
  use falco_plugin_api::*;
  Some(match name {
    "uint64" => ss_plugin_field_type_FTYPE_UINT64,
    "string" => ss_plugin_field_type_FTYPE_STRING,
    "bool" => ss_plugin_field_type_FTYPE_BOOL,
    "reltime" => ss_plugin_field_type_FTYPE_RELTIME,
    "abstime" => ss_plugin_field_type_FTYPE_ABSTIME,
    "ipaddr" => ss_plugin_field_type_FTYPE_IPADDR,
    "ipnet" => ss_plugin_field_type_FTYPE_IPNET,
    _ => return None,
  })
}

fn field_type_name(ftype: u32) -> String {
  [
    "uint64", "string", "bool", "reltime", "abstime", "ipaddr", "ipnet",
  ]
  .into_iter()
  .find(|n| field_type(n) == Some(ftype))
  .map(String::from)
  .unwrap_or_else(|| format!("unknown type {ftype}"))
}

impl Manifest {
  /// Checks one `extract_fields` request against the declared fields: a
  /// host that asks for another type or list flag than declared would read
  /// the answer as something it is not.
  pub fn check_request(
    &self,
    request: &falco_plugin_api::ss_plugin_extract_field,
  ) -> Result<(), String> {
    let id = request.field_id;
    let Some(field) = self.declared.get(id as usize) else {
      return Err(format!(
        "extract_fields asked for field id {id}, but the plugin has {} fields",
        self.declared.len()
      ));
    };
    let asked_list = request.flist != 0;
    if request.ftype != field.ftype || asked_list != field.is_list {
      let shape = |ftype: u32, list: bool| {
        format!(
          "{}{}",
          field_type_name(ftype),
          if list { " list" } else { "" }
        )
      };
      return Err(format!(
        "extract_fields asked for \"{}\" as {}, but it is declared as {}",
        field.name,
        shape(request.ftype, asked_list),
        shape(field.ftype, field.is_list)
      ));
    }
    Ok(())
  }
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
  // Lengths are checked against the file before anything is allocated.
  let start = TRAILER_LEN
    .checked_add(bundle_len)
    .and_then(|n| n.checked_add(manifest_len))
    .and_then(|packed| size.checked_sub(packed))
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
  let mut loaded = from_json(json, bundle)?;
  loaded.snapshot =
    read_snapshot(&mut file, start).map_err(|e| format!("\"{}\": {e}", path.display()))?;
  Ok(loaded)
}

/// The startup snapshot section that ends at `end`, if any; read once per
/// process and kept for its life, as deno_core borrows from it.
fn read_snapshot(file: &mut std::fs::File, end: u64) -> Result<Option<&'static [u8]>, String> {
  let tail_len = crate::snapshot::TRAILER_LEN as u64;
  let Some(tail_start) = end.checked_sub(tail_len) else {
    return Ok(None);
  };
  let mut tail = [0u8; crate::snapshot::TRAILER_LEN];
  file
    .seek(SeekFrom::Start(tail_start))
    .and_then(|_| file.read_exact(&mut tail))
    .map_err(|e| e.to_string())?;
  let Some(len) = crate::snapshot::blob_len(&tail, crate::snapshot::build_key().as_ref())? else {
    return Ok(None);
  };
  let start = tail_start
    .checked_sub(len)
    .ok_or("the startup snapshot section is corrupt")?;
  let mut blob = vec![0u8; len as usize];
  file
    .seek(SeekFrom::Start(start))
    .and_then(|_| file.read_exact(&mut blob))
    .map_err(|e| e.to_string())?;
  Ok(Some(Box::leak(blob.into_boxed_slice())))
}

/// Builds the C strings of a manifest.
pub fn from_json(json: ManifestJson, bundle: String) -> Result<Manifest, String> {
  let c = |what: &str, s: &str| {
    CString::new(s).map_err(|_| format!("manifest member \"{what}\" contains a NUL byte"))
  };
  let declared = declared_fields(&json.fields)?;
  Ok(Manifest {
    declared,
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
    snapshot: None,
  })
}

fn declared_fields(fields: &str) -> Result<Vec<DeclaredField>, String> {
  #[derive(Deserialize)]
  #[serde(rename_all = "camelCase")]
  struct Field {
    name: String,
    #[serde(rename = "type")]
    ftype: String,
    #[serde(default)]
    is_list: bool,
  }
  if fields.is_empty() {
    return Ok(Vec::new());
  }
  let parsed: Vec<Field> = serde_json::from_str(fields)
    .map_err(|e| format!("the manifest's fields are malformed: {e}"))?;
  parsed
    .into_iter()
    .map(|f| {
      let ftype = field_type(&f.ftype)
        .ok_or_else(|| format!("field \"{}\" has an unknown type \"{}\"", f.name, f.ftype))?;
      Ok(DeclaredField {
        name: f.name,
        ftype,
        is_list: f.is_list,
      })
    })
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;
  use falco_plugin_api::*;

  fn manifest(fields: &str) -> Manifest {
    let json: ManifestJson = serde_json::from_value(serde_json::json!({
      "name": "t", "version": "0.1.0", "description": "", "contact": "", "id": 999,
      "eventSource": "t", "extractEventSources": "[]", "fields": fields,
      "initSchema": "", "openParams": "", "requiredApiVersion": "3.0.0",
      "capabilities": { "sourcing": true, "extraction": true },
    }))
    .unwrap();
    from_json(json, String::new()).unwrap()
  }

  fn request(field_id: u32, ftype: u32, flist: bool) -> ss_plugin_extract_field {
    let mut r: ss_plugin_extract_field = unsafe { std::mem::zeroed() };
    r.field_id = field_id;
    r.ftype = ftype;
    r.flist = flist as ss_plugin_bool;
    r
  }

  #[test]
  fn requests_must_match_the_declared_field() {
    let m = manifest(
      r#"[{"name":"t.n","type":"uint64"},{"name":"t.tags","type":"string","isList":true}]"#,
    );
    assert!(m
      .check_request(&request(0, ss_plugin_field_type_FTYPE_UINT64, false))
      .is_ok());
    assert!(m
      .check_request(&request(1, ss_plugin_field_type_FTYPE_STRING, true))
      .is_ok());
    let e = m
      .check_request(&request(0, ss_plugin_field_type_FTYPE_STRING, false))
      .unwrap_err();
    assert_eq!(
      e,
      r#"extract_fields asked for "t.n" as string, but it is declared as uint64"#
    );
    let e = m
      .check_request(&request(1, ss_plugin_field_type_FTYPE_STRING, false))
      .unwrap_err();
    assert!(
      e.contains("as string, but it is declared as string list"),
      "{e}"
    );
    let e = m
      .check_request(&request(2, ss_plugin_field_type_FTYPE_UINT64, false))
      .unwrap_err();
    assert!(e.contains("field id 2, but the plugin has 2 fields"), "{e}");
  }
}
