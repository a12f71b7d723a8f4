//! The web platform and host I/O a plugin script may use (timers, encoding,
//! URL, files, HTTP), behind Deno's permission model. Extensions are listed
//! here so the instance thread stays engine- and feature-agnostic.
//!
//! - `deno_webidl` + `deno_web`: Deno's own web APIs; their scripts are
//!   registered lazily and `bootstrap.js` defines the globals as getters
//!   that load a script on first use (no snapshot on QuickJS-ng: anything
//!   loaded eagerly would be parsed at every `plugin_init`).
//! - `falco_web`: our ops (files, env, the HTTP server, fetch) and `bootstrap.js`, with one
//!   `PermissionsContainer` per instance built from the operator's grants.

pub mod fetch;
pub mod fs;
pub mod http;
pub mod permissions;

use crate::logger::Logger;
use deno_core::Extension;
pub use permissions::{Grant, Grants};

deno_core::extension!(
  falco_web,
  deps = [deno_web],
  ops = [
    fs::op_falco_read_file,
    fs::op_falco_read_text_file,
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
  Ok(vec![
    crate::ops::falco_deno::init(logger),
    deno_webidl::deno_webidl::init(),
    web,
    falco_web::init(permissions),
  ])
}
