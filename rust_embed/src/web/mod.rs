//! The web platform and host I/O a plugin script may use (timers, encoding,
//! URL, files, HTTP), behind Deno's permission model. Extensions are listed
//! here so the instance thread stays engine- and feature-agnostic.
//!
//! - `deno_webidl` + `deno_web`: Deno's own web APIs; their scripts are
//!   registered lazily and `bootstrap.js` defines the globals as getters
//!   that load a script on first use (no snapshot on QuickJS-ng: anything
//!   loaded eagerly would be parsed at every `plugin_init`).
//! - `falco_web`: our ops (files, env, the HTTP(S) server, fetch) and `bootstrap.js`, with one
//!   `PermissionsContainer` per instance built from the operator's grants.

pub mod fetch;
pub mod fs;
pub mod http;
pub mod permissions;
pub mod tls;

use crate::logger::Logger;
use deno_core::{Extension, ExtensionFileSource, ExtensionFileSourceCode};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

include!(concat!(env!("OUT_DIR"), "/embedded_scripts.rs"));
pub use permissions::{Grant, Grants};

deno_core::extension!(
  falco_web,
  deps = [deno_web],
  ops = [
    fs::op_falco_read_file,
    fs::op_falco_read_text_file,
    fs::op_falco_read_text_file_sync,
    fs::op_falco_open,
    fs::op_falco_file_read,
    fs::op_falco_file_seek,
    fs::op_falco_file_stat,
    fs::op_falco_stat,
    fs::op_falco_read_dir,
    fs::op_falco_env_get,
    http::op_falco_http_serve,
    http::op_falco_http_next,
    http::op_falco_http_body,
    http::op_falco_http_body_text,
    http::op_falco_http_respond_text,
    http::op_falco_http_respond_bytes,
    http::op_falco_http_stats,
    http::op_falco_http_close,
    fetch::op_falco_fetch,
    fetch::op_falco_fetch_cancel_handle,
    fetch::op_falco_fetch_body,
    fetch::op_falco_fetch_body_text,
    fetch::op_falco_fetch_create_client,
  ],
  js = [dir "src/web", "bootstrap.js"],
  options = { permissions: deno_permissions::PermissionsContainer },
  state = |state, options| {
    state.put(options.permissions);
  },
);

/// The deno_web classes made from Rust objects that the globals use.
const KEPT_OBJECTS: &[&str] = &["Console"];

/// The extensions of one plugin instance, in load order.
pub fn extensions(logger: Logger, grants: &Grants) -> Result<Vec<Extension>, String> {
  let permissions = grants.container()?;
  let mut web = deno_web::deno_web::init(
    deno_web::BlobStore::default_arc(),
    None,
    false,
    deno_web::InMemoryBroadcastChannel::default(),
  );
  // deno_web's cppgc classes (DOMMatrix, DOMPoint, CSSStyleSheet,
  // ImageData...) are instantiated as templates at every runtime init; no
  // global of ours exposes them, so only `Console` is kept.
  web.objects = web
    .objects
    .iter()
    .filter(|o| KEPT_OBJECTS.contains(&o.name.0))
    .copied()
    .collect::<Vec<_>>()
    .into();
  let mut extensions = vec![
    crate::ops::falco_deno::init(logger),
    deno_webidl::deno_webidl::init(),
    web,
    falco_web::init(permissions),
  ];
  for extension in &mut extensions {
    embed_sources(extension);
  }
  Ok(extensions)
}

/// Takes deno_core's internals out of the plugin's reach (`seal.js`): run
/// on every new runtime, before the bundle.
///
/// # Errors
/// When the script throws (a broken build).
pub fn seal(runtime: &mut deno_core::JsRuntime) -> Result<(), String> {
  runtime
    .execute_script("ext:falco_web/seal.js", include_str!("seal.js"))
    .map(drop)
    .map_err(|e| format!("cannot seal the runtime: {e}"))
}

/// The embedded scripts by path, shared by every instance.
fn embedded() -> &'static HashMap<&'static str, Arc<str>> {
  static TABLE: OnceLock<HashMap<&'static str, Arc<str>>> = OnceLock::new();
  TABLE.get_or_init(|| {
    EMBEDDED_SCRIPTS
      .iter()
      .map(|(path, code)| (*path, Arc::from(*code)))
      .collect()
  })
}

/// Replaces every script that deno_core would read from the build tree
/// with the copy compiled into the library (see `build.rs`).
#[allow(deprecated)]
pub fn embed_sources(extension: &mut Extension) {
  let swap = |files: &mut Cow<'static, [ExtensionFileSource]>| {
    if !files.iter().any(|f| {
      matches!(
        f.code,
        ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(_)
      )
    }) {
      return;
    }
    let replaced: Vec<ExtensionFileSource> = files
      .iter()
      .map(|f| match f.code {
        ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) => match embedded().get(path) {
          Some(code) => ExtensionFileSource::new_computed(f.specifier, code.clone()),
          None => f.clone(),
        },
        _ => f.clone(),
      })
      .collect();
    *files = Cow::Owned(replaced);
  };
  swap(&mut extension.js_files);
  swap(&mut extension.esm_files);
  swap(&mut extension.lazy_loaded_esm_files);
  swap(&mut extension.lazy_loaded_js_files);
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn every_extension_script_is_compiled_in() {
    let grants = Grants::default();
    let logger = Logger::new(None, std::ptr::null_mut(), "test");
    for extension in extensions(logger, &grants).unwrap() {
      for list in [
        &extension.js_files,
        &extension.esm_files,
        &extension.lazy_loaded_esm_files,
        &extension.lazy_loaded_js_files,
      ] {
        for file in list.iter() {
          assert!(
            file.is_runtime_loadable(),
            "{} of {} is read from disk",
            file.specifier,
            extension.name
          );
        }
      }
    }
  }
}
